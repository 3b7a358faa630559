"""The seeds' claims (MATH.md §8), each a function over the aggregated results with a verdict.

A claim function takes the aggregate frame and the paired-difference frame (both from
``repro.aggregate``) and returns a ``Verdict``: ``supported``, ``contradicted`` or
``inconclusive``, with the evidence in numbers. The tests are on confidence intervals of
*differences*: paired (per-seed differences over the same trained models) where the two
sides share seeds — samplers and σ against the plain sampler of the same generator — and
Welch intervals from the aggregate's mean, std and n where they do not (different objectives
or λ are different models).

A claim made about several objectives is checked per objective ("units"), and combined:
contradicted if any unit is contradicted (significantly the other way), supported if every
unit with data is supported and at least one has data, inconclusive otherwise (intervals that
include zero, or data missing).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from repro.aggregate import _select, lookup, pr_reference, values_of, welch

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
F_GAN_OBJECTIVES = ("bce", "js", "kl", "rkl")

# Thresholds a claim's wording leaves open, in one place (and quoted in the paper).
HIGH_ACCEPTANCE = 0.80        # "keeping a high acceptance rate"
RECALL_TOLERANCE = 0.02       # "at (nearly) fixed recall": recall drops by at most this
REFERENCE_GAMMA = 2.0         # the student report's Table 1 uses DRS at γ = 2
REFERENCE_BUDGET = 5.0        # the OBRS column of Table 1, when the grid has it


@dataclasses.dataclass(frozen=True)
class Verdict:
    key: str            # letters only: used in macro names
    claim: str          # the claim, in words
    source: str         # which seed makes it
    verdict: str        # one of VERDICTS
    evidence: str       # the numbers, in words
    units: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def combine(unit_verdicts: list[str]) -> str:
    """Contradicted if any unit is, supported if all units with data are (≥ 1), else inconclusive."""
    if CONTRADICTED in unit_verdicts:
        return CONTRADICTED
    if unit_verdicts and all(v == SUPPORTED for v in unit_verdicts):
        return SUPPORTED
    return INCONCLUSIVE


def sign(lo: float, hi: float) -> int:
    """+1 if the interval lies above zero, −1 if below, 0 if it includes zero or is undefined."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return 0
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def fmt_ci(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:+.{digits}f} (no CI)"
    return f"{mean:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def fmt_rho(rho: float) -> str:
    return f"{rho:+.2f}" if np.isfinite(rho) else "n/a"


def pick(values: list[float], preferred: float) -> float | None:
    """``preferred`` if present, else the value nearest to it; None for no values."""
    if not values:
        return None
    return min(values, key=lambda v: (abs(v - preferred), v))


def _paired(paired: pd.DataFrame, metric: str, **keys: Any) -> dict[str, Any] | None:
    keys = {"psi": np.nan, **keys}
    sub = paired[paired["metric"] == metric]
    sub = sub[_select(sub, keys)]
    if sub.empty:
        return None
    row = sub.iloc[0].to_dict()
    return row if row["n"] > 0 else None


def _objectives(agg: pd.DataFrame) -> list[str]:
    present = set(agg["objective"])
    return [o for o in F_GAN_OBJECTIVES if o in present]


# ---------------------------------------------------------------- the claims

