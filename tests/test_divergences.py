"""repro.maths.divergences against the definitions of docs/maths.md §2–4 (hypothesis property tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, optimize

from repro.maths import divergences as dv

pytestmark = pytest.mark.property

# dom f* (an interval inside which the textbook conjugate is valid) and f'(u), per divergence
DOMAIN = {"kl": (-4.0, 4.0), "rkl": (-20.0, -0.05), "chi2": (-2.0, 6.0), "js": (-6.0, math.log(2) - 0.02),
          "bce": (-6.0, -0.02)}
F_PRIME = {
    "kl": lambda u: np.log(u) + 1,
    "rkl": lambda u: -1 / u,
    "chi2": lambda u: 2 * (u - 1),
    "js": lambda u: np.log(2 * u / (u + 1)),
    "bce": lambda u: np.log(u / (u + 1)),
}
T64 = dict(dtype=torch.float64)


def t64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def histogram(min_size: int = 2, max_size: int = 12, positive: bool = False):
    """Random probability vectors; with zeros (different supports) unless ``positive``."""
    lo = 1e-3 if positive else 0.0
    elems = st.one_of(st.just(lo), st.floats(lo, 1.0)) if not positive else st.floats(lo, 1.0)
    return arrays(np.float64, st.integers(min_size, max_size), elements=elems).filter(
        lambda a: a.sum() > 1e-6
    ).map(lambda a: a / a.sum())


@st.composite
def pair(draw, positive: bool = False):
    n = draw(st.integers(2, 10))
    elems = st.floats(1e-3, 1.0) if positive else st.one_of(st.just(0.0), st.floats(1e-3, 1.0))
    p = draw(arrays(np.float64, n, elements=elems))
    q = draw(arrays(np.float64, n, elements=elems))
    assume(p.sum() > 0 and q.sum() > 0)
    return p / p.sum(), q / q.sum()


def alpha(p: np.ndarray, q: np.ndarray, lam: float) -> float:
    """α_λ(P‖Q) = Σ min(λ p, q), written out independently of repro.maths.metrics."""
    return float(np.minimum(lam * p, q).sum())


def beta(p: np.ndarray, q: np.ndarray, lam: float) -> float:
    return float(np.minimum(p, q / lam).sum())


# --------------------------------------------------------------------------- conjugates


@pytest.mark.parametrize("name", dv.DIVERGENCES)
@given(frac=st.floats(0.0, 1.0))
def test_conjugate_equals_numerical_supremum(name: str, frac: float) -> None:
    """f*(t) = sup_{u>0} (t u − f(u)), and the maximiser is u* = r(t) = (f*)'(t)."""
    lo, hi = DOMAIN[name]
    t = lo + frac * (hi - lo)

    def neg(logu: float) -> float:
        u = math.exp(logu)
        return -(t * u - float(dv.f(t64(u), name)))

    res = optimize.minimize_scalar(neg, bounds=(-25, 12), method="bounded", options={"xatol": 1e-12})
    sup = -res.fun
    expected = float(dv.f_star(t64(t), name))
    assert sup == pytest.approx(expected, rel=1e-6, abs=1e-6)
    u_star = float(dv.ratio_from_T(t64(t), name))
    if 1e-8 < u_star < 1e4:  # inside the search bounds
        assert math.exp(res.x) == pytest.approx(u_star, rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("name", dv.DIVERGENCES)
@given(v=st.floats(-8.0, 8.0))
def test_activation_lands_in_domain_and_stable_composite_agrees(name: str, v: float) -> None:
    t = dv.activation(t64(v), name)
    lo, hi = DOMAIN[name]
    if name == "chi2":
        assume(float(t) >= -2.0)
    assert float(t) < (math.log(2) if name == "js" else 0.0 if name in ("bce", "rkl") else math.inf)
    composite = float(dv.conjugate_of_activation(t64(v), name))
    assert composite == pytest.approx(float(dv.f_star(t, name)), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", dv.DIVERGENCES)
@given(v=st.floats(-6.0, 6.0))
def test_ratio_from_T_inverts_the_activation(name: str, v: float) -> None:
    """r = (f*)'(g_f(v)) is what ``log_ratio`` returns in log space, and f'(r) = T."""
    T = dv.activation(t64(v), name)
    r = float(dv.ratio_from_T(T, name))
    assume(r > 1e-12)
    assert math.log(r) == pytest.approx(float(dv.log_ratio(t64(v), name)), rel=1e-9, abs=1e-9)
    assert F_PRIME[name](r) == pytest.approx(float(T), rel=1e-7, abs=1e-7)


@pytest.mark.parametrize("name", ["bce", "js", "rkl", "chi2"])
def test_conjugate_of_activation_is_finite_in_float32(name: str) -> None:
    """The textbook −log(2 − e^t) overflows once v > ~16 in float32; the composite does not."""
    v = torch.tensor([-200.0, -30.0, 0.0, 30.0, 200.0], dtype=torch.float32)
    assert torch.isfinite(dv.conjugate_of_activation(v, name)).all()
    if name != "rkl":  # rkl's real term −exp(−v) is itself unbounded as v → −∞
        assert torch.isfinite(dv.discriminator_loss(v, v, name))


# --------------------------------------------------------------------------- dual bound


@pytest.mark.parametrize("name", dv.DIVERGENCES)
@given(pq=pair(positive=True), v=arrays(np.float64, 10, elements=st.floats(-4, 4)))
def test_dual_lower_bound_and_equality_at_optimum(name: str, pq, v) -> None:
    """E_P[T] − E_Q[f*(T)] ≤ D_f(P‖Q), with equality at T = f'(p/q) (docs/maths.md §3)."""
    p, q = pq
    d = dv.f_divergence(p, q, name)
    T = dv.activation(t64(v[: len(p)]), name).numpy()
    lower = float((p * T).sum() - (q * dv.f_star(t64(T), name).numpy()).sum())
    assert lower <= d + 1e-9
    T_opt = F_PRIME[name](p / q)
    at_opt = float((p * T_opt).sum() - (q * dv.f_star(t64(T_opt), name).numpy()).sum())
    assert at_opt == pytest.approx(d, rel=1e-8, abs=1e-10)


def test_js_discriminator_is_bce_minus_log4_and_nonsaturating_generators_agree() -> None:
    g = torch.Generator().manual_seed(0)
    vr, vf = torch.randn(64, generator=g, **T64), torch.randn(64, generator=g, **T64)
    torch.testing.assert_close(dv.discriminator_loss(vr, vf, "js"), dv.discriminator_loss(vr, vf, "bce") - math.log(4))
    torch.testing.assert_close(dv.generator_loss(vf, "js", "nonsaturating"),
                               dv.generator_loss(vf, "bce", "nonsaturating") - math.log(2))
    # the min–max forms are *not* the same up to a constant in general: their gradients differ
    a = vf.clone().requires_grad_(True)
    b = vf.clone().requires_grad_(True)
    dv.generator_loss(a, "js", "minimax").backward()
    dv.generator_loss(b, "bce", "nonsaturating").backward()
    assert not torch.allclose(a.grad, b.grad)


def test_bce_discriminator_loss_is_binary_cross_entropy() -> None:
    g = torch.Generator().manual_seed(1)
    vr, vf = torch.randn(32, generator=g, **T64), torch.randn(32, generator=g, **T64)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = bce(vr, torch.ones_like(vr)) + bce(vf, torch.zeros_like(vf))
    torch.testing.assert_close(dv.discriminator_loss(vr, vf, "bce"), expected)


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(ValueError, match="bce, js, kl, rkl, chi2"):
        dv.f(t64(1.0), "tv")
    with pytest.raises(ValueError, match="minimax, nonsaturating"):
        dv.generator_loss(t64([0.0]), "kl", "saturating")


# --------------------------------------------------------------------------- λ-PR divergence


@given(pq=pair(), lam=st.floats(1e-3, 1e3))
def test_alpha_is_min1lam_minus_pr_divergence(pq, lam: float) -> None:
    """α_λ(P‖Q) = min(1, λ) − D_λ(P‖Q), and D_λ ≥ 0 (docs/maths.md §2)."""
    p, q = pq
    d = dv.pr_divergence(p, q, lam)
    assert d >= -1e-12
    assert alpha(p, q, lam) == pytest.approx(min(1.0, lam) - d, rel=1e-9, abs=1e-12)


@given(pq=pair(), lam=st.floats(1e-3, 1e3))
def test_beta_is_min1_invlam_minus_swapped_pr_divergence(pq, lam: float) -> None:
    """β_λ(P‖Q) = min(1, 1/λ) − D_{1/λ}(Q‖P): arguments swapped *and* 1/λ."""
    p, q = pq
    assert beta(p, q, lam) == pytest.approx(min(1.0, 1 / lam) - dv.pr_divergence(q, p, 1 / lam), rel=1e-9, abs=1e-12)


@given(pq=pair())
def test_pr_divergence_vectorised_over_lambda(pq) -> None:
    p, q = pq
    lams = np.array([0.1, 0.5, 1.0, 2.0, 10.0])
    np.testing.assert_allclose(dv.pr_divergence(p, q, lams), [dv.pr_divergence(p, q, float(x)) for x in lams])


@given(p=histogram(), lam=st.floats(1e-3, 1e3))
def test_pr_divergence_zero_iff_alpha_maximal(p, lam: float) -> None:
    assert dv.pr_divergence(p, p, lam) == pytest.approx(0.0, abs=1e-12)


def _weighted_integral(p: np.ndarray, q: np.ndarray, name: str) -> float:
    """∫_0^∞ λ⁻³ f''(1/λ) D_λ(P‖Q) dλ, integrated piecewise between the kinks of D_λ.

    D_λ is piecewise linear with kinks at λ = q_i/p_i and 1, and exactly 0 outside
    [min q/p, max q/p] (the interval holds 1 since Σp = Σq): integrating there alone keeps
    float rounding far out in the tails from adding up.
    """
    kinks = np.unique(np.concatenate([q / p, [1.0]]))
    weight = {"kl": lambda lam: lam**-2, "rkl": lambda lam: 1 / lam, "chi2": lambda lam: 2 * lam**-3}[name]
    total = 0.0
    for a, b in zip(kinks[:-1], kinks[1:], strict=True):
        val, _ = integrate.quad(lambda lam: weight(lam) * dv.pr_divergence(p, q, lam), a, b,
                                epsabs=1e-13, epsrel=1e-11, limit=200)
        total += val
    return total


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kl", "rkl", "chi2"])
@given(pq=pair(positive=True))
def test_f_divergence_is_weighted_average_of_pr_divergences(name: str, pq) -> None:
    """D_f(P‖Q) = ∫_0^∞ λ⁻³ f''(1/λ) D_λ(P‖Q) dλ (Verine et al. 2023, Thm 3.3; docs/maths.md §2)."""
    p, q = pq
    assert _weighted_integral(p, q, name) == pytest.approx(dv.f_divergence(p, q, name), rel=1e-6, abs=1e-9)


def test_f_divergence_limits_where_supports_differ() -> None:
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.5, 0.0, 0.5])
    assert dv.f_divergence(p, q, "kl") == math.inf
    assert dv.f_divergence(p, q, "rkl") == math.inf
    assert dv.f_divergence(p, q, "js") == pytest.approx(math.log(2))  # half the mass on each side: (½ + ½) log 2
    assert dv.f_divergence(p, p, "chi2") == 0.0
    # hand-checked: KL([½, ½] ‖ [¼, ¾]) = ½ log 2 + ½ log(2/3)
    assert dv.f_divergence(np.array([0.5, 0.5]), np.array([0.25, 0.75]), "kl") == pytest.approx(
        0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    )


