"""Which divergence each generator loss descends at the optimal critic (docs/maths.md §3.3–3.4).

On a finite support, Q_θ = softmax(θ) and a fixed P. The critic is held at its optimum for the
current Q (T* = f′(p/q), i.e. the raw score v* whose log-ratio is log p/q) and detached, as in
training; the generator's loss is the project's own ``repro.gan.losses.g_loss`` per support point,
weighted by q. Its gradient in θ must equal the gradient of the divergence the label claims:

| objective | form          | descends                                          |
|-----------|---------------|---------------------------------------------------|
| f-GAN f   | minimax       | D_f(P‖Q) (kl: forward KL, mode-covering)          |
| kl        | nonsaturating | KL(Q‖P), the reverse KL                            |
| rkl       | nonsaturating | ½ χ²(Q‖P) = ½ (E_Q[q/p] − 1)                       |
| bce / js  | nonsaturating | KL(Q‖P) − 2 JS(P, Q) (Arjovsky & Bottou 2017)      |
| pr        | primal        | D_g, g(u) = (λu log λu − λu + 1) on λu < 1, else 0 |
| pr        | log           | D_g, g(u) = (λu − 1 − log λu) on λu < 1, else 0    |

Against a logistic-loss critic (log r = its logit; the default of kl and rkl), min–max kl, rkl
and js descend the same divergences, and non-saturating kl KL(Q‖P) (``LOGISTIC_EXPECTED``).

(The λ-PR rows: with the critic held fixed, neither form descends D_λ itself, whose gradient
weighs every sample with λr < 1 equally; the primal form weighs it by 1 − λr, a truncated
forward KL, the log form by −log λr, a truncated reverse KL.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from repro.gan import train
from repro.maths import divergences as dv

pytestmark = pytest.mark.property


def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * torch.log(a / b)).sum()


def js(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    m = (p + q) / 2
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def f_div(p: torch.Tensor, q: torch.Tensor, name: str) -> torch.Tensor:
    return (q * dv.f(p / q, name)).sum()


def truncated(p: torch.Tensor, q: torch.Tensor, lam: float, g) -> torch.Tensor:
    u = lam * p / q
    return (q * torch.where(u < 1, g(u), torch.zeros_like(u))).sum()


# (objective, generator form) → the divergence its fixed-critic gradient must match
EXPECTED = {
    ("kl", "minimax"): lambda p, q, lam: f_div(p, q, "kl"),
    ("rkl", "minimax"): lambda p, q, lam: f_div(p, q, "rkl"),
    ("js", "minimax"): lambda p, q, lam: f_div(p, q, "js"),
    ("bce", "minimax"): lambda p, q, lam: f_div(p, q, "bce"),
    ("kl", "nonsaturating"): lambda p, q, lam: kl(q, p),
    ("rkl", "nonsaturating"): lambda p, q, lam: ((q * q / p).sum() - 1) / 2,
    ("js", "nonsaturating"): lambda p, q, lam: kl(q, p) - 2 * js(p, q),
    ("bce", "nonsaturating"): lambda p, q, lam: kl(q, p) - 2 * js(p, q),
    ("pr", "primal"): lambda p, q, lam: truncated(p, q, lam, lambda u: u * torch.log(u) - u + 1),
    ("pr", "log"): lambda p, q, lam: truncated(p, q, lam, lambda u: u - 1 - torch.log(u)),
}


def gradients(p: np.ndarray, theta: np.ndarray, loss: str, form: str, lam: float, aux: str = "rkl"):
    """(∇θ of Σ q · g_loss at the detached optimal critic, ∇θ of the expected divergence)."""
    p_t = torch.as_tensor(p, dtype=torch.float64)
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    q = torch.softmax(th, 0)
    name = aux if loss == "pr" else loss
    v = dv.get(name).score_from_log_ratio(torch.log(p_t / q).detach())  # the critic at its optimum
    critic = None if loss == "pr" else "dual"  # the objective's own critic (the logistic one: below)
    cfg = train.TrainConfig(loss=loss, gen_form=form, lam=lam, aux=aux, clamp=0.0, critic=critic).resolve()
    per_point = torch.stack([train.g_loss(v[i:i + 1], cfg, epoch=0) for i in range(len(p))])
    (g_loss,) = torch.autograd.grad((q * per_point).sum(), th)
    th2 = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    (g_div,) = torch.autograd.grad(EXPECTED[(loss, form)](p_t, torch.softmax(th2, 0), lam), th2)
    return g_loss.numpy(), g_div.numpy()


@st.composite
def families(draw):
    n = draw(st.integers(3, 8))
    p = draw(arrays(np.float64, n, elements=st.floats(0.02, 1.0)))
    theta = draw(arrays(np.float64, n, elements=st.floats(-2.0, 2.0)))
    return p / p.sum(), theta


@pytest.mark.parametrize("loss,form", [k for k in EXPECTED if k[0] != "pr"])
@given(pq=families())
def test_fgan_generator_descends_the_labelled_divergence(loss, form, pq):
    p, theta = pq
    g_loss, g_div = gradients(p, theta, loss, form, lam=1.0)
    assume(np.linalg.norm(g_div) > 1e-6)  # P = Q: nothing to descend
    np.testing.assert_allclose(g_loss, g_div, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("form", ["primal", "log"])
@given(pq=families(), lam=st.sampled_from([0.1, 0.5, 1.0, 2.0, 10.0]))
def test_pr_generator_forms_descend_truncated_kl_and_reverse_kl(form, pq, lam):
    p, theta = pq
    q = np.exp(theta) / np.exp(theta).sum()
    assume(np.min(np.abs(lam * p / q - 1)) > 1e-6)  # no point on the kink λr = 1
    g_loss, g_div = gradients(p, theta, "pr", form, lam)
    np.testing.assert_allclose(g_loss, g_div, rtol=1e-7, atol=1e-9)


def test_nonsaturating_kl_is_not_the_forward_kl():
    """The referee's finding, as a regression test: the non-saturating "KL" generator's gradient
    is that of KL(Q‖P) and points elsewhere than ∇KL(P‖Q) (cosine well below 1)."""
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6))
    theta = rng.normal(size=6)
    g_ns, g_rev = gradients(p, theta, "kl", "nonsaturating", 1.0)
    g_mm, g_fwd = gradients(p, theta, "kl", "minimax", 1.0)
    np.testing.assert_allclose(g_ns, g_rev, rtol=1e-7)
    np.testing.assert_allclose(g_mm, g_fwd, rtol=1e-7)
    cos = float(g_ns @ g_fwd / (np.linalg.norm(g_ns) * np.linalg.norm(g_fwd)))
    assert cos < 0.99, cos


def test_pr_primal_is_not_d_lambda():
    """Neither λ-PR form's fixed-critic gradient is ∇D_λ (which weighs every q > λp point by 1)."""
    rng = np.random.default_rng(1)
    p, theta = rng.dirichlet(np.ones(8)), rng.normal(size=8)
    g_primal, _ = gradients(p, theta, "pr", "primal", 0.5)
    p_t = torch.as_tensor(p)
    th = torch.tensor(theta, requires_grad=True)
    (g_dlam,) = torch.autograd.grad(torch.maximum(0.5 * p_t, torch.softmax(th, 0)).sum(), th)
    cos = float(g_primal @ g_dlam.numpy() / (np.linalg.norm(g_primal) * np.linalg.norm(g_dlam.numpy())))
    assert math.isfinite(cos) and cos < 0.999, cos


