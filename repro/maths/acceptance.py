"""Acceptance probabilities of discriminator-based rejection sampling (docs/maths.md §6).

Pure functions of density-ratio estimates r(x) = p/q (numpy, float64). Accepting a sample
x ~ Q with probability a(x) yields q̃ ∝ q · a with acceptance rate E_Q[a].

- plain rejection sampling: a = r / M with M = max r.
- DRS (Azadi et al. 2019, §3.2): F = log r − log M − log(1 − exp(log r − log M − ε)) − γ,
  a = σ(F); for ε → 0, a = r / (r (1 − e^γ) + M e^γ).
- OBRS (Verine et al., optimal budgeted rejection sampling): a_K = min(c_K r / M, 1) with
  c_K ≥ 1 such that E_Q[a_K] = 1/K.
"""

from __future__ import annotations

import math

import numpy as np


def _ratios(r: np.ndarray) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    if (r < 0).any() or np.isnan(r).any():
        raise ValueError("density ratios must be non-negative numbers")
    return r


def rejection_acceptance(r: np.ndarray, M: float) -> np.ndarray:
    """a = min(r / M, 1): plain rejection sampling with bound M (exact P if r is exact, M = max r)."""
    return np.minimum(_ratios(r) / M, 1.0)


def drs_logit(log_r: np.ndarray, log_M: float, gamma: float, eps: float = 1e-6) -> np.ndarray:
    """F(x) of DRS (Azadi et al. 2019, eq. 8) from log r; log r above log M is clipped to log M."""
    d = np.minimum(np.asarray(log_r, dtype=np.float64) - log_M, 0.0)
    with np.errstate(divide="ignore"):
        return d - np.log(-np.expm1(d - eps)) - gamma


def drs_acceptance(r: np.ndarray, M: float, gamma: float, eps: float = 1e-6) -> np.ndarray:
    """a_DRS = σ(F(x)) (Azadi et al. 2019); → r/(r(1 − e^γ) + M e^γ) as ε → 0.

    γ = 0 with ε → 0 is plain rejection sampling r / M; γ → −∞ accepts everything;
    a is non-increasing in γ.
    """
    r = _ratios(r)
    with np.errstate(divide="ignore"):
        F = drs_logit(np.log(r), math.log(M), gamma, eps)
    # σ(F) without overflow: F may be ±inf
    return np.where(F >= 0, 1.0 / (1.0 + np.exp(-np.abs(F))), np.exp(-np.abs(F)) / (1.0 + np.exp(-np.abs(F))))


def drs_gamma_for_acceptance(F0: np.ndarray, target: float, tol: float = 1e-10, max_iter: int = 200) -> float:
    """γ with mean σ(F0 − γ) = ``target`` over the burn-in logits ``F0`` (F at γ = 0), by bisection.

    mean σ(F0 − γ) decreases strictly from 1 (γ → −∞) to 0 (γ → ∞), so the root is unique for
    a target in (0, 1); a target of 1 returns −inf (accept everything). Entries of F0 that are
    −inf (r = 0) are never accepted: a target above the share of finite entries cannot be met
    and raises ValueError.
    """
    F0 = np.asarray(F0, dtype=np.float64)
    if not 0 < target <= 1:
        raise ValueError(f"target acceptance must be in (0, 1], got {target}")
    if target == 1:
        return -math.inf
    finite = F0[np.isfinite(F0)]
    reachable = float(np.mean(F0 > -np.inf)) if F0.size else 0.0
    if finite.size == 0 or target >= reachable:
        raise ValueError(f"target acceptance {target} is out of reach: only {reachable:.3g} of the burn-in "
                         "set has a positive ratio estimate")

    def accept(g: float) -> float:
        with np.errstate(over="ignore"):
            return float(np.mean(np.where(np.isfinite(F0), 1.0 / (1.0 + np.exp(g - F0)), 0.0)))

    # bracket: at γ = min F − 40 nearly everything finite is accepted, at max F + 40 nothing
    lo, hi = float(finite.min()) - 40.0, float(finite.max()) + 40.0
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        if accept(mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    return 0.5 * (lo + hi)


def obrs_acceptance(r: np.ndarray, M: float, c: float) -> np.ndarray:
    """a_K = min(c r / M, 1); c = inf accepts everything (K = 1)."""
    r = _ratios(r)
    if math.isinf(c):
        return np.ones_like(r)
    return np.minimum(c * r / M, 1.0)


def obrs_constant(
    r: np.ndarray,
    M: float,
    K: float,
    tol: float = 1e-12,
    max_iter: int = 200,
    weights: np.ndarray | None = None,
) -> float:
    """c_K ≥ 1 with mean(min(c r / M, 1)) = 1/K over the burn-in ratios ``r`` (bisection).

    ``r`` (N,) are ratios of samples from Q; or, with ``weights`` (N,) (the masses q of a
    histogram, summing to 1 or not), the mean is the weighted one Σ w a / Σ w.
    K = 1 returns inf (accept all). If even c = 1 accepts at least 1/K (K ≥ M for an exact
    ratio), c = 1: OBRS is then plain rejection sampling. If the target is out of reach
    (too many r = 0), the c that accepts every r > 0 is returned.
    """
    if not K >= 1:  # also refuses NaN
        raise ValueError(f"budget K must be ≥ 1, got {K}")
    r = _ratios(r)
    if K == 1:
        return math.inf
    target = 1.0 / K
    if weights is None:
        w = np.full(r.shape, 1.0 / max(r.size, 1))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != r.shape or (w < 0).any() or not w.sum() > 0:
            raise ValueError("weights must be non-negative, of the shape of r, with a positive sum")
        w = w / w.sum()

    def accept(c: float) -> float:
        return float(np.dot(w, np.minimum(c * r / M, 1.0)))

    if accept(1.0) >= target * (1 - 1e-10):  # the slack absorbs rounding at K = M exactly
        return 1.0
    positive = r[(r > 0) & (w > 0)]
    if positive.size == 0:
        raise ValueError("every density ratio is 0: no sample can be accepted")
    hi = M / positive.min()  # accepts every r > 0
    if accept(hi) < target:
        return hi
    lo = 1.0
    for _ in range(max_iter):  # bisection in log-space: c spans many orders of magnitude
        mid = math.sqrt(lo * hi)
        if accept(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi / lo - 1 < tol:
            break
    return hi
