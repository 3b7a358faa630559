"""Benchmarks, run with ``python -m bench`` (``make bench``).

Each bench module (listed in ``bench.__main__.MODULES``) exposes ``run() -> list[dict]``: one
row per measurement, printed together as one table. Rows share the keys of ``COLUMNS``
where they apply; a module may add its own.

``measure`` runs one case in a fresh interpreter, so that every figure starts from the same
state (no allocator caches, no warm thread pools from an earlier case) and the peak memory
belongs to that case alone. What it measures, exactly:

- ``cold_s``: wall time of the first call (includes lazy initialisation);
- ``time_s``: the best wall time of ``repeats`` further calls (the least disturbed by other
  processes on a shared machine);
- ``cpu_s``: the process CPU time (all threads) of that best call;
- ``peak_mb``: the growth of the resident set during the first call: the kernel's RSS
  high-water mark (VmHWM, reset through /proc/self/clear_refs just before the call) minus
  the RSS before it. Inputs are created before the baseline and are not counted. Where the
  reset is unavailable it falls back to ru_maxrss and says so in ``mem_method``.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Preferred column order of the printed table; any other keys follow in first-seen order.
COLUMNS = (
    "bench",
    "case",
    "impl",
    "time_s",
    "cold_s",
    "cpu_s",
    "peak_mb",
    "speedup",
    "mem_ratio",
    "target",
    "meets",
    "value",
    "note",
)


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def _child() -> None:
    """Entry point of the measuring interpreter: JSON spec on stdin, JSON result on stdout."""
    spec = json.loads(sys.stdin.read())
    module_name, func_name = spec["target"].split(":")
    prepare = getattr(importlib.import_module(module_name), func_name)
    call = prepare(**spec.get("kwargs", {}))  # builds the inputs; returns the call to time

    rss0 = _status_kb("VmRSS")
    reset = _reset_peak()
    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    value = call()
    cold = time.perf_counter() - t0
    if reset and rss0 is not None and (hwm := _status_kb("VmHWM")) is not None:
        peak_kb, method = hwm - rss0, "VmHWM"
    else:  # ru_maxrss cannot be reset: only valid when the call set a new high-water mark
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max(maxrss0, rss0 or 0)
        method = "ru_maxrss (lower bound)"

    best, best_cpu = cold, None
    for _ in range(spec.get("repeats", 3)):
        c0, t0 = time.process_time(), time.perf_counter()
        call()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best_cpu is None or wall < best:
            best, best_cpu = wall, cpu
    out = {
        "time_s": best,
        "cold_s": cold,
        "cpu_s": best_cpu,
        "peak_mb": max(peak_kb, 0) / 1024,
        "mem_method": method,
        "value": value,
    }
    sys.stdout.write("\n@@RESULT@@" + json.dumps(out, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    try:
        return float(obj)
    except (TypeError, ValueError):
        return str(obj)


def measure(
    target: str,
    kwargs: dict[str, Any] | None = None,
    repeats: int = 3,
    threads: int | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Run ``target`` ("module:function") in a fresh interpreter and measure its call.

    ``function(**kwargs)`` builds the inputs and returns a zero-argument callable; that
    callable is what is timed (see the module docstring). ``threads`` caps the OpenMP,
    MKL and OpenBLAS pools of that interpreter (torch reads OMP_NUM_THREADS at start). On
    failure the row carries the error instead of figures.
    """
    spec = json.dumps({"target": target, "kwargs": kwargs or {}, "repeats": repeats})
    cmd = [sys.executable, "-c", "import bench; bench._child()"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if threads is not None:
        env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    try:
        proc = subprocess.run(cmd, input=spec, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    marker = proc.stdout.rfind("@@RESULT@@")
    if proc.returncode != 0 or marker < 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout[marker + len("@@RESULT@@") :])
