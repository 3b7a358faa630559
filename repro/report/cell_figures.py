"""Figures drawn from the files a study's cells stored: PRD curves, training curves, sample
grids, the models below the training bar, the class mix, the ratio-sharpness curve, the metrics
of each cell in two feature spaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from repro.analysis.aggregate import DEFAULT_KEYS, pr_reference, select, values_of
from repro.analysis.claims import table1_configs
from repro.analysis.quality import model_name
from repro.analysis.results import load_results, ratio_smoothness, spaces_of
from repro.report import METRIC_LABELS, objective_label
from repro.report.plotting import COLOURS, MARKERS, OBJECTIVE_ORDER, SAMPLER_STYLE, WIDTH, objectives_in
from repro.samplers import registry


# ---------------------------------------------------------------- stored curves and images

def mean_curve(curves: list[np.ndarray], confidence: float = 0.95) -> tuple[np.ndarray, ...]:
    """Pointwise mean and t-interval over seeds of equally long curves: (S, A) → 3 × (A,)."""
    arr = np.vstack(curves)                                  # (S, A)
    mean = arr.mean(0)
    if arr.shape[0] < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    h = stats.t.ppf((1 + confidence) / 2, arr.shape[0] - 1) * arr.std(0, ddof=1) / np.sqrt(
        arr.shape[0])
    return mean, mean - h, mean + h


def _ok_rows(frame: pd.DataFrame, **sel: Any) -> pd.DataFrame:
    sub = frame[(frame["status"] == "ok")]
    return sub[select(sub, {**DEFAULT_KEYS, **sel})]


def load_prd(study_dir: Path, cell_ids: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for cid in cell_ids:
        path = study_dir / "cells" / str(cid) / "prd.npz"
        if path.is_file():
            with np.load(path) as z:
                out.append((np.asarray(z["recall"], float), np.asarray(z["precision"], float)))
    return out


def fig_prd(agg: pd.DataFrame, frame: pd.DataFrame, study_dir: Path, **_: Any
            ) -> plt.Figure | None:
    """PRD curves per objective (σ = 1), one line per sampler, mean over seeds with a band."""
    configs = table1_configs(agg)
    objs = objectives_in(agg)
    lam_sel = {**pr_reference(agg), "sampler": "none", "sigma": 1.0}
    lams = values_of(agg, "lam", **lam_sel) if "pr" in set(agg["objective"]) else []
    if not objs:
        return None
    panels = len(objs) + bool(lams)
    fig, axes = plt.subplots(1, panels, figsize=(WIDTH * panels / max(len(objs), 4), 2.1), sharey=True,
                             constrained_layout=True, squeeze=False)
    drew = _prd_lambda_panel(axes[0][-1], agg, frame, study_dir, lam_sel, lams) if lams else False
    for ax, o in zip(axes[0], objs):
        for obj, sampler, sel in configs:
            if obj != o:
                continue
            curve = _prd_mean(study_dir, _ok_rows(frame, objective=o, **sel))
            if curve is None:
                continue
            drew = True
            r_m, p_m, p_lo, p_hi = curve
            label = registry.label(sampler)
            ax.plot(r_m, p_m, color=COLOURS[o], linestyle=SAMPLER_STYLE.get(sampler, "-."), label=label)
            if np.isfinite(p_lo).any():
                ax.fill_between(r_m, p_lo, p_hi, color=COLOURS[o], alpha=0.15, linewidth=0)
        ax.set_title(objective_label(o, agg))
        ax.set_xlabel("Recall")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small", loc="lower left")
    axes[0][0].set_ylabel("Precision")
    if not drew:
        plt.close(fig)
        return None
    return fig


def _prd_mean(study_dir: Path, rows: pd.DataFrame) -> tuple[np.ndarray, ...] | None:
    """(recall, precision, lower, upper) of the mean PRD curve of ``rows``' cells, or None."""
    curves = load_prd(study_dir, rows["cell_id"].tolist())
    curves = [c for c in curves if len(c[0]) == len(curves[0][0])] if curves else []
    if not curves:
        return None
    return (mean_curve([c[0] for c in curves])[0], *mean_curve([c[1] for c in curves]))