def soft_truncation(agg: pd.DataFrame, paired: pd.DataFrame) -> Verdict:
    """The smallest σ < 1 raises precision and lowers recall against σ = 1 and the largest
    σ > 1 does the reverse (paired, per objective); no σ raises both significantly."""
    units, both_up = [], []
    for obj in _objectives(agg):
        sigmas = [s for s in values_of(paired, "sigma", objective=obj, sampler="none") if s != 1]
        for sigma in sigmas:
            dp = _paired(paired, "precision", objective=obj, sampler="none", sigma=sigma)
            dr = _paired(paired, "recall", objective=obj, sampler="none", sigma=sigma)
            if dp is None or dr is None:
                continue
            sp, sr = sign(dp["lo"], dp["hi"]), sign(dr["lo"], dr["hi"])
            if sp == 1 and sr == 1:
                both_up.append(f"{obj} σ={sigma:g}")
            if sigma not in (min(sigmas), max(sigmas)):
                continue
            want = (1, -1) if sigma < 1 else (-1, 1)
            if sp == 1 and sr == 1:
                v = CONTRADICTED        # both raised: the claim says never
            elif (sp, sr) == want:
                v = SUPPORTED
            elif (sp, sr) == (-want[0], -want[1]):
                v = CONTRADICTED        # the trade goes the other way
            else:
                v = INCONCLUSIVE
            units.append({"objective": obj, "sigma": sigma, "verdict": v,
                          "d_precision": dp["mean"], "d_recall": dr["mean"],
                          "text": f"{obj} σ={sigma:g}: ΔP {fmt_ci(dp['mean'], dp['lo'], dp['hi'])}"
                                  f", ΔR {fmt_ci(dr['mean'], dr['lo'], dr['hi'])}"})
    verdicts = [u["verdict"] for u in units] + [CONTRADICTED] * bool(both_up)
    verdict = combine(verdicts)
    if units:
        n_ok = sum(u["verdict"] == SUPPORTED for u in units)
        summary = (f"{n_ok} of {len(units)} (objective, extreme σ) comparisons with σ = 1 trade "
                   f"significantly in the expected direction; "
                   + (f"both raised at {', '.join(both_up)}" if both_up else
                      "no σ raises both significantly"))
    else:
        summary = "no σ ≠ 1 cells"
    return Verdict("SoftTruncation", "Soft truncation trades precision for recall (σ < 1 vs "
                   "σ > 1) and never raises both", "student report §4", verdict, summary,
                   tuple(units))


def drs_precision(agg: pd.DataFrame, paired: pd.DataFrame,
                  gamma: float | None = None) -> Verdict:
    """DRS raises precision (paired, vs plain) while acceptance stays ≥ HIGH_ACCEPTANCE."""
    gammas = values_of(agg, "gamma", sampler="drs")
    gamma = pick(gammas, REFERENCE_GAMMA) if gamma is None else gamma
    units = []
    for obj in _objectives(agg):
        if gamma is None:
            break
        dp = _paired(paired, "precision", objective=obj, sampler="drs", sigma=1.0, gamma=gamma)
        acc = lookup(agg, "acceptance_rate", objective=obj, sampler="drs", sigma=1.0, gamma=gamma)
        if dp is None or acc is None:
            continue
        sp = sign(dp["lo"], dp["hi"])
        acc_lo = acc["lo"] if np.isfinite(acc["lo"]) else acc["mean"]
        acc_hi = acc["hi"] if np.isfinite(acc["hi"]) else acc["mean"]
        if sp == -1 or acc_hi < HIGH_ACCEPTANCE:
            v = CONTRADICTED
        elif sp == 1 and acc_lo >= HIGH_ACCEPTANCE:
            v = SUPPORTED
        else:
            v = INCONCLUSIVE
        units.append({"objective": obj, "verdict": v, "d_precision": dp["mean"],
                      "acceptance": acc["mean"],
                      "text": f"{obj}: ΔP {fmt_ci(dp['mean'], dp['lo'], dp['hi'])}, "
                              f"acceptance {acc['mean']:.1%}"})
    verdict = combine([u["verdict"] for u in units])
    evidence = (f"γ = {gamma:g}: " + "; ".join(u["text"] for u in units)) if units else \
        "no DRS cells"
    return Verdict("DRSPrecision", f"DRS raises precision while keeping a high acceptance rate "
                   f"(≥ {HIGH_ACCEPTANCE:.0%})", "student report §5.3", verdict, evidence,
                   tuple(units))


