"""``python -m bench [--json] [MODULE ...]``: run the bench modules, print one table.

Every module in ``MODULES`` is run (``bench/<name>.py`` exposing
``run() -> list[dict]``); naming modules on the command line runs only those. The header
records the machine, the library versions and the load average before and after, since
other processes on a shared machine inflate every time in the table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from typing import Any

import torch

from bench import COLUMNS
from repro.core.runtime import default_device, package_versions

# Bench modules in run order.
MODULES = ("metrics", "embedding", "spaces", "train", "samplers")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "device": str(default_device()),
        "platform": platform.platform(),
        "versions": package_versions(),
    }


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    keys = [c for c in COLUMNS if any(c in r for r in rows)]
    keys += [k for r in rows for k in r if k not in keys and k != "mem_method"]
    keys = list(dict.fromkeys(keys))
    cells = [[fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"bench modules to run (default: all of {', '.join(MODULES)})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown bench module(s) {', '.join(unknown)}; expected some of {', '.join(MODULES)}")

    info = machine()
    info["load_before"] = load_average()
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    ran = list(args.modules or MODULES)
    for name in ran:
        rows += importlib.import_module(f"bench.{name}").run()
    info["load_after"] = load_average()
    info["wall_s"] = round(time.perf_counter() - started, 1)
    info["modules"] = ran

    if args.json:
        print(json.dumps({"machine": info, "rows": rows}, default=str))
        return 0
    versions = " ".join(f"{k} {v}" for k, v in info["versions"].items())
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch threads {info['torch_threads']}, device {info['device']}")
    print(f"         {info['platform']}")
    print(f"versions: {versions}")
    print(f"load average (1/5/15 min): before {info['load_before']}, after {info['load_after']}; "
          f"bench wall time {info['wall_s']} s; modules: {', '.join(ran)}")
    print("time_s: best of the warm calls (wall); cold_s: first call; cpu_s: CPU time of the best call (all threads);")
    print("peak_mb: RSS growth during the first call (VmHWM − RSS before, fresh process per row);")
    print("speedup / mem_ratio: reference ÷ repro.")
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
