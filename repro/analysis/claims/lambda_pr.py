"""Claims about the λ-PR GAN (Vérine et al.): the trade along λ, and that fine-tuning with λ-PR
beats truncating the same parent model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from repro.analysis.aggregate import lookup, pr_reference, select, values_of
from repro.analysis.claims.core import (
    CONTRADICTED, INCONCLUSIVE, SUPPORTED, UNTESTABLE, Outcome, directional, fmt, fmt_rho, paired_row,
    significant_signs, spearman, welch_test,
)


def lambda_tradeoff(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """λ-PR: precision rises and recall falls from the smallest to the largest λ. The fine-tunes
    of one seed share their parent model, so the difference is paired by seed (Welch only for a
    study without those pairs); Holm over the two tests."""
    ref = {**pr_reference(agg), "sampler": "none", "sigma": 1.0}
    lams = [lam for lam in values_of(agg, "lam", **ref) if lookup(agg, "precision", **ref, lam=lam)]
    if len(lams) < 2:
        return Outcome(UNTESTABLE, "fewer than two λ values with results")
    lo_l, hi_l = min(lams), max(lams)
    tests, parts, units = [], [], []
    for metric in ("precision", "recall"):
        row = paired_row(paired, metric, **ref, lam=hi_l, pairing="seed") if "pairing" in paired else None
        how = "paired by seed"
        if row is not None and not np.isclose(float(row["baseline"].split("lam=")[-1].split(",")[0]), lo_l):
            row = None
        if row is not None:
            t = {"mean": row["mean"], "lo": row["lo"], "hi": row["hi"], "p": row.get("p_value", np.nan)}
        else:
            t, how = welch_test(lookup(agg, metric, **ref, lam=hi_l), lookup(agg, metric, **ref, lam=lo_l)), "Welch"
        rho = spearman([(lam, lookup(agg, metric, **ref, lam=lam)["mean"]) for lam in lams])
        tests.append(t)
        parts.append(f"{metric} λ={hi_l:g} − λ={lo_l:g}: {fmt(t)} ({how}), Spearman(λ, {metric}) {fmt_rho(rho)}")
        units.append({"metric": metric, "diff": t["mean"], "lo": t["lo"], "hi": t["hi"], "p": t["p"], "spearman": rho})
    sp, sr = significant_signs(tests, [1, -1])
    v = CONTRADICTED if sp == -1 or sr == 1 else (SUPPORTED if (sp, sr) == (1, -1) else INCONCLUSIVE)
    return Outcome(v, "; ".join(parts) + " (Holm over 2 tests)", tuple(units))


def truncation_curve(agg: pd.DataFrame, parent: str, knob: str) -> list[tuple[float, dict, dict]]:
    """(knob value, precision row, recall row) of the parent objective's plain sampler along
    σ (``knob = "sigma"``, ψ unset) or ψ (``knob = "psi"``, σ = 1), sorted by precision."""
    keys: dict[str, Any] = {"objective": parent, "sampler": "none"}
    if knob == "sigma":
        sels = [(v, {**keys, "sigma": v}) for v in values_of(agg, "sigma", **keys, psi=np.nan)]
    else:  # ψ = ∞ (no truncation) is the plain σ = 1 point: the curve's untruncated end
        psis = values_of(agg, "psi", **keys, sigma=1.0)
        sels = [(v, {**keys, "sigma": 1.0, "psi": v}) for v in psis] + ([(np.inf, {**keys, "sigma": 1.0})] if psis else [])
    points = []
    for v, sel in sels:
        p, r = lookup(agg, "precision", **sel), lookup(agg, "recall", **sel)
        if p is not None and r is not None:
            points.append((v, p, r))
    return sorted(points, key=lambda t: t[1]["mean"])


def lambda_beats_truncation(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """Each λ-PR fine-tune has more recall than truncating its own parent (σ, and ψ when the
    study has it) to the same precision: per seed, recall(λ) minus the recall of the Pareto
    envelope of that seed's truncation curve at precision(λ) (``aggregate.envelope_differences``),
    above zero over the seeds (paired by seed; docs/maths.md §8.1 over every λ and knob). A
    fine-tune that its untruncated parent dominates on a seed is named."""
    ref = pr_reference(agg)
    parent = ref.get("init_from") or "bce"
    if "pairing" not in paired.columns:
        return Outcome(UNTESTABLE, "no per-seed envelope differences in this study's paired results")
    env = paired[(paired["pairing"] == "envelope") & (paired["objective"] == "pr")]
    env = env[select(env, {k: v for k, v in ref.items() if k != "objective"})]
    tests, parts = [], []
    for knob, how in (("sigma", "soft-truncated (σ)"), ("psi", "hard-truncated (ψ)")):
        rows = env[env["baseline"] == f"{parent} {knob} truncation envelope"]
        for lam in sorted(rows["lam"].dropna().unique()):
            at = rows[np.isclose(rows["lam"], lam)]
            d = at[at["metric"] == "recall"]
            if d.empty or d.iloc[0]["n"] < 1:
                continue
            row = d.iloc[0]
            t = {"mean": row["mean"], "lo": row["lo"], "hi": row["hi"], "p": row["p_value"]}
            tests.append(t)
            dom = at[at["metric"] == "dominated"]
            n_dom = int(round(dom.iloc[0]["mean"] * dom.iloc[0]["n"])) if len(dom) else 0
            note = f"; its parent dominates it on {n_dom} of {int(dom.iloc[0]['n'])} seeds" if n_dom else ""
            parts.append(f"λ={lam:g} vs {parent} {how} to its precision: ΔR {fmt(t)} (n = {int(row['n'])}){note}")
    if not tests:
        return Outcome(UNTESTABLE, f"no λ-PR model within the precision range of {parent}'s truncation envelope")
    return Outcome(directional(tests, [1] * len(tests)),
                   "; ".join(parts) + f" (per seed on the Pareto envelope, paired by seed; {len(tests)} units)")