def _prd_lambda_panel(ax, agg: pd.DataFrame, frame: pd.DataFrame, study_dir: Path, sel: dict[str, Any],
                      lams: list[float]) -> bool:
    """The λ-PR models' PRD curves (plain sampler, σ = 1), one per λ, over their parent's."""
    parent = sel.get("init_from") or "bce"
    drew = False
    base = _prd_mean(study_dir, _ok_rows(frame, objective=parent, sampler="none", sigma=1.0))
    if base is not None:
        ax.plot(base[0], base[1], color=COLOURS.get(parent, "0.4"), linestyle="-", linewidth=1.0,
                label=f"{objective_label(parent, agg)} (parent)")
    cmap = plt.get_cmap("plasma")
    for k, lam in enumerate(lams):
        curve = _prd_mean(study_dir, _ok_rows(frame, **sel, lam=lam))
        if curve is None:
            continue
        drew = True
        ax.plot(curve[0], curve[1], color=cmap(0.8 * k / max(len(lams) - 1, 1)), linestyle="--",
                label=rf"$\lambda$={lam:g}")
    ax.set_title(objective_label("pr", agg))
    ax.set_xlabel("Recall")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small", loc="lower left")
    return drew


def fig_training(agg: pd.DataFrame, frame: pd.DataFrame, study_dir: Path, **_: Any
                 ) -> plt.Figure | None:
    """FID, precision and recall on held-out data over training, mean over seeds with a band."""
    metrics = ("fid", "precision", "recall")
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 2.2), constrained_layout=True)
    drew = False
    groups: list[tuple[str, dict[str, Any]]] = [(o, {"objective": o}) for o in objectives_in(frame)]
    ref = pr_reference(frame)
    lams = values_of(frame, "lam", **ref)
    if lams:  # the λ-PR runs at the λ closest to 1
        lam = min(lams, key=lambda v: abs(np.log(v)))
        groups.append(("pr", {**ref, "lam": lam}))
    for o, sel in groups:
        tids = _ok_rows(frame, **sel)[["train_id", "train_seed"]].drop_duplicates("train_id")
        curves = []
        for tid in tids["train_id"]:
            path = study_dir / "cells" / str(tid) / "curve.csv"
            if path.is_file():
                curves.append(pd.read_csv(path))
        if not curves:
            continue
        long = pd.concat(curves, keys=range(len(curves)), names=["seed", "row"])
        for ax, metric in zip(axes, metrics):
            piv = long.pivot_table(index="epoch", columns=long.index.get_level_values("seed"),
                                   values=metric)
            piv = piv.dropna()
            if piv.empty:
                continue
            drew = True
            m, lo, hi = mean_curve([piv[c].to_numpy() for c in piv.columns])
            label = objective_label(o, agg) + (rf" ($\lambda$={sel['lam']:g})" if "lam" in sel else "")
            ax.plot(piv.index, m, color=COLOURS[o], label=label)
            if np.isfinite(lo).any():
                ax.fill_between(piv.index, lo, hi, color=COLOURS[o], alpha=0.2, linewidth=0)
            ax.set_xlabel("Epoch")
            ax.set_ylabel(METRIC_LABELS[metric])
    if not drew:
        plt.close(fig)
        return None
    axes[0].set_yscale("log")
    if axes[-1].get_legend_handles_labels()[0]:
        axes[-1].legend(fontsize="x-small")
    return fig


