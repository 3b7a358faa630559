"""The training bar: what a trained model must reach before the claims that need it are tested.

A study states its bar in a ``[quality]`` table (defaults per data set, ``DEFAULT_BARS``). Each
trained model is judged on its plain-sampler evaluation at σ = 1 (the study's evaluation cells,
every evaluation seed of the model): it **passes** if its run did not diverge and, on every one of
those evaluations,

- recall ≥ ``min_recall`` (improved recall, Kynkäänniemi et al.: the share of real images the
  model covers);
- every class of the data set holds at least ``metrics.COVERED_SHARE`` (1 %) of its samples
  (``classes_covered`` = the number of classes) and the class KL ≤ ``max_class_kl``
  (``metrics.class_coverage``: no mode dropped or starved);
- FID ≤ ``max_fid_ratio`` × the study's real-versus-real FID (the ceiling, ``repro.evaluation``:
  the mean of its held-out cells), so the bar scales with the feature space and the sample size.

A claim that needs a model below the bar is ``untestable``, with the model and the figure that
failed as its reason (``repro.analysis.claims.core.gate``); never contradicted, never supported.
docs/maths.md §9.2 states the bar and why.

Pure functions of frames: ``assess`` takes the results and ceiling tables and returns one row per
trained model (``runs/<study>/quality.csv``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from repro.core.config import load
from repro.core.errors import ConfigError
from repro.core.vocab import DATASETS, NUM_CLASSES

QUALITY_CSV = "quality.csv"
MODEL_KEYS = ("objective", "variant", "lam", "init_from", "train_seed")  # one trained model
QUALITY_COLUMNS = (*MODEL_KEYS, "train_id", "train_status", "evaluations", "fid", "fid_ceiling", "fid_ratio", "recall",
                   "classes_covered", "class_kl", "passes", "reason")


@dataclass(frozen=True)
class QualityBar:
    """A study's training bar (its ``[quality]`` table; the defaults are ``DEFAULT_BARS``)."""

    min_recall: float = 0.35
    max_class_kl: float = 0.1
    max_fid_ratio: float = 20.0  # × the study's real-versus-real FID

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{value!r} is not allowed; expected a finite number ≥ 0", field=name)
        if self.min_recall > 1:
            raise ConfigError(f"{self.min_recall!r} is not allowed; expected a recall in [0, 1]", field="min_recall")

    def describe(self) -> str:
        return (f"not diverged; recall ≥ {self.min_recall:g}; every class ≥ 1 % of the samples; "
                f"class KL ≤ {self.max_class_kl:g}; FID ≤ {self.max_fid_ratio:g}× the real-versus-real FID")


# Stated before the runs they judge. MNIST: the seed report's models sit near P 0.93 / R 0.8 in
# their own feature space; recall 0.35 is a floor well below that and far above a collapsed
# model (R 0.00), and FID 20× the ceiling (≈ 290 for 5,000 vs 5,000) excludes the blobs and smears
# of a failed f-GAN (FID > 1,700). Fashion-MNIST: the same bar but recall ≥ 0.30, the recall bar
# its recipes were tuned to (study/fashion.toml).
DEFAULT_BARS: dict[str, QualityBar] = {
    "mnist": QualityBar(),
    "fashion-mnist": QualityBar(min_recall=0.30),
}
assert set(DEFAULT_BARS) == set(DATASETS), "every data set needs its default bar"


def bar_for(dataset: str, overrides: dict[str, Any] | None = None, where: str = "quality") -> QualityBar:
    """The data set's default bar with a spec's ``[quality]`` overrides (typed by ``repro.core.config``)."""
    return load(QualityBar, {**asdict(DEFAULT_BARS[dataset]), **(overrides or {})}, where)


def _failures(row: pd.Series, bar: QualityBar) -> list[str]:
    """The figures of one evaluation that miss the bar, in words ("recall 0.000 < 0.35")."""
    out = []
    if not row["recall"] >= bar.min_recall:
        out.append(f"recall {row['recall']:.3f} < {bar.min_recall:g}")
    if not row["classes_covered"] >= NUM_CLASSES:
        out.append(f"{row['classes_covered']:.0f} of {NUM_CLASSES} classes hold ≥ 1 %")
    if not row["class_kl"] <= bar.max_class_kl:
        out.append(f"class KL {row['class_kl']:.3f} > {bar.max_class_kl:g}")
    if not row["fid_ratio"] <= bar.max_fid_ratio:
        out.append(f"FID {row['fid']:.0f} > {bar.max_fid_ratio:g} × {row['fid_ceiling']:.1f}")
    return out


