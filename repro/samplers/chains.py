"""The samplers beyond rejection (docs/maths.md §6.5–6.8): independent Metropolis–Hastings
(the MH-GAN), latent Langevin dynamics (DDLS) or its gradient flow, and adaptive truncation.

Each records what it spends (``repro.maths.cost``): generator and discriminator forward passes and
gradient evaluations of log r(G(z)), for the returned samples and, apart, once per run (the
burn-in or the mixture's fit), so that methods are compared at equal cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from repro.core.config import option
from repro.core.errors import ConfigError, ReproError
from repro.core.seeds import SamplerStreams
from repro.maths import adaptive, cost, mcmc
from repro.maths.acceptance import obrs_acceptance, obrs_constant
from repro.samplers.params import BurnInSettings, RatioSettings, finite, require, require_bool, require_int
from repro.samplers.proposals import Proposals
from repro.samplers.registry import Sampler, number, register

# Upper bounds past which a setting runs for hours or leaves the prior: chains and step counts
# cost one or two passes per sample each; a Langevin step of 10 in latent space leaves the prior;
# a mixture of more components than this is fitted on a burn-in of a few thousand latents
MAX_CHAIN, MAX_STEP_SIZE, MAX_COMPONENTS = 10_000, 10.0, 1_000


@dataclass(frozen=True)
class MHSettings(RatioSettings):
    chain_length: int = option(20, help="MH: proposals per chain K (the chain starts at a real validation image)")

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self, "chain_length", 1, MAX_CHAIN)


@dataclass(frozen=True)
class LangevinSettings(RatioSettings):
    steps: int = option(10, help="Langevin: steps on the latent")
    step_size: float = option(0.01, help="Langevin: step size η (z ← z − η/2 ∇E + √η ε)")
    langevin_noise: bool = option(True, help="Langevin: the noise √η ε; off: the deterministic gradient flow")

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self, "steps", 1, MAX_CHAIN)
        require(self, "step_size", finite(self.step_size) and 0 < self.step_size <= MAX_STEP_SIZE,
                f"a number in (0, {MAX_STEP_SIZE:g}]")
        require_bool(self, "langevin_noise")


@dataclass(frozen=True)
class AdaptiveSettings(BurnInSettings):
    budget: float = option(1.0, help="adaptive truncation: the OBRS budget K whose accepted latents are fitted")
    components: int = option(10, help="adaptive truncation: mixture components fitted to OBRS-accepted latents")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self, "budget", finite(self.budget) and self.budget >= 1, "a finite number ≥ 1")
        require_int(self, "components", 1, MAX_COMPONENTS)


def run_mh(src: Proposals, n: int, p: MHSettings, rng: SamplerStreams) -> tuple[torch.Tensor, dict]:
    """n samples, each the end state of an independent MH chain of ``p.chain_length`` proposals
    started at a real image drawn (with replacement) from ``src.real``."""
    real = src.real
    if real is None or len(real) == 0:
        raise ConfigError("method 'mh' starts each chain at a real image: it needs real samples (real=…)")
    shape = src.sample_shape()
    if real[0].numel() != math.prod(shape):
        raise ConfigError(f"real samples of shape {tuple(real.shape[1:])} do not match generated {shape}")
    real = real.reshape(len(real), *shape)
    k, chains, uniforms = p.chain_length, max(1, src.batch_size // 2), rng.uniforms
    out, restarts, moves = [], 0, 0
    for start in range(0, n, chains):
        c = min(chains, n - start)
        pick = torch.as_tensor(uniforms.integers(0, len(real), c))
        lr_start = src.log_ratio(real[pick].to(src.device))  # (c,)
        lr_props = np.empty((c, k))
        images = []
        for j in range(k):
            x, lr_props[:, j] = src.draw(c, True)
            images.append(x.cpu())
        index, restarted, moved = mcmc.mh_select(lr_start, lr_props, uniforms.random((c, k)), uniforms.random((c, k)))
        stacked = torch.stack(images, 1)  # (c, K, …): every proposal, until the chain's end is known
        out.append(stacked[torch.arange(c), torch.as_tensor(index)])
        restarts += int(restarted.sum())
        moves += int(moved.sum())
    images = torch.cat(out) if out else src.empty()
    stats = {"chain_length": k, "mh_restarts": restarts, "mh_restart_rate": restarts / n if n else 0.0,
             "mh_moves_per_chain": moves / n if n else 0.0, "acceptance_rate": None, "burn_in": 0,
             "proposals": None, "accepted": n, **cost.record(n, g=n * k, d=n * (k + 1))}
    return images, stats


def run_langevin(src: Proposals, n: int, p: LangevinSettings, rng: SamplerStreams) -> tuple[torch.Tensor, dict]:
    """n samples G(z_S): z₀ from the (truncated) prior, then ``p.steps`` Langevin steps on
    E(z) = ½‖z‖² − log r(G(z)) (``mcmc.langevin``); the latents and the noise from ``src.gen``."""
    out, lr_gain = [], 0.0
    with torch.inference_mode(False):
        for start in range(0, n, src.batch_size):
            b = min(src.batch_size, n - start)
            z0 = src.latents(b).clone()  # a normal tensor: autograd refuses inference tensors
            z, _ = mcmc.langevin(z0, src.generator, src.log_ratio_tensor, p.steps, p.step_size, p.langevin_noise,
                                 src.gen)
            with torch.no_grad():
                x = src.generator(z)
                out.append(x.cpu())
                # a diagnostic (not counted in the cost): how far the steps moved log r
                lr_gain += float((src.log_ratio_tensor(x) - src.log_ratio_tensor(src.generator(z0))).sum())
    images = torch.cat(out) if out else src.empty()
    stats = {"steps": p.steps, "step_size": p.step_size, "langevin_noise": p.langevin_noise,
             "mean_log_ratio_gain": lr_gain / n if n else 0.0, "acceptance_rate": None, "burn_in": 0,
             "proposals": None, "accepted": n, **cost.record(n, g=n, d=0, grad=n * p.steps)}
    return images, stats


def run_adaptive(src: Proposals, n: int, p: AdaptiveSettings, rng: SamplerStreams) -> tuple[torch.Tensor, dict]:
    """n samples G(z), z from a Gaussian mixture fitted (seed ``rng.fit_seed``) to the latents OBRS
    at budget ``p.budget`` accepts among ``p.burn_in`` proposals (``repro.maths.adaptive``)."""
    zs, lrs = [], []
    for start in range(0, p.burn_in, src.batch_size):
        z = src.latents(min(src.batch_size, p.burn_in - start))
        zs.append(z.cpu().numpy())
        lrs.append(src.log_ratio(src.generator(z)))
    z_all, lr = np.concatenate(zs), np.concatenate(lrs)
    log_M = float(lr.max())
    if not math.isfinite(log_M):
        raise ReproError(f"the largest log-ratio on the burn-in set is {log_M}: no usable ratio")
    r_over_M = np.exp(lr - log_M)
    c = obrs_constant(r_over_M, 1.0, p.budget)
    kept = adaptive.accepted_latents(z_all, obrs_acceptance(r_over_M, 1.0, c), rng.uniforms.random(len(lr)))
    mixture = adaptive.fit_mixture(kept, p.components, rng.fit_seed)
    z = torch.as_tensor(adaptive.sample_mixture(mixture, n, rng.fit_seed), dtype=torch.float32, device=src.device)
    bs = src.batch_size
    images = torch.cat([src.generator(z[i:i + bs]).cpu() for i in range(0, n, bs)]) if n else src.empty()
    stats = {"budget": p.budget, "components": p.components, "fitted_latents": len(kept),
             "mixture_converged": bool(mixture.converged_), "acceptance_rate": None, "burn_in": p.burn_in,
             "proposals": None, "accepted": n, **cost.record(n, g=n, d=0, setup_g=p.burn_in, setup_d=p.burn_in)}
    return images, stats


def _langevin_words(s: dict[str, Any]) -> str:
    name = "Langevin" if s.get("langevin_noise", 1.0) else "gradient flow"
    return f"{name} {number(s, 'steps'):g} × η = {number(s, 'step_size'):g}"


register(Sampler("mh", "MH", "independent Metropolis-Hastings (the MH-GAN)", MHSettings, run_mh, needs_real=True, family="beyond",
                 words=lambda s: f"MH K = {number(s, 'chain_length'):g}"))
register(Sampler("langevin", "Langevin", "latent Langevin dynamics (DDLS)", LangevinSettings, run_langevin, family="beyond",
                 words=_langevin_words))
register(Sampler("adaptive", "Adaptive", "adaptive truncation", AdaptiveSettings, run_adaptive, family="beyond",
                 words=lambda s: f"adaptive truncation, {number(s, 'components'):g} components, "
                                 f"K = {number(s, 'budget'):g}"))
