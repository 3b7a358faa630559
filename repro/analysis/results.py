"""The tidy results of a study: its key columns (the samplers' from their registry), the
metrics, and reading results.csv, ceiling.csv and quality.csv, each checked (the I/O edge of the
analysis; ``repro.analysis.aggregate`` holds the statistics)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from repro.analysis import quality
from repro.core.atomic import atomic_path
from repro.core.errors import DataError
from repro.core.vocab import CEILING, FEATURE_SPACES, PRIMARY_SPACE
from repro.samplers import registry

CEILING_CSV = "ceiling.csv"  # the real-versus-real rows a study writes beside results.csv
RESULTS_CSV = "results.csv"
SPACES_JSON = "feature_spaces.json"  # each feature space's figures of merit (its features cell's result)


def in_space(filename: str, space: str = PRIMARY_SPACE) -> str:
    """The file of a study's table in feature space ``space``: the primary space's is
    ``filename`` (results.csv), another's carries its name (results-autoencoder.csv)."""
    if space == PRIMARY_SPACE:
        return filename
    stem, _, ext = filename.rpartition(".")
    return f"{stem}-{space}.{ext}"


def space_info(study_dir: str | Path) -> dict[str, dict]:
    """``SPACES_JSON`` of a study: space → its network's figures of merit (test accuracy or
    reconstruction error, 1-NN accuracy, dimension); empty where the study did not write it."""
    path = Path(study_dir) / SPACES_JSON
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def spaces_of(study_dir: str | Path) -> list[str]:
    """The feature spaces a study's results are written in, the primary first (those with a results table)."""
    return [s for s in FEATURE_SPACES if (Path(study_dir) / in_space(RESULTS_CSV, s)).is_file()]

log = logging.getLogger(__name__)

# The columns that name one model (a paired comparison's group).
GROUP_ON = ("study", "dataset", "objective", "variant", "lam", "aux", "gen_form", "init_from")

# What a lookup assumes unless told: no hard truncation, the objective's default recipe.
DEFAULT_KEYS = {"psi": math.nan, "variant": ""}
SEED_COLUMNS = ("train_seed", "eval_seed")
ID_COLUMNS = ("cell_id", "train_id")
METRICS = (
    "fid", "precision", "recall", "density", "coverage", "f8", "f1_8",
    "inception_score", "acceptance_rate",
)
# Per trained model, repeated on each of its rows (``Store.train_summary``); older results lack
# them (NaN). train_fid_ratio = last / first validation FID of the training curve.
TRAIN_METRICS = ("train_seconds", "train_fid_ratio")
# Per ratio-based evaluation: the held-out log-loss of the ratio the sampler used (refit D; NaN
# for the raw D, the plain sampler and older results).
RATIO_METRICS = ("d_heldout_logloss", "ratio_class_gap")  # ratio_class_gap: its calibration by class (§6.9)
# Mode coverage from the feature classifier (``metrics.class_coverage``); NaN in older results.
CLASS_METRICS = ("classes_covered", "class_kl")
# The FID of the sample resampled to the real class mix (docs/maths.md §6.9): what its class mix
# costs; NaN in older results and for the ceiling.
REBALANCED_METRICS = ("fid_rebalanced",)
# What a sampler spent per returned sample, in forward passes (repro.maths.cost).
COST_METRICS = ("cost_per_sample",)
# ok enters statistics; the others are counted. The harness lists cells not yet run as
# missing, and cells whose configuration changed since they ran as stale.
STATUSES = ("ok", "failed", "diverged", "damaged", "outdated", "missing", "stale")
METHODS = ("t", "bootstrap")
BOOTSTRAP_MIN_N = 10  # below this many seeds a bootstrap interval under-covers: t is used
STAT_COLUMNS = ("mean", "std", "lo", "hi", "half_width", "n", "n_failed", "n_diverged", "n_missing", "method",
                "confidence", "resamples")


