"""``sample``: draw n samples from a generator with a registered sampler (docs/maths.md §5–6).

What every sampler shares happens here, once: the arguments are checked, the models put in
eval mode on the device, the run's random streams derived from the seed (``repro.core.seeds``), the
ratio optionally Platt-calibrated on held-out real images, and the common statistics recorded;
the sampler's own ``run`` (``repro.samplers.registry``) does the rest. The output is a
deterministic function of (models, n, params, seed, batch_size, device); no global RNG state is
read or changed.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from repro.core.config import MAX_SAMPLES
from repro.core.errors import ConfigError
from repro.core.seeds import sampler_streams
from repro.maths.divergences import DIVERGENCES
from repro.samplers.params import SamplingParams
from repro.samplers.proposals import Proposals, resolve_device

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000


def sample(
    generator: nn.Module,
    discriminator: nn.Module | None,
    n: int,
    params: SamplingParams | None = None,
    seed: int = 0,
    *,
    ratio_divergence: str | None,
    z_dim: int,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    real: torch.Tensor | np.ndarray | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Draw ``n`` samples from G, tuned and filtered as ``params`` says.

    generator: maps latents (B, z_dim) to samples (B, …) (e.g. (B, 1, 28, 28) in [-1, 1]).
    discriminator: maps samples (B, …) to raw scores v, (B,) or (B, 1); unused by a sampler that
        reads no ratio.
    ratio_divergence: how v maps to log r (``repro.maths.divergences.log_ratio``: bce, js, kl, rkl, chi2);
        None: the discriminator returns log r itself (``repro.gan.refit.LogRatioNet``).
    device: where latents are drawn; the models are moved there (None = the generator's device).
    real: held-out real samples (N, …): the calibration's positives, the MH chains' starts.

    Returns ``(images, stats)``: images (n, …) on the CPU; stats a JSON-able dict: the method,
    n, seed, the latent tuning, the calibration, and what the sampler records (acceptance,
    proposals, its constants, its cost: ``repro.maths.cost``).
    """
    params = params if params is not None else SamplingParams()
    _check_arguments(params, n, batch_size, z_dim, discriminator, ratio_divergence, real)
    dev = resolve_device(generator, device)
    models = [m for m in (generator, discriminator) if m is not None]
    if device is not None:
        for m in models:
            m.to(dev)
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        with torch.inference_mode():
            images, stats = _run(generator, discriminator, ratio_divergence, int(z_dim), dev, int(n), params, seed,
                                 int(batch_size), real)
    finally:
        for m, flag in zip(models, was_training):
            m.train(flag)
    return images.clone(), stats  # a normal tensor (inference tensors refuse later autograd use)


def _run(generator: nn.Module, discriminator: nn.Module | None, ratio_divergence: str | None, z_dim: int,
         device: torch.device, n: int, p: SamplingParams, seed: int, batch_size: int,
         real: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    entry, scored = p.sampler, p.scored
    streams = sampler_streams(seed)
    gen = torch.Generator(device=device)
    gen.manual_seed(streams.latent_seed)
    real_t = None if real is None else torch.as_tensor(np.asarray(real) if not isinstance(real, torch.Tensor)
                                                         else real).to(torch.float32)
    src = Proposals(generator, discriminator if scored else None, ratio_divergence, z_dim, p.sigma, p.psi, device,
                    gen, batch_size, real_t)
    stats: dict[str, Any] = {
        "method": p.method, "n": n, "seed": seed, "batch_size": batch_size,
        "ratio_divergence": ratio_divergence if scored else None, "sigma": p.sigma, "psi": p.psi,
        "calibrated": False, "calibration_a": None, "calibration_b": None,
    }
    if scored and getattr(p.settings, "calibrate", False):
        a, b = src.calibrate(real_t)
        stats.update(calibrated=True, calibration_a=a, calibration_b=b)
    images, own = entry.run(src, n, p.settings, streams)
    stats.update(own)
    log.debug("sampled %d with %s: acceptance %s", n, p.method, stats.get("acceptance_rate"))
    return images, stats


def _check_arguments(params: SamplingParams, n: Any, batch_size: Any, z_dim: Any, discriminator: nn.Module | None,
                     ratio_divergence: str | None, real: Any) -> None:
    """ConfigError naming the argument and its allowed values, before anything is drawn."""
    if not isinstance(params, SamplingParams):
        raise ConfigError(f"params must be SamplingParams; got {type(params).__name__}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n <= MAX_SAMPLES:
        raise ConfigError(f"n must be an integer from 0 to {MAX_SAMPLES:,}; got {n!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer ≥ 1; got {batch_size!r}")
    if not isinstance(z_dim, (int, np.integer)) or z_dim < 1:
        raise ConfigError(f"z_dim must be an integer ≥ 1; got {z_dim!r}")
    if params.scored:
        if discriminator is None:
            raise ConfigError(f"method {params.method!r} needs a discriminator")
        if ratio_divergence is not None and ratio_divergence not in DIVERGENCES:
            raise ConfigError(
                f"ratio_divergence must be one of {', '.join(DIVERGENCES)}, or None for a discriminator "
                f"that returns log r itself; got {ratio_divergence!r}"
            )
        if getattr(params.settings, "calibrate", False) and real is None:
            raise ConfigError("calibrate = True needs held-out real samples (real=…)")
