"""A study's tidy results → means and 95 % confidence intervals over seeds.

Pure functions over pandas frames; the only I/O is ``load_results`` and ``write_aggregate``
at the edges. Statistics are over ``train_seed``: each seed is one trained model, so the
``n`` of an interval is the number of trained models that produced an ``ok`` row for that
configuration. Failed, diverged, missing (not run yet) and stale rows never enter a statistic;
they are counted.

Intervals (``interval``):
- ``t`` (default): mean ± t_{(1+c)/2, n−1} · s / √n, s with ddof = 1.
- ``bootstrap``: ``scipy.stats.bootstrap`` with BCa, from ``BOOTSTRAP_MIN_N`` = 10 values up.
  Below that the t interval is used whatever was asked: at n = 3 a nominal 95 % BCa interval
  covers about 71 % of the time (its resamples of 3 values take only 10 distinct means), while
  the t interval is exact for normal data. When the sample is degenerate (all values equal) or
  BCa returns NaN, the percentile method is used instead. The method actually used is recorded
  per row (``method``).
- n = 1: the mean with no interval (``method = "single"``, lo = hi = NaN).

Paired differences (``paired_differences``): a treatment and a baseline that share the trained
model (same ``train_id``) and evaluation seed, e.g. DRS(γ) vs the plain sampler of the same
generator; the interval is over the per-seed differences. Models fine-tuned from one parent
share their seed, so two objectives of the paired protocol are compared paired by seed too
(``objective_comparisons``); objectives trained from scratch are compared by Welch intervals.

Protocols (docs/maths.md §9.4): an f-GAN objective may be trained from scratch and fine-tuned
from each seed's parent; ``protocol_view`` is the frame of one of them, on which every table,
figure and claim of that protocol is computed unchanged.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from repro.analysis.results import (
    BOOTSTRAP_MIN_N, CLASS_METRICS, COST_METRICS, DEFAULT_KEYS, GROUP_ON, METHODS, METRICS, RATIO_METRICS,
    REBALANCED_METRICS, STATUSES, TRAIN_METRICS, columns, in_space, load_ceiling, load_results, write_csv,
)
from repro.core.errors import ConfigError
from repro.core.vocab import F_GAN_OBJECTIVES, PREFERRED_DISCRIMINATOR, PRIMARY_SPACE

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- intervals (pure)

def interval(
    values: Iterable[float],
    method: str = "t",
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean and confidence interval of a 1-D sample (NaNs dropped).

    Returns ``{mean, std, lo, hi, half_width, n, method, resamples}``; ``method`` is what was
    used: ``t``, ``bca``, ``percentile`` (degenerate sample), ``single`` (n = 1) or ``empty``.
    ``half_width`` is (hi − lo) / 2 (symmetric for ``t``).
    """
    if method not in METHODS:
        raise ConfigError(f"interval method {method!r} unknown; choose one of {list(METHODS)}")
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    out: dict[str, Any] = {"mean": np.nan, "std": np.nan, "lo": np.nan, "hi": np.nan,
                           "half_width": np.nan, "n": n, "method": "empty", "resamples": 0}
    if n == 0:
        return out
    out["mean"] = float(x.mean())
    out["std"] = float(x.std(ddof=1)) if n > 1 else np.nan
    if n == 1:
        out["method"] = "single"
        return out
    if method == "t" or n < BOOTSTRAP_MIN_N:
        h = float(stats.t.ppf((1 + confidence) / 2, n - 1) * out["std"] / math.sqrt(n))
        out.update(lo=out["mean"] - h, hi=out["mean"] + h, half_width=h, method="t")
        return out
    used = "percentile" if np.ptp(x) == 0 else "bca"
    lo, hi = _bootstrap(x, used, confidence, n_resamples, seed)
    if used == "bca" and not (np.isfinite(lo) and np.isfinite(hi)):
        used = "percentile"
        lo, hi = _bootstrap(x, used, confidence, n_resamples, seed)
    out.update(lo=lo, hi=hi, half_width=(hi - lo) / 2, method=used, resamples=n_resamples)
    return out


