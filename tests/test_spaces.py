"""A second feature space (docs/maths.md §7.2): the autoencoder's code, scoring in it, and the
ledger's verdicts in both spaces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from repro import evaluation
from repro.analysis.claims import Source, Verdict, with_spaces
from repro.analysis.claims.core import compared_in_spaces
from repro.core.config import load
from repro.core.errors import ConfigError, ReproError
from repro.core.vocab import FEATURE_SPACES, PRIMARY_SPACE
from repro.data import autoencoder, datasets, spaces
from repro.harness.store import space_metrics
from repro.report import tables


@pytest.fixture(scope="module")
def mnist() -> datasets.Dataset:
    return datasets.load("mnist")


@pytest.fixture(scope="module")
def ae(mnist: datasets.Dataset):
    return spaces.load(mnist, "autoencoder")


def test_the_registry_is_the_vocabulary() -> None:
    assert tuple(spaces.SPACES) == FEATURE_SPACES and FEATURE_SPACES[0] == PRIMARY_SPACE == "classifier"
    assert spaces.default_config("autoencoder")["feature_dim"] == 32


def test_the_autoencoder_code_holds_the_classes_without_labels(ae, mnist: datasets.Dataset) -> None:
    """It reconstructs the digits, no code unit is dead, and a 1-NN rule in its 32-d code labels
    most test images right (chance: 10 %), though it never saw a label."""
    assert ae.dim == 32 and not ae.has_classes
    assert ae.info["test_mse"] < 0.01 and ae.info["dead_units_test"] == 0
    assert ae.info["knn_accuracy_test"] > 0.9
    feats = ae.embed(mnist.test.images[:500])
    assert feats.shape == (500, 32) and np.isfinite(feats).all()
    # the same images as uint8, as floats in [0, 1] and in [-1, 1]: one embedding
    x = mnist.test.images[:64]
    f01 = ae.embed(x.astype(np.float32) / 255)
    np.testing.assert_allclose(ae.embed(x), f01, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ae.embed(x.astype(np.float32) / 127.5 - 1, value_range=(-1.0, 1.0)), f01,
                               rtol=1e-4, atol=1e-4)


def test_a_space_without_classes_refuses_class_probabilities(ae, mnist: datasets.Dataset) -> None:
    with pytest.raises(ReproError, match="no classes"):
        ae.probs(mnist.test.images[:4])
    with pytest.raises(ReproError, match="no classes"):
        ae.probs_from_features(np.zeros((4, 32), np.float32))


def test_autoencoder_training_is_bitwise_reproducible(mnist: datasets.Dataset) -> None:
    """Same config → same weights, whatever the caller's thread count and global RNG state."""
    small = dataclasses.replace(mnist, train=datasets.Split(mnist.train.images[:512], mnist.train.labels[:512]),
                                val=datasets.Split(mnist.val.images[:128], mnist.val.labels[:128]),
                                test=datasets.Split(mnist.test.images[:128], mnist.test.labels[:128]))
    cfg = autoencoder.AutoencoderConfig(channels=(4, 8), feature_dim=8, epochs=1, batch_size=64)
    before = torch.get_num_threads()
    weights = []
    for threads, seed in ((1, 0), (2, 123)):
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        model, info = autoencoder.train_autoencoder(small, cfg, torch.device("cpu"), progress=False)
        weights.append(model.state_dict())
        assert torch.get_num_threads() == threads and info["space"] == "autoencoder"
    torch.set_num_threads(before)
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), k


def test_nearest_neighbour_accuracy_counts_the_nearest_label() -> None:
    train = np.array([[0.0], [10.0]])
    assert autoencoder.nearest_neighbour_accuracy(train, np.array([0, 1]), np.array([[1.0], [9.0], [4.0]]),
                                                  np.array([0, 1, 1])) == pytest.approx(2 / 3)


def test_scoring_in_another_space_uses_the_same_reference(ae, mnist: datasets.Dataset) -> None:
    """The reference subset itself as the sample: FID 0 and precision = recall = 1 (the identity);
    held-out real images: the ceiling, near 1 but below."""
    settings = evaluation.EvalSettings(n_samples=500, prd_runs=1)
    real = evaluation.reference_subset(ae.real_features(mnist, "test"), 500, 0)
    same, _ = evaluation.measure_in(ae, mnist, real, settings, 0)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    held = ae.real_features(mnist, "val")[evaluation.subset(10_000, 500, 0, evaluation.HELD_OUT_SEED)]
    ceiling, _ = evaluation.measure_in(ae, mnist, held, settings, 0)
    assert set(ceiling) == {"fid", "precision", "recall", "density", "coverage", "f8", "f1_8"}
    assert 0.7 < ceiling["precision"] < 1 and 0.7 < ceiling["recall"] < 1 and ceiling["fid"] > 0


