"""The samplers beyond rejection, driven like ``sampling._sample`` (same models, parameters,
seeds and statistics): independent Metropolis–Hastings (MH-GAN), latent Langevin dynamics
(DDLS) or its gradient flow, and adaptive truncation (docs/maths.md §6.5–6.8).

Each records what it spends (``repro.cost``): generator and discriminator forward passes and
gradient evaluations of log r(G(z)), for the returned samples and, apart, once per run (the
burn-in or the mixture's fit), so that methods are compared at equal cost.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from repro import adaptive, cost, mcmc
from repro.acceptance import obrs_acceptance, obrs_constant
from repro.errors import ConfigError, ReproError


def run_mh(src: Any, n: int, p: Any, rng: np.random.Generator, batch_size: int,
           real: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
    """n samples, each the end state of an independent MH chain of ``p.chain_length`` proposals
    started at a real image drawn (with replacement) from ``real``; ``rng`` draws the starts and
    the uniforms, ``src`` the proposals."""
    if real is None or len(real) == 0:
        raise ConfigError("method 'mh' starts each chain at a real image: it needs real samples (real=…)")
    k, chains = p.chain_length, max(1, batch_size // 2)
    out, restarts, moves = [], 0, 0
    for start in range(0, n, chains):
        c = min(chains, n - start)
        pick = torch.as_tensor(rng.integers(0, len(real), c))
        lr_start = src.log_ratio(real[pick].to(src.device))  # (c,)
        lr_props = np.empty((c, k))
        images = []
        for j in range(k):
            x, lr_props[:, j] = src.draw(c, True)
            images.append(x.cpu())
        index, restarted, moved = mcmc.mh_select(lr_start, lr_props, rng.random((c, k)), rng.random((c, k)))
        stacked = torch.stack(images, 1)  # (c, K, …): every proposal, until the chain's end is known
        out.append(stacked[torch.arange(c), torch.as_tensor(index)])
        restarts += int(restarted.sum())
        moves += int(moved.sum())
    images = torch.cat(out) if out else src.images(1)[:0].cpu()
    stats = {"chain_length": k, "mh_restarts": restarts, "mh_restart_rate": restarts / n if n else 0.0,
             "mh_moves_per_chain": moves / n if n else 0.0, "acceptance_rate": None,
             **cost.record(n, g=n * k, d=n * (k + 1))}
    return images, stats


def run_langevin(src: Any, n: int, p: Any, batch_size: int) -> tuple[torch.Tensor, dict]:
    """n samples G(z_S): z₀ from the (truncated) prior, then ``p.steps`` Langevin steps on
    E(z) = ½‖z‖² − log r(G(z)) (``mcmc.langevin``); the latents and the noise from ``src.gen``."""
    out, lr_gain = [], 0.0
    with torch.inference_mode(False):
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            z0 = src.latents(b).clone()  # a normal tensor: autograd refuses inference tensors
            z, _ = mcmc.langevin(z0, src.generator, src.log_ratio_tensor, p.steps, p.step_size, p.langevin_noise,
                                 src.gen)
            with torch.no_grad():
                x = src.generator(z)
                out.append(x.cpu())
                # a diagnostic (not counted in the cost): how far the steps moved log r
                lr_gain += float((src.log_ratio_tensor(x) - src.log_ratio_tensor(src.generator(z0))).sum())
    images = torch.cat(out) if out else src.images(1)[:0].cpu()
    stats = {"steps": p.steps, "step_size": p.step_size, "langevin_noise": p.langevin_noise,
             "mean_log_ratio_gain": lr_gain / n if n else 0.0, "acceptance_rate": None,
             **cost.record(n, g=n, d=0, grad=n * p.steps)}
    return images, stats


def run_adaptive(src: Any, n: int, p: Any, rng: np.random.Generator, fit_seed: int,
                 batch_size: int) -> tuple[torch.Tensor, dict]:
    """n samples G(z), z from a Gaussian mixture fitted (seed ``fit_seed``) to the latents OBRS at
    budget ``p.budget`` accepts among ``p.burn_in`` proposals (``repro.adaptive``)."""
    zs, lrs = [], []
    for start in range(0, p.burn_in, batch_size):
        z = src.latents(min(batch_size, p.burn_in - start))
        zs.append(z.cpu().numpy())
        lrs.append(src.log_ratio(src.generator(z)))
    z_all, lr = np.concatenate(zs), np.concatenate(lrs)
    log_M = float(lr.max())
    if not math.isfinite(log_M):
        raise ReproError(f"the largest log-ratio on the burn-in set is {log_M}: no usable ratio")
    r_over_M = np.exp(lr - log_M)
    c = obrs_constant(r_over_M, 1.0, p.budget)
    kept = adaptive.accepted_latents(z_all, obrs_acceptance(r_over_M, 1.0, c), rng.random(len(lr)))
    mixture = adaptive.fit_mixture(kept, p.components, fit_seed)
    z = torch.as_tensor(adaptive.sample_mixture(mixture, n, fit_seed), dtype=torch.float32, device=src.device)
    images = torch.cat([src.generator(z[i:i + batch_size]).cpu() for i in range(0, n, batch_size)]) if n else \
        src.images(1)[:0].cpu()
    stats = {"budget": p.budget, "components": p.components, "fitted_latents": len(kept),
             "mixture_converged": bool(mixture.converged_), "acceptance_rate": None,
             **cost.record(n, g=n, d=0, setup_g=p.burn_in, setup_d=p.burn_in)}
    return images, stats
