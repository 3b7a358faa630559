"""Skip the SLURM tests with a reason when no cluster is reachable (see scripts/README-slurm.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest


@cache
def slurm_unreachable() -> str | None:
    if shutil.which("sinfo") is None:
        return "sinfo not on PATH (scripts/slurm-cluster.sh install)"
    if not os.environ.get("SLURM_CONF"):
        return 'SLURM_CONF not exported (eval "$(scripts/slurm-cluster.sh env)")'
    try:
        subprocess.run(["sinfo", "-h"], capture_output=True, check=True, timeout=20)
    except (subprocess.SubprocessError, OSError) as exc:
        return f"sinfo cannot reach the cluster: {exc}"
    return None


@pytest.fixture
def slurm_cluster() -> None:
    reason = slurm_unreachable()
    if reason:
        pytest.skip(reason)
