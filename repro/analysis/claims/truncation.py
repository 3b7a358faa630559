"""Claims about soft truncation (z ~ N(0, σ²I)): the precision–recall trade along σ, that it
never raises both, and that the PR curve of Sajjadi et al. misses the trade (the report's Figure 4).
Every σ is compared with σ = 1 of the same trained model (paired by seed)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from repro.analysis.aggregate import values_of
from repro.analysis.claims.core import (
    CONTRADICTED, INCONCLUSIVE, NOT_CONTRADICTED, SUPPORTED, UNTESTABLE, Outcome, combine, fmt, objectives_present,
    paired_test, significant_signs,
)


def sigma_units(agg: pd.DataFrame, paired: pd.DataFrame, metrics: tuple[str, str] = ("precision", "recall"),
                objectives: list[str] | None = None) -> list[dict[str, Any]]:
    """(objective, σ ≠ 1) with the paired differences of ``metrics`` against σ = 1 of the same model."""
    units = []
    for obj in objectives if objectives is not None else objectives_present(agg):
        sigmas = [s for s in values_of(paired, "sigma", objective=obj, sampler="none", pairing="model") if s != 1]
        for sigma in sigmas:
            tests = [paired_test(paired, m, objective=obj, sampler="none", sigma=sigma) for m in metrics]
            if all(t is not None for t in tests):
                units.append({"objective": obj, "sigma": sigma, "dp": tests[0], "dr": tests[1],
                              "extreme": sigma in (min(sigmas), max(sigmas))})
    return units


def soft_truncation(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """The smallest σ < 1 raises precision and lowers recall against σ = 1 and the largest
    σ > 1 does the reverse (paired, per objective; Holm over every ΔP and ΔR tested)."""
    units = [u for u in sigma_units(agg, paired) if u["extreme"]]
    signs = significant_signs([t for u in units for t in (u["dp"], u["dr"])],
                              [e for u in units for e in ((1, -1) if u["sigma"] < 1 else (-1, 1))])
    out = []
    for i, u in enumerate(units):
        sp, sr = signs[2 * i], signs[2 * i + 1]
        want = (1, -1) if u["sigma"] < 1 else (-1, 1)
        v = SUPPORTED if (sp, sr) == want else (CONTRADICTED if sp == -want[0] or sr == -want[1] else INCONCLUSIVE)
        out.append({"objective": u["objective"], "sigma": u["sigma"], "verdict": v,
                    "d_precision": u["dp"]["mean"], "d_recall": u["dr"]["mean"],
                    "text": f"{u['objective']} σ={u['sigma']:g}: ΔP {fmt(u['dp'])}, ΔR {fmt(u['dr'])}"})
    if not out:
        return Outcome(UNTESTABLE, "no σ ≠ 1 cells")
    n_ok = sum(u["verdict"] == SUPPORTED for u in out)
    return Outcome(combine([u["verdict"] for u in out]),
                   f"{n_ok} of {len(out)} (objective, extreme σ) comparisons with σ = 1 trade significantly in the "
                   f"expected direction (each at 5 %; against it, Holm over {2 * len(out)} tests): " + "; ".join(u["text"] for u in out),
                   tuple(out))


def soft_truncation_never_both(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """No σ raises precision and recall together (Holm over every σ ≠ 1 tested). Without an
    equivalence margin, "never" can be contradicted but not shown: the verdict is at best
    ``not contradicted``."""
    units = sigma_units(agg, paired)
    if not units:
        return Outcome(UNTESTABLE, "no σ ≠ 1 cells")
    # both raised is the counter-example: a union over units, so Holm (expected: not raised)
    signs = significant_signs([t for u in units for t in (u["dp"], u["dr"])], [-1] * (2 * len(units)))
    both = [f"{u['objective']} σ={u['sigma']:g}" for i, u in enumerate(units)
            if signs[2 * i] == 1 and signs[2 * i + 1] == 1]
    if both:
        return Outcome(CONTRADICTED, f"both raised at {', '.join(both)}")
    return Outcome(NOT_CONTRADICTED, f"no σ of {len(units)} (objective, σ) cells raises both significantly (Holm over "
                   f"{2 * len(units)} tests)")


def prd_misses_sigma_trend(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """For the KL model, the PR curve's ends (F_1/8 for precision, F_8 for recall) should fall
    and rise with σ as k-NN precision and recall do; the report says the PR curves do not show
    it. Contradicted if every σ ≠ 1 moves both PRD ends significantly the expected way (the
    curves do show the trend); supported if some end moves significantly the wrong way; not
    contradicted otherwise (an absent move is not shown absent)."""
    units = sigma_units(agg, paired, ("f1_8", "f8"), ["kl"])
    if not units:
        return Outcome(UNTESTABLE, "no KL cells with σ ≠ 1")
    tests = [t for u in units for t in (u["dp"], u["dr"])]
    expected = [e for u in units for e in ((1, -1) if u["sigma"] < 1 else (-1, 1))]
    signs = significant_signs(tests, expected)
    text = "; ".join(f"σ={u['sigma']:g}: ΔF1/8 {fmt(u['dp'])}, ΔF8 {fmt(u['dr'])}" for u in units)
    if all(s == e for s, e in zip(signs, expected)):
        v = CONTRADICTED
    elif any(s == -e for s, e in zip(signs, expected)):
        v = SUPPORTED
    else:
        v = NOT_CONTRADICTED
    n_shown = sum(s == e for s, e in zip(signs, expected))
    return Outcome(v, f"KL, against σ = 1: {text}; {n_shown} of {len(tests)} PRD moves significant the expected way "
                   f"(paired, Holm)")


__all__ = ["INCONCLUSIVE", "prd_misses_sigma_trend", "sigma_units", "soft_truncation", "soft_truncation_never_both"]
