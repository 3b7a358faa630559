"""repro.data.datasets: checksums, the restricted unpickler, IDX parsing, splits, the atomic cache."""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from repro.core.errors import DataError
from repro.core.runtime import file_sha256
from repro.data import datasets


def _idx_folder(folder: Path, n_train: int = 60, n_test: int = 12, gz: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in datasets.IDX_FILES.items():
        raw = datasets.encode_idx(arrays[key])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
    return arrays


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(dtype) -> None:
    x = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    y = datasets.parse_idx(datasets.encode_idx(x))
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(x, y)


def test_idx_header_is_big_endian_lecun_layout() -> None:
    raw = datasets.encode_idx(np.zeros((3, 28, 28), np.uint8))
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert raw[4:8] == (3).to_bytes(4, "big") and raw[8:12] == (28).to_bytes(4, "big")
    assert len(raw) == 16 + 3 * 28 * 28


@pytest.mark.parametrize("cut", [3, 10, 100])
def test_truncated_idx_refused_with_clear_message(tmp_path: Path, cut: int) -> None:
    raw = datasets.encode_idx(np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"truncated"):
        datasets.parse_idx(raw[:-cut] if cut > 3 else raw[:13], tmp_path / "x-idx3-ubyte")


def test_bad_magic_refused() -> None:
    with pytest.raises(DataError, match="not an IDX file"):
        datasets.parse_idx(b"\x1f\x8b\x08\x00junk")


def test_idx_folder_splits_last_10k_of_train_as_validation(tmp_path: Path) -> None:
    arrays = _idx_folder(tmp_path, n_train=60, n_test=12)
    splits = datasets.read_idx_folder(tmp_path)
    # fewer than 10k images: a sixth of them become the validation split
    assert len(splits["train"]) == 50 and len(splits["val"]) == 10 and len(splits["test"]) == 12
    np.testing.assert_array_equal(splits["val"].images, arrays["train_images"][50:])
    np.testing.assert_array_equal(splits["test"].labels, arrays["test_labels"])
    assert splits["train"].labels.dtype == np.int64


def test_idx_folder_plain_and_gz_agree(tmp_path: Path) -> None:
    _idx_folder(tmp_path / "a", gz=True)
    _idx_folder(tmp_path / "b", gz=False)
    a, b = datasets.read_idx_folder(tmp_path / "a"), datasets.read_idx_folder(tmp_path / "b")
    np.testing.assert_array_equal(a["train"].images, b["train"].images)


def test_corrupt_gzip_and_missing_file_name_the_file(tmp_path: Path) -> None:
    _idx_folder(tmp_path)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:20])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        datasets.read_idx_folder(tmp_path)
    bad.unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\[\.gz\]: file not found"):
        datasets.read_idx_folder(tmp_path)


def test_wrong_image_shape_refused(tmp_path: Path) -> None:
    _idx_folder(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(datasets.encode_idx(np.zeros((60, 32, 32), np.uint8))))
    with pytest.raises(DataError, match=r"expected \(N, 28, 28\) uint8"):
        datasets.read_idx_folder(tmp_path)


@pytest.mark.parametrize("labels, first", [
    (np.array([3.7], np.float32), "3.7"), (np.array([np.nan]), "nan"), (np.array([-1], np.int8), "-1"), (np.array([10], np.int32), "10"),
], ids=["fraction", "nan", "negative", "eleventh-class"])
def test_labels_that_are_not_a_class_are_refused_before_any_cache(tmp_path: Path, monkeypatch, labels, first) -> None:
    """A label 3.7 was once truncated to 3: now every label must be a whole number 0..9, and the
    decoded cache is not written for a refused folder."""
    monkeypatch.setenv("REPRO_HOME", str(tmp_path / "home"))
    arrays = _idx_folder(tmp_path / "idx")
    y = arrays["train_labels"].astype(labels.dtype)
    y[7] = labels[0]
    (tmp_path / "idx" / f"{datasets.IDX_FILES['train_labels']}.gz").write_bytes(gzip.compress(datasets.encode_idx(y)))
    with pytest.raises(DataError, match=rf"train-labels.*1 label\(s\) not a class 0..9 \(the first, #7: {first}"):
        datasets.load("fashion-mnist", tmp_path / "idx")
    assert not list((tmp_path / "home").rglob("*.npz"))


