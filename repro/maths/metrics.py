"""Sample-based metrics in a feature space (docs/maths.md §1 and §7).

- FID (Heusel et al. 2017): ``gaussian_statistics`` → ``frechet_distance_from_statistics``;
  ``frechet_distance`` chains the two.
- Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage
  (Naeem et al. 2020): ``prdc`` computes all four in one pass over the distances;
  ``knn_precision_recall`` and ``density_coverage`` compute a pair each.
- PRD curves (Sajjadi et al. 2018) are in ``repro.maths.prd``: ``pr_curve`` on two
  histograms, ``prd_curve`` on samples (k-means histograms), ``f_beta_max`` for the summaries.
- Inception score (Salimans et al. 2016) on class probabilities.

Pure functions: features come in as numpy arrays or torch tensors of shape (N, d); floats or
numpy arrays go out. Nothing here reads files, prints, or touches global random state.

Nearest-neighbour conventions, decided once (docs/maths.md §7 asks for it):

- the radius of a point is the distance to its k-th nearest neighbour in its own set, the
  point itself excluded *by index* (an exact duplicate of it still counts, at distance 0);
- membership is inclusive: y is in the ball of x iff d(x, y) ≤ radius(x), as in
  Kynkäänniemi et al.'s code (the ``prdc`` package uses <);
- every radius and every membership test compares squared distances from one formula,
  ‖x‖² + ‖y‖² − 2 x·y (``_sq_dists``), so identical sets give precision = recall =
  coverage = 1. The formula is exact for integer-valued features (duplicates at distance 0,
  ties are ties); for general floats a distance between bitwise-equal points is 0 only up
  to rounding (~1e-7 ‖x‖² in float32), so a point repeated more than k times may have a
  radius of that size and ties at it may go either way.

The distances are never held as an N × N matrix: they are computed block by block (one
matrix product per block, float32 by default, CUDA when present) and each block is reduced
at once, so memory grows with the block, not with N².
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import rel_entr

from repro.core import seeds
from repro.core.runtime import resolve_device

# Keys of ``prdc``'s result, in a fixed order.
PRDC_KEYS = ("precision", "recall", "density", "coverage")

# Elements per distance block: 2^21 float32 = 8 MB, which keeps a block and its temporaries
# in a 32 MB L3 cache (measured on a 2-core EPYC: 256-row blocks of a 10k-column matrix
# reduce ~2× faster than 1024-row blocks; the matrix product itself does not care).
_BLOCK_ELEMENTS = 1 << 21
# Groups per row in the k-smallest search (see ``_k_smallest``); point sets are padded to a
# multiple of it.
_GROUP = 16


# --------------------------------------------------------------------------- input handling


def as_float64(x: Any, name: str) -> torch.Tensor:
    """Features as a float64 CPU tensor (N, d); raises on a wrong shape or non-finite values."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (N, d), got shape {tuple(t.shape)}")
    t = t.to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: features contain NaN or inf")
    return t


