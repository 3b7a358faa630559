"""Speed and memory of repro.maths.metrics against straightforward reference implementations.

Targets (10,000 vs 10,000 features of dimension 128, CPU):
- precision, recall, density and coverage together (k = 3 and 5): ≤ 1.0 s, ≤ 300 MB;
- FID (both sets' statistics and the distance): ≤ 20 ms;
- PRD (20 clusters × 10 runs, 1001 angles): ≤ 2 s;
- precision and recall on 50,000 vs 50,000: within 4 GB.

The references are written here, plainly, as public code computes these metrics:
- P/R/D/C as the ``prdc`` package does (Naeem et al.'s code): full float64 distance
  matrices real×real, fake×fake, real×fake (BLAS, as scikit-learn's ``pairwise_distances``),
  k-th neighbours by ``np.partition``; the same ≤ and by-index conventions as repro so that
  the values agree;
- FID as pytorch-fid: ``np.cov`` and ``scipy.linalg.sqrtm``;
- PRD as Sajjadi et al.'s code, with scipy's ``kmeans2`` (k-means++, 10 iterations) in place
  of scikit-learn's MiniBatchKMeans.
If the ``prdc`` package itself is importable (it is not a dependency), a row for it is added.

Each repro figure is measured twice: with the default threads (the row checked against the
target) and on one thread, a figure that other processes on a shared machine disturb far
less (OpenMP and BLAS threads that wait for a descheduled sibling can multiply a time).

Inputs: a mixture of 10 Gaussians in d = 128 (10 classes, like the digit features the study
evaluates), real and fake with shifted means and unequal class weights; float32.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any, Callable

import numpy as np

from bench import measure

N, DIM = 10_000, 128
N_LARGE = 50_000
TARGETS = {"prdc": (1.0, 300.0), "fid": (0.020, None), "prd": (2.0, None), "pr50k": (None, 4096.0)}


# --------------------------------------------------------------------------- inputs


def features(n: int, seed: int, fake: bool) -> np.ndarray:
    """(n, DIM) float32 from a 10-component Gaussian mixture; ``fake`` shifts it a little."""
    rng = np.random.default_rng(1000 + seed)
    means = np.random.default_rng(0).normal(size=(10, DIM)) * 2.0  # shared class means
    weights = np.full(10, 0.1)
    if fake:
        means = means + 0.3 * np.random.default_rng(1).normal(size=means.shape)
        weights = np.linspace(0.5, 1.5, 10) / np.linspace(0.5, 1.5, 10).sum()
    labels = rng.choice(10, size=n, p=weights)
    return (means[labels] + rng.normal(size=(n, DIM))).astype(np.float32)


# --------------------------------------------------------------------------- references


def reference_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """P/R/D/C from full float64 distance matrices, one matrix at a time."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)

    def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return np.sqrt(np.maximum(d, 0, out=d), out=d)

    def radii(x: np.ndarray, ks: list[int]) -> list[np.ndarray]:
        d = distances(x, x)
        np.fill_diagonal(d, np.inf)  # the point itself, by index
        d.partition([k - 1 for k in ks], axis=1)
        return [d[:, k - 1].copy() for k in ks]

    r_pr, r_dc = radii(real, [k_pr, k_dc])
    (f_pr,) = radii(fake, [k_pr])
    d = distances(real, fake)  # (N, M)
    inside_dc = d <= r_dc[:, None]
    return {
        "precision": float((d <= r_pr[:, None]).any(axis=0).mean()),
        "recall": float((d <= f_pr[None, :]).any(axis=1).mean()),
        "density": float(inside_dc.sum() / (k_dc * len(fake))),
        "coverage": float(inside_dc.any(axis=1).mean()),
    }


def reference_fid(real: np.ndarray, fake: np.ndarray) -> float:
    import scipy.linalg

    mu1, mu2 = real.mean(0, dtype=np.float64), fake.mean(0, dtype=np.float64)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def reference_prd(real: np.ndarray, fake: np.ndarray, num_clusters: int = 20, num_angles: int = 1001, num_runs: int = 10):
    from scipy.cluster.vq import kmeans2

    union = np.concatenate([real, fake]).astype(np.float64)
    slopes = np.tan(np.linspace(1e-10, math.pi / 2 - 1e-10, num_angles))[:, None]
    precision, recall = np.zeros(num_angles), np.zeros(num_angles)
    for run in range(num_runs):
        _, labels = kmeans2(union, num_clusters, iter=10, minit="++", seed=run)
        p = np.bincount(labels[: len(real)], minlength=num_clusters) / len(real)
        q = np.bincount(labels[len(real) :], minlength=num_clusters) / len(fake)
        a = np.minimum(p[None, :] * slopes, q[None, :]).sum(1)
        precision += a
        recall += a / slopes[:, 0]
    return np.clip(precision / num_runs, 0, 1), np.clip(recall / num_runs, 0, 1)


