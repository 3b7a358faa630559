"""Figures from the aggregate and the cells' stored curves (matplotlib Agg + seaborn).

Each ``fig_*`` takes frames (and, for curves and images, the study folder to read stored
files from) and returns a matplotlib Figure, or None when the study has nothing to draw;
``write_figures`` saves each as PDF (for the paper) and PNG (to look at) under ``figures/``.
Confidence intervals are drawn as bands or error bars; one colour per objective everywhere
(seaborn's colour-blind palette), one line style per sampler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
matplotlib.use("Agg")  # no display: files only; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from repro.analysis.aggregate import lookup, pr_reference, values_of  # noqa: E402
from repro.analysis.claims.beyond import equal_cost_configs  # noqa: E402
from repro.analysis.claims.lambda_pr import truncation_curve  # noqa: E402
from repro.core.atomic import atomic_path  # noqa: E402
from repro.report import objective_label  # noqa: E402
from repro.report.cell_figures import (  # noqa: E402
    fig_below_bar, fig_class_bias, fig_prd, fig_ratio_smoothness, fig_samples, fig_sigma_prd, fig_spaces,
    fig_training,
)
from repro.report.plotting import (  # noqa: E402
    COLOURS, MARKERS, WIDTH, band, metric_label, metric_scale, objectives_in, series, style,
)
from repro.samplers import registry  # noqa: E402

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- sweeps

def _sweep_figure(agg: pd.DataFrame, sampler: str, x: str, xlabel: str,
                  metrics: tuple[str, ...], logx: bool = False) -> plt.Figure | None:
    objs = [o for o in objectives_in(agg)  # λ-PR: one model per λ, see the λ figure
            if not series(agg, "precision", x, objective=o, sampler=sampler, sigma=1.0).empty]
    if not objs:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(WIDTH, 2.2), constrained_layout=True)
    for ax, metric in zip(axes, metrics):
        for o in objs:
            s = series(agg, metric, x, objective=o, sampler=sampler, sigma=1.0)
            band(ax, s, COLOURS[o], objective_label(o, agg), metric_scale(metric), marker=MARKERS[o],
                  markersize=3)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric_label(metric))
        if logx:
            ax.set_xscale("log")
    axes[0].legend(loc="best", fontsize="small")
    return fig


def fig_gamma_sweep(agg: pd.DataFrame, **_: Any) -> plt.Figure | None:
    """FID, precision, recall and acceptance against the DRS offset γ, per objective."""
    return _sweep_figure(agg, "drs", "gamma", r"DRS offset $\gamma$",
                         ("fid", "precision", "recall", "acceptance_rate"))


def fig_budget_sweep(agg: pd.DataFrame, **_: Any) -> plt.Figure | None:
    """FID, precision, recall and acceptance against the OBRS budget K, per objective."""
    return _sweep_figure(agg, "obrs", "budget", r"OBRS budget $K$",
                         ("fid", "precision", "recall", "acceptance_rate"), logx=True)


def fig_lambda_sweep(agg: pd.DataFrame, **_: Any) -> plt.Figure | None:
    """FID, precision and recall of the λ-PR objective against λ, and its (recall, precision)."""
    sel = {**pr_reference(agg), "sampler": "none", "sigma": 1.0}
    if series(agg, "precision", "lam", **sel).empty:
        return None
    fig, axes = plt.subplots(1, 4, figsize=(WIDTH, 2.2), constrained_layout=True)
    c = COLOURS["pr"]
    for ax, metric in zip(axes, ("fid", "precision", "recall")):
        band(ax, series(agg, metric, "lam", **sel), c, objective_label("pr", agg), marker="v",
              markersize=3)
        ax.set_xscale("log")
        ax.set_xlabel(r"$\lambda$")
        ax.set_ylabel(metric_label(metric))
    p, r = series(agg, "precision", "lam", **sel), series(agg, "recall", "lam", **sel)
    m = p.merge(r, on="x", suffixes=("_p", "_r"))
    ax = axes[3]
    ax.errorbar(m["mean_r"], m["mean_p"], xerr=_err(m, "_r"), yerr=_err(m, "_p"), color=c,
                marker="v", markersize=3, capsize=2)
    for _, row in m.iloc[[0, -1]].iterrows():
        ax.annotate(rf"$\lambda$={row['x']:g}", (row["mean_r"], row["mean_p"]), fontsize=6,
                    xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    return fig


def _err(m: pd.DataFrame, suffix: str) -> np.ndarray:
    lo = (m[f"mean{suffix}"] - m[f"lo{suffix}"]).to_numpy(dtype=float)
    hi = (m[f"hi{suffix}"] - m[f"mean{suffix}"]).to_numpy(dtype=float)
    return np.nan_to_num(np.vstack([lo, hi]), nan=0.0)


def fig_truncation(agg: pd.DataFrame, **_: Any) -> plt.Figure | None:
    """(recall, precision) over the soft-truncation σ, one trajectory per objective."""
    objs = [o for o in objectives_in(agg)
            if len(series(agg, "precision", "sigma", objective=o, sampler="none")) > 1]
    if not objs:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH * 0.55, 3.0), constrained_layout=True)
    for o in objs:
        p = series(agg, "precision", "sigma", objective=o, sampler="none")
        r = series(agg, "recall", "sigma", objective=o, sampler="none")
        m = p.merge(r, on="x", suffixes=("_p", "_r"))
        ax.errorbar(m["mean_r"], m["mean_p"], xerr=_err(m, "_r"), yerr=_err(m, "_p"),
                    color=COLOURS[o], marker=MARKERS[o], markersize=3, capsize=2,
                    label=objective_label(o, agg))
        for _, row in m.iloc[[0, -1]].iterrows():
            ax.annotate(rf"$\sigma$={row['x']:g}", (row["mean_r"], row["mean_p"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points", color=COLOURS[o])
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.legend(fontsize="small")
    return fig


# ---------------------------------------------------------------- samplers at equal cost, λ-PR against truncation

FAMILY_MARKERS = {"none": "o", "drs": "s", "obrs": "D", "mh": "^", "langevin": "v", "flow": "<", "adaptive": "P"}
def family_label(family: str) -> str:
    return "gradient flow" if family == "flow" else registry.label(family)


def _family(sel: dict[str, Any]) -> str:
    """The line a sampler setting belongs to: its sampler, the noise-free Langevin apart."""
    return "flow" if sel["sampler"] == "langevin" and not sel.get("langevin_noise", 1.0) else sel["sampler"]


def fig_equal_cost(agg: pd.DataFrame, **_: Any) -> plt.Figure | None:
    """Precision, recall and FID against the cost per returned sample (log scale), one line per
    sampler family through its settings, one row per objective with samplers beyond rejection:
    the methods compared at equal cost."""
    objs = [o for o in objectives_in(agg) if any(s["sampler"] in registry.names("beyond") for s in equal_cost_configs(agg, o))]
    if not objs:
        return None
    fig, axes = plt.subplots(len(objs), 3, figsize=(WIDTH, 2.0 * len(objs) + 0.4), squeeze=False,
                             constrained_layout=True)
    colours = sns.color_palette("colorblind", 10)  # distinct hues: no two families share a pink
    palette = dict(zip(FAMILY_MARKERS, (colours[i] for i in (0, 1, 2, 3, 4, 7, 5))))
    for i, obj in enumerate(objs):
        configs = equal_cost_configs(agg, obj)
        for j, metric in enumerate(("precision", "recall", "fid")):
            ax = axes[i][j]
            for fam in FAMILY_MARKERS:
                pts = []
                for sel in (c for c in configs if _family(c) == fam):
                    c, m = lookup(agg, "cost_per_sample", **sel), lookup(agg, metric, **sel)
                    if c is not None and m is not None:
                        pts.append((c["mean"], m["mean"], m["lo"], m["hi"]))
                if not pts:
                    continue
                pts.sort()
                x, y, lo, hi = (np.array(v) for v in zip(*pts))
                yerr = np.vstack([y - lo, hi - y]) if np.isfinite(lo).all() else None
                ax.errorbar(x, y, yerr=yerr, color=palette[fam], marker=FAMILY_MARKERS[fam], markersize=3.5,
                            capsize=2, linewidth=1, label=family_label(fam))
            ax.set_xscale("log")
            ax.set_ylabel(metric_label(metric))
            if i == len(objs) - 1:
                ax.set_xlabel("cost per sample (forward passes)")
            if j == 0:
                ax.set_title(objective_label(obj, agg), loc="left", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize="x-small")
    return fig


def fig_lambda_vs_truncation(agg: pd.DataFrame, **_: Any) -> plt.Figure | None:
    """(recall, precision) of the λ-PR fine-tunes against the truncation curves (σ and ψ) of the
    parent they fine-tune, the comparison of the 2025 lecture's table."""
    ref = pr_reference(agg)
    parent = ref.get("init_from") or "bce"
    lams = values_of(agg, "lam", **ref, sampler="none", sigma=1.0)
    curves = {k: truncation_curve(agg, parent, k) for k in ("sigma", "psi")}
    if not lams or not any(len(c) > 1 for c in curves.values()):
        return None
    fig, ax = plt.subplots(figsize=(WIDTH * 0.55, 3.0), constrained_layout=True)
    for knob, line, name in (("sigma", "-", "soft"), ("psi", "--", "hard")):
        c = sorted(curves[knob], key=lambda t: t[0])  # along the knob (the claim's curve is by precision)
        if len(c) < 2:
            continue
        ax.plot([r["mean"] for _, _, r in c], [p["mean"] for _, p, _ in c], line, color=COLOURS.get(parent, "0.3"),
                marker="o", markersize=3, label=f"{objective_label(parent, agg)}, {name} truncation")
        for v, p, r in c:
            if np.isfinite(v):
                sym = r"\sigma" if knob == "sigma" else r"\psi"
                ax.annotate(rf"${sym}$={v:g}", (r["mean"], p["mean"]), fontsize=6, xytext=(3, -8),
                            textcoords="offset points", color="0.35")
    cmap = plt.get_cmap("plasma")
    for k, lam in enumerate(lams):
        p = lookup(agg, "precision", **ref, lam=lam, sampler="none", sigma=1.0)
        r = lookup(agg, "recall", **ref, lam=lam, sampler="none", sigma=1.0)
        if p is None or r is None:
            continue
        ax.errorbar(r["mean"], p["mean"], xerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]] if np.isfinite(r["lo"]) else None,
                    yerr=[[p["mean"] - p["lo"]], [p["hi"] - p["mean"]]] if np.isfinite(p["lo"]) else None,
                    marker="s", color=cmap(0.8 * k / max(len(lams) - 1, 1)), capsize=2, linestyle="none",
                    label=rf"$\lambda$-PR, $\lambda$={lam:g}")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.legend(fontsize="x-small")
    return fig


