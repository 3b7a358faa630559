"""f-divergences, their variational (dual) form, the λ-PR divergence, and GAN losses.

Notation of docs/maths.md §2–4. P is the data, Q the generator, r = p/q.
A discriminator outputs a raw value v; T = g_f(v) maps it into dom f*; the dual bound is
D_f(P‖Q) ≥ E_P[T] − E_Q[f*(T)] (Nguyen et al. 2010; Nowozin et al. 2016, eq. 4), with
equality at T = f'(p/q), so r = (f')⁻¹(T) = (f*)'(T).

Everything here is a pure function of tensors (torch) or histograms (numpy). Where an
expression overflows in float32 in its textbook form (−log(2 − e^t) for JS), the composite
f*(g_f(v)) is computed from v directly in a stable form (``conjugate_of_activation``).

| name | f(u)                             | g_f(v)               | f*(t)            | r from T          |
|------|----------------------------------|----------------------|------------------|-------------------|
| kl   | u log u                          | v                    | exp(t − 1)       | exp(T − 1)        |
| rkl  | −log u                           | −exp(−v)             | −1 − log(−t)     | −1/T              |
| chi2 | (u − 1)²                         | v                    | t²/4 + t         | T/2 + 1           |
| js   | u log u − (u+1) log((u+1)/2)     | log 2 − log(1+e^−v)  | −log(2 − e^t)    | e^T/(2 − e^T)     |
| bce  | u log u − (u+1) log(u+1)         | −log(1+e^−v)         | −log(1 − e^t)    | e^T/(1 − e^T)     |

(χ²: t²/4 + t is the supremum over u ∈ ℝ; restricted to u ≥ 0 it holds for t ≥ −2 and is −1
below. The GAN losses use the unrestricted form, which keeps a gradient everywhere.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from repro.core.vocab import DIVERGENCES, GENERATOR_FORMS

LOG2 = math.log(2.0)
Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Divergence:
    """One f-divergence, everything the harness needs of it in one place (docs/maths.md §3):
    a new divergence is one ``Divergence(...)`` in ``REGISTRY`` (and its name in
    ``repro.core.vocab.DIVERGENCES``)."""

    name: str
    f: Fn                      # the convex generator f(u), u > 0
    f2: Fn                     # f''(u): the weight of the λ-PR mixture representation (§2)
    f_star: Fn                 # the Fenchel conjugate f*(t) on dom f* (textbook form)
    activation: Fn             # T = g_f(v): a raw score into dom f* (Nowozin et al., Table 2)
    conjugate_of_activation: Fn  # f*(g_f(v)), finite for every finite v (float32 included)
    ratio_from_T: Fn           # r = (f*)'(T) at the optimum of the dual bound
    log_ratio: Fn              # log r from the raw score v, stably (rejection sampling, §6)
    score_from_log_ratio: Fn   # the inverse of log_ratio: the raw score v whose ratio is exp(log r)
    slope_at_inf: float        # lim_{u→∞} f(u)/u: the weight of P's mass where q = 0
    f_at_zero: float           # lim_{u→0} f(u): the weight of Q's mass where p = 0


def _chi2_log_ratio(v: torch.Tensor) -> torch.Tensor:
    # r = v/2 + 1 may be ≤ 0: the ratio is non-negative, so log r = −inf there
    r = v / 2 + 1
    return torch.where(r > 0, torch.log(r.clamp_min(torch.finfo(r.dtype).tiny)), torch.full_like(r, -math.inf))


def _identity(v: torch.Tensor) -> torch.Tensor:
    return v


REGISTRY: dict[str, Divergence] = {d.name: d for d in (
    Divergence("kl", f=lambda u: torch.xlogy(u, u), f2=lambda u: 1 / u,
               f_star=lambda t: torch.exp(t - 1), activation=_identity,
               conjugate_of_activation=lambda v: torch.exp(v - 1), ratio_from_T=lambda t: torch.exp(t - 1),
               log_ratio=lambda v: v - 1, score_from_log_ratio=lambda lr: lr + 1, slope_at_inf=math.inf,
               f_at_zero=0.0),
    Divergence("rkl", f=lambda u: -torch.log(u), f2=lambda u: 1 / u**2,
               f_star=lambda t: -1 - torch.log(-t), activation=lambda v: -torch.exp(-v),
               conjugate_of_activation=lambda v: v - 1,  # −1 − log(exp(−v))
               ratio_from_T=lambda t: -1 / t, log_ratio=_identity, score_from_log_ratio=_identity, slope_at_inf=0.0,
               f_at_zero=math.inf),
    Divergence("chi2", f=lambda u: (u - 1) ** 2, f2=lambda u: torch.full_like(u, 2.0),
               f_star=lambda t: t**2 / 4 + t, activation=_identity,
               conjugate_of_activation=lambda v: v**2 / 4 + v, ratio_from_T=lambda t: t / 2 + 1,
               log_ratio=_chi2_log_ratio, score_from_log_ratio=lambda lr: 2 * torch.expm1(lr), slope_at_inf=math.inf,
               f_at_zero=1.0),
    Divergence("js", f=lambda u: torch.xlogy(u, u) - (u + 1) * torch.log((u + 1) / 2), f2=lambda u: 1 / u - 1 / (u + 1),
               f_star=lambda t: -torch.log(2 - torch.exp(t)), activation=lambda v: LOG2 - F.softplus(-v),
               conjugate_of_activation=lambda v: F.softplus(v) - LOG2,  # −log(2 − 2σ(v))
               ratio_from_T=lambda t: torch.exp(t) / (2 - torch.exp(t)), log_ratio=_identity,
               score_from_log_ratio=_identity, slope_at_inf=LOG2, f_at_zero=LOG2),
    Divergence("bce", f=lambda u: torch.xlogy(u, u) - (u + 1) * torch.log(u + 1), f2=lambda u: 1 / u - 1 / (u + 1),
               f_star=lambda t: -torch.log1p(-torch.exp(t)), activation=lambda v: -F.softplus(-v),  # log σ(v)
               conjugate_of_activation=lambda v: F.softplus(v),  # −log(1 − σ(v))
               ratio_from_T=lambda t: torch.exp(t) / (1 - torch.exp(t)), log_ratio=_identity,
               score_from_log_ratio=_identity, slope_at_inf=0.0, f_at_zero=0.0),
)}
assert set(REGISTRY) == set(DIVERGENCES), "repro.core.vocab.DIVERGENCES and the registry must list the same names"


def get(name: str) -> Divergence:
    """The registered divergence ``name``; ValueError naming the allowed ones otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown divergence {name!r}; expected one of {', '.join(DIVERGENCES)}") from None