def _bootstrap(x: np.ndarray, method: str, confidence: float, n_resamples: int,
               seed: int) -> tuple[float, float]:
    if np.ptp(x) == 0:  # every resample has the same mean
        return float(x[0]), float(x[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa's degenerate-distribution warning: we fall back
        res = stats.bootstrap((x,), np.mean, confidence_level=confidence, method=method,
                              n_resamples=n_resamples, rng=np.random.default_rng(seed),
                              vectorized=True)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def welch(mean1: float, std1: float, n1: int, mean2: float, std2: float, n2: int,
          confidence: float = 0.95) -> dict[str, float]:
    """CI of mean1 − mean2 for two independent samples (Welch–Satterthwaite), from summaries,
    with the two-sided p-value of Welch's t test (``p``)."""
    out = {"diff": mean1 - mean2, "lo": np.nan, "hi": np.nan, "p": np.nan}
    if min(n1, n2) < 2 or not all(np.isfinite([mean1, mean2, std1, std2])):
        return out
    v1, v2 = std1**2 / n1, std2**2 / n2
    se = math.sqrt(v1 + v2)
    if se == 0:
        out.update(lo=out["diff"], hi=out["diff"], p=0.0 if out["diff"] != 0 else 1.0)
        return out
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    h = stats.t.ppf((1 + confidence) / 2, df) * se
    out.update(lo=out["diff"] - h, hi=out["diff"] + h, p=float(2 * stats.t.sf(abs(out["diff"]) / se, df)))
    return out


# ---------------------------------------------------------------- aggregation (pure)

def aggregate(
    frame: pd.DataFrame,
    method: str = "t",
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
    metrics: Iterable[str] = (*METRICS, *TRAIN_METRICS, *RATIO_METRICS, *CLASS_METRICS, *REBALANCED_METRICS,
                              *COST_METRICS),
) -> pd.DataFrame:
    """One row per (configuration, metric): mean and CI over seeds of the ``ok`` rows.

    ``frame``: the tidy results (one row per evaluation cell). A configuration whose every row
    failed still appears, with n = 0 and NaN statistics, so tables can show it as missing.
    """
    cols = columns()  # the registry's columns, once per call
    metrics = list(metrics)
    rows = []
    for key, group in frame.groupby(list(cols.key), dropna=False, sort=True):
        ok = group[group["status"] == "ok"]
        counts = {"n_failed": int(group["status"].isin(["failed", "damaged"]).sum()),
                  "n_diverged": int((group["status"] == "diverged").sum()),
                  "n_missing": int(group["status"].isin(["missing", "stale", "outdated"]).sum())}
        # one value per trained model: average over repeated evaluation seeds first
        per_seed = ok.groupby("train_seed")[metrics].mean()
        for metric in metrics:
            stat = interval(per_seed[metric], method, confidence, n_resamples, seed)
            rows.append({**dict(zip(cols.key, key)), "metric": metric, **stat, **counts,
                         "confidence": confidence})
    return pd.DataFrame(rows, columns=list(cols.aggregated))


def standard_comparisons(frame: pd.DataFrame) -> list[tuple[dict, dict]]:
    """Treatment/baseline selector pairs present in ``frame``: every DRS/OBRS setting and every
    σ ≠ 1 or ψ versus the plain sampler at σ = 1 without ψ, per trained model."""
    cols = columns()  # the registry's columns, once per call
    base = {"sampler": "none", "sigma": 1.0, "psi": math.nan}
    pairs = []
    sel = frame[[*cols.treatment, "psi"]].drop_duplicates()
    for _, r in sel.iterrows():
        if r["sampler"] == "none" and r["sigma"] == 1.0 and not np.isfinite(r["psi"]):
            continue
        treat = {k: r[k] for k in (*cols.treatment, "psi")}
        if r["sampler"] != "none" and r["sigma"] != 1.0:
            continue  # compare samplers at σ = 1 and σ with the plain sampler only
        pairs.append((treat, base))
    return pairs


def select(frame: pd.DataFrame, selector: Mapping[str, Any]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    numeric = columns().numeric
    for col, val in selector.items():
        if isinstance(val, float) and math.isnan(val):
            mask &= frame[col].isna()
        elif col in numeric:
            mask &= np.isclose(frame[col].astype(float), float(val))
        else:
            mask &= frame[col] == val
    return mask


# Pairing: rows of one trained model (a sampler or σ against the plain sampler at σ = 1), or rows
# of different models that share a seed (a λ-PR fine-tune against another λ of the same BCE parent).
PAIR_ON = ("study", "dataset", "objective", "variant", "lam", "aux", "gen_form", "init_from",
           "train_id", "train_seed", "eval_seed")
PAIR_ON_SEED = ("study", "dataset", "train_seed", "eval_seed")


def t_pvalue(mean: float, std: float, n: int) -> float:
    """Two-sided p-value of a one-sample t test of mean = 0 (NaN when n < 2 or undefined)."""
    if n < 2 or not (np.isfinite(mean) and np.isfinite(std)):
        return math.nan
    if std == 0:
        return 0.0 if mean != 0 else 1.0
    return float(2 * stats.t.sf(abs(mean) / (std / math.sqrt(n)), n - 1))


def holm(p_values: Iterable[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected with the family-wise error
    controlled at ``alpha``. NaN p-values are never rejected and do not count in the family."""
    p = np.asarray(list(p_values), dtype=float)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    reject = np.zeros(len(p), dtype=bool)
    for i, j in enumerate(order):
        if p[j] > alpha / (m - i):
            break
        reject[j] = True
    return reject.tolist()


def paired_differences(
    frame: pd.DataFrame,
    comparisons: list[tuple[dict, dict]] | None = None,
    method: str = "t",
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
    metrics: Iterable[str] = METRICS,
    pair_on: tuple[str, ...] = PAIR_ON,
    pairing: str | None = None,
) -> pd.DataFrame:
    """Per-seed differences treatment − baseline for rows that share ``pair_on``.

    ``PAIR_ON`` (default): the same trained model and evaluation seed; ``PAIR_ON_SEED``: the same
    training and evaluation seeds (models that share a parent). Returns one row per (model
    configuration, treatment, metric): ``GROUP_ON`` and ``columns().treatment`` of the treatment,
    ``baseline`` (a text label), ``pairing`` (a name for the family of comparisons: ``model``
    against the plain sampler, ``seed`` between λ-PR fine-tunes, ``discriminator`` refit against
    raw; default from ``pair_on``), the ``interval`` statistics of the differences and the
    two-sided ``p_value`` of a paired t test.
    """
    cols = columns()  # the registry's columns, once per call
    metrics = list(metrics)
    ok = frame[frame["status"] == "ok"]
    comparisons = standard_comparisons(ok) if comparisons is None else comparisons
    pairing = pairing or ("model" if "train_id" in pair_on else "seed")
    rows = []
    for treat, base in comparisons:
        t = ok[select(ok, treat)]
        b = ok[select(ok, base)]
        if t.empty or b.empty:
            continue
        merged = t.merge(b, on=list(pair_on), suffixes=("", "_base"))
        label = baseline_label(base)
        for key, group in merged.groupby(list(GROUP_ON), dropna=False, sort=True):
            per_seed = group.groupby("train_seed")
            for metric in metrics:
                diffs = per_seed[metric].mean() - per_seed[f"{metric}_base"].mean()
                stat = interval(diffs, method, confidence, n_resamples, seed)
                rows.append({**dict(zip(GROUP_ON, key)), **{k: treat.get(k, np.nan) for k in (*cols.treatment, "psi")},
                             "baseline": label, "pairing": pairing, "metric": metric, **stat,
                             "confidence": confidence, "p_value": t_pvalue(stat["mean"], stat["std"], stat["n"])})
    return pd.DataFrame(rows, columns=list(cols.paired))


def discriminator_comparisons(frame: pd.DataFrame) -> list[tuple[dict, dict]]:
    """Each DRS / OBRS setting with the refit discriminator against the same setting with the raw
    one, on the same model (docs/maths.md §6.4): ``paired_differences(..., pairing="discriminator")``."""
    keys = [k for k in (*columns().treatment, "psi") if k != "discriminator"]
    refit = frame[frame["discriminator"] == "refit"][keys].drop_duplicates()
    out = []
    for _, r in refit.iterrows():
        sel = {k: r[k] for k in keys}
        if select(frame, {**sel, "discriminator": "raw"}).any():
            out.append(({**sel, "discriminator": "refit"}, {**sel, "discriminator": "raw"}))
    return out


def lambda_comparisons(frame: pd.DataFrame) -> list[tuple[dict, dict]]:
    """λ-PR at each λ against the smallest λ of the same recipe, plain sampler at σ = 1: pairs of
    fine-tunes of the same parent model, so ``paired_differences(..., pair_on=PAIR_ON_SEED)``."""
    pr = frame[(frame["objective"] == "pr") & (frame["sampler"] == "none") & np.isclose(frame["sigma"], 1.0)
               & frame["psi"].isna()]
    out = []
    for (aux, form, init), g in pr.groupby(["aux", "gen_form", "init_from"], dropna=False):
        lams = sorted(g["lam"].dropna().unique())
        sel = {"objective": "pr", "aux": aux, "gen_form": form, "init_from": init, "sampler": "none", "sigma": 1.0,
               "psi": math.nan}
        out += [({**sel, "lam": lam}, {**sel, "lam": lams[0]}) for lam in lams[1:]]
    return out


def paired_all(frame: pd.DataFrame, method: str = "t", confidence: float = 0.95, n_resamples: int = 9999,
               seed: int = 0) -> pd.DataFrame:
    """Every paired comparison of a study: within a model against the plain sampler
    (``standard_comparisons``), the refit against the raw discriminator (``discriminator_comparisons``),
    between λ-PR fine-tunes of the same parent (``lambda_comparisons``, paired by seed) and
    between f-GAN objectives fine-tuned from the same parent (``objective_comparisons``, by seed),
    and each λ-PR fine-tune against its parent's truncation envelope (``envelope_differences``)."""
    parts = [paired_differences(frame, None, method, confidence, n_resamples, seed),
             paired_differences(frame, discriminator_comparisons(frame), method, confidence, n_resamples, seed,
                                pairing="discriminator"),
             paired_differences(frame, lambda_comparisons(frame), method, confidence, n_resamples, seed,
                                pair_on=PAIR_ON_SEED),
             paired_differences(frame, objective_comparisons(frame), method, confidence, n_resamples, seed,
                                # the objective claims also compare mode coverage (class KL)
                                metrics=(*METRICS, *(m for m in CLASS_METRICS if m in frame.columns)),
                                pair_on=PAIR_ON_SEED, pairing="objective"),
             envelope_differences(frame, method, confidence, n_resamples, seed)]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else parts_empty()


def pareto_envelope(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (precision, recall) points no other point dominates (at least as good in both, better
    in one), by precision ascending (so recall descending)."""
    pts = sorted(set((float(p), float(r)) for p, r in points if np.isfinite(p) and np.isfinite(r)))
    return [a for a in pts if not any(b != a and b[0] >= a[0] and b[1] >= a[1] for b in pts)]


def envelope_recall(points: Iterable[tuple[float, float]], precision: float) -> float | None:
    """The most recall the (precision, recall) points reach at ``precision``: on their Pareto
    envelope, linear between its points (a mixture of two settings); the recall of its
    least-precise point below it (a setting with more precision and that recall exists); None
    above the envelope's precision (no setting reaches it)."""
    env = pareto_envelope(points)
    if not env or precision > env[-1][0]:
        return None
    if precision <= env[0][0]:
        return env[0][1]
    j = int(np.searchsorted([p for p, _ in env], precision))
    (p0, r0), (p1, r1) = env[j - 1], env[j]
    return r0 + (precision - p0) / (p1 - p0) * (r1 - r0)


TRUNCATION_KNOBS = ("sigma", "psi")  # soft (σ, ψ unset) and hard (ψ at σ = 1; unset = ψ = ∞) truncation


def envelope_differences(frame: pd.DataFrame, method: str = "t", confidence: float = 0.95,
                         n_resamples: int = 9999, seed: int = 0) -> pd.DataFrame:
    """Each λ-PR fine-tune against truncating its own parent (docs/maths.md §4.1), per seed: the
    fine-tune's recall minus the recall of the Pareto envelope of that seed's parent truncation
    curve (its untruncated point included) at the fine-tune's precision; its interval over the
    seeds (``metric = "recall"``), and the share of seeds on which the untruncated parent
    dominates the fine-tune (``metric = "dominated"``). ``pairing = "envelope"``; ``baseline``
    names the parent and the knob."""
    cols = columns()  # the registry's columns, once per call
    ok = frame[(frame["status"] == "ok") & (frame["sampler"] == "none")]
    init = _init_from(ok)
    variant = ok["variant"].fillna("") if "variant" in ok.columns else pd.Series("", index=ok.index)
    rows = []
    pr = ok[(ok["objective"] == "pr") & np.isclose(ok["sigma"], 1.0) & ok["psi"].isna()]
    for key, g in pr.groupby(["aux", "gen_form", "init_from", "lam"], dropna=False):
        parent = key[2] or "bce"
        base = ok[(ok["objective"] == parent) & (init == "") & (variant == "")]
        lam_pr = g.groupby("train_seed")[["precision", "recall"]].mean()
        for knob in TRUNCATION_KNOBS:
            curve = base[base["psi"].isna()] if knob == "sigma" else base[np.isclose(base["sigma"], 1.0)]
            if curve.groupby(["sigma", "psi"], dropna=False).ngroups < 2:
                continue
            diffs, dominated = [], []
            for s, (p, r) in lam_pr.iterrows():
                mine = curve[curve["train_seed"] == s].groupby(["sigma", "psi"], dropna=False)[
                    ["precision", "recall"]].mean()
                plain = curve[(curve["train_seed"] == s) & np.isclose(curve["sigma"], 1.0) & curve["psi"].isna()]
                at = envelope_recall(mine.itertuples(index=False, name=None), p)
                if at is not None:
                    diffs.append(r - at)
                if len(plain):
                    dominated.append(float(p < plain["precision"].mean() and r < plain["recall"].mean()))
            first = g.iloc[0]
            for metric, values in (("recall", diffs), ("dominated", dominated)):
                if not values:
                    continue
                stat = interval(values, method, confidence, n_resamples, seed)
                rows.append({**{k: first[k] for k in GROUP_ON}, **{k: first.get(k, np.nan) for k in (*cols.treatment, "psi")},
                             "baseline": f"{parent} {knob} truncation envelope", "pairing": "envelope",
                             "metric": metric, **stat, "confidence": confidence,
                             "p_value": t_pvalue(stat["mean"], stat["std"], stat["n"])})
    return pd.DataFrame(rows, columns=list(cols.paired))


def objective_comparisons(frame: pd.DataFrame) -> list[tuple[dict, dict]]:
    """Every ordered pair of f-GAN objectives fine-tuned from the same parent, at each sampler
    setting both have: ``paired_differences(..., pair_on=PAIR_ON_SEED, pairing="objective")``
    (the fine-tunes of one seed share their parent, so they are paired by seed)."""
    tuned = frame[frame["objective"].isin(F_GAN_OBJECTIVES) & (_init_from(frame) != "")]
    keys = [k for k in (*columns().treatment, "psi") if k in tuned.columns]
    out = []
    for parent, g in tuned.groupby(_init_from(tuned)):
        for _, r in g[keys].drop_duplicates().iterrows():
            sel = {k: r[k] for k in keys}
            have = [o for o in F_GAN_OBJECTIVES if select(g, {**sel, "objective": o}).any()]
            out += [({**sel, "objective": a, "init_from": parent, "variant": ""},
                     {**sel, "objective": b, "init_from": parent, "variant": ""})
                    for a in have for b in have if a != b]
    return out


def baseline_label(base: Mapping[str, Any]) -> str:
    """The ``baseline`` text of a paired row: how a comparison's baseline selector is written."""
    return ", ".join(f"{k}={v}" for k, v in base.items())


def _init_from(frame: pd.DataFrame) -> pd.Series:
    if "init_from" not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame["init_from"].fillna("").astype(str)


def protocol_view(frame: pd.DataFrame, init_from: str = "") -> pd.DataFrame:
    """The rows of one protocol (docs/maths.md §9.4): the f-GAN models trained from scratch
    (``init_from`` "", with the λ-PR fine-tunes and everything else), or those fine-tuned from
    ``init_from``'s models (with the real-versus-real rows only). In either view each f-GAN
    objective has one model per seed, so lookups by objective are unambiguous."""
    if frame.empty or "objective" not in frame.columns:
        return frame
    fgan = frame["objective"].isin(F_GAN_OBJECTIVES)
    mine = fgan & (_init_from(frame) == init_from)
    others = ~fgan & ((frame["objective"] != "pr") if init_from else True)
    return frame[mine | others]


def fine_tuned_from(frame: pd.DataFrame) -> list[str]:
    """The parents the study's f-GAN models are fine-tuned from (the paired protocols it has)."""
    if frame.empty or "objective" not in frame.columns:
        return []
    init = _init_from(frame)
    return sorted(set(init[frame["objective"].isin(F_GAN_OBJECTIVES) & (init != "")]))


def parts_empty() -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns().paired))


def status_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Evaluation cells by status, over the whole study."""
    counts = frame["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUSES}


# ---------------------------------------------------------------- lookups (pure)

def lookup(agg: pd.DataFrame, metric: str, **keys: Any) -> dict[str, Any] | None:
    """The aggregated row of ``metric`` for the configuration matching ``keys`` (NaN matches
    NaN, floats compare with ``isclose``); None when absent or when it has no ok seed.
    ``DEFAULT_KEYS`` hold unless given: no hard truncation, the default recipe (no variant)."""
    keys = {**DEFAULT_KEYS, **keys}
    sub = agg[agg["metric"] == metric]
    sub = prefer_refit(sub[select(sub, keys)], keys)
    if sub.empty:
        return None
    if len(sub) > 1:
        log.debug("lookup %s %s matched %d rows; taking the first", metric, keys, len(sub))
    row = sub.iloc[0].to_dict()
    return row if row["n"] > 0 else None


def prefer_refit(sub: pd.DataFrame, keys: Mapping[str, Any]) -> pd.DataFrame:
    """Rows of the refit discriminator when ``keys`` leave the discriminator open and a study has
    both (the raw one is the comparison, the refit one the method; docs/maths.md §6.4)."""
    if "discriminator" in keys or "discriminator" not in sub.columns or len(sub) < 2:
        return sub
    refit = sub[sub["discriminator"] == PREFERRED_DISCRIMINATOR]
    return refit if not refit.empty else sub


def values_of(frame: pd.DataFrame, column: str, **keys: Any) -> list[Any]:
    """Sorted distinct non-NaN values of ``column`` among rows matching ``keys``."""
    sub = frame[select(frame, keys)] if keys else frame
    vals = sub[column].dropna().unique().tolist()
    return sorted(vals)


def pr_groups(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The λ-PR model families of a study: one selector per (aux, generator form, init_from),
    most λ first, training from scratch (init_from "") first on ties."""
    sub = frame[frame["objective"] == "pr"]
    if sub.empty:
        return []
    groups = sub.groupby(["aux", "gen_form", "init_from"])["lam"].nunique().reset_index()
    groups["scratch"] = groups["init_from"] != ""
    groups = groups.sort_values(["lam", "scratch", "aux", "gen_form"], ascending=[False, True, True, False])
    return [{"objective": "pr", "aux": a, "gen_form": f, "init_from": i}
            for a, f, i in zip(groups["aux"], groups["gen_form"], groups["init_from"])]


def pr_reference(frame: pd.DataFrame) -> dict[str, Any]:
    """The λ-PR family the text, claims and λ figure use (``pr_groups``' first)."""
    groups = pr_groups(frame)
    return groups[0] if groups else {"objective": "pr"}


# ---------------------------------------------------------------- writing (I/O edge)

def read_aggregate(path: str | Path) -> pd.DataFrame:
    cols = columns()  # the registry's columns, once per call
    frame = pd.read_csv(path, dtype={k: "string" for k in (*cols.text, "baseline", "metric",
                                                           "method")})
    for col in cols.text:
        if col in frame:
            frame[col] = frame[col].fillna("").astype(str)
    return frame


def aggregate_study(
    study_dir: str | Path,
    method: str = "t",
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
    space: str = PRIMARY_SPACE,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Load, aggregate, write ``aggregate.csv`` and ``paired.csv`` into the study folder (of
    feature space ``space``: aggregate-autoencoder.csv, …, ``results.in_space``).

    Returns (tidy results, aggregate with the ceiling's rows, paired differences).
    """
    study_dir = Path(study_dir)
    frame = load_results(study_dir, space)
    agg = aggregate(frame, method, confidence, n_resamples, seed)
    ceiling = load_ceiling(study_dir, space)
    if not ceiling.empty:  # its rows in aggregate.csv, looked up as objective = CEILING
        metrics = [m for m in (*METRICS, *CLASS_METRICS) if m != "acceptance_rate"]  # no sampler, no acceptance
        agg = pd.concat([agg, aggregate(ceiling, method, confidence, n_resamples, seed, metrics=metrics)],
                        ignore_index=True)
    paired = paired_all(frame, method, confidence, n_resamples, seed)
    write_csv(agg, study_dir / in_space("aggregate.csv", space))
    write_csv(paired, study_dir / in_space("paired.csv", space))
    return frame, agg, paired