def fig_samples(agg: pd.DataFrame, frame: pd.DataFrame, study_dir: Path, **_: Any
                ) -> plt.Figure | None:
    """Sample grids, model (rows: each f-GAN objective, then each λ-PR fine-tune) × sampler
    (columns), from the cells' grid.png files; the lowest training seed with a grid is shown, a
    missing grid is a labelled blank."""
    configs = table1_configs(agg)
    ref = pr_reference(agg)
    lams = values_of(agg, "lam", **ref, sampler="none", sigma=1.0)
    rows_spec = [(objective_label(o, agg), {"objective": o}) for o in objectives_in(agg)]
    rows_spec += [(rf"$\lambda$={lam:g}", {**ref, "lam": lam}) for lam in lams]
    samplers = [s for s in registry.names() if any(c[1] == s for c in configs)] or ["none"]
    if not rows_spec:
        return None
    fig, axes = plt.subplots(len(rows_spec), len(samplers), figsize=(1.6 * len(samplers), 1.6 * len(rows_spec)),
                             constrained_layout=True, squeeze=False)
    found = 0
    for i, (row_label, model) in enumerate(rows_spec):
        obj = model["objective"]
        sels = {sampler: sel for o, sampler, sel in configs if o == obj}
        sels.setdefault("none", {"sampler": "none", "sigma": 1.0})
        for j, sampler in enumerate(samplers):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            sel = sels.get(sampler)
            cells = _ok_rows(frame, **model, **sel).sort_values("train_seed")["cell_id"] if sel else []
            path = next((study_dir / "cells" / str(c) / "grid.png" for c in cells
                         if (study_dir / "cells" / str(c) / "grid.png").is_file()), None)
            if path is None:
                ax.set_facecolor("0.92")
                ax.text(0.5, 0.5, "no grid", ha="center", va="center", transform=ax.transAxes, fontsize=7,
                        color="0.4")
            else:
                ax.imshow(plt.imread(path), cmap="gray", interpolation="nearest")
                found += 1
            if i == 0:
                ax.set_title(_sampler_title(sampler, next((c[2] for c in configs if c[1] == sampler), {})), fontsize=8)
            if j == 0:
                ax.set_ylabel(row_label, fontsize=8)
    if not found:
        plt.close(fig)
        return None
    return fig


def _sampler_title(sampler: str, sel: dict[str, Any]) -> str:
    """A panel's title: the sampler's phrase from its registry entry ("DRS at 88 % acceptance")."""
    return registry.phrase({**sel, "sampler": sampler})


def _sigma_model(agg: pd.DataFrame) -> str | None:
    """The objective whose σ sweep the σ figures show: KL (the report's Figure 4), else the first
    objective with more than one σ."""
    objs = [o for o in objectives_in(agg) if len(values_of(agg, "sigma", objective=o, sampler="none")) > 1]
    return "kl" if "kl" in objs else (objs[0] if objs else None)


def fig_sigma_prd(agg: pd.DataFrame, frame: pd.DataFrame, study_dir: Path, **_: Any) -> plt.Figure | None:
    """The report's Figure 4: for one model, the PR curve (mean over seeds) at each σ, and a
    sample grid per σ (lowest seed) — do the curves show the trade that k-NN P and R show?"""
    obj = _sigma_model(agg)
    if obj is None:
        return None
    sigmas = values_of(agg, "sigma", objective=obj, sampler="none")
    fig = plt.figure(figsize=(WIDTH, 2.6), constrained_layout=True)
    grid = fig.add_gridspec(2, len(sigmas) + 2)
    ax = fig.add_subplot(grid[:, :2])
    cmap = plt.get_cmap("viridis")
    drew = False
    for k, sigma in enumerate(sigmas):
        rows = _ok_rows(frame, objective=obj, sampler="none", sigma=sigma).sort_values("train_seed")
        curve = _prd_mean(study_dir, rows)
        colour = cmap(k / max(len(sigmas) - 1, 1))
        if curve is not None:
            drew = True
            ax.plot(curve[0], curve[1], color=colour, label=rf"$\sigma$={sigma:g}")
        cell = fig.add_subplot(grid[:, 2 + k])
        cell.set_xticks([])
        cell.set_yticks([])
        path = next((study_dir / "cells" / str(c) / "grid.png" for c in rows["cell_id"]
                     if (study_dir / "cells" / str(c) / "grid.png").is_file()), None)
        if path is not None:
            cell.imshow(plt.imread(path), cmap="gray", interpolation="nearest")
        cell.set_title(rf"$\sigma$={sigma:g}", fontsize=8, color=colour)
    if not drew:
        plt.close(fig)
        return None
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"PRD, {objective_label(obj, agg)}", fontsize=8)
    ax.legend(fontsize="x-small", loc="lower left")
    return fig


