"""Every random stream of the project, derived from a user seed and a named purpose.

A study gives each trained model a training seed and each evaluation an evaluation seed; every
random number a cell draws comes from one of the streams below, each a pure function of those
seeds and its purpose, so no two purposes share a stream and no global RNG is read (except the
parameter initialisation of torch's layers, seeded from the training seed where noted). The
constants are what the streams have always been: changing one changes every number drawn from
it, so a change here bumps the versions of the components that use it (``repro.core.versions``).

Purpose → derivation (numpy ``SeedSequence`` entropy, or a torch seed):

================================  ============================================================
training (z, shuffle, dropout)    SeedSequence([seed, 4]).generate_state(3)
training curve's fixed latents    torch seed 10 000 + seed
refit of D (fake, order, calib.)  SeedSequence([seed, 7, round(σ·10⁶), round(ψ·10⁶)]).generate_state(3)
a sampler's run                   SeedSequence(seed).spawn(3): latents, uniforms, a fit's seed
class diagnostic's proposals      torch seed seed + 7 000 003
real reference subset             default_rng([20231, eval seed])
ceiling's held-out real images    default_rng([20232, eval seed])
rebalancing to the real class mix default_rng([20233, eval seed])
================================  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SEED = 2**31  # seeds and the evaluation seeds derived from them stay below torch's and numpy's limits

TRAIN_STREAMS = ("z", "shuffle", "dropout")
_TRAIN = 4
_REFIT = 7
CURVE_LATENTS_OFFSET = 10_000
DIAGNOSTIC_OFFSET = 7_000_003
REAL_SUBSET = 20231
HELD_OUT = 20232
REBALANCE = 20233


def train_streams(seed: int) -> dict[str, int]:
    """Torch seeds of a training run's three streams: latents, data order, dropout masks."""
    states = np.random.SeedSequence([seed, _TRAIN]).generate_state(len(TRAIN_STREAMS))
    return {name: int(s) for name, s in zip(TRAIN_STREAMS, states, strict=True)}


def curve_latents(seed: int) -> int:
    """Torch seed of the fixed latents the training curve evaluates at every check."""
    return CURVE_LATENTS_OFFSET + int(seed)


def refit_streams(seed: int, sigma: float, psi: float | None) -> tuple[int, int, int]:
    """Torch seeds of the discriminator refit at latent tuning (σ, ψ): its fake samples, the order
    of its real batches, and the calibration's samples."""
    ss = np.random.SeedSequence([seed, _REFIT, int(round(sigma * 1e6)), int(round((psi or 0) * 1e6))])
    fake, order, calibration = (int(s) for s in ss.generate_state(3))
    return fake, order, calibration


@dataclass(frozen=True)
class SamplerStreams:
    """A sampler run's streams: the latents (a torch seed), the accept/reject and chain uniforms
    (a numpy generator) and the seed of anything the sampler fits (a mixture's EM)."""

    latent_seed: int
    uniforms: np.random.Generator
    fit_seed: int


def sampler_streams(seed: int) -> SamplerStreams:
    """``SeedSequence(seed).spawn(3)``: the i-th child depends on the seed and i only, so a
    sampler that reads two of the streams draws what it drew when only two were spawned."""
    latent, uniform, fit = np.random.SeedSequence(seed).spawn(3)
    return SamplerStreams(int(latent.generate_state(1, np.uint64)[0]), np.random.default_rng(uniform),
                          int(fit.generate_state(1)[0]))


def diagnostic_latents(seed: int) -> int:
    """Torch seed of the class diagnostic's proposals, apart from the sampler's own."""
    return int(seed) + DIAGNOSTIC_OFFSET


def real_subset(eval_seed: int, stream: int = REAL_SUBSET) -> np.random.Generator:
    """The generator that draws an evaluation's real reference subset (or, with ``HELD_OUT``, the
    ceiling's held-out images)."""
    return np.random.default_rng([stream, eval_seed])


def rebalance(eval_seed: int) -> np.random.Generator:
    """The generator that resamples a sample to the real class mix."""
    return np.random.default_rng([REBALANCE, eval_seed])
