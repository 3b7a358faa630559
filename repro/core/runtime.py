"""The machine a computation runs on: device, threads, provenance, content hashes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from repro.core import versions
from repro.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_device() -> torch.device:
    """CUDA when present, never required."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch device named (None / "auto": CUDA when present, else CPU); a device this machine
    does not have is a ConfigError, not a traceback from deep inside torch."""
    if device is None or device == "auto":
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {device!r} is not a torch device ({exc}); use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: this machine has no CUDA device; use cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return dev


def home_dir() -> Path:
    """Root of repro's generated files (data, caches); ``REPRO_HOME`` moves it."""
    return Path(os.environ.get("REPRO_HOME", PROJECT_ROOT / "data")).expanduser()


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-able object (dataclasses included), independent of dict order."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@cache
def git_state() -> dict[str, Any]:
    """The commit of the checkout and whether it has uncommitted changes."""
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict[str, str]:
    names = ["torch", "numpy", "scipy", "pandas", "submitit"]
    out = {"python": platform.python_version(), "repro": versions.PACKAGE}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def provenance(device: torch.device | None = None) -> dict[str, Any]:
    """What to store beside every result so that it can be traced and reproduced."""
    return {
        "git": git_state(),
        "versions": package_versions(),
        "components": versions.all_versions(),
        "device": str(device or default_device()),
        "host": platform.node(),
        "argv": sys.argv,
    }