def fig_below_bar(agg: pd.DataFrame, frame: pd.DataFrame, study_dir: Path, judged: pd.DataFrame | None = None,
                  **_: Any) -> plt.Figure | None:
    """The samples (plain sampler, σ = 1) of every trained model below the training bar, each
    titled with the figures that failed: a failed model is shown, not hidden. A one-line figure
    when every model passes; None when the models were not judged."""
    if judged is None or judged.empty:
        return None
    failed = judged[~judged["passes"].astype(bool)]
    if failed.empty:
        fig, ax = plt.subplots(figsize=(WIDTH, 0.35))  # full width: the paper sets it at \linewidth
        ax.axis("off")
        ax.text(0.5, 0.5, f"every one of the {len(judged)} trained models passes the training bar", ha="center",
                va="center", fontsize=9)
        return fig

    cols = min(4, len(failed))
    rows = -(-len(failed) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.1 * rows), constrained_layout=True, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    plain = (frame["sampler"] == "none") & np.isclose(frame["sigma"].astype(float), 1.0) & frame["psi"].isna()
    for ax, (_, model) in zip(axes.flat, failed.iterrows()):
        cells = frame.loc[plain & (frame["train_id"] == model["train_id"]), "cell_id"]
        path = next((study_dir / "cells" / str(c) / "grid.png" for c in cells
                     if (study_dir / "cells" / str(c) / "grid.png").is_file()), None)
        if path is not None:
            ax.imshow(plt.imread(path), cmap="gray", interpolation="nearest")
        else:
            ax.text(0.5, 0.5, "no grid", ha="center", va="center", transform=ax.transAxes, fontsize=7)
        reason = "\n".join(str(model["reason"]).split("; ")[:3])
        ax.set_title(f"{model_name(model)}\n{reason}", fontsize=6)
    return fig


def load_classes(study_dir: Path, cell_ids: list[str]) -> list[dict[str, Any]]:
    """The class records (``classes.json``: class shares and the ratio's calibration) of cells."""
    import json  # noqa: PLC0415

    out = []
    for cid in cell_ids:
        path = study_dir / "cells" / str(cid) / "classes.json"
        if path.is_file():
            out.append(json.loads(path.read_text()))
    return out


