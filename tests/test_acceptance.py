"""repro.maths.acceptance: the statements of docs/maths.md §6 as property tests, plus hand-checkable cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from repro.maths.acceptance import drs_acceptance, drs_logit, obrs_acceptance, obrs_constant, rejection_acceptance

# ratios spanning twelve orders of magnitude, all positive
ratios = arrays(np.float64, st.integers(1, 40), elements=st.floats(1e-6, 1e6, allow_nan=False))
gammas = st.floats(-20.0, 20.0, allow_nan=False)


def closed_form(r: np.ndarray, M: float, gamma: float) -> np.ndarray:
    """a_DRS at ε = 0: r / (r (1 − e^γ) + M e^γ) (docs/maths.md §6)."""
    return r / (r * (1 - math.exp(gamma)) + M * math.exp(gamma))


# --------------------------------------------------------------------------- by hand


def test_hand_checked_values() -> None:
    r = np.array([0.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(rejection_acceptance(r, 4.0), [0, 0.25, 0.5, 1])
    np.testing.assert_allclose(drs_acceptance(r, 4.0, 0.0, eps=0.0), [0, 0.25, 0.5, 1], rtol=1e-12)
    # γ = log 2: a = r / (r (1 − 2) + 8) = r / (8 − r)
    np.testing.assert_allclose(drs_acceptance(r, 4.0, math.log(2), eps=0.0), [0, 1 / 7, 2 / 6, 1], rtol=1e-12)
    np.testing.assert_allclose(obrs_acceptance(r, 4.0, 2.0), [0, 0.5, 1, 1])
    # mean(min(c r/4, 1)) over r = (1, 2, 4, 0) equals 1/2 at c = 4/3: (1/3 + 2/3 + 1 + 0)/4
    assert obrs_constant(r, 4.0, 2.0) == pytest.approx(4 / 3, rel=1e-9)
    assert drs_logit(np.log(np.array([2.0])), math.log(4.0), 0.0, eps=0.0)[0] == pytest.approx(0.0, abs=1e-12)


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        drs_acceptance(np.array([-1.0]), 1.0, 0.0)
    with pytest.raises(ValueError, match="K must be"):
        obrs_constant(np.array([1.0]), 1.0, 0.5)
    with pytest.raises(ValueError, match="K must be"):
        obrs_constant(np.array([1.0]), 1.0, math.nan)


# --------------------------------------------------------------------------- DRS


@pytest.mark.property
@given(ratios)
def test_drs_gamma0_eps0_is_plain_rejection(r: np.ndarray) -> None:
    M = float(r.max())
    np.testing.assert_allclose(drs_acceptance(r, M, 0.0, eps=0.0), r / M, rtol=1e-9, atol=1e-15)
    # and a tiny ε changes it by little, except right at the maximum
    inside = r < 0.999 * M
    np.testing.assert_allclose(drs_acceptance(r, M, 0.0, eps=1e-12)[inside], (r / M)[inside], rtol=1e-6, atol=1e-12)


@pytest.mark.property
@given(ratios, gammas)
def test_drs_eps0_closed_form(r: np.ndarray, gamma: float) -> None:
    M = float(r.max())
    np.testing.assert_allclose(drs_acceptance(r, M, gamma, eps=0.0), closed_form(r, M, gamma), rtol=1e-7, atol=1e-15)


@pytest.mark.property
@given(ratios, st.floats(0.0, 1e-3))
def test_drs_gamma_to_minus_infinity_accepts_all(r: np.ndarray, eps: float) -> None:
    # r / M ≥ 1e-12 here, so F ≥ −28 − γ: γ = −60 gives a ≥ 1 − e^{−32}
    M = float(r.max())
    assert np.all(drs_acceptance(r, M, -60.0, eps) >= 1 - 1e-12)


@pytest.mark.property
@given(ratios, gammas, gammas, st.floats(0.0, 1e-3))
def test_drs_acceptance_non_increasing_in_gamma(r: np.ndarray, g1: float, g2: float, eps: float) -> None:
    lo, hi = min(g1, g2), max(g1, g2)
    M = float(r.max())
    a_lo, a_hi = drs_acceptance(r, M, lo, eps), drs_acceptance(r, M, hi, eps)
    assert np.all(a_lo >= a_hi - 1e-15)
    assert np.all((0 <= a_hi) & (a_lo <= 1))


@pytest.mark.property
@given(ratios, gammas)
def test_drs_ratios_above_M_accept_like_the_maximum(r: np.ndarray, gamma: float) -> None:
    M = float(r.max())
    above = drs_acceptance(np.array([2 * M, 10 * M]), M, gamma)
    np.testing.assert_allclose(above, drs_acceptance(np.array([M]), M, gamma)[0], rtol=1e-12)


# --------------------------------------------------------------------------- OBRS


@pytest.mark.property
@given(ratios, st.floats(1.0, 100.0))
def test_obrs_mean_acceptance_is_one_over_K_on_the_burn_in(r: np.ndarray, K: float) -> None:
    M = float(r.max())
    c = obrs_constant(r, M, K)
    a = obrs_acceptance(r, M, c)
    assert c >= 1
    assert np.all((0 <= a) & (a <= 1))
    if c > 1 and math.isfinite(c):
        assert a.mean() == pytest.approx(1 / K, rel=1e-9)
    else:  # c = 1: plain rejection sampling already accepts at least 1/K
        assert a.mean() >= 1 / K - 1e-12


@pytest.mark.property
@given(ratios)
def test_obrs_K1_accepts_all(r: np.ndarray) -> None:
    M = float(r.max())
    c = obrs_constant(r, M, 1.0)
    assert np.all(obrs_acceptance(r, M, c) == 1.0)


@pytest.mark.property
@given(ratios, st.floats(1.0, 10.0))
def test_obrs_K_at_least_M_is_plain_rejection(r: np.ndarray, factor: float) -> None:
    r = r / r.mean()  # an exact ratio on the burn-in set: E_Q r = 1, so E_Q[r / M] = 1 / M
    M = float(r.max())
    assume(M > 1 + 1e-9)  # M = 1 only when every r is 1
    K = M * factor
    assert obrs_constant(r, M, K) == 1.0
    np.testing.assert_allclose(obrs_acceptance(r, M, 1.0), rejection_acceptance(r, M))


@pytest.mark.property
@given(ratios, st.floats(1.0, 100.0), st.floats(0.01, 1e3))
def test_obrs_constant_scales_with_M(r: np.ndarray, K: float, scale: float) -> None:
    # only r / M matters: the acceptance is unchanged when r and M are scaled together
    M = float(r.max())
    c1, c2 = obrs_constant(r, M, K), obrs_constant(r * scale, M * scale, K)
    a1, a2 = obrs_acceptance(r, M, c1), obrs_acceptance(r * scale, M * scale, c2)
    np.testing.assert_allclose(a1, a2, rtol=1e-6, atol=1e-9)


@pytest.mark.property
@given(ratios, st.floats(1.0, 100.0), st.data())
def test_obrs_weighted_mean_is_one_over_K(r: np.ndarray, K: float, data: st.DataObject) -> None:
    w = data.draw(arrays(np.float64, r.shape, elements=st.floats(0.01, 1.0)))
    M = float(r.max())
    c = obrs_constant(r, M, K, weights=w)
    mean = float(w @ obrs_acceptance(r, M, c) / w.sum())
    if c > 1 and math.isfinite(c):
        assert mean == pytest.approx(1 / K, rel=1e-9)
    else:
        assert mean >= 1 / K - 1e-12
    # integer weights are repetitions
    reps = np.repeat(r, 3)
    assert obrs_constant(reps, M, K) == pytest.approx(obrs_constant(r, M, K, weights=np.full(r.shape, 3.0)), rel=1e-9)


@pytest.mark.property
@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.integers(2, 40), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_obrs_pr_guarantee_on_histograms(k: int, seed: int, u: float) -> None:
    """docs/maths.md §6 proposition: for K ≤ M, (min(1, K α_λ), β_λ) ∈ PRD(P, Q̃) for every λ."""
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.full(k, 0.5)), rng.dirichlet(np.full(k, 0.5))
    assume(q.min() > 1e-12)
    r = p / q
    M = float(r.max())
    K = 1 + u * (M - 1)
    c = obrs_constant(r, M, K, weights=q)
    a = obrs_acceptance(r, M, c)
    q_ref = q * a / (q @ a)
    lam = np.tan(np.linspace(1e-6, np.pi / 2 - 1e-6, 101))
    alpha = np.minimum(lam[:, None] * p, q).sum(1)
    beta = np.minimum(p, q / lam[:, None]).sum(1)
    target = np.minimum(1.0, K * alpha)
    lam_star = target / beta
    achieved = np.minimum(lam_star[:, None] * p, q_ref).sum(1)
    assert np.all(achieved >= target - 1e-9)
