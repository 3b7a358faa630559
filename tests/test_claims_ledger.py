"""repro.analysis.claims (the ledger's checks beyond the first seven): each reaches its verdicts on small
synthetic results built for it, and every statement carries a verbatim quote and a test."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from repro.analysis import aggregate as A, claims as C
from repro.analysis.claims import core
from repro.core.vocab import CEILING
from repro.report.macros import _claim_macros

sys.path.insert(0, str(Path(__file__).parent))
from test_claims import JITTER, NOISE, frames, model  # noqa: E402

def test_every_statement_has_a_quote_a_source_and_a_test() -> None:
    keys = [s.key for s in C.STATEMENTS]
    assert len(set(keys)) == len(keys) and all(k.isalpha() for k in keys)
    for s in C.STATEMENTS:
        assert s.source.document in C.DOCUMENTS and s.source.where and len(s.source.quote) > 20
        assert s.claim and s.test and callable(s.check)


def test_claims_json_record_has_the_ledger_fields() -> None:
    v = C.check_all(*frames(model("bce", 0.8, 0.7)))[0]
    record = json.loads(json.dumps(v.as_dict()))
    assert {"key", "claim", "source", "test", "verdict", "evidence"} <= set(record)
    assert set(record["source"]) == {"document", "reference", "where", "quote"}


def test_statements_this_setting_cannot_decide_stay_untestable_with_their_reason() -> None:
    """The untestable() entries answer 'untestable' with a reason even on a study with every cell
    kind, so a reader finds the sentence answered rather than dropped (docs/maths.md §9.3)."""
    frames_all = objectives_frames()
    fixed = [s for s in C.STATEMENTS if s.test.startswith("none: untestable")]
    assert {s.key for s in fixed} >= {"UnstableFGANs", "DRSSoftTruncationAcceptance", "LambdaFromScratch"}
    for s in fixed:
        outcome = s.check(*frames_all)
        assert outcome.verdict == C.UNTESTABLE and len(outcome.evidence) > 40


# ---------------------------------------------------------------- objectives

FGANS = {"js": (0.80, 0.70), "kl": (0.78, 0.80), "rkl": (0.85, 0.55)}


def objectives_frames(bce=(0.9, 0.5), fgans=FGANS, jitter=JITTER, **cell):
    rows = model("bce", *bce, jitter=jitter, **cell)
    for obj, (p, r) in fgans.items():
        rows += model(obj, p, r, jitter=jitter, coverage=r, f1_8=p, f8=r, **cell)
    return frames(rows)


def test_bce_realistic() -> None:
    assert C.bce_realistic(*objectives_frames()).verdict == C.SUPPORTED
    assert C.bce_realistic(*objectives_frames(bce=(0.7, 0.9))).verdict == C.CONTRADICTED
    assert C.bce_realistic(*objectives_frames(jitter=NOISE, bce=(0.82, 0.78))).verdict == C.INCONCLUSIVE


def test_theory_kl_diverse_rkl_precise() -> None:
    assert C.fgan_theory(*objectives_frames()).verdict == C.SUPPORTED
    swapped = {"js": (0.80, 0.70), "kl": (0.85, 0.55), "rkl": (0.78, 0.80)}
    assert C.fgan_theory(*objectives_frames(fgans=swapped)).verdict == C.CONTRADICTED
    # coverage: KL covers most, RKL least
    assert C.kl_full_coverage(*objectives_frames()).verdict == C.SUPPORTED
    assert C.rkl_mode_collapse(*objectives_frames()).verdict == C.SUPPORTED
    assert C.rkl_mode_collapse(*objectives_frames(fgans=swapped)).verdict == C.CONTRADICTED


def test_kl_best_on_the_pr_curve_uses_the_prd_summaries() -> None:
    # k-NN precision says RKL is the most precise; the PRD ends say KL: the claim reads the PRD
    fgans = {"js": (0.80, 0.70), "kl": (0.78, 0.80), "rkl": (0.85, 0.55)}
    agg, paired = objectives_frames(fgans=fgans)
    assert C.kl_best_prd(agg, paired).verdict == C.CONTRADICTED  # f1_8 = precision here: RKL's is higher
    rows = model("bce", 0.9, 0.5)
    for obj, (f18, f8) in {"js": (0.8, 0.7), "kl": (0.9, 0.8), "rkl": (0.85, 0.6)}.items():
        rows += model(obj, 0.5, 0.5, f1_8=f18, f8=f8)
    assert C.kl_best_prd(*frames(rows)).verdict == C.SUPPORTED


def test_objective_claims_under_drs_use_the_table_1_operating_point() -> None:
    drs = dict(sampler="drs", gamma_convention="acceptance", target_acceptance=0.88, discriminator="refit")
    rows = []
    for obj, (r, fid) in {"bce": (0.7, 60.0), "js": (0.72, 55.0), "kl": (0.8, 30.0), "rkl": (0.5, 58.0)}.items():
        rows += model(obj, 0.8, r, fid=fid, **drs)
    agg, paired = frames(rows)
    assert C.rkl_lowest_recall_drs(agg, paired).verdict == C.SUPPORTED
    assert C.bce_js_between_drs(agg, paired).verdict == C.SUPPORTED
    assert "DRS at 88% acceptance" in C.bce_js_between_drs(agg, paired).evidence
    assert C.rkl_lowest_recall_drs(*objectives_frames()).verdict == C.UNTESTABLE  # no DRS cells


# ---------------------------------------------------------------- truncation: the PR curve and σ

def prd_sigma_frames(df18_low: float, df8_low: float, df18_high: float, df8_high: float):
    rows = model("kl", 0.8, 0.7, f1_8=0.8, f8=0.7)
    for sigma, d18, d8 in ((0.5, df18_low, df8_low), (2.0, df18_high, df8_high)):
        rows += [{**r, "f1_8": 0.8 + d18 + j, "f8": 0.7 + d8 - j}
                 for r, j in zip(model("kl", 0.8, 0.7, sigma=sigma), JITTER)]
    return frames(rows)


def test_prd_misses_the_sigma_trend() -> None:
    assert C.prd_misses_sigma_trend(*prd_sigma_frames(0.05, -0.05, -0.05, 0.05)).verdict == C.CONTRADICTED
    assert C.prd_misses_sigma_trend(*prd_sigma_frames(-0.05, -0.05, -0.05, 0.05)).verdict == C.SUPPORTED
    assert C.prd_misses_sigma_trend(*prd_sigma_frames(0.05, 0.0, -0.05, 0.05)).verdict == C.NOT_CONTRADICTED


# ---------------------------------------------------------------- DRS

def test_report_gamma_rule_cannot_reach_its_acceptances() -> None:
    """The report's rule against its own table flags the source, whatever the study holds, and
    stays out of the tallies of verdicts about the study."""
    for frames_ in (objectives_frames(), frames(model("bce", 0.8, 0.7))):
        v = C.drs_gamma_acceptance(*frames_)
        assert v.verdict == C.SOURCE_INCONSISTENT and "11.9%" in v.evidence
    assert 1 / (1 + math.exp(2)) == pytest.approx(0.1192, abs=1e-4)
    assert "γ = 2" in next(s for s in C.STATEMENTS if s.key == "DRSGammaAcceptance").source.quote
    macros: dict[str, object] = {}
    _claim_macros(lambda name, value, escape=True: macros.__setitem__(name, value), C.check_all(*objectives_frames()))
    assert macros["NumClaimsSourceInconsistent"] == 1
    assert macros["NumClaimsThrough"] == macros["NumClaims"] - 1 - macros["NumClaimsGated"]


def selective(dp: float, dr: float, kl_fid: float = 20.0, jitter=JITTER):
    drs = dict(sampler="drs", gamma_convention="acceptance", target_acceptance=0.06, discriminator="refit")
    # the plain sampler's seeds jitter by JITTER; the selective sampler's by ``jitter``
    return frames(model("kl", 0.8, 0.7, fid=40.0) + model("bce", 0.8, 0.7, fid=30.0)
                  + model("kl", 0.8 + dp, 0.7 + dr, fid=kl_fid, jitter=jitter, **drs))


def test_drs_selective_regime() -> None:
    assert C.drs_selective_stable(*selective(0.01, -0.01)).verdict == C.SUPPORTED
    assert C.drs_selective_stable(*selective(0.10, -0.01)).verdict == C.CONTRADICTED
    assert C.drs_selective_stable(*selective(0.0, 0.0, jitter=NOISE)).verdict == C.INCONCLUSIVE
    assert C.drs_selective_best_fid(*selective(0.0, 0.0)).verdict == C.SUPPORTED
    v = C.drs_selective_best_fid(*selective(0.0, 0.0, kl_fid=35.0))
    assert v.verdict == C.CONTRADICTED and "objective=bce" in v.evidence
    assert C.drs_selective_stable(*objectives_frames()).verdict == C.UNTESTABLE
    # the real-versus-real ceiling (FID near 0) calibrates; it is not a configuration to beat
    drs = dict(sampler="drs", gamma_convention="acceptance", target_acceptance=0.06, discriminator="refit")
    with_ceiling = frames(model("kl", 0.8, 0.7, fid=40.0) + model("bce", 0.8, 0.7, fid=30.0)
                          + model("kl", 0.8, 0.7, fid=20.0, **drs) + model(CEILING, 0.86, 0.85, fid=5.0))
    v = C.drs_selective_best_fid(*with_ceiling)
    assert v.verdict == C.SUPPORTED and "objective=bce" in v.evidence


def test_drs_with_soft_truncation() -> None:
    drs = dict(sampler="drs", gamma_convention="acceptance", target_acceptance=0.88, discriminator="refit")
    rows = []
    for obj in ("js", "bce"):
        rows += model(obj, 0.90, 0.80, fid=50.0, **drs) + model(obj, 0.94, 0.76, fid=60.0, sigma=0.7, **drs)
    agg, paired = frames(rows)
    full = (("precision", 1), ("recall", -1), ("fid", 1))
    assert C.drs_soft_truncation({"js": full, "bce": full})(agg, paired).verdict == C.SUPPORTED
    assert C.drs_soft_truncation({"js": full})(*objectives_frames()).verdict == C.UNTESTABLE
    # only what a source states is required: BCE's recall rising does not count against
    # "precision increases marginally while FID deteriorates"
    rows = model("bce", 0.90, 0.80, fid=50.0, **drs) + model("bce", 0.94, 0.84, fid=60.0, sigma=0.7, **drs)
    assert C.drs_soft_truncation({"bce": (("precision", 1), ("fid", 1))})(*frames(rows)).verdict == C.SUPPORTED
    assert C.drs_soft_truncation({"bce": full})(*frames(rows)).verdict == C.CONTRADICTED
    # the σ it uses is the smallest σ < 1, as the side-by-side table
    rows += model("bce", 0.99, 0.70, fid=90.0, sigma=0.5, **drs)
    v = C.drs_soft_truncation({"bce": full})(*frames(rows))
    assert "σ = 0.5" in v.evidence and C.soft_truncation_sigma(frames(rows)[0]) == 0.5


def test_the_reports_soft_truncation_is_not_the_studys() -> None:
    v = next(s for s in C.STATEMENTS if s.key == "DRSSoftTruncation").check(*objectives_frames())
    assert v.verdict == C.UNTESTABLE and "rescales the latent vector by the discriminator" in v.evidence


# ---------------------------------------------------------------- OBRS

def obrs_frames(df18: float, df8: float, dfid: float):
    rows = model("kl", 0.8, 0.7, fid=40.0, f1_8=0.8, f8=0.7)
    for r, j in zip(model("kl", 0.8, 0.7, sampler="obrs", budget=4.0, discriminator="refit"), JITTER):
        rows.append({**r, "f1_8": 0.8 + df18 + j, "f8": 0.7 + df8 - j, "fid": 40.0 + dfid + 10 * j})
    return frames(rows)


def test_obrs_on_the_pr_curve_and_fid() -> None:
    assert C.obrs_prd(*obrs_frames(0.05, 0.0, -5.0)).verdict == C.SUPPORTED
    assert C.obrs_prd(*obrs_frames(0.05, -0.1, -5.0)).verdict == C.CONTRADICTED
    assert C.obrs_fid(*obrs_frames(0.05, 0.0, -5.0)).verdict == C.SUPPORTED
    assert C.obrs_fid(*obrs_frames(0.05, 0.0, +50.0)).verdict == C.CONTRADICTED
    # the lecture's table also has precision and recall flat: a lower FID with precision up by 0.10 is
    # not what it reads
    agg, paired = obrs_frames(0.05, 0.0, -5.0)
    rows = model("kl", 0.8, 0.7, fid=40.0) + model("kl", 0.9, 0.7, fid=35.0, sampler="obrs", budget=4.0,
                                                   discriminator="refit")
    v = C.obrs_fid(*frames(rows))
    assert v.verdict == C.CONTRADICTED and "ΔP +0.100" in v.evidence


# ---------------------------------------------------------------- λ-PR against truncation

def test_the_envelope_leaves_out_dominated_truncation_points() -> None:
    # ψ = 0.5 of the referee's example: less precision and far less recall than the parent
    points = [(0.613, 0.042), (0.651, 0.422), (0.70, 0.30)]
    assert A.pareto_envelope(points) == [(0.651, 0.422), (0.70, 0.30)]
    assert A.envelope_recall(points, 0.62) == pytest.approx(0.422)  # the parent has more of both
    assert A.envelope_recall(points, 0.6755) == pytest.approx(0.361)
    assert A.envelope_recall(points, 0.71) is None


def test_a_fine_tune_its_parent_dominates_does_not_beat_truncation() -> None:
    """The referee's case: a sorted-by-precision curve through the dominated ψ = 0.5 point gave
    λ = 0.1 a recall gain of about +0.29; on the envelope it loses to its own parent."""
    rows = model("bce", 0.651, 0.422) + model("bce", 0.613, 0.042, psi=0.5)
    rows += model("pr", 0.62, 0.40, lam=0.1, aux="rkl", gen_form="primal", init_from="bce")
    v = C.lambda_beats_truncation(*frames(rows))
    assert v.verdict == C.CONTRADICTED, v.evidence
    assert "ΔR -0.022" in v.evidence and "its parent dominates it on 4 of 4 seeds" in v.evidence


@pytest.mark.parametrize("lam_recall, verdict", [(0.55, C.SUPPORTED), (0.30, C.CONTRADICTED)])
def test_lambda_against_truncating_its_parent(lam_recall: float, verdict: str) -> None:
    rows = model("bce", 0.70, 0.50) + model("bce", 0.80, 0.30, sigma=0.5) + model("bce", 0.60, 0.60, sigma=2.0)
    pr = dict(aux="rkl", gen_form="primal", init_from="bce")
    rows += model("pr", 0.75, lam_recall, lam=10.0, **pr) + model("pr", 0.65, 0.58, lam=0.1, **pr)
    v = C.lambda_beats_truncation(*frames(rows))
    assert v.verdict == verdict, v.evidence  # the truncation curve gives recall 0.40 at P 0.75
    assert "soft-truncated (σ)" in v.evidence


def test_lambda_outside_the_truncation_range_is_untestable() -> None:
    rows = model("bce", 0.70, 0.50) + model("bce", 0.72, 0.45, sigma=0.5)
    rows += model("pr", 0.95, 0.5, lam=10.0, aux="rkl", gen_form="primal", init_from="bce")
    assert C.lambda_beats_truncation(*frames(rows)).verdict == C.UNTESTABLE


def test_lambda_against_hard_truncation_uses_the_untruncated_end() -> None:
    # ψ = 0.5 and the plain sampler (ψ = ∞) bracket the λ model's precision
    rows = model("bce", 0.70, 0.50) + model("bce", 0.80, 0.30, psi=0.5)
    rows += model("pr", 0.75, 0.55, lam=10.0, aux="rkl", gen_form="primal", init_from="bce")
    v = C.lambda_beats_truncation(*frames(rows))
    assert v.verdict == C.SUPPORTED and "hard-truncated (ψ)" in v.evidence


# ---------------------------------------------------------------- the two protocols

PARENT = (0.10, -0.10, 0.05, -0.05)  # the seed's parent model: large seed-to-seed differences


def protocols_frames(scratch_kl_minus_js: float, tuned_kl_minus_js: float):
    """KL and JS trained from scratch (seed-specific jitter only) and fine-tuned from each seed's
    BCE model (a shared per-seed offset, the parent's, on both), with given coverage differences."""
    rows = []
    for obj, shift in (("js", 0.0), ("kl", scratch_kl_minus_js), ("rkl", -0.2)):
        rows += model(obj, 0.8, 0.7, coverage=0.6 + shift)
    for obj, shift in (("bce", 0.0), ("js", 0.0), ("kl", tuned_kl_minus_js), ("rkl", -0.2)):
        rows += [{**r, "init_from": "bce", "coverage": 0.6 + shift + PARENT[r["train_seed"]] + j}
                 for r, j in zip(model(obj, 0.8, 0.7), JITTER)]
    return frames(rows)


def test_fine_tunes_of_one_parent_are_compared_paired_by_seed() -> None:
    agg, paired = protocols_frames(0.0, 0.02)
    tuned = A.protocol_view(agg, "bce")
    a = A.lookup(tuned, "coverage", objective="kl", sampler="none", sigma=1.0)
    b = A.lookup(tuned, "coverage", objective="js", sampler="none", sigma=1.0)
    welch = core.welch_test(a, b)
    assert welch["lo"] < 0 < welch["hi"]  # the parents' spread hides +0.02 between two means ...
    pair = core.objective_pair_test(A.protocol_view(paired, "bce"), "coverage", "kl", "js", sampler="none", sigma=1.0)
    assert pair["mean"] == pytest.approx(0.02) and pair["lo"] > 0  # ... which the pairs by seed show
    assert core.objective_pair_test(A.protocol_view(paired), "coverage", "kl", "js", sampler="none", sigma=1.0) is None


def test_claims_about_the_objectives_get_a_row_per_protocol() -> None:
    agg, paired = protocols_frames(-0.05, 0.02)  # from scratch KL covers less than JS, fine-tuned more
    verdicts = C.check_all(agg, paired)
    by_key = {v.key: v for v in verdicts}
    keys = [v.key for v in verdicts]
    assert keys.index("KLCoverageFromBce") == keys.index("KLCoverage") + 1
    scratch, tuned = by_key["KLCoverage"], by_key["KLCoverageFromBce"]
    assert (scratch.protocol, tuned.protocol) == ("from scratch", "fine-tuned from BCE")
    assert "coverage kl − js: -0.050" in scratch.evidence and "Welch" in scratch.evidence
    assert "coverage kl − js: +0.020" in tuned.evidence and "paired by seed" in tuned.evidence
    assert (scratch.verdict, tuned.verdict) == (C.CONTRADICTED, C.SUPPORTED)
    assert "paired by seed" in tuned.test and "Welch" in scratch.test
    # statements about one sampler or one objective keep a single row, on the from-scratch models
    assert "SoftTruncationFromBce" not in by_key and by_key["SoftTruncation"].protocol == ""
    assert sum(bool(v.protocol) for v in verdicts) == 2 * sum(s.by_protocol for s in C.STATEMENTS)
    # without fine-tunes: one row per statement, no protocol named
    plain = C.check_all(*objectives_frames())
    assert len(plain) == len(C.STATEMENTS) and not any(v.protocol for v in plain)


def test_the_training_bar_gates_each_protocol_on_its_own_models() -> None:
    agg, paired = protocols_frames(0.0, 0.02)
    quality = pd.DataFrame([{"objective": o, "variant": "", "lam": math.nan, "init_from": init, "train_seed": s,
                             "passes": not (o == "kl" and init == "bce" and s == 1),
                             "reason": "recall 0.100 < 0.35" if (o == "kl" and init == "bce" and s == 1) else ""}
                            for o in ("bce", "js", "kl", "rkl") for init in ("", "bce") for s in range(4)])
    by_key = {v.key: v for v in C.check_all(agg, paired, quality)}
    assert by_key["KLCoverageFromBce"].gated and "kl seed 1: recall 0.100 < 0.35" in by_key["KLCoverageFromBce"].evidence
    assert not by_key["KLCoverage"].gated


def test_stability_of_a_recall_that_cannot_fall_is_untestable() -> None:
    drs = dict(sampler="drs", gamma_convention="acceptance", target_acceptance=0.06, discriminator="refit")
    collapsed = frames(model("kl", 0.8, 0.01) + model("kl", 0.8, 0.01, **drs))
    v = C.drs_selective_stable(*collapsed)
    assert v.verdict == C.UNTESTABLE and "recall 0.010 is below the margin" in v.evidence