TEXT_COLUMNS = ("objective", "variant", "init_from", "sampler", "status", "train_status")
NUMBER_COLUMNS = ("lam", "train_seed", "sigma", "psi", "fid", "recall", "classes_covered", "class_kl")


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns ``assess`` reads, present and typed (a store's raw table may lack some: a
    study whose cells all failed has no metric columns; an older one no class metrics)."""
    out = frame.copy()
    for col in TEXT_COLUMNS:
        out[col] = out[col].fillna("").astype(str) if col in out else ""
    for col in NUMBER_COLUMNS:
        out[col] = pd.to_numeric(out[col], errors="coerce") if col in out else math.nan
    return out


def assess(results: pd.DataFrame, ceiling: pd.DataFrame, bar: QualityBar) -> pd.DataFrame:
    """One row per trained model of ``results`` (a study's tidy results; ``ceiling`` its
    real-versus-real rows): its figures on the plain sampler at σ = 1 (the worst over its
    evaluation seeds), ``passes`` and, when it does not, ``reason``. Columns ``QUALITY_COLUMNS``."""
    if results.empty or "train_id" not in results:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    results = _normalised(results)
    ok_ceiling = ceiling[ceiling["status"] == "ok"] if {"status", "fid"} <= set(ceiling.columns) else ceiling.iloc[:0]
    fid_ceiling = float(ok_ceiling["fid"].mean()) if len(ok_ceiling) else math.nan
    plain = (results["sampler"] == "none") & np.isclose(results["sigma"].astype(float), 1.0) & results["psi"].isna()
    rows = []
    for train_id, model in results.groupby("train_id", sort=False):
        first = model.iloc[0]
        evals = model[plain.loc[model.index]]
        row: dict[str, Any] = {k: first.get(k) for k in MODEL_KEYS}
        row.update(train_id=train_id, train_status=first["train_status"] or "ok", evaluations=int(len(evals)))
        ok = evals[evals["status"] == "ok"].assign(fid_ceiling=fid_ceiling)
        ok = ok.assign(fid_ratio=ok["fid"] / fid_ceiling)
        reasons: list[str] = []
        if row["train_status"] == "diverged":
            reasons.append("diverged in training")
        elif ok.empty:
            reasons.append("no plain-sampler evaluation at σ = 1" if evals.empty else "its evaluation failed")
        for _, e in ok.iterrows():
            reasons += [r for r in _failures(e, bar) if r not in reasons]
        if not ok.empty:  # the worst figure of each kind over the evaluation seeds
            row.update(fid=ok["fid"].max(), recall=ok["recall"].min(), classes_covered=ok["classes_covered"].min(),
                       class_kl=ok["class_kl"].max())
        row.update(fid_ceiling=fid_ceiling, fid_ratio=row.get("fid", math.nan) / fid_ceiling,
                   passes=not reasons, reason="; ".join(reasons))
        rows.append(row)
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def with_bar(judged: pd.DataFrame, bar: QualityBar) -> pd.DataFrame:
    """``assess``'s table with the bar it was judged by in every row (quality.csv says its bar)."""
    return judged.assign(**asdict(bar))


def bar_of(table: pd.DataFrame) -> QualityBar | None:
    """The bar a quality.csv table was judged by (None for an empty table)."""
    if table.empty:
        return None
    return QualityBar(**{k: float(table[k].iloc[0]) for k in asdict(QualityBar())})


def model_name(row: pd.Series | dict[str, Any]) -> str:
    """A trained model in words: "kl seed 1", "pr λ=10 seed 0", "kl (fine-tuned) seed 2"."""
    name = str(row["objective"])
    if isinstance(row.get("lam"), float) and math.isfinite(row["lam"]):
        name += f" λ={row['lam']:g}"
    if row.get("variant"):
        name += f" ({row['variant']})"
    return f"{name} seed {int(row['train_seed'])}"