# --------------------------------------------------------------------------- by name (the table above)


def f(u: torch.Tensor, name: str) -> torch.Tensor:
    """The convex generator f(u) of D_f (docs/maths.md §3 table), elementwise, u > 0."""
    return get(name).f(u)


def f_second_derivative(u: torch.Tensor, name: str) -> torch.Tensor:
    """f''(u): the weight of the λ-PR mixture representation (docs/maths.md §2)."""
    return get(name).f2(u)


def f_star(t: torch.Tensor, name: str) -> torch.Tensor:
    """The Fenchel conjugate f*(t) = sup_u (t u − f(u)) on dom f* (textbook forms)."""
    return get(name).f_star(t)


def activation(v: torch.Tensor, name: str) -> torch.Tensor:
    """The output activation T = g_f(v) mapping a raw score into dom f* (Nowozin et al., Table 2)."""
    return get(name).activation(v)


def conjugate_of_activation(v: torch.Tensor, name: str) -> torch.Tensor:
    """f*(g_f(v)) in a form that is finite for every finite v (float32 included)."""
    return get(name).conjugate_of_activation(v)


def ratio_from_T(t: torch.Tensor, name: str) -> torch.Tensor:
    """r = (f*)'(T): the density-ratio estimate at the optimum of the dual bound."""
    return get(name).ratio_from_T(t)