# --------------------------------------------------------------------------- cases
# Each case builds its inputs and returns the call to time (see bench.measure).


def _pair(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    return features(n, 0, fake=False), features(n, 1, fake=True)


def _rounded(d: dict[str, float]) -> str:
    return " ".join(f"{k[0].upper()}={v:.4f}" for k, v in d.items())


def case_prdc(impl: str, n: int = N) -> Callable[[], Any]:
    real, fake = _pair(n)
    if impl == "repro":
        from repro.maths.metrics import prdc

        return lambda: _rounded(prdc(real, fake, k_pr=3, k_dc=5))
    if impl == "reference":
        return lambda: _rounded(reference_prdc(real, fake))
    from prdc import compute_prdc  # the public package, when installed

    return lambda: _rounded(compute_prdc(real, fake, nearest_k=5))


def case_pr_large(n: int = N_LARGE) -> Callable[[], Any]:
    from repro.maths.metrics import knn_precision_recall

    real, fake = _pair(n)
    return lambda: "P={:.4f} R={:.4f}".format(*knn_precision_recall(real, fake, k=3))


def case_fid(impl: str) -> Callable[[], Any]:
    real, fake = _pair()
    if impl == "repro":
        from repro.maths.metrics import frechet_distance

        return lambda: f"{frechet_distance(real, fake):.6f}"
    return lambda: f"{reference_fid(real, fake):.6f}"


def case_prd(impl: str) -> Callable[[], Any]:
    real, fake = _pair()
    from repro.maths.prd import f_beta_max, prd_curve

    if impl == "repro":
        return lambda: "F8={:.4f} F1/8={:.4f}".format(*f_beta_max(*prd_curve(real, fake)))
    return lambda: "F8={:.4f} F1/8={:.4f}".format(*f_beta_max(*reference_prd(real, fake)))


# --------------------------------------------------------------------------- rows


def _target_text(key: str) -> str:
    time_max, mem_max = TARGETS[key]
    parts = ([f"≤ {time_max:g} s"] if time_max else []) + ([f"≤ {mem_max:g} MB"] if mem_max else [])
    return ", ".join(parts)


def _meets(key: str, row: dict[str, Any]) -> bool | None:
    if "error" in row:
        return None
    time_max, mem_max = TARGETS[key]
    return (time_max is None or row["time_s"] <= time_max) and (mem_max is None or row["peak_mb"] <= mem_max)


def _compare(ours: dict[str, Any], ref: dict[str, Any]) -> None:
    if "error" in ours or "error" in ref:
        return
    ours["speedup"] = ref["time_s"] / ours["time_s"]
    ours["mem_ratio"] = ref["peak_mb"] / max(ours["peak_mb"], 1e-9)


def run() -> list[dict[str, Any]]:
    """Rows: repro (all cores; checked against its target), repro on one thread (a figure that
    other processes on a shared machine disturb less), and the reference it is compared with."""
    rows: list[dict[str, Any]] = []
    size = f"{N // 1000}k×{N // 1000}k d={DIM}"

    def row(case: str, impl: str, target: str, kwargs: dict[str, Any], key: str | None = None,
            repeats: int = 3, threads: int | None = None, note: str = "") -> dict[str, Any]:
        r = {"bench": "metrics", "case": case, "impl": impl,
             **measure(f"bench.metrics:{target}", kwargs, repeats, threads=threads)}
        if key is not None:
            r["target"] = _target_text(key)
            r["meets"] = _meets(key, r)
        if note:
            r["note"] = note
        rows.append(r)
        return r

    for case, key, target, ref_note, ref_repeats in (
        (f"P/R/D/C {size}", "prdc", "case_prdc", "full float64 matrices", 1),
        (f"FID {size}", "fid", "case_fid", "np.cov + scipy sqrtm", 5),
        (f"PRD 20 clusters × 10 runs {size}", "prd", "case_prd", "scipy kmeans2, 10 iterations", 1),
    ):
        repeats = 5 if key == "fid" else 3
        ours = row(case, "repro", target, {"impl": "repro"}, key=key, repeats=repeats)
        row(case, "repro, 1 thread", target, {"impl": "repro"}, repeats=repeats, threads=1)
        _compare(ours, row(case, "reference", target, {"impl": "reference"}, repeats=ref_repeats, note=ref_note))
        if key == "prdc" and importlib.util.find_spec("prdc") is not None:
            row(case, "prdc package", target, {"impl": "package"}, repeats=1,
                note="public package: < instead of ≤, k=5 for all four")

    row(f"P/R {N_LARGE // 1000}k×{N_LARGE // 1000}k d={DIM}", "repro", "case_pr_large", {}, key="pr50k", repeats=0,
        note="reference not run: needs 3 × 20 GB of float64 distances")
    return rows
