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

import numpy as np
import torch
import torch.nn.functional as F

from repro.vocab import DIVERGENCES, GENERATOR_FORMS, PR_GENERATOR_FORMS

LOG2 = math.log(2.0)


def _check(name: str) -> None:
    if name not in DIVERGENCES:
        raise ValueError(f"unknown divergence {name!r}; expected one of {', '.join(DIVERGENCES)}")


# --------------------------------------------------------------------------- the generator f


def f(u: torch.Tensor, name: str) -> torch.Tensor:
    """The convex generator f(u) of D_f (docs/maths.md §3 table), elementwise, u > 0."""
    _check(name)
    if name == "kl":
        return torch.xlogy(u, u)
    if name == "rkl":
        return -torch.log(u)
    if name == "chi2":
        return (u - 1) ** 2
    if name == "js":
        return torch.xlogy(u, u) - (u + 1) * torch.log((u + 1) / 2)
    return torch.xlogy(u, u) - (u + 1) * torch.log(u + 1)  # bce


def f_second_derivative(u: torch.Tensor, name: str) -> torch.Tensor:
    """f''(u): the weight of the λ-PR mixture representation (docs/maths.md §2)."""
    _check(name)
    if name == "kl":
        return 1 / u
    if name == "rkl":
        return 1 / u**2
    if name == "chi2":
        return torch.full_like(u, 2.0)
    if name == "js":
        return 1 / u - 1 / (u + 1)
    return 1 / u - 1 / (u + 1)  # bce


def f_star(t: torch.Tensor, name: str) -> torch.Tensor:
    """The Fenchel conjugate f*(t) = sup_u (t u − f(u)) on dom f* (textbook forms)."""
    _check(name)
    if name == "kl":
        return torch.exp(t - 1)
    if name == "rkl":
        return -1 - torch.log(-t)
    if name == "chi2":
        return t**2 / 4 + t
    if name == "js":
        return -torch.log(2 - torch.exp(t))
    return -torch.log1p(-torch.exp(t))  # bce


def activation(v: torch.Tensor, name: str) -> torch.Tensor:
    """The output activation T = g_f(v) mapping a raw score into dom f* (Nowozin et al., Table 2)."""
    _check(name)
    if name in ("kl", "chi2"):
        return v
    if name == "rkl":
        return -torch.exp(-v)
    if name == "js":
        return LOG2 - F.softplus(-v)
    return -F.softplus(-v)  # bce: log σ(v)


def conjugate_of_activation(v: torch.Tensor, name: str) -> torch.Tensor:
    """f*(g_f(v)) in a form that is finite for every finite v (float32 included)."""
    _check(name)
    if name == "kl":
        return torch.exp(v - 1)
    if name == "rkl":
        return v - 1  # −1 − log(exp(−v))
    if name == "chi2":
        return v**2 / 4 + v
    if name == "js":
        return F.softplus(v) - LOG2  # −log(2 − 2σ(v))
    return F.softplus(v)  # bce: −log(1 − σ(v))


def ratio_from_T(t: torch.Tensor, name: str) -> torch.Tensor:
    """r = (f*)'(T): the density-ratio estimate at the optimum of the dual bound."""
    _check(name)
    if name == "kl":
        return torch.exp(t - 1)
    if name == "rkl":
        return -1 / t
    if name == "chi2":
        return t / 2 + 1
    if name == "js":
        return torch.exp(t) / (2 - torch.exp(t))
    return torch.exp(t) / (1 - torch.exp(t))  # bce


def log_ratio(v: torch.Tensor, name: str) -> torch.Tensor:
    """log r(x) from the raw score v, stably: what rejection sampling needs (docs/maths.md §6).

    For bce and js, log r = v (the logit); for rkl, log r = v; for kl, v − 1; for χ²,
    log(v/2 + 1), −inf where the estimate is ≤ 0 (the ratio is non-negative).
    """
    _check(name)
    if name in ("bce", "js", "rkl"):
        return v
    if name == "kl":
        return v - 1
    r = v / 2 + 1
    return torch.where(r > 0, torch.log(r.clamp_min(torch.finfo(r.dtype).tiny)), torch.full_like(r, -math.inf))