# (objective, generator form) against a logistic critic (log r = its logit) → the divergence
LOGISTIC_EXPECTED = {
    ("kl", "minimax"): lambda p, q: f_div(p, q, "kl"),  # the forward KL(P‖Q), self-normalised
    ("rkl", "minimax"): lambda p, q: f_div(p, q, "rkl"),  # KL(Q‖P)
    ("js", "minimax"): lambda p, q: f_div(p, q, "js"),
    ("kl", "nonsaturating"): lambda p, q: kl(q, p),
}


@pytest.mark.parametrize("loss,form", list(LOGISTIC_EXPECTED))
@given(pq=families())
def test_logistic_critic_generator_descends_the_labelled_divergence(loss, form, pq):
    """With a ratio estimator fitted by the logistic loss (its logit is log p/q at the optimum),
    G's loss at T = f′(r) descends the divergence named, as with the objective's own critic
    (docs/maths.md §3.4); for kl the self-normalised −log E_Q[r] has the same gradient since
    E_Q[r] = 1 at the exact ratio."""
    p, theta = pq
    p_t = torch.as_tensor(p, dtype=torch.float64)
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    q = torch.softmax(th, 0)
    log_r = torch.log(p_t / q).detach()  # the logistic critic's optimal logit
    (g_loss,) = torch.autograd.grad(dv.ratio_generator_loss(log_r, loss, form, weights=q), th)
    th2 = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    (g_div,) = torch.autograd.grad(LOGISTIC_EXPECTED[(loss, form)](p_t, torch.softmax(th2, 0)), th2)
    assume(np.linalg.norm(g_div.numpy()) > 1e-6)
    np.testing.assert_allclose(g_loss.numpy(), g_div.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("loss", ["js", "kl", "rkl"])
def test_training_uses_the_logistic_critics_loss(loss):
    """train.g_loss with critic = logistic is ratio_generator_loss of D's logit, per seed of a stack."""
    cfg = train.TrainConfig(loss=loss, critic="logistic").resolve()
    assert cfg.ratio_divergence == "bce"
    v = torch.randn(3, 16, dtype=torch.float64)
    expected = torch.stack([dv.ratio_generator_loss(v[s], loss, "minimax") for s in range(3)])
    torch.testing.assert_close(train.g_loss(v, cfg, epoch=0), expected, rtol=0, atol=0)


def test_score_from_log_ratio_inverts_log_ratio():
    lr = torch.linspace(-5, 5, 11, dtype=torch.float64)
    for name in dv.DIVERGENCES:
        torch.testing.assert_close(dv.log_ratio(dv.get(name).score_from_log_ratio(lr), name), lr)