def _class_panels(agg: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    """The ratio-sampler configurations the class figure shows: DRS at each target acceptance at
    σ = 1, and OBRS at its largest budget."""
    panels = []
    for target in sorted(values_of(agg, "target_acceptance", sampler="drs", sigma=1.0), reverse=True):
        panels.append((f"DRS {target:.0%}", {"sampler": "drs", "sigma": 1.0, "target_acceptance": target}))
    budgets = values_of(agg, "budget", sampler="obrs", sigma=1.0)
    if budgets:
        panels.append((f"OBRS K = {max(budgets):g}", {"sampler": "obrs", "sigma": 1.0, "budget": max(budgets)}))
    return panels


def fig_class_bias(agg: pd.DataFrame, frame: pd.DataFrame, study_dir: Path, **_: Any) -> plt.Figure | None:
    """How a ratio-based sampler selects by class (docs/maths.md §6.9). Top: each class's relative
    acceptance log(h_accepted / h_proposed) against its over-production log(h_proposed / h_real);
    the exact ratio would accept along y = −x (restoring the real mix). Bottom: the ratio's class
    means, log(E[r̂ | c] / E[r̂]), against log(h_real / h_proposed); the exact ratio lies on y = x.
    One point per (objective, class), the mean over seeds; the digit is the class."""
    panels = [(name, sel) for name, sel in _class_panels(agg)
              if not _ok_rows(frame, **sel, discriminator="refit").empty]
    if not panels:
        return None
    fig, axes = plt.subplots(2, len(panels), figsize=(WIDTH, 4.6), constrained_layout=True, squeeze=False)
    drawn = False
    for j, (name, sel) in enumerate(panels):
        top, bottom = axes[0][j], axes[1][j]
        for obj in [o for o in OBJECTIVE_ORDER if o != "pr"]:
            recs = load_classes(study_dir, _ok_rows(frame, objective=obj, **sel, discriminator="refit")["cell_id"].tolist())
            recs = [r for r in recs if r.get("h_fake")]
            if not recs:
                continue
            drawn = True
            mean = {k: np.nanmean(np.array([[np.nan if v is None else v for v in r[k]] for r in recs], float), axis=0)
                    for k in ("h_real", "h_fake", "h_sample", "log_mean_r")}
            with np.errstate(divide="ignore", invalid="ignore"):
                over = np.log(mean["h_fake"] / mean["h_real"])
                accept = np.log(mean["h_sample"] / mean["h_fake"])
            ok = np.isfinite(over) & np.isfinite(accept)
            colour = COLOURS.get(obj, "0.3")
            top.scatter(over[ok], accept[ok], s=10, color=colour, label=objective_label(obj, agg))
            bottom.scatter(-over[ok], mean["log_mean_r"][ok], s=10, color=colour)
            for c in np.flatnonzero(ok):
                top.annotate(str(c), (over[c], accept[c]), fontsize=5, xytext=(2, 1), textcoords="offset points")
                bottom.annotate(str(c), (-over[c], mean["log_mean_r"][c]), fontsize=5, xytext=(2, 1),
                                textcoords="offset points")
        for ax, slope in ((top, -1.0), (bottom, 1.0)):
            ax.axhline(0, color="0.85", linewidth=0.6)
            ax.axvline(0, color="0.85", linewidth=0.6)
            # one square frame holding the points and the exact ratio's line through them
            lim = max(map(abs, (*ax.get_xlim(), *ax.get_ylim()))) * 1.05
            ax.plot([-lim, lim], [-slope * lim, slope * lim], ":", color="0.5", linewidth=0.8)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
        top.set_title(name + ", refit ratio", fontsize=8, loc="left")
        top.set_xlabel(r"over-production $\log h_\mathrm{prop} / h_\mathrm{real}$", fontsize=7)
        bottom.set_xlabel(r"$\log h_\mathrm{real} / h_\mathrm{prop}$", fontsize=7)
        if j == 0:
            top.set_ylabel(r"acceptance $\log h_\mathrm{acc} / h_\mathrm{prop}$", fontsize=7)
            bottom.set_ylabel(r"$\log E[\hat r \mid c] / E[\hat r]$", fontsize=7)
    if not drawn:  # a study without class records (older results)
        plt.close(fig)
        return None
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize="x-small")
    return fig


RATIO_CURVE_SAMPLERS = {"drs6": "DRS 6 %", "obrs4": "OBRS K = 4"}  # scripts/ratio_smoothness.py's settings


