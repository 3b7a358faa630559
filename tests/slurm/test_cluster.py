"""Smoke tests against a real single-node SLURM cluster (see scripts/README-slurm.md).

Assumes the cluster is up and SLURM_CONF is exported:

    scripts/slurm-cluster.sh install && scripts/slurm-cluster.sh up
    eval "$(scripts/slurm-cluster.sh env)"
    .venv/bin/python -m pytest -q -m slurm tests/slurm/test_cluster.py

Every wait is bounded; nothing here can hang for ever.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

PARTITION = "debug"
WAIT_S = 60  # upper bound for any single wait on the cluster
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


@functools.lru_cache(maxsize=None)  # ask once per session; sinfo takes seconds when down
def _slurm_unreachable_reason() -> str | None:
    if shutil.which("sinfo") is None:
        return "sinfo not on PATH (run scripts/slurm-cluster.sh install)"
    conf = os.environ.get("SLURM_CONF")
    if not conf:
        return 'SLURM_CONF not exported (eval "$(scripts/slurm-cluster.sh env)")'
    if not Path(conf).is_file():
        return f"SLURM_CONF={conf} does not exist (scripts/slurm-cluster.sh up)"
    try:
        r = subprocess.run(["sinfo", "-h", "-o", "%P %a"], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "sinfo timed out (is the cluster up? scripts/slurm-cluster.sh status)"
    if r.returncode != 0:
        return f"sinfo failed (is the cluster up?): {r.stderr.strip()[:300]}"
    if PARTITION not in r.stdout:
        return f"partition {PARTITION!r} not found in sinfo output: {r.stdout.strip()!r}"
    return None


@pytest.fixture(scope="module", autouse=True)
def _slurm_reachable():
    reason = _slurm_unreachable_reason()
    if reason:
        pytest.skip(f"SLURM cluster not reachable: {reason}")


def _run(*cmd: str) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}"
    return r.stdout


def _sacct_state(job_id: str) -> str:
    out = _run("sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State")
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    return lines[-1].split()[0] if lines else ""


# --- functions run by submitit on the compute node -------------------------------------
# pytest imports this file under a name the job's interpreter cannot import: pickle the
# module's functions by value.
def _square_plus(x: int, offset: int) -> tuple[int, str]:
    return x * x + offset, os.environ.get("SLURM_ARRAY_TASK_ID", "")


def _sleep_long(seconds: float) -> str:
    time.sleep(seconds)
    return "not cancelled"


@pytest.fixture()
def executor(tmp_path):
    submitit = pytest.importorskip("submitit")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ex = submitit.AutoExecutor(folder=tmp_path / "submitit" / "%j")
    assert ex.cluster == "slurm", f"submitit picked {ex.cluster!r}, not slurm"
    ex.update_parameters(slurm_partition=PARTITION, timeout_min=5, cpus_per_task=1, mem_gb=1)
    try:
        yield ex
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_sbatch_wrap_completes_and_sacct_reports_it(tmp_path):
    out_file = tmp_path / "wrap-%j.out"
    job_id = _run(
        "sbatch", "--parsable", f"--partition={PARTITION}", f"--output={out_file}",
        "--wrap", "hostname; echo repro-slurm-ok; sleep 1",
    ).strip().split(";")[0]
    assert job_id.isdigit(), job_id
    deadline = time.monotonic() + WAIT_S
    state = ""
    while time.monotonic() < deadline:
        state = _sacct_state(job_id)
        if state in TERMINAL:
            break
        time.sleep(0.5)
    assert state == "COMPLETED", f"job {job_id}: sacct state {state!r} after <= {WAIT_S}s"
    text = Path(str(out_file).replace("%j", job_id)).read_text()
    assert "repro-slurm-ok" in text


def test_submitit_map_array(executor):
    xs = [0, 1, 2, 3, 4]
    jobs = executor.map_array(_square_plus, xs, [10] * len(xs))
    assert len(jobs) == 5
    assert len({j.job_id.split("_")[0] for j in jobs}) == 1, "expected one job array"
    deadline = time.monotonic() + 2 * WAIT_S
    while not all(j.done() for j in jobs):
        assert time.monotonic() < deadline, f"array not done after {2 * WAIT_S}s: {[j.state for j in jobs]}"
        time.sleep(1)
    results = [j.result() for j in jobs]
    assert [r[0] for r in results] == [x * x + 10 for x in xs]
    assert sorted(r[1] for r in results) == [str(i) for i in range(5)]


def test_submitit_sees_cancelled_job_as_failed(executor):
    import submitit

    job = executor.submit(_sleep_long, 600)
    deadline = time.monotonic() + WAIT_S
    while _sacct_state(job.job_id) != "RUNNING":
        assert time.monotonic() < deadline, f"job {job.job_id} not RUNNING after {WAIT_S}s"
        time.sleep(0.5)
    job.cancel(check=True)  # scancel
    deadline = time.monotonic() + WAIT_S
    while not job.done(force_check=True):
        assert time.monotonic() < deadline, (
            f"submitit does not see cancelled job {job.job_id} as done after {WAIT_S}s "
            f"(state {job.state!r}; is accounting/sacct working?)"
        )
        time.sleep(1)
    assert job.state.upper().startswith("CANCELLED"), job.state
    # result() raises (after submitit's own ~15 s wait for a result file that never comes)
    with pytest.raises(submitit.core.utils.UncompletedJobError, match="has not produced any output"):
        job.result()