def test_load_from_data_dir_caches_atomically(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REPRO_HOME", str(tmp_path / "home"))
    _idx_folder(tmp_path / "idx")
    ds = datasets.load("fashion-mnist", tmp_path / "idx")
    cache_files = list((tmp_path / "home" / "cache").iterdir())
    assert [p.suffix for p in cache_files] == [".npz"]  # no temporary file left behind
    again = datasets.load("fashion-mnist", tmp_path / "idx")
    np.testing.assert_array_equal(ds.train.images, again.train.images)
    assert ds.digest == again.digest
    assert ds.train.images_float().max() <= 1.0


def test_unknown_dataset_lists_the_choices() -> None:
    with pytest.raises(DataError, match="mnist, fashion-mnist"):
        datasets.locate_source("cifar10")


# --------------------------------------------------------------------------- pickles


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED_MARKER",))


def test_hostile_pickle_refused_without_executing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps((_Evil(), 1), protocol=2)))
    with pytest.raises(DataError, match=r"refused to unpickle: global (posix|os)\.system is not allowed"):
        datasets.load_arrays_pickle(path, expected_sha256=None)
    assert not (tmp_path / "PWNED_MARKER").exists()


def test_checksum_mismatch_refused_before_unpickling(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(_Evil(), protocol=2)))
    with pytest.raises(DataError, match=r"SHA-256 [0-9a-f]{64} does not match the expected f11bb9e4"):
        datasets.load_arrays_pickle(path)
    assert not (tmp_path / "PWNED_MARKER").exists()


def test_pickle_of_arrays_with_wrong_shape_refused(tmp_path: Path) -> None:
    split = (np.zeros((5, 784), np.float32), np.zeros(5, np.int64))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps((split, split, split), protocol=2)))
    obj = datasets.load_arrays_pickle(path, expected_sha256=None)  # arrays are admitted …
    assert isinstance(obj[0][0], np.ndarray)
    with pytest.raises(DataError, match=r"expected \(50000, 784\)"):  # … but the shape is checked
        datasets.read_mnist_pickle(path, expected_sha256=None)


def test_missing_pickle_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="mnist.pkl.gz: file not found"):
        datasets.load_arrays_pickle(tmp_path / "mnist.pkl.gz")


# --------------------------------------------------------------------------- the real MNIST


@pytest.fixture(scope="module")
def mnist() -> datasets.Dataset:
    return datasets.load("mnist")


def test_real_mnist_checksum_and_splits(mnist: datasets.Dataset) -> None:
    assert file_sha256(mnist.source) == datasets.MNIST_SHA256
    assert {s: len(mnist.split(s)) for s in datasets.SPLIT_SIZES} == {"train": 50_000, "val": 10_000, "test": 10_000}
    assert mnist.train.images.dtype == np.uint8 and mnist.train.images.shape[1:] == (28, 28)
    counts = np.bincount(mnist.test.labels, minlength=10)
    assert counts.min() > 850  # every digit present, roughly balanced
    x = mnist.test.images_float()
    assert 0.0 <= x.min() and x.max() <= 1.0 and 0.10 < x.mean() < 0.15


@pytest.mark.skipif(not datasets.FASHION_DEFAULT_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian() -> None:
    ds = datasets.load("fashion-mnist")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (50_000, 10_000, 10_000)
    assert np.bincount(ds.test.labels).tolist() == [1000] * 10


def test_cli_data_info_json(mnist: datasets.Dataset) -> None:
    out = subprocess.run([sys.executable, "-m", "repro", "data", "info", "--dataset", "mnist", "--json"],
                         capture_output=True, text=True, check=True)
    assert '"checksum": "ok"' in out.stdout and '"train": 50000' in out.stdout


def test_cli_bad_data_dir_exit_2_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "repro", "data", "info", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_idx_header_whose_sizes_overflow_is_refused() -> None:
    """Three axes of 2^32 − 1: their product overflows int64 (np.prod wrapped around); the
    exact size says the file cannot hold it."""
    import struct

    raw = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\x00" * 16
    with pytest.raises(datasets.DataError, match="truncated or oversized IDX data"):
        datasets.parse_idx(raw, "huge-idx3-ubyte")


def test_a_corrupt_decoded_cache_is_rebuilt(tmp_path: Path) -> None:
    first = datasets.load("mnist", cache_dir=tmp_path)
    cache = next(tmp_path.glob("mnist-*.npz"))
    cache.write_bytes(cache.read_bytes()[:1000])  # truncated
    again = datasets.load("mnist", cache_dir=tmp_path)
    assert np.array_equal(again.test.images, first.test.images)
    assert cache.stat().st_size > 1000


def test_a_decoded_cache_with_impossible_labels_is_rebuilt(tmp_path: Path) -> None:
    """A cache that reads but holds what the decoder never writes (a label 11) is rebuilt."""
    first = datasets.load("mnist", cache_dir=tmp_path)
    cache = next(tmp_path.glob("mnist-*.npz"))
    with np.load(cache) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["test_labels"][0] = 11
    with open(cache, "wb") as fh:
        np.savez(fh, **arrays)
    again = datasets.load("mnist", cache_dir=tmp_path)
    assert np.array_equal(again.test.labels, first.test.labels)