def fig_ratio_smoothness(study_dir: Path, **_: Any) -> plt.Figure | None:
    """Class gap of the ratio, class KL and FID (raw and at the real class mix) of the accepted
    sample, and its (recall, precision), from the raw training D to ever longer refits: one line
    per objective and sampler, mean over seeds (docs/maths.md §6.9)."""
    mean = ratio_smoothness(study_dir)
    if mean is None:
        return None
    fig, axes = plt.subplots(1, 4, figsize=(WIDTH, 2.0), constrained_layout=True)
    for (obj, sampler), g in mean.groupby(["objective", "sampler"], sort=False):
        ticks = ["raw" if d == "raw" else (f"{k / 1000:g}k" if k >= 1000 else f"{int(k)}")
                 for d, k in zip(g["discriminator"], g["refit_steps"])]
        x = np.arange(len(g))
        kw = {"color": COLOURS.get(obj), "marker": MARKERS.get(obj, "o"), "markersize": 3,
              "label": f"{objective_label(obj, mean)}, {RATIO_CURVE_SAMPLERS.get(sampler, sampler)}"}
        axes[0].plot(x, g["ratio_class_gap"], **kw)
        axes[1].plot(x, g["class_kl"], **kw)
        axes[2].plot(x, g["fid"], **kw)
        axes[2].plot(x, g["fid_rebalanced"], **{**kw, "label": None, "linestyle": ":"})
        axes[3].plot(g["recall"], g["precision"], **kw)
        raw = g[g["discriminator"] == "raw"]
        if len(raw):
            axes[3].annotate("raw", (raw["recall"].iloc[0], raw["precision"].iloc[0]), fontsize=6,
                             xytext=(3, -6), textcoords="offset points")
        for ax in axes[:3]:
            ax.set_xticks(x, ticks, fontsize=6)
    for ax, ylabel in zip(axes, ("class gap of the ratio", "class KL (accepted)", "FID (dotted: real class mix)")):
        ax.set_xlabel("ratio estimate (refit steps)", fontsize=7)
        ax.set_ylabel(ylabel, fontsize=7)
    axes[3].set_xlabel("Recall")
    axes[3].set_ylabel("Precision")
    axes[0].legend(fontsize="x-small")
    return fig


# ---------------------------------------------------------------- feature spaces

SPACE_PANELS = ("fid", "precision", "recall", "coverage")


def fig_spaces(frame: pd.DataFrame, study_dir: Path, **_: Any) -> plt.Figure | None:
    """Each evaluation cell's metric in the classifier's space (x) against the same cell's in the
    second feature space (y), one panel per metric, coloured by objective, with Spearman's ρ over
    the cells: how far the two embeddings rank the samples alike (docs/maths.md §7.2). FID on
    log axes; the spaces' scales differ, so agreement is the ranking, not the diagonal."""
    others = spaces_of(study_dir)[1:]
    if not others or frame.empty:
        return None
    other = load_results(study_dir, others[0])
    both = frame[frame["status"] == "ok"].merge(other[other["status"] == "ok"][["cell_id", *SPACE_PANELS]],
                                                on="cell_id", suffixes=("", "_other"))
    if both.empty:
        return None
    fig, axes = plt.subplots(1, len(SPACE_PANELS), figsize=(WIDTH, 2.3), constrained_layout=True)
    for ax, metric in zip(axes, SPACE_PANELS):
        for obj in [o for o in OBJECTIVE_ORDER if o in set(both["objective"])]:
            rows = both[both["objective"] == obj]
            ax.scatter(rows[metric], rows[f"{metric}_other"], s=6, alpha=0.7, color=COLOURS.get(obj, "0.3"),
                       marker=MARKERS.get(obj, "o"), label=objective_label(obj, both), linewidths=0)
        rho = stats.spearmanr(both[metric], both[f"{metric}_other"]).statistic
        ax.set_title(f"{METRIC_LABELS.get(metric, metric)}: " + (f"ρ = {rho:.2f}" if np.isfinite(rho) else
                                                                 "ρ undefined (a constant)"), fontsize="small")
        ax.set_xlabel("classifier", fontsize="small")
        if metric == "fid":
            ax.set_xscale("log")
            ax.set_yscale("log")
    axes[0].set_ylabel(others[0], fontsize="small")
    axes[-1].legend(fontsize="xx-small", markerscale=1.5)
    return fig