def log_ratio(v: torch.Tensor, name: str) -> torch.Tensor:
    """log r(x) from the raw score v, stably: what rejection sampling needs (docs/maths.md §6).

    For bce and js, log r = v (the logit); for rkl, log r = v; for kl, v − 1; for χ²,
    log(v/2 + 1), −inf where the estimate is ≤ 0 (the ratio is non-negative).
    """
    return get(name).log_ratio(v)


def ratio(v: torch.Tensor, name: str) -> torch.Tensor:
    """r(x) = exp(log_ratio(v)) (non-negative, possibly inf in float32 for huge v)."""
    return torch.exp(log_ratio(v, name))


# --------------------------------------------------------------------------- GAN losses


def discriminator_loss(v_real: torch.Tensor, v_fake: torch.Tensor, name: str) -> torch.Tensor:
    """−(E_P[g_f(v)] − E_Q[f*(g_f(v))]): minus the dual lower bound (Nowozin et al., eq. 6).

    Scores (…, B) → losses (…): the expectations are means over the last axis, so a stack of
    seeds (S, B) gets one loss per seed (every loss of this module reduces the same way).

    For bce this is the binary cross-entropy of a sigmoid discriminator; for js it is the
    same loss minus log 4 (docs/maths.md §3).
    """
    return -activation(v_real, name).mean(-1) + conjugate_of_activation(v_fake, name).mean(-1)


def generator_loss_terms(v_fake: torch.Tensor, name: str, form: str = "minimax") -> torch.Tensor:
    """The generator's per-sample loss (B,) on the scores of its samples; ``generator_loss`` is its mean.

    ``minimax``: −f*(g_f(v)), the saddle-point objective of the seed report's eq. (1)–(4).
    ``nonsaturating``: −g_f(v) (Nowozin et al., §3.2; for bce the standard non-saturating GAN,
    −log σ(v)). With this form js and bce are the same loss up to a constant, hence identical
    training runs.
    """
    if form == "minimax":
        return -conjugate_of_activation(v_fake, name)
    if form == "nonsaturating":
        return -activation(v_fake, name)
    raise ValueError(f"unknown generator form {form!r}; expected one of {', '.join(GENERATOR_FORMS)}")


def generator_loss(v_fake: torch.Tensor, name: str, form: str = "minimax") -> torch.Tensor:
    """The generator's loss E_Q[ℓ(v)] on the scores (…, B) of its samples (``generator_loss_terms``)."""
    return generator_loss_terms(v_fake, name, form).mean(-1)


def ratio_generator_loss(log_r: torch.Tensor, name: str, form: str = "minimax",
                         weights: torch.Tensor | None = None) -> torch.Tensor:
    """The generator loss of divergence ``name`` against a critic that estimates log r = log p/q
    directly (a logistic-loss discriminator: its logit; docs/maths.md §3.4).

    The estimate is put where the f-GAN critic would be at its optimum, T = f′(r)
    (``score_from_log_ratio``), and the f-GAN generator loss of ``form`` is taken there, so the
    fixed-critic gradient is the one of §3.3: min–max descends D_f(P‖Q) itself. For kl the min–max
    loss E_Q[−r] is taken self-normalised, −log E_Q[r]: at the exact ratio E_Q[r] = 1, so the
    gradient is the same there, and with an estimate each batch's gradient is divided by its mean
    r̂ (which otherwise swings over orders of magnitude while D separates the two sets).
    ``weights`` (…, B), summing to 1, replaces the batch mean by a weighted one (the tests take the
    expectation over a finite support this way).
    """
    w = torch.full_like(log_r, 1.0 / log_r.shape[-1]) if weights is None else weights
    if name == "kl" and form == "minimax":
        return -torch.logsumexp(log_r + torch.log(w), -1)
    return (w * generator_loss_terms(get(name).score_from_log_ratio(log_r), name, form)).sum(-1)


