"""Claims about the training objectives: which f-GAN gives more precision, recall or coverage.

Different objectives are different models, so each comparison is a Welch interval between two
objectives' seeds (``core.ordering``). The KL claims need a KL that descends the forward KL
(the min–max generator form, docs/maths.md §3.3); with the non-saturating form they are
untestable.
"""

from __future__ import annotations

import pandas as pd

from repro.analysis.aggregate import lookup, values_of
from repro.analysis.claims.core import (
    UNTESTABLE, Outcome, describe, directional, fmt, objective_pair_test, objectives_present, ordering, welch_test,
)
from repro.analysis.claims.published import REPORT_TABLE_1
from repro.analysis.claims.rejection import drs_selector, published_selector

PLAIN = {"sampler": "none", "sigma": 1.0}
NOT_FORWARD_KL = ("the study's KL uses the non-saturating generator, which descends the reverse KL: "
                  "it is not the KL the statement is about")


def forward_kl_trained(agg: pd.DataFrame) -> bool:
    """Does the study's KL descend the forward KL (min–max generator form, docs/maths.md §3.3)?"""
    return "nonsaturating" not in set(values_of(agg, "gen_form", objective="kl"))


def _kl_untestable(agg: pd.DataFrame) -> Outcome | None:
    if "kl" in set(agg["objective"]) and not forward_kl_trained(agg):
        return Outcome(UNTESTABLE, NOT_FORWARD_KL)
    return None


def bce_realistic(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """BCE's precision above every f-GAN's, and its recall below the best f-GAN recall."""
    others = [o for o in objectives_present(agg) if o != "bce"]
    if "bce" not in set(agg["objective"]) or not others:
        return Outcome(UNTESTABLE, "BCE or the f-GANs are missing")
    recalls = {o: lookup(agg, "recall", objective=o, **PLAIN) for o in others}
    best = max((o for o in others if recalls[o]), key=lambda o: recalls[o]["mean"], default=None)
    if best is None:
        return Outcome(UNTESTABLE, "no f-GAN recall")
    return ordering(agg, [("precision", "bce", o) for o in others] + [("recall", best, "bce")], paired, **PLAIN)


def kl_best_prd(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """On the PR curve (Sajjadi et al.), KL's F_1/8 (precision end) and F_8 (recall end) above
    JS's and RKL's."""
    return _kl_untestable(agg) or ordering(
        agg, [(m, "kl", o) for m in ("f1_8", "f8") for o in ("js", "rkl")], paired, **PLAIN)


def fgan_theory(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """Recall KL > JS > RKL and precision RKL > JS > KL (the expectation, not the observation)."""
    return _kl_untestable(agg) or ordering(
        agg, [("recall", "kl", "js"), ("recall", "js", "rkl"), ("precision", "rkl", "js"), ("precision", "js", "kl")],
        paired, **PLAIN)


def rkl_vs_kl(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """RKL has higher precision than KL and KL higher recall than RKL (plain sampler, σ = 1)."""
    return _kl_untestable(agg) or ordering(agg, [("precision", "rkl", "kl"), ("recall", "kl", "rkl")], paired, **PLAIN)


def kl_full_coverage(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """KL's coverage (Naeem et al.'s share of real neighbourhoods holding a sample) above JS's and RKL's."""
    return _kl_untestable(agg) or ordering(agg, [("coverage", "kl", "js"), ("coverage", "kl", "rkl")], paired, **PLAIN)


def rkl_mode_collapse(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """RKL drops the most modes of the f-GANs: its class KL (the real class histogram against the
    generated one, ``metrics.class_coverage``) above every other f-GAN's; in a study without it,
    its coverage (Naeem et al.) below theirs."""
    others = [o for o in objectives_present(agg) if o not in ("rkl", "bce")]
    if "rkl" not in set(agg["objective"]) or not others:
        return Outcome(UNTESTABLE, "RKL or the other f-GANs are missing")
    if lookup(agg, "class_kl", objective="rkl", **PLAIN) is not None:
        return ordering(agg, [("class_kl", "rkl", o) for o in others], paired, **PLAIN)
    return ordering(agg, [("coverage", o, "rkl") for o in others], paired, **PLAIN)


def rkl_lowest_recall_drs(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """With DRS at the report's Table 1 operating point, RKL's recall below every other objective's."""
    sel = drs_selector(agg)
    others = [o for o in objectives_present(agg) if o != "rkl"]
    if sel is None or "rkl" not in set(agg["objective"]) or not others:
        return Outcome(UNTESTABLE, "no DRS cells for RKL and the other objectives")
    return ordering(agg, [("recall", o, "rkl") for o in others], paired, **sel)


def bce_js_between_drs(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """With DRS at the Table 1 operating point, BCE and JS have a higher FID and a lower recall than KL."""
    sel = drs_selector(agg)
    if sel is None:
        return Outcome(UNTESTABLE, "no DRS cells")
    return _kl_untestable(agg) or ordering(
        agg, [("fid", o, "kl") for o in ("bce", "js")] + [("recall", "kl", o) for o in ("bce", "js")], paired, **sel)


def kl_drs_best_fid(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """Among the rows of the report's Table 1 (JS, BCE, KL, RKL with DRS; JS and BCE with DRS and
    soft truncation), at this study's matched configurations (``rejection.published_selector``),
    KL + DRS has the lowest FID: the runner-up minus KL + DRS above zero (paired by seed where both
    are fine-tunes of one parent, Welch otherwise)."""
    bad = _kl_untestable(agg)
    if bad:
        return bad
    stats = [(row, sel, found) for row in REPORT_TABLE_1 if (sel := published_selector(agg, row)) is not None
             and (found := lookup(agg, "fid", **sel)) is not None]
    kl = [s for s in stats if s[0].objective == "kl" and not s[0].soft_truncation]
    others = [s for s in stats if s not in kl]
    if not kl or not others:
        return Outcome(UNTESTABLE, "KL + DRS or the other rows of Table 1 are missing")
    k = kl[0][2]
    row, sel, best = min(others, key=lambda s: s[2]["mean"])
    # > 0: KL + DRS better
    t = objective_pair_test(paired, "fid", row.objective, "kl", **{x: v for x, v in sel.items() if x != "objective"}) \
        if not row.soft_truncation else None
    how = "Welch" if t is None else "paired by seed"
    t = t or welch_test(best, k)
    return Outcome(directional([t], [1]), f"KL + DRS FID {k['mean']:.1f}; best other row of Table 1: "
                   f"{row.objective} {row.method} {best['mean']:.1f}; difference (other − KL + DRS) {fmt(t, 1)} "
                   f"({how}; {describe(drs_selector(agg))}; {len(others)} other rows)")