def obrs_budget(agg: pd.DataFrame, paired: pd.DataFrame) -> Verdict:
    """OBRS at the largest budget K vs the plain sampler: precision up, recall within tolerance."""
    units = []
    for obj in _objectives(agg):
        budgets = [k for k in values_of(paired, "budget", objective=obj, sampler="obrs")
                   if _paired(paired, "precision", objective=obj, sampler="obrs", budget=k)]
        if not budgets:
            continue
        k = max(budgets)
        dp = _paired(paired, "precision", objective=obj, sampler="obrs", sigma=1.0, budget=k)
        dr = _paired(paired, "recall", objective=obj, sampler="obrs", sigma=1.0, budget=k)
        if dp is None or dr is None:
            continue
        sp = sign(dp["lo"], dp["hi"])
        r_hi = dr["hi"] if np.isfinite(dr["hi"]) else math.inf
        # monotone in K: Spearman correlation of mean precision with K (descriptive)
        ks = values_of(agg, "budget", objective=obj, sampler="obrs")
        means = [lookup(agg, "precision", objective=obj, sampler="obrs", budget=b) for b in ks]
        pts = [(b, m["mean"]) for b, m in zip(ks, means) if m is not None]
        rho = _spearman(pts)
        if sp == -1 or r_hi < -RECALL_TOLERANCE:
            v = CONTRADICTED
        elif sp == 1 and dr["mean"] >= -RECALL_TOLERANCE:
            v = SUPPORTED
        else:
            v = INCONCLUSIVE
        units.append({"objective": obj, "budget": k, "verdict": v, "d_precision": dp["mean"],
                      "d_recall": dr["mean"], "spearman": rho,
                      "text": f"{obj} K={k:g}: ΔP {fmt_ci(dp['mean'], dp['lo'], dp['hi'])}, "
                              f"ΔR {fmt_ci(dr['mean'], dr['lo'], dr['hi'])}, "
                              f"Spearman(K, P) {fmt_rho(rho)}"})
    evidence = "; ".join(u["text"] for u in units) if units else "no OBRS cells"
    return Verdict("OBRSBudget", f"OBRS raises precision at nearly fixed recall (drop ≤ "
                   f"{RECALL_TOLERANCE:g}) as the budget K grows", "lecture (Verine et al.)",
                   combine([u["verdict"] for u in units]), evidence, tuple(units))