@dataclass(frozen=True)
class Columns:
    """The tidy tables' key columns. The sampler part is every registered sampler's result
    columns (``repro.samplers.registry``; a column stays empty for the samplers that do not fill
    it), so ``columns()`` builds them when asked: a sampler registered at run time is in."""
    sampler: tuple[str, ...]  # the samplers' settings
    key: tuple[str, ...]  # the configuration of an evaluation cell: every key column but seeds and ids
    treatment: tuple[str, ...]  # what tells one sampler setting from another (a paired comparison's)
    optional: tuple[str, ...]  # key columns a results table may leave out (older or smaller studies)
    numeric: tuple[str, ...]
    text: tuple[str, ...]

    @property
    def required(self) -> tuple[str, ...]:
        return (*(k for k in self.key if k not in self.optional), *SEED_COLUMNS, *ID_COLUMNS, "status", *METRICS)

    @property
    def aggregated(self) -> tuple[str, ...]:
        return (*self.key, "metric", *STAT_COLUMNS)

    @property
    def paired(self) -> tuple[str, ...]:
        return (*GROUP_ON, *self.treatment, "psi", "baseline", "pairing", "metric", "mean", "std", "lo", "hi",
                "half_width", "n", "method", "resamples", "confidence", "p_value")


def columns() -> Columns:
    """The key columns of the samplers registered now (see ``Columns``)."""
    sampler = registry.column_names()
    numbers = tuple(c for c in sampler if c not in registry.text_column_names())
    key = ("study", "dataset", "objective", "variant", "lam", "aux", "gen_form", "init_from", "sigma", "psi",
           "sampler", *sampler, "discriminator")
    numeric = ("lam", "sigma", "psi", *numbers)
    return Columns(sampler=sampler, key=key, treatment=("sampler", "sigma", *numbers, "discriminator"),
                   optional=("variant", "init_from", *sampler, "discriminator"), numeric=numeric,
                   text=tuple(k for k in key if k not in numeric))


# ---------------------------------------------------------------- loading (I/O edge)

def load_results(study_dir: str | Path, space: str = PRIMARY_SPACE) -> pd.DataFrame:
    """Read ``<study_dir>/results.csv`` (in feature space ``space``: ``in_space``) into a
    normalised tidy frame (see ``tidy``)."""
    path = Path(study_dir) / in_space(RESULTS_CSV, space)
    if not path.is_file():
        raise DataError(
            f"{path} not found: run the study first (make study STUDY=…), or pass the folder "
            "that holds results.csv"
        )
    try:
        frame = pd.read_csv(path, keep_default_na=True, dtype={k: "string" for k in columns().text})
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: no evaluation cell of this study has run yet "
                        "(make study STUDY=…)") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path} is not a results table ({type(exc).__name__}); rebuild it with "
                        "`repro paper --study <spec>.toml` or `repro study run <spec>`") from None
    try:
        return tidy(frame)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


RATIO_SMOOTHNESS_CSV = "ratio_smoothness.csv"  # written by scripts/ratio_smoothness.py into a study's store


def ratio_smoothness(study_dir: str | Path) -> pd.DataFrame | None:
    """The ratio-sharpness curve of a study (``RATIO_SMOOTHNESS_CSV``), mean over seeds per
    (objective, sampler, ratio estimate), the raw training D first; None when it was not measured."""
    path = Path(study_dir) / RATIO_SMOOTHNESS_CSV
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    if frame.empty:
        return None
    mean = frame.groupby(["objective", "sampler", "discriminator", "refit_steps"], as_index=False).agg(
        **{c: (c, "mean") for c in ("heldout_logloss", "ratio_class_gap", "class_kl", "precision", "recall", "fid",
                                    "fid_rebalanced")}, seeds=("train_seed", "nunique"))
    mean["order"] = np.where(mean["discriminator"] == "raw", -1, mean["refit_steps"])
    return mean.sort_values(["objective", "sampler", "order"]).reset_index(drop=True)


def load_ceiling(study_dir: str | Path, space: str = PRIMARY_SPACE) -> pd.DataFrame:
    """``<study_dir>/ceiling.csv`` (the real-versus-real cells, ``repro.evaluation``; in feature
    space ``space``: ``in_space``) as tidy rows of the pseudo-objective ``CEILING`` (plain sampler,
    σ = 1; the evaluation seed stands for the training seed, the unit the intervals are over).
    Empty when the study has none (older studies)."""
    path = Path(study_dir) / in_space(CEILING_CSV, space)
    try:
        raw = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path} is not a ceiling table ({type(exc).__name__}); rebuild it with "
                        "`repro paper --study <spec>.toml` or `repro study run <spec>`") from None
    rows = raw.assign(objective=CEILING, sampler="none", sigma=1.0, train_seed=raw["eval_seed"], train_id="",
                      **{k: np.nan for k in (*columns().key, *METRICS) if k not in raw and k not in (
                          "objective", "sampler", "sigma")})
    return tidy(rows)