def ratio(v: torch.Tensor, name: str) -> torch.Tensor:
    """r(x) = exp(log_ratio(v)) (non-negative, possibly inf in float32 for huge v)."""
    return torch.exp(log_ratio(v, name))


# --------------------------------------------------------------------------- GAN losses


def discriminator_loss(v_real: torch.Tensor, v_fake: torch.Tensor, name: str) -> torch.Tensor:
    """−(E_P[g_f(v)] − E_Q[f*(g_f(v))]): minus the dual lower bound (Nowozin et al., eq. 6).

    For bce this is the binary cross-entropy of a sigmoid discriminator; for js it is the
    same loss minus log 4 (docs/maths.md §3).
    """
    return -activation(v_real, name).mean() + conjugate_of_activation(v_fake, name).mean()


def generator_loss(v_fake: torch.Tensor, name: str, form: str = "minimax") -> torch.Tensor:
    """The generator's loss on the scores of its samples.

    ``minimax``: E_Q[−f*(g_f(v))], the saddle-point objective of the seed report's eq. (1)–(4).
    ``nonsaturating``: −E_Q[g_f(v)] (Nowozin et al., §3.2; for bce the standard
    non-saturating GAN, −E log σ(v)). With this form js and bce are the same loss up to a
    constant, hence identical training runs.
    """
    if form == "minimax":
        return -conjugate_of_activation(v_fake, name).mean()
    if form == "nonsaturating":
        return -activation(v_fake, name).mean()
    raise ValueError(f"unknown generator form {form!r}; expected one of {', '.join(GENERATOR_FORMS)}")


def dual_objective(v_real: torch.Tensor, v_fake: torch.Tensor, name: str) -> torch.Tensor:
    """E_P[T] − E_Q[f*(T)], the variational lower bound on D_f(P‖Q)."""
    return -discriminator_loss(v_real, v_fake, name)


def pr_generator_loss(v_fake: torch.Tensor, lam: float, aux: str = "chi2") -> torch.Tensor:
    """λ-PR GAN generator loss (Verine et al. 2023; docs/maths.md §4): −E_Q[min(λ r(G(z)), 1)],

    with r the ratio estimate of a discriminator trained on the auxiliary divergence ``aux``.
    Minimising it minimises D_λ(P‖Q) = min(1, λ) − α_λ up to constants. Samples with
    λ r ≥ 1 receive no gradient (see ``repro.train`` for how training copes with that).
    """
    r = ratio(v_fake, aux)
    return -torch.clamp(lam * r, max=1.0).mean()


# --------------------------------------------------------------------------- on histograms


def _hist(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or (x < 0).any():
        raise ValueError("expected a 1-D array of non-negative masses")
    return x


# lim_{u→∞} f(u)/u: the weight of mass of P where q = 0.
_F_SLOPE_AT_INF = {"kl": math.inf, "rkl": 0.0, "chi2": math.inf, "js": LOG2, "bce": 0.0}
# f(0) = lim_{u→0} f(u): the weight of mass of Q where p = 0.
_F_AT_ZERO = {"kl": 0.0, "rkl": math.inf, "chi2": 1.0, "js": LOG2, "bce": 0.0}


def f_divergence(p: np.ndarray, q: np.ndarray, name: str) -> float:
    """D_f(P‖Q) = Σ_x q(x) f(p(x)/q(x)) for histograms, with the limits where p or q is 0."""
    _check(name)
    p, q = _hist(p), _hist(q)
    both = (p > 0) & (q > 0)
    u = torch.as_tensor(p[both] / q[both])
    total = float((torch.as_tensor(q[both]) * f(u, name)).sum())
    only_p, only_q = p[(p > 0) & (q == 0)].sum(), q[(q > 0) & (p == 0)].sum()
    if only_p > 0:
        total += only_p * _F_SLOPE_AT_INF[name]
    if only_q > 0:
        total += only_q * _F_AT_ZERO[name]
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
    return -torch.clamp(log_ratio(v_fake, aux) + math.log(lam), max=0.0).mean()
