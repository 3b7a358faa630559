"""A realistic synthetic study folder, written in the study harness's schema, for report tests.

``make_synthetic_study(root)`` writes ``root/<study>/`` with ``results.csv`` (one row per
evaluation cell), ``cells/<cell_id>/prd.npz``, ``cells/<train_id>/curve.csv``,
``cells/<cell_id>/grid.png`` (some left out) and ``provenance.json``. The numbers follow the
seeds' qualitative claims (docs/maths.md §9) with per-seed noise, so that the claims check has
something to find; a few cells fail or diverge, and one configuration is missing entirely.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

OBJECTIVES = ("bce", "js", "kl", "rkl")
SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0)
GAMMAS = (-2.0, -1.0, 0.0, 1.0, 2.0)
BUDGETS = (1.0, 2.0, 5.0, 10.0)
LAMBDAS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)

COLUMNS = [
    "study", "dataset", "cell_id", "train_id", "objective", "lam", "aux", "gen_form",
    "train_seed", "eval_seed", "sigma", "psi", "sampler", "gamma", "gamma_convention",
    "budget", "status", "fid", "precision", "recall", "density", "coverage", "f8", "f1_8",
    "inception_score", "acceptance_rate", "proposals", "n_samples", "wall_seconds",
    "train_seconds", "train_epochs", "train_arch", "train_fid_first", "train_fid_last",
    "chain_length", "steps", "step_size", "langevin_noise", "components", "cost_per_sample", "variant",
    "classes_covered", "class_kl", "train_status",
]
# the training bar this synthetic study states (its [quality] table): recall and class balance as
# the MNIST default, FID relative to its ceiling (FID 2) loose enough for its 30-60 FID models
BAR = {"min_recall": 0.35, "max_class_kl": 0.1, "max_fid_ratio": 60.0}
CHAINS = (5, 20)  # MH chain lengths and Langevin step counts of the samplers beyond rejection

# (precision, recall, fid) of each objective's plain sampler at sigma = 1
BASE = {
    "bce": (0.90, 0.74, 60.0),
    "js": (0.88, 0.80, 52.0),
    "kl": (0.89, 0.80, 30.0),
    "rkl": (0.93, 0.68, 58.0),
}


def _hash(obj: dict) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _prd_curve(precision: float, recall: float, num_angles: int = 201) -> dict[str, np.ndarray]:
    """A valid PR curve (docs/maths.md §1) of two histograms whose overlap follows (precision, recall)."""
    bins = 40
    p = np.full(bins, 1.0 / bins)
    # Q puts mass ``precision`` on a share ``recall`` of P's bins, unevenly (so the curve is
    # rounded), and 1 − precision outside P's support
    k = max(1, int(round(recall * bins)))
    w = np.exp(-np.linspace(0.0, 1.5, k))
    q = np.zeros(bins + 1)
    q[:k] = precision * w / w.sum()
    q[bins] = 1.0 - precision
    p = np.append(p, 0.0)
    theta = np.linspace(1e-6, np.pi / 2 - 1e-6, num_angles)
    lam = np.tan(theta)
    alpha = np.minimum(lam[:, None] * p[None, :], q[None, :]).sum(1)
    beta = alpha / lam
    return {"precision": np.clip(alpha, 0, 1), "recall": np.clip(beta, 0, 1)}


def _grid_png(path: Path, rng: np.random.Generator, quality: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = np.zeros((8 * 28, 8 * 28))
    yy, xx = np.mgrid[:28, :28]
    for i in range(8):
        for j in range(8):
            cx, cy, r = rng.uniform(10, 18), rng.uniform(10, 18), rng.uniform(5, 9)
            ring = np.exp(-((np.hypot(xx - cx, yy - cy) - r) ** 2) / 3.0)
            noise = rng.uniform(size=(28, 28)) * (1 - quality)
            img[i * 28:(i + 1) * 28, j * 28:(j + 1) * 28] = np.clip(ring + noise, 0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, img, cmap="gray", vmin=0, vmax=1)


def _metrics(rng: np.random.Generator, p: float, r: float, fid: float, acc: float) -> dict:
    p = float(np.clip(p + rng.normal(0, 0.004), 0, 1))
    r = float(np.clip(r + rng.normal(0, 0.004), 0, 1))
    fid = float(max(1.0, fid + rng.normal(0, 1.0)))
    f8 = (1 + 64) * p * r / (64 * p + r)
    f18 = (1 + 1 / 64) * p * r / (p / 64 + r)
    return {
        "fid": fid, "precision": p, "recall": r,
        "density": float(p * 1.05 + rng.normal(0, 0.01)),
        "coverage": float(r * 0.95 + rng.normal(0, 0.01)),
        "f8": f8, "f1_8": f18, "inception_score": float(9.0 * p + rng.normal(0, 0.05)),
        "acceptance_rate": acc,
    }


def make_synthetic_study(
    root: str | Path,
    seeds: int = 3,
    study: str = "synthetic",
    rng_seed: int = 0,
    *,
    failures: bool = True,
    missing: bool = True,
    grids: bool = True,
    dataset: str = "mnist",
) -> Path:
    """Write a synthetic study folder under ``root`` and return its path ``root/<study>``.

    Grid: the four f-GAN objectives × σ ∈ SIGMAS (plain sampler) plus, at σ = 1, DRS at each
    γ ∈ GAMMAS and OBRS at each K ∈ BUDGETS; the λ-PR objective at each λ ∈ LAMBDAS (plain,
    σ = 1). ``failures`` marks a few cells failed / a training run diverged; ``missing``
    leaves out the JS × OBRS(K = 10) configuration entirely and lists one BCE × DRS cell
    with status ``missing`` (listed by the harness but not run).
    """
    rng = np.random.default_rng(rng_seed)
    out = Path(root) / study
    cells_dir = out / "cells"
    rows: list[dict] = []

    def train_cell(objective: str, lam: float, seed: int, variant: str = "") -> tuple[str, float, float]:
        aux = "chi2" if objective == "pr" else ""
        tid = _hash({"study": study, "objective": objective, "lam": lam, "aux": aux, "seed": seed,
                     **({"variant": variant} if variant else {})})
        # one model per seed: its quality offsets are shared by all of its evaluation cells
        dp, dr = rng.normal(0, 0.01), rng.normal(0, 0.01)
        base = BASE.get(objective, (0.9, 0.75, 40.0))
        epochs = np.arange(0, 21, 2)
        decay = np.exp(-epochs / 5.0)
        curve = pd.DataFrame({
            "epoch": epochs,
            "fid": base[2] + 150 * decay + rng.normal(0, 1, len(epochs)),
            "precision": base[0] + dp - 0.5 * decay,
            "recall": base[1] + dr - 0.6 * decay,
            "density": base[0] * 1.05 - 0.5 * decay,
            "coverage": base[1] * 0.95 - 0.6 * decay,
            "seconds": epochs * 12.5,
        })
        (cells_dir / tid).mkdir(parents=True, exist_ok=True)
        curve.to_csv(cells_dir / tid / "curve.csv", index=False)
        return tid, dp, dr

    def add(objective: str, lam: float, seed: int, tid: str, dp: float, dr: float, *,
            sigma: float = 1.0, sampler: str = "none", gamma: float = np.nan,
            budget: float = np.nan, status: str = "ok", chain: float = np.nan, variant: str = "") -> None:
        p0, r0, fid0 = BASE.get(objective, (0.9, 0.75, 40.0))
        if objective == "pr":  # precision rises and recall falls with λ
            ll = np.log10(lam)
            p0, r0, fid0 = 0.90 + 0.04 * ll, 0.76 - 0.10 * ll, 40.0 + 12 * ll**2
        p, r, fid, acc = p0 + dp, r0 + dr, fid0, 1.0
        # soft truncation: σ < 1 buys precision with recall, σ > 1 the reverse
        p -= 0.06 * np.log2(sigma)
        r += 0.08 * np.log2(sigma)
        fid += 25 * abs(np.log2(sigma))
        if sampler == "drs":  # higher γ: more selective
            acc = float(1 / (1 + np.exp(gamma - 4.0)))
            p += 0.06 * (1 - acc) * 4
            r -= 0.01 * (1 - acc)
            fid -= (20.0 if objective == "kl" else 3.0) * (1 - acc) * 4
        elif sampler == "obrs":
            acc = 1.0 / budget
            p += 0.02 * np.log2(budget)
            r -= 0.002 * np.log2(budget)
            fid -= 1.0 * np.log2(budget)
        elif sampler in ("mh", "langevin"):  # longer chains: more precision, a little less recall
            p += (0.012 if sampler == "mh" else 0.018) * np.log2(chain)
            r -= 0.003 * np.log2(chain)
            fid -= 1.5 * np.log2(chain)
        elif sampler == "adaptive":
            p += 0.02
            r -= 0.02
        if variant:  # the ablated recipes train worse
            fid += 40.0
            r -= 0.05
        cost = {"none": 1.0, "drs": 2 / acc, "obrs": 2 / acc, "mh": 2 * chain + 1, "langevin": 6 * chain + 1,
                "adaptive": 1.0}[sampler]
        cell = {"study": study, "train_id": tid, "sigma": sigma, "sampler": sampler,
                "gamma": gamma, "budget": budget, "eval_seed": seed, "chain": chain, "variant": variant}
        cid = _hash(cell)
        row = {
            "study": study, "dataset": dataset, "cell_id": cid, "train_id": tid,
            "objective": objective, "lam": lam, "aux": "chi2" if objective == "pr" else "",
            "gen_form": "minmax" if objective in ("js", "kl") else "nonsat",
            "train_seed": seed, "eval_seed": seed, "sigma": sigma, "psi": np.nan,
            "sampler": sampler, "gamma": gamma,
            "gamma_convention": "offset-p95" if sampler == "drs" else "",
            "budget": budget, "status": status, "cost_per_sample": cost, "variant": variant,
            "chain_length": chain if sampler == "mh" else np.nan,
            "steps": chain if sampler == "langevin" else np.nan,
            "step_size": 0.01 if sampler == "langevin" else np.nan,
            "langevin_noise": 1.0 if sampler == "langevin" else np.nan,
            "components": 10.0 if sampler == "adaptive" else np.nan,
            "proposals": int(10_000 / acc), "n_samples": 10_000,
            "wall_seconds": float(rng.uniform(20, 60)),
            # the trained model's summary (Store.train_summary): the same on all its rows
            "train_seconds": 240.0 + int(tid[:4], 16) % 60, "train_epochs": 8, "train_arch": "mlp",
            "train_fid_first": 8000.0, "train_fid_last": 300.0 + int(tid[4:8], 16) % 100,
            "train_status": "diverged" if status == "diverged" else "ok",
        }
        if status == "ok":
            m = _metrics(rng, p, r, fid, acc)
            row.update(m, classes_covered=10.0, class_kl=float(rng.uniform(0.005, 0.05)))
            d = cells_dir / cid
            d.mkdir(parents=True, exist_ok=True)
            np.savez(d / "prd.npz", **_prd_curve(m["precision"], m["recall"]))
            if grids and sigma == 1.0 and seed == 0 and (
                sampler == "none" or (sampler == "drs" and gamma == 2.0)
                or (sampler == "obrs" and budget == 5.0)
            ) and not (objective == "rkl" and sampler == "obrs"):  # one grid left out
                _grid_png(d / "grid.png", rng, quality=min(p, 1.0))
        else:
            row.update({k: np.nan for k in ("fid", "precision", "recall", "density", "coverage",
                                            "f8", "f1_8", "inception_score", "acceptance_rate")})
        rows.append(row)

    for objective in OBJECTIVES:
        for seed in range(seeds):
            tid, dp, dr = train_cell(objective, np.nan, seed)
            for sigma in SIGMAS:
                failed = failures and objective == "rkl" and seed == seeds - 1 and sigma == 2.0
                add(objective, np.nan, seed, tid, dp, dr, sigma=sigma,
                    status="failed" if failed else "ok")
            for gamma in GAMMAS:
                # one cell the harness lists but has not run (status "missing")
                not_run = missing and objective == "bce" and gamma == -2.0 and seed == seeds - 1
                add(objective, np.nan, seed, tid, dp, dr, sampler="drs", gamma=gamma,
                    status="missing" if not_run else "ok")
            for budget in BUDGETS:
                if missing and objective == "js" and budget == 10.0:
                    continue
                add(objective, np.nan, seed, tid, dp, dr, sampler="obrs", budget=budget)
            if objective in ("bce", "kl"):  # the samplers beyond rejection, on two objectives
                for chain in CHAINS:
                    add(objective, np.nan, seed, tid, dp, dr, sampler="mh", chain=chain)
                    add(objective, np.nan, seed, tid, dp, dr, sampler="langevin", chain=chain)
                add(objective, np.nan, seed, tid, dp, dr, sampler="adaptive", budget=4.0)
            if objective == "kl":  # an ablation of KL's recipe (a spec's variant), plain sampler at σ = 1
                vtid, vdp, vdr = train_cell(objective, np.nan, seed, variant="no clamp")
                add(objective, np.nan, seed, vtid, vdp, vdr, variant="no clamp")
    for lam in LAMBDAS:
        for seed in range(seeds):
            tid, dp, dr = train_cell("pr", lam, seed)
            diverged = failures and lam == 10.0 and seed == 1
            add("pr", lam, seed, tid, dp, dr, status="diverged" if diverged else "ok")

    frame = pd.DataFrame(rows, columns=COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    # the real-versus-real ceiling, one row per evaluation seed (what Store.ceiling writes)
    ceiling = [{"study": study, "cell_id": _hash({"ceiling": seed}), "dataset": dataset, "eval_seed": seed,
                "status": "ok", **{k: v for k, v in _metrics(rng, 0.76, 0.76, 2.0, np.nan).items()
                                   if k != "acceptance_rate"}, "classes_covered": 10.0, "class_kl": 0.001}
               for seed in range(seeds)]
    pd.DataFrame(ceiling).to_csv(out / "ceiling.csv", index=False)
    prov = {
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
        "versions": {"python": "3.11.2", "torch": "2.13.0+cpu", "numpy": "2.0.0",
                     "repro": "0.1.0"},
        "code_version": 1,
        "command": f"python -m repro study run study/{study}.toml",
        "device": "cpu",
    }
    (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    # each trained model against the bar, as the study run writes it (repro.analysis.quality)
    from repro.analysis import quality

    bar = quality.QualityBar(**BAR)
    judged = quality.assess(frame, pd.DataFrame(ceiling), bar)
    quality.with_bar(judged, bar).to_csv(out / quality.QUALITY_CSV, index=False)
    return out


def add_second_space(study_dir: Path, space: str = "autoencoder") -> None:
    """The study's tables in a second feature space, as a study with ``feature_spaces`` writes them
    (``results-<space>.csv``, ``ceiling-<space>.csv``, ``feature_spaces.json``): the same cells with
    precision and recall swapped and FID scaled down, an embedding that disagrees with the first on
    what the claims about precision and recall say; the class metrics are the classifier's."""
    for name in ("results", "ceiling"):
        frame = pd.read_csv(study_dir / f"{name}.csv")
        frame[["precision", "recall"]] = frame[["recall", "precision"]].to_numpy()
        frame["fid"] = frame["fid"] / 10
        frame.to_csv(study_dir / f"{name}-{space}.csv", index=False)
    (study_dir / "feature_spaces.json").write_text(json.dumps({
        "classifier": {"feature_dim": 128, "test_accuracy": 0.992},
        space: {"feature_dim": 32, "test_mse": 0.005, "knn_accuracy_test": 0.954}}))
