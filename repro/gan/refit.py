"""The discriminator refit against the generator that is sampled (docs/maths.md §6.4).

DRS and OBRS accept x ~ Q with a probability built from r(x) = p(x)/q(x), and the ratio must be
that of the generator whose samples are filtered. A trained run's discriminator was fitted
against the *raw* generator, while sampling uses its EMA copy (and possibly a tuned latent:
σ ≠ 1, ψ): another distribution, with another ratio. Azadi et al.'s Algorithm 1 therefore starts
with KeepTraining(D). Here:

1. **Refit**: starting from the trained D, ``steps`` more updates of the discriminator's own loss
   (the dual bound of its ratio divergence, ``repro.maths.divergences``) on real training images
   against samples of the sampled generator at the sampled latent (σ, ψ); G is frozen.
2. **Calibrate** (Platt scaling, ``repro.samplers.fit_platt``) on the validation split: half of
   it against as many fresh generated images fits log r̂ = a · log r_D + b; the other half is
   held out to score the ratio by the log-loss of σ(log r̂) on balanced real/generated images
   (the Bayes classifier's logit is log p/q, so a better ratio has a lower held-out loss).

The result is cached beside the run (``<run>/refit/<key>.pt``, one file per latent tuning and
refit setting), computed once under a file lock so that concurrent evaluation cells of one model
wait for one refit instead of repeating it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from repro.core import seeds, versions
from repro.core.atomic import atomic_write, locked
from repro.core.runtime import stable_hash
from repro.core.vocab import DISCRIMINATORS
from repro.data import datasets
from repro.gan import losses, train
from repro.maths import divergences
from repro.samplers import fit_platt, truncated_latents

log = logging.getLogger(__name__)

REFIT_DIR = "refit"


@dataclass(frozen=True)
class RefitConfig:
    """How the discriminator is refitted and calibrated (part of the cache key).

    steps: D updates against the sampled generator (batch ``batch_size`` real + as many fake).
    lr: Adam rate (β = (0.5, 0.999), as in training); calib_samples: validation images used,
    half to fit the calibration and half to score it.
    """

    steps: int = 1000
    batch_size: int = 128
    lr: float = 1e-4
    calib_samples: int = 10_000

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "calib_samples"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name == "steps" else 2):
                raise ValueError(f"RefitConfig.{name} must be an integer ≥ {0 if name == 'steps' else 2}; got {v!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"RefitConfig.lr must be a finite number > 0; got {self.lr!r}")


class LogRatioNet(nn.Module):
    """x ↦ a · log r_D(x) + b: a discriminator turned into a calibrated log-ratio estimate (B,)."""

    def __init__(self, D: nn.Module, divergence: str, a: float = 1.0, b: float = 0.0) -> None:
        super().__init__()
        self.D, self.divergence, self.a, self.b = D, divergence, float(a), float(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * divergences.log_ratio(self.D(x).reshape(-1), self.divergence) + self.b


# --------------------------------------------------------------------------- the maths (modules in, numbers out)


def refit_discriminator(D: nn.Module, sample_fake: Callable[[int], torch.Tensor], real: torch.Tensor,
                        d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], cfg: RefitConfig,
                        gen: torch.Generator) -> list[float]:
    """Train ``D`` in place for ``cfg.steps`` updates of ``d_loss(v_real, v_fake)``; returns the loss
    every 100 steps. ``sample_fake(k)`` draws k samples of the sampled generator (no gradient);
    ``real`` (N, …) is the training split; ``gen`` orders the real batches."""
    device = next(D.parameters()).device
    opt = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999), foreach=True)
    was = D.training
    D.train()
    D.requires_grad_(True)
    trace: list[float] = []
    order = torch.randperm(len(real), generator=gen)
    pos = 0
    for step in range(cfg.steps):
        if pos + cfg.batch_size > len(order):
            order, pos = torch.randperm(len(real), generator=gen), 0
        xb = real[order[pos:pos + cfg.batch_size]].to(device)
        pos += cfg.batch_size
        with torch.no_grad():
            fake = sample_fake(cfg.batch_size).to(device)
        v = _scores(D, torch.cat([xb, fake]), gen)
        loss = d_loss(v[: len(xb)], v[len(xb):])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step + 1 == cfg.steps:
            trace.append(float(loss.detach()))
    D.train(was)
    D.requires_grad_(False)
    return trace


def _scores(D: nn.Module, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """D's raw scores (B,); the project's nets draw their dropout masks from an explicit generator."""
    if "gen" in inspect.signature(D.forward).parameters:
        return D(x, gen).reshape(-1)
    return D(x).reshape(-1)


@torch.inference_mode()
def log_ratios(scorer: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """scorer(x) (N,) as float64, batch by batch, in eval mode."""
    was = scorer.training
    scorer.eval()
    device = next(scorer.parameters()).device
    out = np.concatenate([scorer(x[i:i + batch_size].to(device)).reshape(-1).double().cpu().numpy()
                          for i in range(0, len(x), batch_size)])
    scorer.train(was)
    return out


def heldout_logloss(lr_real: np.ndarray, lr_fake: np.ndarray) -> float:
    """Mean log-loss of σ(log r̂) on balanced held-out real (label 1) and generated (label 0) images.

    log 2 ≈ 0.693 is the loss of a constant ratio; the exact ratio attains the minimum (the
    Bayes risk). Non-finite log r̂ are clipped to ±50."""
    lr_real = np.clip(np.nan_to_num(lr_real, nan=0.0), -50, 50)
    lr_fake = np.clip(np.nan_to_num(lr_fake, nan=0.0), -50, 50)
    return 0.5 * float(np.mean(np.logaddexp(0.0, -lr_real)) + np.mean(np.logaddexp(0.0, lr_fake)))


def calibrate(scorer_raw: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """Platt-scale ``scorer_raw`` (x ↦ uncalibrated log r) on half of ``real`` / ``fake`` and score
    it on the other half. Returns a, b and held-out log-losses and accuracy."""
    h = min(len(real), len(fake)) // 2
    s_real, s_fake = log_ratios(scorer_raw, real[: 2 * h]), log_ratios(scorer_raw, fake[: 2 * h])
    a, b = fit_platt(s_real[:h], s_fake[:h])
    cal_real, cal_fake = a * s_real[h:] + b, a * s_fake[h:] + b
    return {"calibration_a": a, "calibration_b": b,
            "heldout_logloss_uncalibrated": heldout_logloss(s_real[h:], s_fake[h:]),
            "heldout_logloss": heldout_logloss(cal_real, cal_fake),
            "heldout_accuracy": 0.5 * float(np.mean(cal_real > 0) + np.mean(cal_fake <= 0)),
            "heldout_n_per_class": int(len(s_real) - h)}


# --------------------------------------------------------------------------- trained runs (I/O)


def weights_digest(*modules: torch.nn.Module) -> str:
    """SHA-256 of the modules' state (names, shapes, dtypes and bytes): what a derived cache was
    computed from, so that new weights in the same folder never read an old cache."""
    h = hashlib.sha256()
    for m in modules:
        for name, t in sorted(m.state_dict().items()):
            t = t.detach().to("cpu").contiguous()
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def cache_key(sigma: float, psi: float | None, cfg: RefitConfig, weights: str = "") -> str:
    """The refit cache's name: the latent setting, the refit's configuration, the code version and
    the digest of the generator and discriminator it was fitted from (``weights_digest``)."""
    return stable_hash({"sigma": float(sigma), "psi": psi, "refit": dataclasses.asdict(cfg), "code": versions.REFIT,
                        "weights": weights})


def refitted(model: Any, sigma: float = 1.0, psi: float | None = None, cfg: RefitConfig | None = None,
             progress: bool = False) -> tuple[LogRatioNet, dict[str, Any]]:
    """The calibrated log-ratio of ``model``'s discriminator refitted against its sampled generator
    at latent (σ, ψ), loaded from the run's cache or computed (once, under a lock) and cached.

    ``model`` is a ``repro.gan.train.TrainedModel``; its ``discriminator`` is left untouched (a copy is
    refitted). Returns the scorer and its record (held-out losses, calibration, the raw D's
    held-out loss against the same generator, steps, seconds).
    """
    cfg = cfg or RefitConfig()
    key = cache_key(sigma, psi, cfg, weights_digest(model.generator, model.discriminator))
    path = Path(model.run_dir) / REFIT_DIR / f"{key}.pt"
    device = next(model.generator.parameters()).device
    with locked(path.with_suffix(".lock")):
        if path.is_file():
            try:
                blob = torch.load(path, map_location=device, weights_only=True)
                D = copy.deepcopy(model.discriminator)
                D.load_state_dict(blob["discriminator"])
                info = blob["info"]
                return LogRatioNet(D.eval(), model.ratio_divergence, info["calibration_a"], info["calibration_b"]), info
            except Exception as exc:  # noqa: BLE001 - truncated or foreign bytes: a cache, so recompute it
                log.warning("refit cache %s is damaged (%s); recomputing it", path, type(exc).__name__)
                path.unlink(missing_ok=True)
        start = time.perf_counter()
        tc = model.config
        g_fake, g_order, g_cal = (torch.Generator().manual_seed(s) for s in seeds.refit_streams(tc.seed, sigma, psi))

        def sample_fake(k: int) -> torch.Tensor:
            z = truncated_latents(k, model.z_dim, sigma, psi, g_fake, torch.device("cpu"))
            return model.generator(z.to(device))

        ds = datasets.load(tc.dataset)
        real_train = train.train_images(tc)
        D = copy.deepcopy(model.discriminator)
        trace = refit_discriminator(D, sample_fake, real_train, lambda vr, vf: losses.d_loss(vr, vf, tc), cfg, g_order)
        D.eval()
        real_val = datasets.to_gan_range(ds.val.images_float())[: cfg.calib_samples, None]
        with torch.inference_mode():
            fake_val = torch.cat([model.generator(truncated_latents(
                min(1000, len(real_val) - i), model.z_dim, sigma, psi, g_cal, torch.device("cpu")).to(device)).cpu()
                for i in range(0, len(real_val), 1000)])
        real_val = torch.as_tensor(real_val, dtype=torch.float32)
        info: dict[str, Any] = calibrate(LogRatioNet(D, model.ratio_divergence), real_val, fake_val)
        raw = calibrate(LogRatioNet(model.discriminator, model.ratio_divergence), real_val, fake_val)
        info.update(raw_heldout_logloss_uncalibrated=raw["heldout_logloss_uncalibrated"],
                    raw_heldout_logloss=raw["heldout_logloss"], sigma=float(sigma), psi=psi, key=key,
                    refit=dataclasses.asdict(cfg), loss_trace=trace, seconds=time.perf_counter() - start)
        blob = {"discriminator": D.state_dict(), "info": info}
        atomic_write(path, lambda fh: torch.save(blob, fh))
        log.info("refit D of %s at sigma=%g psi=%s: held-out log-loss %.4f (raw D %.4f) in %.1f s", model.run_dir,
                 sigma, psi, info["heldout_logloss"], info["raw_heldout_logloss"], info["seconds"])
        return LogRatioNet(D, model.ratio_divergence, info["calibration_a"], info["calibration_b"]), info


__all__ = ["RefitConfig", "LogRatioNet", "refit_discriminator", "calibrate", "heldout_logloss", "refitted",
           "DISCRIMINATORS"]
