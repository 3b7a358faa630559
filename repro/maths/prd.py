"""Precision-recall curves of distributions (Sajjadi et al. 2018; docs/maths.md §1, §7): the PR
curve of two histograms, F_β and its maximum, and the PRD curve of two samples through the
k-means clusters of their union. Pure functions, like ``repro.maths.metrics``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from repro.maths.metrics import as_float64, same_dim


# --------------------------------------------------------------------------- PR curves


def _histogram(x: Any, name: str) -> np.ndarray:
    h = np.asarray(x, dtype=np.float64)
    if h.ndim != 1 or h.size == 0 or not np.isfinite(h).all() or (h < 0).any():
        raise ValueError(f"{name}: expected a non-empty 1-D array of non-negative finite masses")
    if abs(h.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name}: masses sum to {h.sum()!r}, not 1; normalise with h / h.sum()")
    return h


def pr_curve(p: Any, q: Any, lambdas: Any) -> tuple[Any, Any]:
    """The exact PR curve of two histograms (Sajjadi et al. 2018; docs/maths.md §1).

    p (K,) is the real distribution P, q (K,) the generated Q, both summing to 1; lambdas
    (L,) or a scalar, each in [0, ∞]. Returns (α, β) of the shape of ``lambdas``:

        α_λ = Σ min(λ p, q)      (precision)      α_0 = 0,          α_∞ = Q(Supp P)
        β_λ = Σ min(p, q / λ)    (recall)         β_0 = P(Supp Q),  β_∞ = 0

    (the endpoints are the limits). Values are clipped to [0, 1] against rounding.
    """
    p, q = _histogram(p, "p"), _histogram(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.size} and {q.size}")
    lam = np.asarray(lambdas, dtype=np.float64)
    if np.isnan(lam).any() or (lam < 0).any():
        raise ValueError("lambdas must lie in [0, inf]")
    flat = lam.reshape(-1)
    alpha, beta = np.zeros(flat.shape), np.zeros(flat.shape)
    mid = (flat > 0) & np.isfinite(flat)
    with np.errstate(over="ignore"):  # λp or q/λ may overflow to inf: min() then picks the other term
        alpha[mid] = np.minimum(flat[mid, None] * p, q).sum(axis=1)
        beta[mid] = np.minimum(p, q / flat[mid, None]).sum(axis=1)
    beta[flat == 0] = p[q > 0].sum()
    alpha[np.isinf(flat)] = q[p > 0].sum()
    alpha, beta = np.clip(alpha, 0.0, 1.0), np.clip(beta, 0.0, 1.0)
    if lam.ndim == 0:
        return float(alpha[0]), float(beta[0])
    return alpha.reshape(lam.shape), beta.reshape(lam.shape)


def f_beta(precision: Any, recall: Any, beta: float) -> np.ndarray:
    """F_β(α, β) = (1 + β²) α β / (β² α + β) elementwise (Sajjadi et al. 2018), 0 where α = β = 0.

    Large β weighs recall (F_8 ≈ recall-leaning), small β precision.
    """
    a, b = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    if not beta > 0 or math.isinf(beta):
        raise ValueError(f"beta must be a positive finite number, got {beta!r}")
    den = beta**2 * a + b
    # (1 + β²) · α · (β / den): the ratio lies in [0, 1], so tiny α and β do not underflow to 0.
    share = np.divide(b, den, out=np.zeros(np.broadcast(a, b).shape), where=den > 0)
    return (1 + beta**2) * a * share


def f_beta_max(precision: Any, recall: Any, beta: float = 8.0) -> tuple[float, float]:
    """(max F_β, max F_{1/β}) over a PR curve (α (L,), β (L,)), as Sajjadi et al. 2018 report.

    F_8 summarises recall, F_{1/8} precision (docs/maths.md §1).
    """
    a, b = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"precision and recall must be non-empty arrays of one shape, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or (a < 0).any() or (b < 0).any():
        raise ValueError("precision and recall must be finite and non-negative")
    return float(f_beta(a, b, beta).max()), float(f_beta(a, b, 1.0 / beta).max())


def _kmeans_labels(x: torch.Tensor, k: int, rng: np.random.Generator, max_iter: int, tol: float) -> torch.Tensor:
    """Cluster labels (n,) of x (n, d) float32 by k-means: k-means++ seeding, then Lloyd.

    k-means++ (Arthur & Vassilvitskii 2007) draws each new centre with probability ∝ the
    squared distance to the nearest centre so far, from ``rng`` only. Lloyd's iterations stop
    when no label changes, when the inertia (sum of squared distances to the centres) falls
    by less than ``tol`` relative to itself in one iteration, or after ``max_iter``. An
    empty cluster keeps its centre.
    """
    n = x.shape[0]
    x_sq = (x * x).sum(1)  # (n,)
    x64 = x.double()

    def sq_dist_to(j: int) -> np.ndarray:  # (n,) float64, clamped: these are sampling weights
        d = torch.addmv(x_sq + x_sq[j], x, x[j], alpha=-2.0)  # ‖x‖² + ‖x_j‖² − 2 x·x_j
        return d.clamp_(min=0).double().numpy()

    chosen = [int(rng.integers(n))]
    closest = sq_dist_to(chosen[0])
    for _ in range(1, k):
        cum = np.cumsum(closest)
        if cum[-1] > 0:  # side="right" never lands on a zero-weight point
            j = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), n - 1)
        else:  # every point sits on a centre: any choice is as good
            j = int(rng.integers(n))
        chosen.append(j)
        np.minimum(closest, sq_dist_to(j), out=closest)
    centres = x64[chosen]  # (k, d) float64
    total_sq = float(x_sq.double().sum())

    def assign(c: torch.Tensor) -> tuple[torch.Tensor, float]:
        # argmin_c ‖x − c‖² = argmin_c (‖c‖² − 2 x·c): ‖x‖² enters only the inertia, as a sum.
        c32 = c.float()
        score, labels = torch.addmm((c32 * c32).sum(1), x, c32.T, alpha=-2.0).min(1)  # (n,), (n,)
        return labels, total_sq + float(score.double().sum())

    labels, inertia = assign(centres)
    counts = torch.bincount(labels, minlength=k)
    sums = torch.zeros_like(centres).index_add_(0, labels, x64)  # (k, d) float64
    for _ in range(max_iter):
        filled = counts > 0
        centres = centres.clone()
        centres[filled] = sums[filled] / counts[filled, None]
        new_labels, new_inertia = assign(centres)
        moved = (new_labels != labels).nonzero()[:, 0]
        if moved.numel() == 0:
            break
        # Update the sums with the points that changed cluster only: after the first few
        # iterations that is a small fraction, and float64 keeps the running sums exact enough.
        sums.index_add_(0, new_labels[moved], x64[moved]).index_add_(0, labels[moved], -x64[moved])
        counts += torch.bincount(new_labels[moved], minlength=k) - torch.bincount(labels[moved], minlength=k)
        labels, improvement, inertia = new_labels, inertia - new_inertia, new_inertia
        if improvement <= tol * abs(new_inertia):
            break
    return labels


def prd_curve(
    real: Any,
    fake: Any,
    num_clusters: int = 20,
    num_angles: int = 1001,
    num_runs: int = 10,
    seed: int = 0,
    *,
    max_iter: int = 100,
    tol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray]:
    """PRD curve of Sajjadi et al. 2018 on samples: (precision (num_angles,), recall (num_angles,)).

    real (N, d) and fake (N, d) features, equal sizes. Each run clusters the union with
    k-means (``num_clusters``; k-means++ seeding and Lloyd, seeded from ``seed``), takes the
    real and fake cluster histograms P and Q and computes ``pr_curve(P, Q, tan θ)`` for
    θ on a uniform grid of ``num_angles`` points in [1e-10, π/2 − 1e-10]; the curves of the
    ``num_runs`` runs are averaged. Deterministic for a seed; reads no global RNG.

    Sajjadi et al. fit scikit-learn's MiniBatchKMeans with 10 restarts per run; here each
    run is one full-batch k-means from its own k-means++ seed, stopped when an iteration
    lowers the inertia by less than ``tol`` (relative) or after ``max_iter`` iterations.
    Measured on 10k vs 10k features (d = 128), a 10-class mixture and a plain Gaussian:
    stopping at tol = 1e-4 rather than at convergence moved F_8 and F_{1/8} by < 0.01
    and cut the time by 1.3× (mixture) to 5× (Gaussian, where Lloyd creeps for 100+ steps).
    """
    r64, f64 = as_float64(real, "real"), as_float64(fake, "fake")
    same_dim(r64, f64)
    n = r64.shape[0]
    if f64.shape[0] != n:
        raise ValueError(
            f"prd_curve needs as many fake as real samples (got {n} real, {f64.shape[0]} fake); subsample the larger set"
        )
    if not 1 <= num_clusters <= 2 * n:
        raise ValueError(f"num_clusters must be in [1, {2 * n}] (the union's size), got {num_clusters}")
    if not 3 <= num_angles <= 1_000_000:
        raise ValueError(f"num_angles must be in [3, 1e6], got {num_angles}")
    if num_runs < 1:
        raise ValueError(f"num_runs must be ≥ 1, got {num_runs}")
    union = torch.cat([r64, f64])
    union = (union - union.mean(0)).float()  # centred: smaller rounding in ‖x‖² + ‖c‖² − 2 x·c
    lambdas = np.tan(np.linspace(1e-10, math.pi / 2 - 1e-10, num_angles))
    rng = np.random.default_rng(seed)
    precision, recall = np.zeros(num_angles), np.zeros(num_angles)
    for _ in range(num_runs):
        labels = _kmeans_labels(union, num_clusters, rng, max_iter, tol).numpy()
        p = np.bincount(labels[:n], minlength=num_clusters) / n
        q = np.bincount(labels[n:], minlength=num_clusters) / n
        a, b = pr_curve(p, q, lambdas)
        precision += a
        recall += b
    return precision / num_runs, recall / num_runs