def _spearman(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return float("nan")
    from scipy.stats import spearmanr
    x, y = zip(*points)
    if np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def lambda_tradeoff(agg: pd.DataFrame, paired: pd.DataFrame) -> Verdict:
    """λ-PR: precision rises and recall falls from the smallest to the largest λ (Welch CIs)."""
    ref = {**pr_reference(agg), "sampler": "none", "sigma": 1.0}
    lams = [lam for lam in values_of(agg, "lam", **ref)
            if lookup(agg, "precision", **ref, lam=lam)]
    if len(lams) < 2:
        return Verdict("LambdaTradeoff", "For λ-PR, precision rises and recall falls as λ grows",
                       "lecture (Verine et al.)", INCONCLUSIVE,
                       "fewer than two λ values with results")
    lo_l, hi_l = min(lams), max(lams)
    parts, signs = [], {}
    units = []
    for metric in ("precision", "recall"):
        a = lookup(agg, metric, **ref, lam=hi_l)
        b = lookup(agg, metric, **ref, lam=lo_l)
        w = welch(a["mean"], a["std"], a["n"], b["mean"], b["std"], b["n"])
        signs[metric] = sign(w["lo"], w["hi"])
        pts = []
        for lam in lams:
            m = lookup(agg, metric, **ref, lam=lam)
            pts.append((lam, m["mean"]))
        rho = _spearman(pts)
        parts.append(f"{metric} λ={hi_l:g} − λ={lo_l:g}: {fmt_ci(w['diff'], w['lo'], w['hi'])} "
                     f"(Welch), Spearman(λ, {metric}) {fmt_rho(rho)}")
        units.append({"metric": metric, "diff": w["diff"], "lo": w["lo"], "hi": w["hi"],
                      "spearman": rho})
    if signs["precision"] == -1 or signs["recall"] == 1:
        v = CONTRADICTED
    elif signs["precision"] == 1 and signs["recall"] == -1:
        v = SUPPORTED
    else:
        v = INCONCLUSIVE
    return Verdict("LambdaTradeoff", "For λ-PR, precision rises and recall falls as λ grows",
                   "lecture (Verine et al.)", v, "; ".join(parts), tuple(units))


def rkl_vs_kl(agg: pd.DataFrame, paired: pd.DataFrame) -> Verdict:
    """RKL has higher precision than KL and KL higher recall than RKL (plain sampler, σ = 1)."""
    key = dict(sampler="none", sigma=1.0)
    parts, signs = [], []
    for metric, hi_obj, lo_obj in (("precision", "rkl", "kl"), ("recall", "kl", "rkl")):
        a = lookup(agg, metric, objective=hi_obj, **key)
        b = lookup(agg, metric, objective=lo_obj, **key)
        if a is None or b is None:
            return Verdict("RKLvsKL", "RKL favours precision and KL recall", "student report §3",
                           INCONCLUSIVE, f"missing {metric} for {hi_obj if a is None else lo_obj}")
        w = welch(a["mean"], a["std"], a["n"], b["mean"], b["std"], b["n"])
        signs.append(sign(w["lo"], w["hi"]))
        parts.append(f"{metric} {hi_obj} − {lo_obj}: {fmt_ci(w['diff'], w['lo'], w['hi'])}")
    v = CONTRADICTED if -1 in signs else (SUPPORTED if signs == [1, 1] else INCONCLUSIVE)
    return Verdict("RKLvsKL", "RKL favours precision and KL recall", "student report §3, §5.3",
                   v, "; ".join(parts) + " (Welch)")


def kl_drs_best_fid(agg: pd.DataFrame, paired: pd.DataFrame,
                    gamma: float | None = None, budget: float | None = None) -> Verdict:
    """Among the Table-1 configurations, KL + DRS has the lowest FID (Welch vs the runner-up)."""
    configs = table1_configs(agg, gamma, budget)
    stats = []
    for obj, sampler, sel in configs:
        row = lookup(agg, "fid", objective=obj, **sel)
        if row is not None:
            stats.append((obj, sampler, row))
    kl = [s for s in stats if s[0] == "kl" and s[1] == "drs"]
    others = [s for s in stats if not (s[0] == "kl" and s[1] == "drs")]
    if not kl or not others:
        return Verdict("KLDRSBestFID", "KL with DRS gives the best FID", "student report §5.3",
                       INCONCLUSIVE, "KL + DRS or the other configurations are missing")
    k = kl[0][2]
    best_other = min(others, key=lambda s: s[2]["mean"])
    o = best_other[2]
    w = welch(o["mean"], o["std"], o["n"], k["mean"], k["std"], k["n"])  # > 0: KL+DRS better
    s = sign(w["lo"], w["hi"])
    v = SUPPORTED if s == 1 else (CONTRADICTED if s == -1 else INCONCLUSIVE)
    evidence = (f"KL+DRS FID {k['mean']:.1f}; best other {best_other[0]}+{best_other[1]} "
                f"{o['mean']:.1f}; difference (other − KL+DRS) "
                f"{fmt_ci(w['diff'], w['lo'], w['hi'], 1)} (Welch)")
    return Verdict("KLDRSBestFID", "KL with DRS gives the best FID", "student report §5.3", v,
                   evidence)


def table1_configs(agg: pd.DataFrame, gamma: float | None = None,
                   budget: float | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(objective, sampler, selector) of Table 1's rows: each f-GAN objective × plain, DRS at the
    reference γ, OBRS at the reference K, all at σ = 1."""
    gamma = pick(values_of(agg, "gamma", sampler="drs"), REFERENCE_GAMMA) if gamma is None \
        else gamma
    budget = pick(values_of(agg, "budget", sampler="obrs"), REFERENCE_BUDGET) if budget is None \
        else budget
    out = []
    for obj in _objectives(agg):
        out.append((obj, "none", {"sampler": "none", "sigma": 1.0}))
        if gamma is not None:
            out.append((obj, "drs", {"sampler": "drs", "sigma": 1.0, "gamma": gamma}))
        if budget is not None:
            out.append((obj, "obrs", {"sampler": "obrs", "sigma": 1.0, "budget": budget}))
    return out


CLAIMS: tuple[Callable[[pd.DataFrame, pd.DataFrame], Verdict], ...] = (
    soft_truncation, drs_precision, obrs_budget, lambda_tradeoff, rkl_vs_kl, kl_drs_best_fid,
)


def check_all(agg: pd.DataFrame, paired: pd.DataFrame) -> list[Verdict]:
    """Every claim of the seeds, in the order of the paper's claims table."""
    return [claim(agg, paired) for claim in CLAIMS]
