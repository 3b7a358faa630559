"""repro.evaluation: the one protocol (reference subset, metrics) of curves and evaluation cells."""

from __future__ import annotations

import numpy as np
import pytest

from repro import evaluation
from repro.evaluation import EvalSettings


def test_the_reference_subset_is_a_seeded_sorted_draw_without_replacement() -> None:
    idx = evaluation.subset(1000, 100, seed=3)
    assert len(idx) == len(set(idx)) == 100 and (np.diff(idx) > 0).all() and idx.max() < 1000
    np.testing.assert_array_equal(idx, evaluation.subset(1000, 100, seed=3))  # deterministic
    assert not np.array_equal(idx, evaluation.subset(1000, 100, seed=4))  # per evaluation seed
    # the ceiling's held-out draw is another stream: not the reference's indices
    assert not np.array_equal(idx, evaluation.subset(1000, 100, seed=3, stream=evaluation.HELD_OUT_SEED))
    real = np.arange(1000.0)[:, None]
    np.testing.assert_array_equal(evaluation.reference_subset(real, 100, 3)[:, 0], idx)


def test_the_ceiling_uses_the_split_that_is_not_the_reference() -> None:
    assert evaluation.held_out_split("test") == "val"
    assert evaluation.held_out_split("val") == "test"


def test_a_sample_scored_against_itself_is_perfect() -> None:
    x = np.random.default_rng(0).normal(size=(300, 8))
    settings = EvalSettings(prd_clusters=5, prd_runs=2, prd_angles=101)
    out, curve = evaluation.score(x, x, settings, seed=0)
    assert out["fid"] == pytest.approx(0.0, abs=1e-8)
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0
    assert out["f8"] == pytest.approx(1.0, abs=1e-6) and out["f1_8"] == pytest.approx(1.0, abs=1e-6)
    assert curve is not None and len(curve[0]) == 101


def test_the_curve_computes_the_cheap_metrics_only_and_probabilities_add_mode_coverage() -> None:
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(200, 4)), rng.normal(0.5, 1.0, size=(200, 4))
    out, curve = evaluation.score(real, fake, EvalSettings(), seed=0, full=False)
    assert set(out) == set(evaluation.CURVE_METRICS) and curve is None
    one_class = np.tile(np.eye(10)[0], (200, 1))  # every generated image read as class 0
    balanced = np.eye(10)[np.arange(200) % 10]  # the real images spread over the ten classes
    out, _ = evaluation.score(real, fake, EvalSettings(), seed=0, full=False, probs=(one_class, balanced))
    assert out["classes_covered"] == 1 and out["class_kl"] > 1 and out["inception_score"] == pytest.approx(1.0)