FIGURES: dict[str, Callable[..., plt.Figure | None]] = {
    "ratio_smoothness": fig_ratio_smoothness,
    "class_bias": fig_class_bias,
    "below_bar": fig_below_bar,
    "sigma_prd": fig_sigma_prd,
    "equal_cost": fig_equal_cost,
    "lambda_vs_truncation": fig_lambda_vs_truncation,
    "prd_curves": fig_prd,
    "truncation": fig_truncation,
    "gamma_sweep": fig_gamma_sweep,
    "budget_sweep": fig_budget_sweep,
    "lambda_sweep": fig_lambda_sweep,
    "training_curves": fig_training,
    "samples": fig_samples,
    "spaces": fig_spaces,
}


def placeholder(name: str) -> plt.Figure:
    """A figure that says the study has no data for ``name`` (so the paper still builds)."""
    fig, ax = plt.subplots(figsize=(WIDTH * 0.5, 1.0))
    ax.axis("off")
    ax.text(0.5, 0.5, f"no data in this study for: {name}", ha="center", va="center")
    return fig


def write_figures(agg: pd.DataFrame, frame: pd.DataFrame, study_dir: str | Path,
                  out_dir: str | Path, judged: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Draw every figure, save ``<name>.pdf`` and ``<name>.png``; returns name → {paths, empty}.
    ``judged``: the trained models against the training bar (``repro.analysis.quality``)."""
    style()
    study_dir, out_dir = Path(study_dir), Path(out_dir)
    out: dict[str, dict[str, Any]] = {}
    for name, draw in FIGURES.items():
        fig = draw(agg=agg, frame=frame, study_dir=study_dir, judged=judged)
        empty = fig is None
        if empty:
            log.info("figure %s: no data in this study; writing a placeholder", name)
            fig = placeholder(name.replace("_", " "))
        paths = []
        for ext, kw in (("pdf", {}), ("png", {"dpi": 150})):
            path = out_dir / f"{name}.{ext}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext, **kw)
            paths.append(path)
        plt.close(fig)
        out[name] = {"paths": paths, "empty": empty}
    return out