def same_dim(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real features have dimension {real.shape[1]}, fake {fake.shape[1]}; they must match")


def _check_k(k: int, n: int, name: str, set_name: str) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    if n <= k:
        raise ValueError(f"{name}={k} needs more than {k} {set_name} samples (the point itself is excluded), got {n}")


# --------------------------------------------------------------------------- FID


def _as_numpy(x: Any, name: str) -> np.ndarray:
    """Features as a numpy array (N, d) of their own dtype (a float64 copy costs a pass)."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (N, d), got shape {a.shape}")
    return a


def gaussian_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of features (N, d), float64, covariance with N − 1.

    Compute the real statistics once and pass them to ``frechet_distance_from_statistics``.
    """
    x = _as_numpy(features, "features")
    if x.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {x.shape[0]}")
    mu = x.mean(axis=0, dtype=np.float64)
    if not np.isfinite(mu).all():  # any NaN or inf in the features reaches the mean
        raise ValueError("features: contain NaN or inf")
    xc = np.subtract(x, mu, dtype=np.float64)  # centred before the product: no cancellation
    sigma = xc.T @ xc  # numpy computes Xᵀ X with one symmetric rank-k update (syrk)
    sigma /= x.shape[0] - 1
    return mu, sigma


def frechet_distance_from_statistics(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½) (Heusel et al. 2017; docs/maths.md §7), in float64.

    μ: (d,), Σ: (d, d) symmetric positive semi-definite. Tr (Σ₁Σ₂)^½ is the sum of the square
    roots of the eigenvalues of Σ₁Σ₂. With any factor Σ₁ = R Rᵀ these are the eigenvalues of
    the symmetric PSD matrix Rᵀ Σ₂ R (similar to Σ₂ R Rᵀ); taking them with ``eigvalsh`` and
    clipping rounding negatives at 0 avoids scipy ``sqrtm``'s complex parts and NaNs. R is
    the Cholesky factor, or V·diag(√w) from ``eigh`` when Σ₁ is singular.
    """
    mu1, mu2 = (np.asarray(m, dtype=np.float64) for m in (mu1, mu2))
    s1, s2 = (np.asarray(s, dtype=np.float64) for s in (sigma1, sigma2))
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.ndim != 1 or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            "expected means (d,) and covariances (d, d) of one dimension d; "
            f"got {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}"
        )
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    try:
        root1 = np.linalg.cholesky(s1)  # Σ₁ = R Rᵀ; ~10× cheaper than eigh
    except np.linalg.LinAlgError:  # singular Σ₁: fewer samples than dimensions, constant units
        w, v = np.linalg.eigh(s1)
        root1 = v * np.sqrt(np.clip(w, 0.0, None))
    m = root1.T @ s2 @ root1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum()
    diff = mu1 - mu2
    fid = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    # The distance is ≥ 0; a negative value here is rounding (≈ 1e-13 × Tr Σ for equal inputs).
    return max(fid, 0.0)


def frechet_distance(real: Any, fake: Any) -> float:
    """FID between two feature sets (N, d) and (M, d); see ``frechet_distance_from_statistics``."""
    return frechet_distance_from_statistics(*gaussian_statistics(real), *gaussian_statistics(fake))


# --------------------------------------------------------------------------- k-NN metrics


@dataclass(frozen=True)
class _Points:
    """A point set x (n, d) in the two augmented forms whose product is a squared distance.

    ``left`` (n, d + 2) = [x, ‖x‖², 1] and ``right`` (n_pad, d + 2) = [−2x, 1, ‖x‖²], so that
    left_a · right_b = ‖a‖² + ‖b‖² − 2 a·b in one matrix product (no broadcast additions:
    ~15 % faster than addmm with a bias, and a single rounding path). ``right`` is padded to a
    multiple of _GROUP columns with rows [0, 1, BIG]: distances to padding are ≥ BIG, never
    inside a ball, never among the k nearest, and finite, so that d − r stays well defined.
    """

    left: torch.Tensor  # (n, d + 2)
    right: torch.Tensor  # (n_pad, d + 2)
    n: int


def _coarse(v: torch.Tensor) -> torch.Tensor:
    """v rounded to 8 significant bits, so that x − v is exact for low-precision x (integers)."""
    mantissa, exponent = torch.frexp(v)
    return torch.ldexp(torch.round(mantissa * 256) / 256, exponent)


def _points(x: torch.Tensor, shift: torch.Tensor, dtype: torch.dtype, device: torch.device) -> _Points:
    # Centring (in float64, before the cast) shrinks ‖x‖² and with it the cancellation error
    # of ‖x‖² + ‖y‖² − 2 x·y; distances are unchanged by a common shift. The shift is coarse
    # (``_coarse``) so that integer-valued features stay exact and their ties stay ties.
    x = (x - shift).to(device=device, dtype=dtype)
    n = x.shape[0]
    sq = (x * x).sum(1, keepdim=True)  # (n, 1)
    one = torch.ones_like(sq)
    left = torch.cat([x, sq, one], 1)
    right = torch.cat([-2 * x, one, sq], 1)
    pad = -n % _GROUP
    if pad:
        filler = right.new_zeros(pad, right.shape[1])
        filler[:, -2] = 1.0
        filler[:, -1] = torch.finfo(dtype).max / 4  # BIG: far beyond any distance, still finite
        right = torch.cat([right, filler])
    return _Points(left.contiguous(), right.contiguous(), n)


def _sq_dists(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Squared distances (c, n) between rows of a = left[rows] and b = right (``_Points``).

    The only distance formula of the k-NN metrics. Not clamped at 0: every use compares it
    with a radius r ≥ 0 (d ≤ r iff max(d, 0) ≤ r) or takes an order statistic, which commutes
    with the clamp applied to the radii; skipping it saves a pass over each block. Written
    into ``out`` (at least (c, n), reused across blocks): a fresh 8 MB block per product
    costs page faults that nearly double the time of the product (measured).
    """
    return torch.mm(a, b.T, out=out[: a.shape[0]])


def _kth_smallest(d: torch.Tensor, ks: tuple[int, ...]) -> torch.Tensor:
    """The k-th smallest value of each row of d (c, n), for each k in ks → (c, len(ks)).

    A top-k over the whole row is the slow step of a k-NN search (~10× a minimum), so it
    runs on a reduced set. The row is split into s = n / _GROUP strided groups
    {j, j + s, j + 2s, …} (strided, so that the group minima are an elementwise minimum of
    _GROUP contiguous slices) and only the k groups with the smallest minima are searched.
    This is exact: let v be the true k-th smallest value. If every kept group's minimum is
    ≤ v, those k minima are k values ≤ v; otherwise some kept group has a minimum > v, so every
    group holding a value ≤ v was kept. Either way the kept values, a subset of the row,
    include k values ≤ v, and their k-th smallest is v.
    """
    c, n = d.shape
    kmax = max(ks)
    if n % _GROUP == 0 and n // _GROUP >= kmax:
        groups = d.view(c, _GROUP, n // _GROUP)  # groups[:, :, j] is group j
        keep = groups.amin(1).topk(kmax, dim=1, largest=False, sorted=False).indices  # (c, kmax)
        d = groups.gather(2, keep[:, None, :].expand(c, _GROUP, kmax)).reshape(c, _GROUP * kmax)
    smallest = d.topk(kmax, dim=1, largest=False, sorted=True).values  # (c, kmax), ascending
    return smallest[:, [k - 1 for k in ks]]


def _block_rows(n_cols: int, block_rows: int | None) -> int:
    """Rows per block of distances: the argument, or ~2^21 elements' worth."""
    if block_rows is None:
        return max(1, _BLOCK_ELEMENTS // n_cols)
    if isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer)) or block_rows < 1:
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    return int(block_rows)


def _radii_sq(p: _Points, ks: tuple[int, ...], block_rows: int | None) -> torch.Tensor:
    """Squared k-NN radii (n_pad, len(ks)) of each point of p within p, itself excluded.

    Padding rows get radius 0 (they are never inside a ball: see ``_Points``).
    """
    n_pad = p.right.shape[0]
    radii = p.right.new_zeros(n_pad, len(ks))
    rows = min(_block_rows(n_pad, block_rows), p.n)
    block = p.right.new_empty(rows, n_pad)
    for start in range(0, p.n, rows):
        stop = min(start + rows, p.n)
        d = _sq_dists(p.left[start:stop], p.right, block)  # (c, n_pad)
        d[:, start:stop].fill_diagonal_(math.inf)  # exclude the point itself by index (duplicates stay)
        radii[start:stop] = _kth_smallest(d, ks)
    # max(kth, 0) = kth of the clamped distances: the clamp commutes with order statistics.
    return radii.clamp_(min=0.0)


def _checked_nn_inputs(real: Any, fake: Any, k_pr: int | None, k_dc: int | None,
                       dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    r64, f64 = as_float64(real, "real"), as_float64(fake, "fake")
    same_dim(r64, f64)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if k_pr is not None:
        _check_k(k_pr, r64.shape[0], "k_pr", "real")
        _check_k(k_pr, f64.shape[0], "k_pr", "fake")
    if k_dc is not None:
        _check_k(k_dc, r64.shape[0], "k_dc", "real")
    return r64, f64


def _nn_metrics(
    real: Any,
    fake: Any,
    k_pr: int | None,
    k_dc: int | None,
    block_rows: int | None,
    device: str | torch.device | None,
    dtype: torch.dtype,
) -> dict[str, float]:
    """The shared pass behind ``prdc``: P/R when k_pr is set, D/C when k_dc is set. One kernel
    on purpose: the real × fake distance blocks are computed once for all four metrics."""
    r64, f64 = _checked_nn_inputs(real, fake, k_pr, k_dc, dtype)
    dev = resolve_device(device)
    shift = _coarse(r64.mean(0))
    real_p, fake_p = _points(r64, shift, dtype, dev), _points(f64, shift, dtype, dev)
    n, m = real_p.n, fake_p.n

    # Squared radii: real k_pr and k_dc from one pass over real × real, fake k_pr over fake × fake.
    real_ks = tuple(k for k in (k_pr, k_dc) if k is not None)
    real_r = _radii_sq(real_p, real_ks, block_rows)  # (n_pad, len(real_ks))
    if k_pr is not None:
        fake_r_pr = _radii_sq(fake_p, (k_pr,), block_rows)[:, 0]  # (m_pad,)

    # One pass over real × fake, rows = real, reducing each block at once. Membership d ≤ r
    # is tested as min(d − r) ≤ 0: for finite floats a − b ≤ 0 iff a ≤ b (the rounded
    # difference keeps its sign), and a subtraction plus a minimum is ~2× faster than a
    # boolean comparison plus any() in torch.
    recall_hits = coverage_hits = density_hits = 0
    m_pad = fake_p.right.shape[0]
    precision_gap = fake_p.right.new_full((m_pad,), math.inf)  # min_i d(real_i, fake_j) − r_real_i
    rows = min(_block_rows(m_pad, block_rows), n)
    block, scratch = fake_p.right.new_empty(rows, m_pad), fake_p.right.new_empty(rows, m_pad)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        d = _sq_dists(real_p.left[start:stop], fake_p.right, block)  # (c, m_pad)
        if k_pr is not None:
            r_pr = real_r[start:stop, :1]  # (c, 1)
            diff = scratch[: stop - start]
            recall_hits += int((torch.sub(d, fake_r_pr, out=diff).amin(1) <= 0).sum())
            precision_gap = torch.minimum(precision_gap, torch.sub(d, r_pr, out=diff).amin(0))
        if k_dc is not None:
            r_dc = real_r[start:stop, -1:]  # (c, 1)
            coverage_hits += int((d.amin(1) <= r_dc[:, 0]).sum())
            density_hits += int(d.le_(r_dc).sum())  # in place, last use of d: 1.0 where d ≤ r

    out: dict[str, float] = {}
    if k_pr is not None:
        out["precision"] = float((precision_gap[:m] <= 0).sum()) / m
        out["recall"] = recall_hits / n
    if k_dc is not None:
        out["density"] = density_hits / (k_dc * m)
        out["coverage"] = coverage_hits / n
    return out


def prdc(
    real: Any,
    fake: Any,
    k_pr: int = 3,
    k_dc: int = 5,
    *,
    block_rows: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Precision, recall (k = k_pr), density and coverage (k = k_dc) in one pass.

    real (N, d) and fake (M, d) features. With B(x, r) the closed ball and NN_k(x, S) the
    distance from x to its k-th nearest neighbour in S \\ {x}:

    - precision = (1/M) Σ_j 1[∃ i: fake_j ∈ B(real_i, NN_k_pr(real_i, real))]
      (Kynkäänniemi et al. 2019, eqs. 1–2);
    - recall = (1/N) Σ_i 1[∃ j: real_i ∈ B(fake_j, NN_k_pr(fake_j, fake))];
    - density = (1/(k_dc M)) Σ_j Σ_i 1[fake_j ∈ B(real_i, NN_k_dc(real_i, real))]
      (Naeem et al. 2020, §3.2; can exceed 1);
    - coverage = (1/N) Σ_i 1[∃ j: fake_j ∈ B(real_i, NN_k_dc(real_i, real))].

    Returns a dict keyed by ``PRDC_KEYS`` (floats). ``block_rows`` rows of distances are held
    at a time (default: 2^21 elements per block); results do not depend on it beyond float
    rounding of exact ties. ``device``: None uses CUDA when present. ``dtype=torch.float64``
    is exact up to float64 rounding and ~2× slower.
    """
    out = _nn_metrics(real, fake, k_pr, k_dc, block_rows, device, dtype)
    return {key: out[key] for key in PRDC_KEYS}


def knn_precision_recall(
    real: Any,
    fake: Any,
    k: int = 3,
    *,
    block_rows: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[float, float]:
    """Improved (precision, recall) of Kynkäänniemi et al. 2019 with k-NN balls; see ``prdc``."""
    out = _nn_metrics(real, fake, k, None, block_rows, device, dtype)
    return out["precision"], out["recall"]


def density_coverage(
    real: Any,
    fake: Any,
    k: int = 5,
    *,
    block_rows: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[float, float]:
    """(density, coverage) of Naeem et al. 2020 with k-NN balls of the real points; see ``prdc``."""
    out = _nn_metrics(real, fake, None, k, block_rows, device, dtype)
    return out["density"], out["coverage"]


# --------------------------------------------------------------------------- Inception score


def inception_score(probs: Any) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) (Salimans et al. 2016) from class probabilities (N, C).

    p(y) is the mean of the rows. float64; 0 · log 0 = 0. Ranges from 1 (every row equal)
    to C (one-hot rows spread equally over the C classes). Computed on the whole set, not
    averaged over splits.
    """
    p = _as_numpy(probs, "probs").astype(np.float64)
    if not np.isfinite(p).all() or (p < 0).any() or np.abs(p.sum(axis=1) - 1.0).max() > 1e-4:
        raise ValueError("probs must be non-negative rows summing to 1 (softmax outputs)")
    p_y = p.mean(axis=0, keepdims=True)
    kl = rel_entr(p, p_y).sum(axis=1)  # p_y ≥ p / N > 0 wherever p > 0: always finite
    return float(np.exp(kl.mean()))


COVERED_SHARE = 0.01  # a class is covered when at least 1 % of the samples fall in it (uniform: 1/C)


def class_histogram(probs: Any) -> np.ndarray:
    """Counts of the predicted classes (argmax of each row of ``probs``, (N, C)) → (C,) float64."""
    p = _as_numpy(probs, "probs")
    return np.bincount(p.argmax(axis=1), minlength=p.shape[1]).astype(np.float64)


def class_coverage(probs_fake: Any, probs_real: Any, min_share: float = COVERED_SHARE) -> dict[str, float]:
    """Mode coverage read from the feature classifier (docs/maths.md §7): the generated samples'
    histogram of predicted classes against the real reference subset's (the same classifier on
    both sides, so its errors largely cancel).

    - ``classes_covered``: classes holding at least ``min_share`` of the generated samples;
    - ``class_kl``: KL(h_real ‖ h_fake) of the two normalised histograms, the generated counts
      smoothed by +1/2 (Jeffreys) so that a missing class costs a large but finite amount: it
      grows with every mode dropped, and is 0 when the two histograms are equal.
    """
    h_fake, h_real = class_histogram(probs_fake), class_histogram(probs_real)
    if h_fake.shape != h_real.shape:
        raise ValueError(f"the two sets have {h_fake.size} and {h_real.size} classes")
    covered = int((h_fake / max(h_fake.sum(), 1.0) >= min_share).sum())
    q = (h_fake + 0.5) / (h_fake.sum() + 0.5 * h_fake.size)
    p = h_real / max(h_real.sum(), 1.0)
    return {"classes_covered": float(covered), "class_kl": float(rel_entr(p, q).sum())}


def rebalance_indices(labels_fake: Any, labels_real: Any, n: int, seed: int) -> np.ndarray:
    """Indices of n draws (with replacement) from the generated samples, each sample weighted by
    h_real(c) / h_fake(c) of its predicted class c: the sample resampled to the real class mix
    (docs/maths.md §6.9). A class the real set has and the generated one lacks stays missing."""
    fake, real = np.asarray(labels_fake), np.asarray(labels_real)
    classes = int(max(fake.max(initial=0), real.max(initial=0))) + 1
    h_fake = np.bincount(fake, minlength=classes) / max(len(fake), 1)
    h_real = np.bincount(real, minlength=classes) / max(len(real), 1)
    w = np.where(h_fake[fake] > 0, h_real[fake] / np.maximum(h_fake[fake], 1e-300), 0.0)
    if w.sum() <= 0:
        raise ValueError("no generated sample falls in a class of the real set")
    return seeds.rebalance(seed).choice(len(fake), size=n, replace=True, p=w / w.sum())


def class_ratio_calibration(log_r: Any, labels_prop: Any, labels_real: Any,
                            min_count: int = 20) -> dict[str, np.ndarray | float]:
    """How a ratio estimate r̂ = exp(log_r) of proposals x ~ Q (their predicted classes
    ``labels_prop``) matches the class mix of the data (``labels_real``) (docs/maths.md §6.9).

    For the exact ratio r = p/q and a classifier c(x), E_Q[r | c] = P(c) / Q(c): the class means of
    r (normalised by E_Q[r]) equal the classes' real-to-generated shares. Returns per class:
    ``h_real``, ``h_fake`` (shares), ``mean_log_r`` (mean of log r̂), ``log_mean_r`` (log of the
    normalised class mean of r̂), ``gap`` = log_mean_r − log(h_real / h_fake) (NaN for a class with
    fewer than ``min_count`` proposals or none real); and ``class_gap``, the Q-weighted root mean
    square of the gaps (0 for a ratio that is calibrated class by class)."""
    lr = np.asarray(log_r, dtype=np.float64)
    prop, real = np.asarray(labels_prop), np.asarray(labels_real)
    classes = int(max(prop.max(initial=0), real.max(initial=0))) + 1
    counts = np.bincount(prop, minlength=classes).astype(np.float64)
    h_fake, h_real = counts / max(len(prop), 1), np.bincount(real, minlength=classes) / max(len(real), 1)
    top = lr.max()
    log_norm = math.log(np.exp(lr - top).mean()) + top  # log E_Q[r̂]
    mean_log_r = np.full(classes, np.nan)
    log_mean_r = np.full(classes, np.nan)
    for c in range(classes):
        sel = lr[prop == c]
        if len(sel):
            mean_log_r[c] = sel.mean()
            log_mean_r[c] = math.log(np.exp(sel - top).mean()) + top - log_norm
    ok = (counts >= min_count) & (h_real > 0)
    gap = np.where(ok, log_mean_r - np.log(np.where(ok, h_real, 1.0) / np.where(ok, h_fake, 1.0)), np.nan)
    w = np.where(ok, h_fake, 0.0)
    class_gap = float(math.sqrt((w * np.nan_to_num(gap) ** 2).sum() / w.sum())) if w.sum() > 0 else math.nan
    return {"h_real": h_real, "h_fake": h_fake, "mean_log_r": mean_log_r, "log_mean_r": log_mean_r,
            "gap": gap, "class_gap": class_gap}
