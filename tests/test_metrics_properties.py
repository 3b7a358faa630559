"""Property tests (hypothesis) for repro.maths.metrics: the PR-curve identities of docs/maths.md §1–2 on
random histograms, F_β, and the k-NN metrics against a naive reference on random point sets.

Histograms are drawn with zeros so that supports differ; every identity below is checked
on the exact curve (``pr_curve``), so the tolerances only absorb float64 rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from repro.maths import metrics as M, prd
from repro.maths.divergences import pr_divergence
from test_metrics import naive_prdc  # tests/ is on sys.path (no __init__.py)

pytestmark = pytest.mark.property

# λ grid: 0, a log-spaced sweep, ∞ (sorted).
LAMBDAS = np.concatenate([[0.0], np.logspace(-8, 8, 161), [math.inf]])
FINITE = slice(1, -1)
TOL = 1e-12

# --------------------------------------------------------------------------- strategies

_mass = st.one_of(st.just(0.0), st.floats(1e-6, 1.0), st.integers(1, 5).map(float))


@st.composite
def histogram_pairs(draw, min_size: int = 1, max_size: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Two normalised histograms (K,) over one support, each with zeros (differing supports)."""
    k = draw(st.integers(min_size, max_size))
    p = np.array(draw(st.lists(_mass, min_size=k, max_size=k)))
    q = np.array(draw(st.lists(_mass, min_size=k, max_size=k)))
    assume(p.sum() > 0 and q.sum() > 0)
    return p / p.sum(), q / q.sum()


