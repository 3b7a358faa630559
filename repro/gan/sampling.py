"""Sampling a trained run: its generator with the discriminator the parameters name.

Above the sampler core (``repro.samplers``): a trained run (``repro.gan.train.load_trained``)
provides the models; a ratio-reading sampler scores with the discriminator refitted against the
generator that is sampled (``repro.gan.refit``, the default) or with the training run's own; a
sampler that needs held-out real images gets the validation split of the run's data set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from repro.core import seeds
from repro.core.errors import ConfigError
from repro.data import datasets
from repro.gan import checkpoint, refit
from repro.samplers import DEFAULT_BATCH_SIZE, Proposals, SamplingParams, sample
from repro.samplers.proposals import resolve_device


def sample_from_run(run_dir: str, n: int, params: SamplingParams, seed: int, *,
                    device: str | torch.device | None = None, **options: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """:func:`sample_trained` on the run in ``run_dir`` (``repro.gan.train.load_trained``); ``options``
    are ``sample_trained``'s (batch_size, real, refit_cfg)."""
    return sample_trained(checkpoint.load_trained(run_dir, device=device), n, params, seed, device=device, **options)


def proposals_with_log_ratio(model: Any, n: int, params: SamplingParams, seed: int, *,
                             device: str | torch.device | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                             refit_cfg: Any = None) -> tuple[torch.Tensor, np.ndarray]:
    """n proposals x = G(z) at ``params``' (σ, ψ) and the log-ratio log r̂(x) that ``params``'
    sampler reads (the refit D, or the raw D uncalibrated), drawn with a stream of their own: the
    class diagnostic of a ratio-based sampler (docs/maths.md §6.9). (images (n, …), log r̂ (n,))."""
    if not params.scored:
        raise ConfigError(f"the sampler {params.method!r} reads no ratio")
    scorer, divergence = model.discriminator, model.ratio_divergence
    if params.discriminator == "refit":
        scorer, _ = refit.refitted(model, params.sigma, params.psi, refit_cfg)
        divergence = None
    dev = resolve_device(model.generator, device)
    gen = torch.Generator(device=dev).manual_seed(seeds.diagnostic_latents(seed))
    src = Proposals(model.generator.to(dev).eval(), scorer.to(dev).eval(), divergence, model.z_dim, params.sigma,
                    params.psi, dev, gen, batch_size)
    images, log_r = [], []
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            x, lr = src.draw(min(batch_size, n - i))
            images.append(x.cpu())
            log_r.append(lr)
    return torch.cat(images), np.concatenate(log_r)


def sample_trained(
    model: Any,
    n: int,
    params: SamplingParams,
    seed: int,
    *,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    real: torch.Tensor | np.ndarray | None = None,
    refit_cfg: Any = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """:func:`sample` from a ``repro.gan.train.TrainedModel`` with the discriminator ``params`` names.

    ``refit`` (the default for DRS and OBRS) scores with ``repro.gan.refit.refitted``: D refitted
    against the sampled generator at the sampled (σ, ψ) and calibrated, cached in the run folder;
    ``raw`` with the training run's D. ``stats["discriminator"]`` says which (None for ``none``),
    and ``stats["refit"]`` holds the refit's record (held-out losses, calibration). With
    ``params.calibrate`` (raw D) and no ``real``, the validation split of the run's data set is
    used, in [-1, 1]."""
    scored = params.scored
    if scored and params.calibrate and params.discriminator == "refit":
        raise ConfigError("calibrate applies to discriminator = 'raw'; the refit "
                          "discriminator is calibrated on the validation split when it is fitted")
    if scored and (params.calibrate or params.sampler.needs_real) and real is None:
        # calibration and the MH chains' starting images: the validation split, in [-1, 1]
        real = datasets.to_gan_range(datasets.load(model.config.dataset).val.images_float())[:, None]  # (N, 1, 28, 28)
    scorer, divergence, info = model.discriminator, model.ratio_divergence, None
    if scored and params.discriminator == "refit":
        scorer, info = refit.refitted(model, params.sigma, params.psi, refit_cfg)
        divergence = None
    images, stats = sample(
        model.generator, scorer, n, params, seed,
        ratio_divergence=divergence, z_dim=model.z_dim, device=device, batch_size=batch_size, real=real,
    )
    stats["ratio_divergence"] = model.ratio_divergence if scored else None
    stats["discriminator"] = params.discriminator if scored else None
    stats["refit"] = {k: v for k, v in info.items() if k != "loss_trace"} if info else None
    stats["run_dir"] = str(model.run_dir)
    return images, stats
