"""repro.analysis.quality: the training bar judged by hand, the spec's [quality] table, and the gate that
makes a claim about a model below the bar untestable (never contradicted, never supported)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_study import make_synthetic_study  # noqa: E402

from repro.analysis import quality  # noqa: E402
from repro.analysis.aggregate import aggregate_study  # noqa: E402
from repro.analysis.claims import SOURCE_INCONSISTENT, UNTESTABLE, check_all  # noqa: E402
from repro.analysis.claims.ledger import STATEMENTS  # noqa: E402
from repro.analysis.results import load_quality  # noqa: E402
from repro.harness.spec import SpecError, parse_spec  # noqa: E402

BAR = quality.QualityBar()  # recall ≥ 0.35, class KL ≤ 0.1, FID ≤ 20 × ceiling
CEILING = pd.DataFrame({"status": ["ok", "ok"], "fid": [9.0, 11.0]})  # mean 10: FID bar 200


def model(objective: str, seed: int, *, fid: float = 100.0, recall: float = 0.5, classes: float = 10.0,
          class_kl: float = 0.02, status: str = "ok", train_status: str = "ok", lam: float = math.nan,
          extra: list[dict] | None = None) -> list[dict]:
    """A trained model's rows: its plain σ = 1 evaluation, and a DRS cell the bar ignores."""
    tid = f"{objective}-{lam}-{seed}"
    base = {"objective": objective, "variant": "", "lam": lam, "init_from": "", "train_seed": seed, "train_id": tid,
            "train_status": train_status, "psi": math.nan}
    plain = {**base, "sampler": "none", "sigma": 1.0, "status": status, "fid": fid, "recall": recall,
             "classes_covered": classes, "class_kl": class_kl}
    drs = {**base, "sampler": "drs", "sigma": 1.0, "status": "ok", "fid": 5000.0, "recall": 0.0,
           "classes_covered": 1.0, "class_kl": 3.0}
    return [plain, drs, *(extra or [])]


def test_the_bar_by_hand() -> None:
    rows = (model("bce", 0) + model("kl", 1, recall=0.0) + model("rkl", 0, classes=8.0, class_kl=0.4)
            + model("js", 2, fid=250.0) + model("kl", 2, status="failed", train_status="diverged")
            + model("pr", 0, lam=10.0, recall=0.35, fid=200.0, class_kl=0.1))
    judged = quality.assess(pd.DataFrame(rows), CEILING, BAR).set_index("train_id")
    assert list(judged.columns) == [c for c in quality.QUALITY_COLUMNS if c != "train_id"]
    assert judged.loc["bce-nan-0", "passes"] and judged.loc["bce-nan-0", "reason"] == ""
    assert judged.loc["bce-nan-0", "fid_ratio"] == pytest.approx(10.0)  # 100 / mean(9, 11); the DRS row ignored
    assert judged.loc["pr-10.0-0", "passes"]  # exactly at every limit passes
    assert not judged.loc["kl-nan-1", "passes"] and judged.loc["kl-nan-1", "reason"] == "recall 0.000 < 0.35"
    assert judged.loc["rkl-nan-0", "reason"] == "8 of 10 classes hold ≥ 1 %; class KL 0.400 > 0.1"
    assert judged.loc["js-nan-2", "reason"] == "FID 250 > 20 × 10.0"
    assert judged.loc["kl-nan-2", "reason"] == "diverged in training"
    named = [quality.model_name(r) for _, r in judged.reset_index().iterrows()]
    assert "kl seed 1" in named and "pr λ=10 seed 0" in named


def test_every_evaluation_seed_must_pass_and_the_worst_figure_is_shown() -> None:
    second = {"objective": "kl", "variant": "", "lam": math.nan, "init_from": "", "train_seed": 0,
              "train_id": "kl-nan-0", "train_status": "ok", "psi": math.nan, "sampler": "none", "sigma": 1.0,
              "status": "ok", "fid": 120.0, "recall": 0.30, "classes_covered": 10.0, "class_kl": 0.03}
    judged = quality.assess(pd.DataFrame(model("kl", 0, extra=[second])), CEILING, BAR).iloc[0]
    assert judged["evaluations"] == 2 and not judged["passes"]
    assert judged["recall"] == 0.30 and judged["fid"] == 120.0 and judged["reason"] == "recall 0.300 < 0.35"
    missing = quality.assess(pd.DataFrame(model("kl", 0))[lambda f: f["sampler"] == "drs"], CEILING, BAR).iloc[0]
    assert not missing["passes"] and missing["reason"] == "no plain-sampler evaluation at σ = 1"


