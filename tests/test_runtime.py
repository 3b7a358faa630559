"""repro.core.runtime: content hashes that name cells and caches, and device resolution."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from repro.core import runtime
from repro.core.errors import ConfigError
from repro.core.runtime import file_sha256, resolve_device, stable_hash


@dataclasses.dataclass(frozen=True)
class Conf:
    a: int = 1
    b: tuple[float, ...] = (0.5, 2.0)


def test_stable_hash_ignores_key_order_and_sees_every_value() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2}) != stable_hash({"a": "1"})
    assert stable_hash({"a": 1.0}) != stable_hash({"a": 1.0000001})
    assert len(stable_hash({"x": None})) == 16 and len(stable_hash({}, length=40)) == 40
    # a dataclass hashes as its fields (tuples as lists): a cell is named by its content
    assert stable_hash(Conf()) == stable_hash({"a": 1, "b": [0.5, 2.0]})
    # known value: the hash must not change between versions, or every cached result would be stale
    assert stable_hash({"a": 1}) == hashlib.sha256(b'{"a":1}').hexdigest()[:16]


def test_file_sha256_matches_hashlib(tmp_path) -> None:
    path = tmp_path / "f"
    data = bytes(range(256)) * 40000  # larger than one read chunk
    path.write_bytes(data)
    assert file_sha256(path, chunk=1000) == hashlib.sha256(data).hexdigest()


def test_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="not a torch device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


def test_the_project_root_is_the_checkout_and_generated_files_stay_out_of_the_package() -> None:
    assert (runtime.PROJECT_ROOT / "pyproject.toml").is_file() and (runtime.PROJECT_ROOT / "repro").is_dir()
    assert runtime.PROJECT_ROOT / "repro" not in runtime.home_dir().parents
