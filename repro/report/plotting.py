"""What every figure shares: the style, one colour and one marker per objective (seaborn's
colour-blind palette), one line style per sampler, the paper's width, and small helpers."""

from __future__ import annotations

from typing import Any

import matplotlib
matplotlib.use("Agg")  # no display: files only; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from repro.analysis.aggregate import DEFAULT_KEYS, select  # noqa: E402
from repro.core.vocab import OBJECTIVES  # noqa: E402
from repro.report import METRIC_LABELS  # noqa: E402


OBJECTIVE_ORDER = OBJECTIVES
_PALETTE = sns.color_palette("colorblind", 8)
COLOURS = {o: _PALETTE[i] for i, o in enumerate(OBJECTIVE_ORDER)}
MARKERS = {"bce": "o", "js": "s", "kl": "^", "rkl": "D", "pr": "v"}
SAMPLER_STYLE = {"none": "-", "drs": "--", "obrs": ":"}
WIDTH = 7.0  # inches: the text width of the paper


def style() -> None:
    """The one style of every figure."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight",
                         "axes.titlesize": "medium", "legend.frameon": False})


def objectives_in(frame: pd.DataFrame, include_pr: bool = False) -> list[str]:
    present = set(frame["objective"])
    return [o for o in OBJECTIVE_ORDER if o in present and (include_pr or o != "pr")]


def series(agg: pd.DataFrame, metric: str, x: str, **sel: Any) -> pd.DataFrame:
    """Rows of ``agg`` for ``metric`` matching ``sel``, as columns x, mean, lo, hi (sorted by x)."""
    sub = agg[agg["metric"] == metric]
    sub = sub[select(sub, {**DEFAULT_KEYS, **sel}) & (sub["n"] > 0)]
    out = sub[[x, "mean", "lo", "hi"]].rename(columns={x: "x"}).sort_values("x")
    return out.reset_index(drop=True)


def band(ax, s: pd.DataFrame, colour, label: str, scale: float = 1.0, **kw) -> None:
    ax.plot(s["x"], s["mean"] * scale, color=colour, label=label, **kw)
    ok = np.isfinite(s["lo"]) & np.isfinite(s["hi"])
    if ok.any():
        ax.fill_between(s["x"][ok], s["lo"][ok] * scale, s["hi"][ok] * scale, color=colour,
                        alpha=0.2, linewidth=0)


def metric_label(metric: str) -> str:
    return METRIC_LABELS[metric] + (" (%)" if metric == "acceptance_rate" else "")


def metric_scale(metric: str) -> float:
    return 100.0 if metric == "acceptance_rate" else 1.0
