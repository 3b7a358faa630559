"""repro.data.features: the classifier's accuracy, the embedding's contract, the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repro.data import datasets, features


@pytest.fixture(scope="module")
def mnist() -> datasets.Dataset:
    return datasets.load("mnist")


@pytest.fixture(scope="module")
def space(mnist: datasets.Dataset) -> features.FeatureSpace:
    # Trained once per fresh checkout (≈2–3 min on 2 cores), then loaded from the cache.
    return features.load_or_train(mnist, progress=False)


def test_classifier_reaches_99_percent_on_mnist_test(space: features.FeatureSpace, mnist: datasets.Dataset) -> None:
    logits = torch.as_tensor(space.probs(mnist.test.images))
    acc = float((logits.argmax(1).numpy() == mnist.test.labels).mean())
    assert acc >= 0.99
    assert space.info["test_accuracy"] == pytest.approx(acc, abs=1e-3)


def test_no_dead_feature_units_on_test_set(space: features.FeatureSpace, mnist: datasets.Dataset) -> None:
    feats = space.embed(mnist.test.images)
    assert feats.shape == (10_000, space.dim) and feats.dtype == np.float32
    assert features.dead_units(feats) == 0
    # the covariance FID uses is well conditioned
    eig = np.linalg.eigvalsh(np.cov(feats.astype(np.float64), rowvar=False))
    assert eig.min() > 0


def test_dead_units_counts_constant_columns() -> None:
    x = np.random.default_rng(0).normal(size=(100, 5))
    x[:, 1] = 3.0
    assert features.dead_units(x) == 1


def test_embedding_is_batch_size_and_input_format_independent(space: features.FeatureSpace, mnist: datasets.Dataset) -> None:
    imgs = mnist.val.images[:300]
    ref = space.embed(imgs, batch_size=256)
    np.testing.assert_allclose(space.embed(imgs, batch_size=7), ref, rtol=1e-4, atol=1e-4)
    as_float = imgs.astype(np.float32) / 255.0
    np.testing.assert_allclose(space.embed(as_float.reshape(-1, 784)), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(space.embed(torch.from_numpy(as_float)[:, None]), ref, rtol=1e-4, atol=1e-4)
    # generator outputs live in [-1, 1]
    np.testing.assert_allclose(space.embed(as_float * 2 - 1, value_range=(-1, 1)), ref, rtol=1e-4, atol=1e-4)
    # the fused inference copy computes the same features as the training module
    with torch.inference_mode():
        slow = space_model_unfused(space, mnist)(features.as_image_batch(imgs)).numpy()
    np.testing.assert_allclose(slow, ref, rtol=1e-3, atol=1e-3)


def space_model_unfused(space: features.FeatureSpace, mnist: datasets.Dataset):
    blob = torch.load(features.classifier_path(mnist, features.ClassifierConfig()), weights_only=True)
    model = features.Classifier(features.ClassifierConfig())
    model.load_state_dict(blob["state_dict"])
    return model.eval().features


def test_cache_is_reused(space: features.FeatureSpace, mnist: datasets.Dataset) -> None:
    again = features.load_or_train(mnist, progress=False)
    assert again.key == space.key
    np.testing.assert_array_equal(again.embed(mnist.test.images[:50]), space.embed(mnist.test.images[:50]))


def test_real_features_cached(space: features.FeatureSpace, mnist: datasets.Dataset) -> None:
    a = space.real_features(mnist, "val")
    b = space.real_features(mnist, "val")
    assert a.shape == (10_000, space.dim)
    np.testing.assert_array_equal(a, b)


def test_bad_image_shape_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"expected \(N, 784\)"):
        features.as_image_batch(np.zeros((4, 32, 32), np.float32))


def test_random_shift_moves_content_and_keeps_mass() -> None:
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    gen = torch.Generator().manual_seed(0)
    y = features._random_shift(x, 2, gen)
    assert y.shape == x.shape
    torch.testing.assert_close(y.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))  # the square stays inside
    assert not torch.equal(y, x)


def test_classifier_training_is_bitwise_reproducible(mnist: datasets.Dataset) -> None:
    """Same config → same weights, whatever the caller's thread count and global RNG state."""
    import dataclasses

    small = dataclasses.replace(mnist, train=datasets.Split(mnist.train.images[:1024], mnist.train.labels[:1024]),
                                val=datasets.Split(mnist.val.images[:256], mnist.val.labels[:256]),
                                test=datasets.Split(mnist.test.images[:256], mnist.test.labels[:256]))
    cfg = features.ClassifierConfig(channels=(4, 8), feature_dim=16, epochs=1, batch_size=64)
    before = torch.get_num_threads()
    weights = []
    for threads, seed in ((1, 0), (2, 123)):
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        model, _ = features.train_classifier(small, cfg, torch.device("cpu"), progress=False)
        weights.append(model.state_dict())
        assert torch.get_num_threads() == threads  # restored
    torch.set_num_threads(before)
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), k


def test_damaged_caches_are_rebuilt_not_a_traceback(space: features.FeatureSpace, mnist: datasets.Dataset,
                                                    tmp_path, monkeypatch) -> None:
    """A truncated real-feature cache is recomputed (the same numbers); a corrupt classifier file
    is trained again. Done under a copy of the cache folder, so the suite's cache is untouched."""
    import shutil

    from repro.core import runtime

    home = tmp_path / "home"
    shutil.copytree(runtime.home_dir() / "cache", home / "cache",
                    ignore=shutil.ignore_patterns("mnist-*.npz", "fashion*"))
    monkeypatch.setenv("REPRO_HOME", str(home))
    feats = space.real_features(mnist, "val")
    cached = next((home / "cache" / "features").glob(f"mnist-{space.key}-val.npy"))
    cached.write_bytes(cached.read_bytes()[:100])
    np.testing.assert_array_equal(space.real_features(mnist, "val"), feats)
    np.save(cached, feats[:10])  # readable, but not the embedding of this split: recomputed too
    np.testing.assert_array_equal(space.real_features(mnist, "val"), feats)
    # a small classifier (1 epoch, narrow) keeps the retraining short
    small = features.ClassifierConfig(channels=(4, 8), feature_dim=16, epochs=1)
    first = features.load_or_train(mnist, cfg=small, progress=False)
    clf = features.classifier_path(mnist, small)
    assert str(clf).startswith(str(home))
    clf.write_bytes(b"not a checkpoint")
    again = features.load_or_train(mnist, cfg=small, progress=False)  # trained again, bitwise the same
    assert again.info["test_accuracy"] == first.info["test_accuracy"]
    assert torch.load(clf, weights_only=True)["info"]["test_accuracy"] == first.info["test_accuracy"]


def test_probabilities_from_features_equal_a_second_forward(space: features.FeatureSpace, mnist: datasets.Dataset) -> None:
    x = mnist.test.images[:500]
    np.testing.assert_allclose(space.probs_from_features(space.embed(x)), space.probs(x), atol=1e-6)