def test_pr_generator_objective_is_minus_mean_clipped_ratio() -> None:
    v = torch.tensor([-10.0, 0.0, 2.0], **T64)  # χ² ratio v/2 + 1: 0 (clipped), 1, 2
    torch.testing.assert_close(dv.pr_generator_loss(v, 0.5, "chi2"), -torch.tensor((0.0 + 0.5 + 1.0) / 3, **T64))


def test_a_new_divergence_is_one_registry_entry(monkeypatch) -> None:
    """Squared Hellinger, f(u) = (√u − 1)², added as one ``Divergence`` and nothing else: every
    function of the module (the divergence on histograms, the dual bound with its optimal critic,
    the ratio a sampler reads, the generator losses) picks it up from the registry."""
    hellinger = dv.Divergence(
        "hellinger", f=lambda u: (torch.sqrt(u) - 1) ** 2, f2=lambda u: 0.5 * u ** -1.5,
        f_star=lambda t: t / (1 - t), activation=lambda v: 1 - torch.exp(-v),  # Nowozin et al., Table 2
        conjugate_of_activation=lambda v: torch.expm1(v), ratio_from_T=lambda t: (1 - t) ** -2,
        log_ratio=lambda v: 2 * v, score_from_log_ratio=lambda lr: lr / 2, slope_at_inf=1.0, f_at_zero=1.0)
    monkeypatch.setitem(dv.REGISTRY, "hellinger", hellinger)
    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.25, 0.25, 0.25, 0.25])
    exact = float(((np.sqrt(p) - np.sqrt(q)) ** 2).sum())
    assert dv.f_divergence(p, q, "hellinger") == pytest.approx(exact, rel=1e-12)  # with f(0) where p = 0
    p = np.array([0.4, 0.3, 0.2, 0.1])
    exact = float(((np.sqrt(p) - np.sqrt(q)) ** 2).sum())
    both = q > 0
    v_star = t64(0.5 * np.log(p[both] / q[both]))  # the optimal critic: T = f'(p/q) = 1 − √(q/p)
    bound = float((t64(p[both]) * dv.activation(v_star, "hellinger")).sum()
                  - (t64(q[both]) * dv.conjugate_of_activation(v_star, "hellinger")).sum())
    assert bound == pytest.approx(exact, rel=1e-9)  # the dual bound is tight at the optimum
    np.testing.assert_allclose(dv.ratio(v_star, "hellinger").numpy(), p[both] / q[both], rtol=1e-12)
    np.testing.assert_allclose(dv.ratio_from_T(dv.activation(v_star, "hellinger"), "hellinger").numpy(),
                               p[both] / q[both], rtol=1e-9)
    v = torch.tensor([-1.0, 0.0, 2.0], **T64)
    assert float(dv.generator_loss(v, "hellinger", "minimax")) == pytest.approx(-float(torch.expm1(v).mean()))
    assert float(dv.pr_generator_loss(v, 1.0, "hellinger")) == pytest.approx(
        -float(torch.clamp(torch.exp(2 * v), max=1).mean()))
    # against a logistic critic's log-ratio, its min-max loss at T = f'(r): −E_Q[f*(f'(r))] = −E_Q[√r − 1]
    log_r = torch.tensor([-1.0, 0.0, 2.0], **T64)
    assert float(dv.ratio_generator_loss(log_r, "hellinger")) == pytest.approx(
        -float(torch.expm1(log_r / 2).mean()))
