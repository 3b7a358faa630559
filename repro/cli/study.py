"""``repro study plan|run|status SPEC``: a study's grid, what would run and why, and running it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from repro.harness import study
from repro.harness.progress import duration, read_progress
from repro.harness.spec import EXECUTORS, MAX_CELLS, load_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="plan, run and inspect a study spec (study/*.toml)")
    ssub = p.add_subparsers(dest="study_command", required=True, metavar="ACTION")
    for name, helptext in (("plan", "what would run and why (missing / failed / stale)"),
                           ("run", "run every cell without a result"),
                           ("status", "cells done / failed / missing per stage")):
        q = ssub.add_parser(name, help=helptext)
        q.add_argument("spec", help="path of the study spec (TOML)")
        q.add_argument("--root", default=str(study.DEFAULT_ROOT), help="results store root (default: runs/)")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.add_argument("--max-cells", type=int, default=MAX_CELLS,
                       help="refuse a grid of more cells than this before expanding it")
        if name == "run":
            q.add_argument("--executor", choices=EXECUTORS, default=None, help="override the spec's executor")
            q.add_argument("--retry-failed", action="store_true", help="rerun the cells recorded as failed")
            q.add_argument("--force", action="store_true", help="recompute every cell, finished or not")
            q.add_argument("--no-progress", action="store_true", help="no progress bars")
        q.set_defaults(func={"plan": run_plan, "run": run_run, "status": run_status}[name])


def run_plan(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.max_cells)
    planned = study.plan(spec, args.root)
    if args.json:
        print(json.dumps({"study": spec.name, "cells": [
            {"id": p.cell.id, "stage": p.cell.stage, "state": p.state, "why": p.why, "labels": p.cell.labels}
            for p in planned]}, default=str))
        return 0
    for p in planned:
        if p.state != "done":
            labels = " ".join(f"{k}={v}" for k, v in p.cell.labels.items() if v is not None and k != "train_id")
            print(f"{p.cell.stage:<9} {p.cell.id}  {p.state:<8} {labels}  ({p.why})")
    _print_summary(spec.name, study.summary(planned))
    return 0


def run_status(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.max_cells)
    counts = study.summary(study.plan(spec, args.root))
    run = read_progress(Path(args.root) / spec.name)
    if args.json:
        print(json.dumps({"study": spec.name, "counts": counts, "run": run}))
        return 0
    _print_summary(spec.name, counts)
    if run and run.get("running"):
        ago = time.time() - float(run.get("updated_at") or 0)
        eta = run.get("eta_seconds")
        print(f"{spec.name}: a run is going on: {run['done']}/{run['total']} cells finished, {run['failed']} failed"
              + (f", about {duration(eta)} left" if eta is not None else "")
              + f" (last: {run.get('last') or '--'}; {duration(ago)} ago)")
    return 0


def run_run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.max_cells)  # a malformed spec ends here: exit 2, nothing written
    report = study.run(spec, args.root, executor=args.executor, retry_failed=args.retry_failed, force=args.force,
                       progress=not args.no_progress)
    if args.json:
        print(json.dumps({"study": spec.name, "dir": str(report.study_dir), "counts": report.counts,
                          "failed": report.failed, "ran": report.ran, "seconds": report.seconds}))
    else:
        _print_summary(spec.name, report.counts)
        for stage, cell_id, error in report.failed:
            print(f"FAILED {stage} {cell_id}: {error}", file=sys.stderr)
        print(f"ran {report.ran} cell(s) in {report.seconds:.1f} s; results: {report.study_dir / 'results.csv'}")
        if report.failed:
            print(f"{len(report.failed)} cell(s) failed, damaged or still missing; rerun the study "
                  f"(python -m repro study run {args.spec}; --retry-failed for the failed ones)", file=sys.stderr)
    return 0 if report.ok else 1


def _print_summary(name: str, counts: dict[str, dict[str, int]]) -> None:
    for stage, by_state in counts.items():
        parts = ", ".join(f"{n} {s}" for s, n in sorted(by_state.items()))
        print(f"{name}: {stage:<9} {parts}")
