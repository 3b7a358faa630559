"""The samplers beyond rejection where the truth is known: independent MH with the exact ratio
converges to P, Langevin with the exact energy samples the target, the adaptive truncation
fitted to exactly accepted latents recovers it; the MH identities (docs/maths.md §6.5–6.8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from repro.maths import cost, mcmc
from repro.samplers import SamplingParams, sample

# --------------------------------------------------------------------------- the identities


@given(st.floats(-30, 30), st.integers(1, 20))
def test_a_constant_ratio_accepts_every_move(level: float, c: int) -> None:
    lr = np.full(c, level)
    assert (mcmc.mh_log_acceptance(lr, lr) == 0).all()
    assert mcmc.mh_accept(lr, lr, np.random.default_rng(0).random(c)).all()


@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=8), st.lists(st.floats(0.01, 1.0), min_size=2, max_size=8))
def test_detailed_balance_on_a_finite_space(p_raw: list[float], q_raw: list[float]) -> None:
    """With proposals from q and the exact ratio, p_i T_ij = p_j T_ji for the MH kernel T, so p
    is stationary: p T = p."""
    k = min(len(p_raw), len(q_raw))
    p, q = np.array(p_raw[:k]) / sum(p_raw[:k]), np.array(q_raw[:k]) / sum(q_raw[:k])
    lr = np.log(p / q)
    accept = np.exp(mcmc.mh_log_acceptance(lr[:, None], lr[None, :]))  # (k, k): from i to j
    T = q[None, :] * accept
    np.fill_diagonal(T, 0.0)
    T[np.diag_indices(k)] = 1.0 - T.sum(axis=1)
    flow = p[:, None] * T
    np.testing.assert_allclose(flow, flow.T, atol=1e-12)
    np.testing.assert_allclose(p @ T, p, atol=1e-12)


def test_a_chain_that_never_moves_restarts_from_its_first_proposal() -> None:
    lr_start = np.array([50.0, -50.0])  # chain 0: a real image no proposal can beat
    lr_props = np.array([[0.0, 1.0, -1.0], [0.0, 1.0, -1.0]])
    u = np.full((2, 3), 0.5)
    index, restarted, moves = mcmc.mh_select(lr_start, lr_props, u, u)
    assert restarted.tolist() == [True, False] and moves.tolist() == [0, 2]
    assert index.tolist() == [1, 1]  # chain 0 restarted at proposal 0, then moved to 1 (r higher)


# --------------------------------------------------------------------------- toy problems with the exact ratio

SCALE = 2.0  # G(z) = 2 z: Q = N(0, 4)
MEANS, SD = (-2.0, 2.0), 0.5  # P: an equal mixture of N(±2, 0.5²)


def log_p(x: torch.Tensor) -> torch.Tensor:
    comps = torch.stack([-0.5 * ((x - m) / SD) ** 2 for m in MEANS])
    return torch.logsumexp(comps, 0) - math.log(2 * SD * math.sqrt(2 * math.pi))


def log_q(x: torch.Tensor) -> torch.Tensor:
    return -0.5 * (x / SCALE) ** 2 - math.log(SCALE * math.sqrt(2 * math.pi))


class Scale(torch.nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return SCALE * z


class ExactLogRatio(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (log_p(x) - log_q(x)).reshape(-1)


def p_cdf(x: np.ndarray) -> np.ndarray:
    return np.mean([stats.norm.cdf(x, m, SD) for m in MEANS], axis=0)


def draw(method: str, n: int, real=None, **kw) -> tuple[np.ndarray, dict]:
    x, st_ = sample(Scale(), ExactLogRatio(), n, SamplingParams.of(method=method, **kw), 0,
                    ratio_divergence=None, z_dim=1, real=real)
    return x.numpy().ravel(), st_


def test_mh_with_the_exact_ratio_converges_to_p() -> None:
    real = torch.as_tensor(np.random.default_rng(1).choice(MEANS, 4000) + SD * np.random.default_rng(2).normal(
        size=4000), dtype=torch.float32)[:, None]
    x, st_ = draw("mh", 3000, real=real, chain_length=30)
    assert stats.kstest(x, p_cdf).pvalue > 0.01
    assert stats.kstest(draw("none", 3000)[0], p_cdf).pvalue < 1e-6  # the proposals are not P
    assert st_["cost_per_sample"] == 2 * 30 + 1 and 0 <= st_["mh_restart_rate"] < 0.05
    # convergence, not only stationarity: chains started from Q's samples instead of P's reach P too
    from_q = torch.as_tensor(SCALE * np.random.default_rng(3).normal(size=4000), dtype=torch.float32)[:, None]
    assert stats.kstest(draw("mh", 3000, real=from_q, chain_length=30)[0], p_cdf).pvalue > 0.01
    assert stats.kstest(draw("mh", 3000, real=from_q, chain_length=2)[0], p_cdf).pvalue < 1e-3  # not yet


def test_mh_needs_real_starting_images() -> None:
    with pytest.raises(Exception, match="real image"):
        draw("mh", 10, chain_length=5)


def test_langevin_with_the_exact_energy_samples_the_target() -> None:
    """p₀(z) ∝ N(z) r(G(z)) and G pushes p₀ to P: the latents' chain targets P scaled by 1/2."""
    x, st_ = draw("langevin", 2000, steps=400, step_size=0.005)
    assert stats.kstest(x, p_cdf).pvalue > 0.01
    assert st_["cost_per_sample"] == cost.GRAD_UNITS * 400 + 1 and st_["mean_log_ratio_gain"] > 0
    flow, _ = draw("langevin", 500, steps=400, step_size=0.005, langevin_noise=False)
    assert np.abs(np.abs(flow) - 2.0).max() < 0.1  # the gradient flow ends on the modes ±2


def test_adaptive_truncation_recovers_p_from_exactly_accepted_latents() -> None:
    """With a budget K above M = max r, OBRS accepts with probability ∝ r: the accepted latents
    follow p₀ exactly, and a two-component mixture fitted to them reproduces P."""
    x, st_ = draw("adaptive", 2000, budget=8.0, components=2, burn_in=40_000)
    assert stats.kstest(x, p_cdf).pvalue > 0.01
    assert st_["cost_per_sample"] == 1.0 and st_["setup_g_evals"] == 40_000 and st_["fitted_latents"] > 2000


def test_rejection_samplers_record_their_cost() -> None:
    _, st_ = draw("drs", 1000, gamma=0.0, gamma_convention="absolute", eps=0.0, burn_in=5000)
    assert st_["cost_per_sample"] == pytest.approx(2 / st_["acceptance_rate"], rel=1e-9)
    assert draw("none", 100)[1]["cost_per_sample"] == 1.0