@pytest.mark.parametrize("value", [["autoencoder"], ["classifier", "pixels"], [], ["classifier", "classifier"],
                                   ["autoencoder", "classifier"]])
def test_a_bad_list_of_spaces_names_the_field_and_the_choices(value) -> None:
    with pytest.raises(ConfigError, match=r"evaluate\.feature_spaces: .*classifier, autoencoder, the first 'classifier'"):
        load(evaluation.EvalSettings, {"feature_spaces": value}, "evaluate")


def test_a_cell_in_another_space_keeps_the_class_metrics_of_the_classifier() -> None:
    result = {"metrics": {"fid": 100.0, "recall": 0.5, "inception_score": 8.0, "class_kl": 0.01,
                          "fid_rebalanced": 90.0, "ratio_class_gap": 0.2},
              "spaces": {"autoencoder": {"fid": 3.0, "recall": 0.6}}}
    assert space_metrics(result) == result["metrics"]
    assert space_metrics(result, "autoencoder") == {"fid": 3.0, "recall": 0.6, "inception_score": 8.0,
                                                   "class_kl": 0.01, "ratio_class_gap": 0.2}
    assert space_metrics({"metrics": {"fid": 1.0}}, "autoencoder") == {}


def _verdict(key: str, verdict: str, evidence: str, gated: bool = False) -> Verdict:
    return Verdict(key, f"claim {key}", Source("report", "§1", "a sentence"), "a test", verdict, evidence, gated=gated)


def test_each_verdict_carries_its_verdict_in_the_other_space() -> None:
    primary = [_verdict("A", "supported", "d 0.1 [0.05, 0.15]"), _verdict("B", "inconclusive", "IS 0.2 [-1, 1]"),
               _verdict("C", "contradicted", "d -0.2 [-0.3, -0.1]"), _verdict("D", "untestable", "no cells"),
               _verdict("E", "supported", "x", gated=True)]
    other = [_verdict("A", "inconclusive", "d 0.3 [-0.1, 0.7]"), _verdict("B", "inconclusive", "IS 0.2 [-1, 1]"),
             _verdict("C", "contradicted", "d -0.5 [-0.9, -0.1]"), _verdict("D", "untestable", "no cells"),
             _verdict("E", "supported", "x", gated=True)]
    both = with_spaces(primary, {"autoencoder": other})
    assert [v.depends_on_space for v in both] == [True, False, False, False, False]
    assert [v.same_evidence for v in both] == [False, True, False, True, True]
    assert both[0].as_dict()["spaces"] == {"autoencoder": {"verdict": "inconclusive", "evidence": "d 0.3 [-0.1, 0.7]",
                                                           "same": False}}
    assert [v.key for v in compared_in_spaces(both)] == ["A", "B", "C"]  # decided, and not gated
    assert not with_spaces(primary, {})[0].spaces and not with_spaces(primary, {})[0].depends_on_space
    claims = tables.build_claims(both)
    assert "autoencoder: \\textit{inconclusive}" in claims.rows[0]["cells"][1]
    assert "autoencoder: same" in claims.rows[1]["cells"][1] and "other feature space" in claims.caption
    table = tables.build_spaces(both)
    assert [row["cells"][-1] for row in table.rows] == ["differs", "same evidence", "same"]  # differing first
    assert table.header[:3] == ["Statement", "Classifier", "Autoencoder"]
    assert not tables.build_spaces(primary).rows  # a study in one space has no such table


def test_evaluate_scores_in_the_spaces_asked_for(mnist: datasets.Dataset) -> None:
    """``repro.evaluate``: the classifier's metrics as before, and each other space's as <space>_<metric>."""
    images = mnist.val.images[:300]
    alone = evaluation.evaluate(images)
    both = evaluation.evaluate(images, feature_spaces=("classifier", "autoencoder"))
    assert {k: v for k, v in both.items() if not k.startswith("autoencoder_")} == alone
    assert {k for k in both if k.startswith("autoencoder_")} == {
        f"autoencoder_{m}" for m in ("fid", "precision", "recall", "density", "coverage", "f8", "f1_8")}
    with pytest.raises(ConfigError, match="feature_spaces: .*the first 'classifier'"):
        evaluation.evaluate(images, feature_spaces=("autoencoder",))