def load_quality(study_dir: str | Path, frame: pd.DataFrame) -> pd.DataFrame:
    """``<study_dir>/quality.csv`` (each trained model against the study's training bar, written by
    the study run); where it is absent (an older store), the models of ``frame`` (tidy results)
    are judged by their data set's default bar (``repro.analysis.quality``) and the table is written."""
    path = Path(study_dir) / quality.QUALITY_CSV
    try:
        table = pd.read_csv(path, dtype={"objective": "string", "variant": "string", "init_from": "string",
                                          "reason": "string", "train_status": "string"})
    except (FileNotFoundError, pd.errors.EmptyDataError):
        dataset = str(frame["dataset"].iloc[0]) if len(frame) else "mnist"
        bar = quality.DEFAULT_BARS.get(dataset, quality.QualityBar())
        table = quality.with_bar(quality.assess(frame, load_ceiling(study_dir), bar), bar)
        write_csv(table, path)
        return table
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path} is not a quality table ({type(exc).__name__}); rebuild it with "
                        "`repro paper --study <spec>.toml` or `repro study run <spec>`") from None
    for col in ("objective", "variant", "init_from", "reason", "train_status"):
        table[col] = table[col].fillna("").astype(str)
    table["passes"] = table["passes"].astype(bool)
    return table


# What each metric can be (closed intervals): a value outside is no measurement (a hand-edited or
# damaged table), and the paper refuses it. NaN is "not measured" except where CORE_METRICS says.
UNIT = (0.0, 1.0)
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "fid": (0.0, math.inf), "fid_rebalanced": (0.0, math.inf), "precision": UNIT, "recall": UNIT,
    "density": (0.0, math.inf), "coverage": UNIT, "f8": UNIT, "f1_8": UNIT, "acceptance_rate": UNIT,
    "inception_score": (1.0, math.inf), "classes_covered": (0.0, math.inf), "class_kl": (0.0, math.inf),
    "d_heldout_logloss": (0.0, math.inf), "ratio_class_gap": (0.0, math.inf), "cost_per_sample": (0.0, math.inf),
}
CORE_METRICS = ("fid", "precision", "recall")  # every ok row has them


def check_ranges(frame: pd.DataFrame) -> None:
    """DataError naming the first row (its line in the CSV) with a metric outside its range
    (``METRIC_RANGES``; ±inf is never a measurement) or an ok row without a core metric."""
    ok = frame["status"] == "ok"
    for col, (lo, hi) in METRIC_RANGES.items():
        if col not in frame.columns:
            continue
        x = frame[col].to_numpy(dtype=float)
        bad = (~np.isnan(x) & ~((x >= lo) & (x <= hi) & np.isfinite(x)))
        if col in CORE_METRICS:
            bad |= np.isnan(x) & ok.to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cell = frame["cell_id"].iloc[i] if "cell_id" in frame.columns else "?"
            raise DataError(f"line {i + 2} (cell {cell}): {col} = {float(x[i])!r} is not a measurement; "
                            f"{col} lies in [{lo:g}, {hi:g}]" + (", and an ok row has it" if col in CORE_METRICS else "")
                            + f" ({int(bad.sum())} such row(s))")


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Check the schema and normalise types: text keys as str ('' for missing), numbers float."""
    cols = columns()  # the registry's columns, once per call
    missing = [c for c in cols.required if c not in frame.columns]
    if missing:
        raise DataError(f"results are missing columns {missing}; expected at least {list(cols.required)}")
    out = frame.copy()
    for col in cols.optional:
        if col not in out.columns:
            out[col] = np.nan if col in cols.numeric else ""
    for col in cols.text:
        out[col] = out[col].astype("string").fillna("").astype(str)
    for col in (*cols.numeric, *METRICS):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for col in ("train_seconds", "train_fid_first", "train_fid_last", *RATIO_METRICS, *CLASS_METRICS,
                *REBALANCED_METRICS, *COST_METRICS):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float) if col in out.columns else np.nan
    out["train_fid_ratio"] = out["train_fid_last"] / out["train_fid_first"]
    for col in SEED_COLUMNS:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    out["status"] = out["status"].astype(str).str.strip().str.lower()
    bad = sorted(set(out["status"]) - set(STATUSES))
    if bad:
        raise DataError(f"unknown status values {bad}; allowed: {list(STATUSES)}")
    check_ranges(out)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path

