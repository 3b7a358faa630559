"""The study harness on a real SLURM cluster: job arrays, same numbers as local, cancel → failed → rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slurm
ROOT = Path(__file__).resolve().parents[2]
METRICS = ["fid", "precision", "recall", "density", "coverage", "f8", "f1_8", "inception_score", "acceptance_rate"]

CANCEL_SPEC = """
[study]
name = "cancel"
seeds = [0]

[train]
train_size = 4000
epochs = 4
eval_every = 0
g_widths = [64, 128]
d_widths = [128, 64]

[[objectives]]
loss = "bce"

[evaluate]
n_samples = 100
prd_runs = 1
prd_clusters = 5

[[evaluate.blocks]]
sampler = "none"

[executor.slurm.resources]
cpus_per_task = 1
mem_gb = 2
time_min = 10
"""


def _study(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repro", "study", *args, "--no-progress"], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def _metrics(root: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(root / name / "results.csv")
    return frame.sort_values("cell_id").set_index("cell_id")[["status", *METRICS]]


def test_smoke_study_on_slurm_equals_local(slurm_cluster, tmp_path: Path) -> None:
    spec = str(ROOT / "study" / "smoke.toml")
    on_slurm = _study("run", spec, "--executor", "slurm", "--root", str(tmp_path / "slurm"))
    assert on_slurm.returncode == 0, on_slurm.stderr[-3000:]
    arrays = list((tmp_path / "slurm" / "smoke" / "slurm").glob("*/*/*_submission.sh"))
    assert arrays, "submitit wrote no job array"
    assert "#SBATCH --array=" in arrays[0].read_text()
    local = _study("run", spec, "--executor", "local", "--root", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr[-3000:]
    pd.testing.assert_frame_equal(_metrics(tmp_path / "slurm", "smoke"), _metrics(tmp_path / "local", "smoke"))


def test_cancelled_job_is_recorded_failed_and_completes_on_rerun(slurm_cluster, tmp_path: Path) -> None:
    spec = tmp_path / "cancel.toml"
    spec.write_text(CANCEL_SPEC)
    root = tmp_path / "runs"
    # the feature classifier first, so that the train job is the one running
    first = _study("run", str(spec), "--executor", "slurm", "--root", str(root))
    assert first.returncode == 0, first.stderr[-3000:]
    cells = root / "cancel" / "cells"
    train_cell = next(p.parent for p in cells.glob("*/cell.json") if json.loads(p.read_text())["stage"] == "train")
    # forget the trained model and its evaluation, then cancel the retraining while it runs
    for p in cells.glob("*/cell.json"):
        if json.loads(p.read_text())["stage"] != "features":
            subprocess.run(["rm", "-rf", str(p.parent)], check=True)
    proc = subprocess.Popen([sys.executable, "-m", "repro", "study", "run", str(spec), "--executor", "slurm",
                             "--root", str(root), "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    cancelled = False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not cancelled:
        out = subprocess.run(["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            job_id, name, state = line.split()
            if name == "repro-train" and state == "RUNNING":
                subprocess.run(["scancel", job_id], check=True)
                cancelled = True
        time.sleep(0.2)
    assert cancelled, "never saw the training job running"
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1, stderr[-3000:]
    status = json.loads((train_cell / "status.json").read_text())
    assert status["state"] == "failed" and "worker failed" in status["error"]
    rerun = _study("run", str(spec), "--executor", "slurm", "--root", str(root), "--retry-failed")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert json.loads((train_cell / "status.json").read_text())["state"] == "done"
    assert (pd.read_csv(root / "cancel" / "results.csv")["status"] == "ok").all()