@st.composite
def dirichlet_pairs(draw) -> tuple[np.ndarray, np.ndarray]:
    """Dirichlet draws (seeded by hypothesis) with random entries zeroed."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.integers(2, 40))
    out = []
    for _ in range(2):
        h = rng.dirichlet(np.full(k, draw(st.sampled_from([0.1, 1.0, 10.0]))))
        h[rng.random(k) < draw(st.sampled_from([0.0, 0.3]))] = 0.0
        assume(h.sum() > 0)
        out.append(h / h.sum())
    return out[0], out[1]


any_pair = st.one_of(histogram_pairs(), dirichlet_pairs())

# --------------------------------------------------------------------------- PR curve


@given(any_pair)
def test_alpha_is_lambda_beta(pq):
    p, q = pq
    alpha, beta = prd.pr_curve(p, q, LAMBDAS)
    lam = LAMBDAS[FINITE]
    np.testing.assert_allclose(alpha[FINITE], lam * beta[FINITE], rtol=1e-10, atol=TOL)


@given(any_pair)
def test_alpha_increases_beta_decreases_within_unit_interval(pq):
    alpha, beta = prd.pr_curve(*pq, LAMBDAS)
    assert ((0 <= alpha) & (alpha <= 1) & (0 <= beta) & (beta <= 1)).all()
    assert (np.diff(alpha) >= -TOL).all()
    assert (np.diff(beta) <= TOL).all()


@given(any_pair)
def test_endpoints_are_support_masses_and_maxima(pq):
    p, q = pq
    alpha, beta = prd.pr_curve(p, q, LAMBDAS)
    q_on_supp_p, p_on_supp_q = q[p > 0].sum(), p[q > 0].sum()
    assert alpha[-1] == pytest.approx(q_on_supp_p, abs=TOL)  # α_∞ = Q(Supp P)
    assert beta[0] == pytest.approx(p_on_supp_q, abs=TOL)  # β_0 = P(Supp Q)
    assert alpha.max() == pytest.approx(alpha[-1], abs=TOL) and beta.max() == pytest.approx(beta[0], abs=TOL)
    # The maxima are reached at finite slopes: λ ≥ max q/p on Supp P, λ ≤ min q/p on both supports.
    both = (p > 0) & (q > 0)
    if both.any():
        lam_hi = float(np.max(q[p > 0] / p[p > 0]))
        lam_lo = float(np.min(q[both] / p[both]))
        assert prd.pr_curve(p, q, lam_hi)[0] == pytest.approx(q_on_supp_p, rel=1e-12, abs=TOL)
        assert prd.pr_curve(p, q, lam_lo)[1] == pytest.approx(p_on_supp_q, rel=1e-12, abs=TOL)


@given(any_pair)
def test_equal_distributions_iff_alpha_beta_one_at_slope_one(pq):
    p, q = pq
    # α_1 = β_1 = Σ min(p, q) = 1 − TV(P, Q): one exactly when P = Q.
    a1, b1 = prd.pr_curve(p, q, 1.0)
    assert a1 == pytest.approx(b1, abs=TOL)
    assert a1 == pytest.approx(1 - 0.5 * np.abs(p - q).sum(), abs=TOL)
    if np.abs(p - q).max() > 1e-9:
        assert a1 < 1
    assert prd.pr_curve(p, p, 1.0) == pytest.approx((1.0, 1.0), abs=TOL)


@given(any_pair)
def test_curve_matches_pr_divergence(pq):
    # docs/maths.md §2: α_λ(P‖Q) = min(1, λ) − D_λ(P‖Q); β_λ(P‖Q) = min(1, 1/λ) − D_{1/λ}(Q‖P).
    # The divergence form cancels terms of size max(λ, 1): the tolerance scales with it.
    p, q = pq
    lam = LAMBDAS[FINITE][::8]
    alpha, beta = prd.pr_curve(p, q, lam)
    tol = 1e-12 + 1e-14 * np.maximum(1, np.maximum(lam, 1 / lam))
    assert (np.abs(alpha - (np.minimum(1, lam) - pr_divergence(p, q, lam))) <= tol).all()
    assert (np.abs(beta - (np.minimum(1, 1 / lam) - pr_divergence(q, p, 1 / lam))) <= tol).all()


@given(any_pair, st.floats(0.0, 1e6) | st.just(math.inf))
def test_scalar_lambda_matches_array(pq, lam):
    alpha, beta = prd.pr_curve(*pq, np.array([lam]))
    assert prd.pr_curve(*pq, lam) == (alpha[0], beta[0])


# --------------------------------------------------------------------------- F_beta

unit = st.floats(0.0, 1.0)
betas = st.floats(1e-3, 1e3)


@given(unit, unit, betas)
def test_f_beta_is_a_weighted_harmonic_mean(a, b, beta):
    f = float(prd.f_beta(a, b, beta))
    assert min(a, b) - 1e-12 <= f <= max(a, b) + 1e-12
    assert f == pytest.approx(float(prd.f_beta(b, a, 1 / beta)), rel=1e-9, abs=1e-15)  # F_β(α, β) = F_{1/β}(β, α)
    if a > 1e-150 and b > 1e-150:  # away from subnormals, where 1/x overflows
        assert 1 / f == pytest.approx((beta**2 / b + 1 / a) / (1 + beta**2), rel=1e-9)


@given(unit, unit, unit, betas)
def test_f_beta_is_monotone(a, b, c, beta):
    lo, hi = min(a, c), max(a, c)
    assert prd.f_beta(lo, b, beta) <= prd.f_beta(hi, b, beta) + 1e-15
    assert prd.f_beta(b, lo, beta) <= prd.f_beta(b, hi, beta) + 1e-15


@given(unit, unit)
def test_f_beta_limits(a, b):
    assert float(prd.f_beta(a, b, 1.0)) == pytest.approx(0 if a + b == 0 else 2 * a * b / (a + b), abs=1e-15)
    if a > 1e-3:  # F_β → recall as β → ∞ (for α > 0), → precision as β → 0
        assert float(prd.f_beta(a, b, 1e6)) == pytest.approx(b, abs=1e-6)
    if b > 1e-3:
        assert float(prd.f_beta(a, b, 1e-6)) == pytest.approx(a, abs=1e-6)


@given(any_pair)
def test_f_beta_max_on_exact_curves(pq):
    p, q = pq
    lam = np.tan(np.linspace(1e-10, math.pi / 2 - 1e-10, 1001))
    f8, f18 = prd.f_beta_max(*prd.pr_curve(p, q, lam))
    assert 0 <= f8 <= 1 and 0 <= f18 <= 1
    f8_same, f18_same = prd.f_beta_max(*prd.pr_curve(p, p, lam))
    assert f8_same == pytest.approx(1.0, abs=1e-9) and f18_same == pytest.approx(1.0, abs=1e-9)


# --------------------------------------------------------------------------- k-NN metrics


@st.composite
def point_sets(draw) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Real (N, d) and fake (M, d) sets, sometimes on a small integer grid (duplicates, ties)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d = draw(st.integers(1, 6))
    n, m = draw(st.integers(7, 60)), draw(st.integers(7, 60))
    k_pr, k_dc = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    if draw(st.booleans()):
        real = rng.integers(-3, 4, size=(n, d)).astype(np.float64)
        fake = rng.integers(-3, 4, size=(m, d)).astype(np.float64) + draw(st.integers(0, 2))
    else:
        real = rng.normal(size=(n, d)) * draw(st.sampled_from([1e-3, 1.0, 1e3])) + draw(st.sampled_from([0.0, 50.0]))
        # Near copies of real points, never bitwise copies: for non-integer floats the computed
        # distance between equal points is 0 only up to rounding (see repro.maths.metrics).
        noise = draw(st.sampled_from([1e-3, 0.1, 1.0])) * real.std()
        fake = real[rng.integers(0, n, m)] + rng.normal(size=(m, d)) * noise
    return real, fake, k_pr, k_dc


@given(point_sets())
def test_prdc_equals_naive_reference(data):
    real, fake, k_pr, k_dc = data
    got = M.prdc(real, fake, k_pr, k_dc, dtype=torch.float64)
    assert got == pytest.approx(naive_prdc(real, fake, k_pr, k_dc), abs=1e-12)


@given(point_sets(), st.integers(1, 70), st.data())
def test_prdc_independent_of_block_size_and_order(data, block_rows, draw):
    real, fake, k_pr, k_dc = data
    reference = M.prdc(real, fake, k_pr, k_dc, dtype=torch.float64)
    assert M.prdc(real, fake, k_pr, k_dc, dtype=torch.float64, block_rows=block_rows) == reference
    perm_r = np.array(draw.draw(st.permutations(range(len(real)))))
    perm_f = np.array(draw.draw(st.permutations(range(len(fake)))))
    assert M.prdc(real[perm_r], fake[perm_f], k_pr, k_dc, dtype=torch.float64) == pytest.approx(reference, abs=1e-12)


@given(point_sets())
def test_identical_sets_are_fully_covered(data):
    real, _, k_pr, k_dc = data
    got = M.prdc(real, real, k_pr, k_dc, dtype=torch.float64)
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0