def dual_objective(v_real: torch.Tensor, v_fake: torch.Tensor, name: str) -> torch.Tensor:
    """E_P[T] − E_Q[f*(T)], the variational lower bound on D_f(P‖Q)."""
    return -discriminator_loss(v_real, v_fake, name)


def pr_generator_loss(v_fake: torch.Tensor, lam: float, aux: str = "chi2") -> torch.Tensor:
    """λ-PR GAN generator loss (Verine et al. 2023; docs/maths.md §4): −E_Q[min(λ r(G(z)), 1)],

    with r the ratio estimate of a discriminator trained on the auxiliary divergence ``aux``.
    Minimising it minimises D_λ(P‖Q) = min(1, λ) − α_λ up to constants. Samples with
    λ r ≥ 1 receive no gradient (see ``repro.gan.train`` for how training copes with that).
    """
    r = ratio(v_fake, aux)
    return -torch.clamp(lam * r, max=1.0).mean(-1)


# --------------------------------------------------------------------------- on histograms


def _hist(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or (x < 0).any():
        raise ValueError("expected a 1-D array of non-negative masses")
    return x


def f_divergence(p: np.ndarray, q: np.ndarray, name: str) -> float:
    """D_f(P‖Q) = Σ_x q(x) f(p(x)/q(x)) for histograms, with the limits where p or q is 0."""
    d = get(name)
    p, q = _hist(p), _hist(q)
    both = (p > 0) & (q > 0)
    u = torch.as_tensor(p[both] / q[both])
    total = float((torch.as_tensor(q[both]) * d.f(u)).sum())
    only_p, only_q = p[(p > 0) & (q == 0)].sum(), q[(q > 0) & (p == 0)].sum()
    if only_p > 0:
        total += only_p * d.slope_at_inf
    if only_q > 0:
        total += only_q * d.f_at_zero
    return total


def pr_divergence(p: np.ndarray, q: np.ndarray, lam: float | np.ndarray) -> float | np.ndarray:
    """D_λ(P‖Q) = Σ q f_λ(p/q), f_λ(u) = max(λu, 1) − max(λ, 1) (Verine et al. 2023, Def. 3.1).

    q f_λ(p/q) = max(λp, q) − q max(λ, 1), finite wherever p or q is 0. ``lam`` may be an
    array (L,); the result then has shape (L,).
    """
    p, q = _hist(p), _hist(q)
    lam_arr = np.asarray(lam, dtype=np.float64)
    lam_col = lam_arr.reshape(-1, 1)
    out = np.maximum(lam_col * p, q).sum(axis=1) - q.sum() * np.maximum(lam_col[:, 0], 1.0)
    return float(out[0]) if lam_arr.ndim == 0 else out




def pr_generator_loss_log(v_fake: torch.Tensor, lam: float, aux: str = "kl") -> torch.Tensor:
    """The "non-saturating" λ-PR generator loss −E_Q[min(log(λ r(G(z))), 0)] (added for training).

    Same samples get a gradient as in ``pr_generator_loss`` (those with λ r < 1), and the
    stationary points of the two agree sample by sample (log is increasing), but the gradient
    is ∇ log r instead of λ r ∇ log r: it does not vanish on the samples D rates r ≈ 0, which is
    where the primal form stalls for aux = kl or rkl (r = exp(·)) — the same cure as the
    non-saturating GAN loss. For χ² the ratio estimate v/2 + 1 can be ≤ 0 (log r = −inf, no
    gradient): use the primal form there.
    """
    if aux == "chi2":
        raise ValueError("the log form of the λ-PR generator loss needs a positive ratio estimate; "
                         "use aux kl or rkl, or the primal form with chi2")
    return -torch.clamp(log_ratio(v_fake, aux) + math.log(lam), max=0.0).mean(-1)