def test_a_stores_raw_table_without_metrics_is_judged() -> None:
    """A study whose cells all failed has no metric columns: every model fails, nothing crashes."""
    raw = pd.DataFrame([{"train_id": "a", "objective": "bce", "train_seed": 0, "sampler": "none", "sigma": 1.0,
                         "status": "failed"}])
    judged = quality.assess(raw, pd.DataFrame(), BAR)
    assert not judged["passes"].iloc[0] and judged["reason"].iloc[0] == "its evaluation failed"
    assert quality.assess(pd.DataFrame(), pd.DataFrame(), BAR).empty


def test_the_spec_states_its_bar() -> None:
    raw = {"study": {"name": "q", "seeds": [0]}, "objectives": [{"loss": "bce"}],
           "evaluate": {"blocks": [{"sampler": "none"}]}}
    assert parse_spec(raw, "q.toml").quality == quality.DEFAULT_BARS["mnist"]
    raw["quality"] = {"min_recall": 0.5}
    assert parse_spec(raw, "q.toml").quality == quality.QualityBar(min_recall=0.5)
    fashion = {**raw, "study": {"name": "f", "seeds": [0], "dataset": "fashion-mnist"}, "quality": {}}
    assert parse_spec(fashion, "f.toml").quality.min_recall == 0.30
    for bad, message in (({"recall": 0.5}, r"^quality.recall: unknown field; allowed here: max_class_kl"),
                         ({"min_recall": 1.5}, r"^quality.min_recall: 1.5 is not allowed; expected a recall"),
                         ({"max_fid_ratio": -1}, r"^quality.max_fid_ratio: -1.0 is not allowed"),
                         ({"max_class_kl": "x"}, r"^quality.max_class_kl: expected a number")):
        with pytest.raises(SpecError, match=message):
            parse_spec({**raw, "quality": bad}, "q.toml")


def test_a_claim_about_a_model_below_the_bar_is_untestable(tmp_path: Path) -> None:
    """The synthetic study with KL seed 1 below the bar: every claim that needs a KL model is
    untestable, naming the model and the figure; the claims that need no KL model keep their
    verdicts; the counts say how many were gated."""
    study = make_synthetic_study(tmp_path, seeds=3, grids=False)
    frame, agg, paired = aggregate_study(study)
    judged = load_quality(study, frame)
    before = {v.key: v for v in check_all(agg, paired, judged)}
    row = (judged["objective"] == "kl") & (judged["variant"] == "") & (judged["train_seed"] == 1)
    judged.loc[row, ["passes", "reason"]] = [False, "recall 0.000 < 0.35"]
    after = {v.key: v for v in check_all(agg, paired, judged)}
    needs_kl = {s.key for s in STATEMENTS if "kl" in s.needs}
    assert {"KLBestPRD", "FGANTheory", "KLCoverage", "DRSPrecision", "OBRSBudget"} <= needs_kl
    for key in needs_kl:
        assert after[key].verdict == UNTESTABLE and after[key].gated, key
        assert "kl seed 1: recall 0.000 < 0.35" in after[key].evidence
    for key in set(after) - needs_kl:
        assert after[key].verdict == before[key].verdict and after[key].gated == before[key].gated, key
    assert sum(v.gated for v in after.values()) > sum(v.gated for v in before.values())


def test_no_model_below_the_bar_decides_nothing(tmp_path: Path) -> None:
    """Every model below the bar (the smoke study's one-epoch models): no claim about the study is
    decided; only the check of the report against itself, which needs no model, keeps its verdict."""
    study = make_synthetic_study(tmp_path, seeds=3, grids=False)
    frame, agg, paired = aggregate_study(study)
    judged = load_quality(study, frame).assign(passes=False, reason="recall 0.010 < 0.35")
    verdicts = check_all(agg, paired, judged)
    assert {v.verdict for v in verdicts if v.key != "DRSGammaAcceptance"} == {UNTESTABLE}
    assert next(v for v in verdicts if v.key == "DRSGammaAcceptance").verdict == SOURCE_INCONSISTENT
    assert all(v.gated == bool(s.needs) for v, s in zip(verdicts, STATEMENTS, strict=True))


def test_quality_csv_says_its_bar(tmp_path: Path) -> None:
    judged = quality.with_bar(quality.assess(pd.DataFrame(model("bce", 0)), CEILING, BAR), BAR)
    path = tmp_path / quality.QUALITY_CSV
    judged.to_csv(path, index=False)
    back = load_quality(tmp_path, pd.DataFrame())
    assert quality.bar_of(back) == BAR and bool(back["passes"].iloc[0]) and back["variant"].iloc[0] == ""
    assert np.isclose(back["fid_ceiling"].iloc[0], 10.0)
