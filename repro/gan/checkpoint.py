"""A training run's folder and its checkpoint: the files a run writes, reading a checkpoint
(verified: a damaged or foreign file is a ``DataError`` naming it), the networks it holds, and a
trained run loaded for sampling (``load_trained``).

    out_dir/config.json     the resolved configuration (+ init_from, provenance)
    out_dir/checkpoint.pt   the last good state (weights, EMA, optimisers, RNG, curve), atomic
    out_dir/curve.csv       the training curve against the validation split, wall times
    out_dir/result.json     status (ok | diverged), reason, final metrics, seconds
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from repro.core.atomic import remove
from repro.core.errors import ConfigError, DataError
from repro.core.runtime import resolve_device
from repro.gan import nets
from repro.gan.config import TrainConfig
from repro.maths import divergences
from repro.samplers import truncated_latents

log = logging.getLogger(__name__)


CHECKPOINT = "checkpoint.pt"


CURVE = "curve.csv"


RESULT = "result.json"


CONFIG = "config.json"


CURVE_COLUMNS = ("epoch", "g_steps", "epoch_seconds", "epoch_cpu_seconds", "seeds_in_stack", "total_seconds",
                 "loss_d", "loss_g",
                 "fid", "precision", "recall", "density", "coverage", "eval_seconds")


def networks(cfg: TrainConfig, seeds: int = 1) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(G, D) of a resolved config stacked over ``seeds`` (parameters from the global RNG)."""
    return nets.build_stacked(cfg.arch, cfg.z_dim, cfg.g_widths, cfg.d_widths, cfg.d_dropout, cfg.conv_channels,
                              d_spectral_norm=cfg.d_spectral_norm, d_bound=cfg.d_bound, seeds=seeds)


def loaded_networks(cfg: TrainConfig, generator: Any, discriminator: Any, where: Path
                     ) -> tuple[torch.nn.Module, torch.nn.Module]:
    """One-seed (G, D) of ``cfg`` holding the given state dicts (DataError naming ``where`` when
    they are not those of ``cfg``'s networks)."""
    with torch.random.fork_rng(devices=[]):
        G, D = networks(cfg)
    try:
        G.load_state_dict(generator)
        D.load_state_dict(discriminator)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise DataError(f"{where}: its weights do not fit the configuration it records "
                        f"({str(exc).splitlines()[0][:200]})") from None
    return G, D


def read_checkpoint(run_dir: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no {CHECKPOINT} (not a training run folder, or it never saved)")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, random or foreign bytes: one line, not a traceback
        raise DataError(f"{path} is not a readable checkpoint ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}); "
                        "retrain the run, or restore the file") from None
    needed = {"config", "generator", "discriminator", "epoch"}
    if not isinstance(blob, dict) or not needed <= set(blob):
        raise DataError(f"{path} is not a repro checkpoint: it lacks {sorted(needed - set(blob or {}))}")
    return blob


RESUME_KEYS = ("generator", "generator_ema", "discriminator", "opt_g", "opt_d", "rng", "epoch", "g_updates",
               "seconds", "curve")  # what a resume reads beyond the config (``_checkpoint``)


def read_resumable(out: Path, device: torch.device | str) -> dict[str, Any]:
    """``read_checkpoint`` for a resume: a checkpoint that lacks what a resume needs is a DataError too."""
    blob = read_checkpoint(out, device)
    missing = [k for k in RESUME_KEYS if k not in blob]
    if missing:
        raise DataError(f"{Path(out) / CHECKPOINT} cannot be resumed: it lacks {missing}")
    return blob


def discard_damaged_checkpoint(out_dir: str | Path) -> str | None:
    """Remove an unfinished run's checkpoint that cannot be resumed (truncated by a full disk, a
    killed writer on a file system without atomic renames, foreign bytes), so that the run starts
    again instead of failing on every retry; returns why, or None when there is nothing to discard."""
    path = Path(out_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        read_resumable(Path(out_dir), "cpu")
        return None
    except (DataError, ConfigError) as exc:
        remove(path)
        log.warning("%s; removed it, the run starts again", exc)
        return str(exc)


@torch.inference_mode()
def generate(G: torch.nn.Module, n: int, z_dim: int, gen: torch.Generator, batch_size: int = 1000,
             sigma: float = 1.0) -> torch.Tensor:
    """n images (n, 1, 28, 28) in [−1, 1] from z ~ N(0, σ² I) drawn with ``gen`` (a CPU generator;
    the samplers' latent prior, ``truncated_latents``, batch by batch; G in eval mode)."""
    was = G.training
    G.eval()
    device = next(G.parameters()).device
    cpu = torch.device("cpu")
    out = [G(truncated_latents(min(batch_size, n - i), z_dim, sigma, None, gen, cpu).to(device)).cpu()
           for i in range(0, n, batch_size)]
    G.train(was)
    return torch.cat(out)


@dataclass
class TrainedModel:
    """A trained run ready for sampling: G in eval mode (EMA weights when EMA was on), both networks
    with the usual one-seed interface (``nets.Single``; their weights are ``.stacked``'s)."""
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    config: TrainConfig
    z_dim: int
    ratio_divergence: str  # repro.maths.divergences.log_ratio(D(x), ratio_divergence) = log r(x)
    epoch: int
    run_dir: Path

    def sample(self, n: int, gen: torch.Generator, sigma: float = 1.0, batch_size: int = 1000) -> torch.Tensor:
        """n images (n, 1, 28, 28) in [−1, 1] from z ~ N(0, σ² I)."""
        return generate(self.generator, n, self.z_dim, gen, batch_size, sigma)

    @torch.inference_mode()
    def log_ratio(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """log r(x) (N,) for images (N, 1, 28, 28) in [−1, 1], from D's raw score."""
        device = next(self.discriminator.parameters()).device
        v = torch.cat([self.discriminator(images[i : i + batch_size].to(device)).cpu()
                       for i in range(0, len(images), batch_size)])
        return divergences.log_ratio(v, self.ratio_divergence)


def load_trained(run_dir: str | Path, device: str | torch.device | None = None) -> TrainedModel:
    """Load ``run_dir/checkpoint.pt`` (the last good state) for sampling and evaluation."""
    dev = resolve_device(device)
    blob = read_checkpoint(Path(run_dir), dev)
    cfg = TrainConfig.from_dict(blob["config"]).resolve()
    generator = blob["generator_ema"] if blob.get("generator_ema") is not None else blob["generator"]
    G, D = loaded_networks(cfg, generator, blob["discriminator"], Path(run_dir) / CHECKPOINT)
    G, D = (nets.Single(m.to(dev)).eval().requires_grad_(False) for m in (G, D))
    return TrainedModel(G, D, cfg, cfg.z_dim, cfg.ratio_divergence, int(blob["epoch"]), Path(run_dir))
