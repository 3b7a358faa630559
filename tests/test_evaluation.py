"""repro.evaluation: the one protocol (reference subset, metrics) of curves and evaluation cells."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import repro
from repro import evaluation
from repro.core.errors import ConfigError
from repro.data import datasets, features
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


# --------------------------------------------------------------------------- evaluating any samples


def _held_out(n: int, seed: int = 0) -> np.ndarray:
    """n validation images (uint8): real images the test reference has never seen."""
    val = datasets.load("mnist").val.images
    return val[evaluation.subset(len(val), n, seed, evaluation.HELD_OUT_SEED)]


def test_evaluate_scores_any_images_by_the_protocol_of_the_study_cells() -> None:
    images = _held_out(300)
    out = repro.evaluate(images, dataset="mnist", seed=3)
    assert (out["dataset"], out["reference"], out["n_samples"], out["n_reference"]) == ("mnist", "test", 300, 300)
    # the same numbers as the protocol itself (what a ceiling cell of 300 images measures)
    fs, ds = features.load_or_train("mnist", progress=False), datasets.load("mnist")
    settings = EvalSettings(n_samples=300)
    expected, _, _ = evaluation.measure(fs, ds, fs.embed(images), settings, 3)
    assert {k: out[k] for k in expected} == expected
    assert out["precision"] > 0.6 and out["recall"] > 0.6 and out["classes_covered"] == 10  # real images
    # floats in [-1, 1] (what repro sample writes) are the same images
    floats = images.astype(np.float32) / 255.0 * 2.0 - 1.0
    assert repro.evaluate(floats[:, None], seed=3)["fid"] == pytest.approx(out["fid"], rel=1e-6)


@pytest.mark.parametrize(("images", "message"), [
    (np.zeros((20, 28, 27), np.uint8), r"shape \(20, 28, 27\); expected \(N, 28, 28\)"),
    (np.zeros((20, 3, 28, 28), np.float32), r"expected \(N, 28, 28\), \(N, 1, 28, 28\) or \(N, 784\)"),
    (np.zeros((20, 28, 28), np.int32), r"dtype int32; expected uint8 in \[0, 255\] or floats in \[-1, 1\]"),
    (np.full((20, 28, 28), np.nan, np.float32), r"NaN or infinite"),
    (np.full((20, 28, 28), 200.0, np.float32), r"values in \[200, 200\], outside \[-1, 1\]"),
    (np.zeros((5, 28, 28), np.uint8), r"5 images are too few"),
])
def test_evaluate_refuses_images_it_cannot_read_in_one_clear_error(images: np.ndarray, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        repro.evaluate(images)


def test_the_cli_evaluates_an_npz_and_a_folder_of_pngs_alike(tmp_path) -> None:
    from PIL import Image

    images = _held_out(200, seed=1)
    np.savez(tmp_path / "s.npz", images=images.astype(np.float32)[:, None] / 255.0 * 2.0 - 1.0)
    (tmp_path / "pngs").mkdir()
    for i, x in enumerate(images):
        Image.fromarray(x, "L").save(tmp_path / "pngs" / f"{i:04d}.png")
    results = []
    for source, spaces in ((tmp_path / "s.npz", []), (tmp_path / "pngs", ["--feature-spaces", "classifier,autoencoder"])):
        run = subprocess.run([sys.executable, "-m", "repro", "evaluate", str(source), "--json", *spaces],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        results.append(json.loads(run.stdout.splitlines()[-1]))
    assert results[0]["fid"] == pytest.approx(results[1]["fid"], rel=1e-6) and results[1]["n_samples"] == 200
    assert "autoencoder_fid" not in results[0] and 0 < results[1]["autoencoder_recall"] <= 1
    assert results[1]["precision"] == repro.evaluate(images)["precision"]
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    for bad, message in ((tmp_path / "bad.npz", "not a readable .npz"), (tmp_path / "none", "no such file"),
                         (tmp_path / "s.npz", "--sigma applies to a training run folder"),
                         (tmp_path / "s.npz", "feature_spaces: ['pixels'] is not allowed")):
        args = [str(bad), "--sigma", "0.5"] if "sigma" in message else [str(bad)]
        args += ["--feature-spaces", "pixels"] if "pixels" in message else []
        run = subprocess.run([sys.executable, "-m", "repro", "evaluate", *args], capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr
