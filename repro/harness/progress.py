"""What a running study says about itself: one line per finished cell in a log, and a progress
record that ``repro study status`` reads from another shell.

A progress bar is right on a terminal and wrong in a log file (it redraws); a study that runs
into a log (``make study > log``, a SLURM job, CI) instead prints one line per finished cell —
its stage, what it is, how long it took, ``k/n`` and an estimate of the time left — and a line
for each failure. The estimate (``estimate``) prices the cells left by their relative cost
(``harness.study.cell_cost``) at the seconds per unit of cost the finished cells of their stage
took (training and evaluation run at very different rates per unit), and divides by the
concurrency observed so far (the cells' seconds per second of wall time). The same numbers go to
``progress.json`` in the study's folder (written atomically after every cell), so
``repro study status`` shows them while the run goes on.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from repro.core.atomic import atomic_write_json
from repro.harness.cells import Cell, is_ceiling
from repro.harness.store import read_json_object
from repro.samplers import registry

PROGRESS_JSON = "progress.json"


def describe_cell(cell: Cell) -> str:
    """A cell in a few words: ``train kl seed 1``, ``evaluate js seed 0, DRS at 88 % acceptance, σ=1``."""
    lab = cell.labels
    if cell.stage == "features":
        return f"features {lab.get('dataset', '')}" + (f" {lab['space']}" if lab.get("space") else "")
    if is_ceiling(cell):
        return f"ceiling eval seed {lab.get('eval_seed')}"
    words = [cell.stage, str(lab.get("objective", ""))]
    if lab.get("lam") is not None:
        words.append(f"λ={lab['lam']:g}")
    if lab.get("variant"):
        words.append(f"[{lab['variant']}]")
    if lab.get("init_from"):
        words.append(f"from {lab['init_from']}")
    words.append(f"seed {lab.get('train_seed')}")
    text = " ".join(words)
    if cell.stage == "evaluate":
        text += ", " + registry.phrase(lab)
        text += "".join(f", {sym}={lab[k]:g}" for k, sym in (("sigma", "σ"), ("psi", "ψ"))
                        if isinstance(lab.get(k), (int, float)) and lab[k] == lab[k])
    return text


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ProgressLog:
    """Counts finished cells of a run; prints a line per cell when ``lines`` and keeps
    ``progress.json`` up to date."""

    def __init__(self, cells: Sequence[Cell], cost: Callable[[Cell], float], study_dir: Path, *,
                 lines: bool, stream: TextIO | None = None) -> None:
        self.n, self.k, self.failed = len(cells), 0, 0
        self.cost = cost
        self.left: dict[str, float] = {}  # stage → cost of its cells not finished
        for c in cells:
            self.left[c.stage] = self.left.get(c.stage, 0.0) + cost(c)
        self.done: dict[str, tuple[float, float]] = {}  # stage → (cost, seconds) of its finished cells
        self.start = time.monotonic()
        self.path, self.lines, self.stream = study_dir / PROGRESS_JSON, lines, stream or sys.stderr
        self.last: str | None = None
        self._write()

    def eta(self) -> float | None:
        """Seconds left (``estimate``), None before the first finished cell."""
        return estimate(self.left, self.done, time.monotonic() - self.start)

    def finished(self, cell: Cell, state: str, seconds: float | None, why: str | None = None) -> None:
        self.k += 1
        self.failed += state == "failed"
        c = self.cost(cell)
        self.left[cell.stage] = max(0.0, self.left.get(cell.stage, 0.0) - c)
        cost_done, seconds_done = self.done.get(cell.stage, (0.0, 0.0))
        self.done[cell.stage] = (cost_done + c, seconds_done + (seconds or 0.0))
        eta = self.eta()
        took = "" if seconds is None else f" in {duration(seconds)}"
        line = (f"[{self.k}/{self.n}] {state} {describe_cell(cell)}{took}"
                + (f"; about {duration(eta)} left" if eta is not None and self.k < self.n else ""))
        if self.lines:
            print(line, file=self.stream, flush=True)
            if state == "failed" and why:
                print(f"  FAILED {cell.stage} {cell.id}: {why}", file=self.stream, flush=True)
        self.last = line
        self._write()

    def close(self) -> None:
        self._write(running=False)

    def _write(self, running: bool = True) -> None:
        eta = self.eta()
        record: dict[str, Any] = {"running": running, "done": self.k, "total": self.n, "failed": self.failed,
                                  "elapsed_seconds": round(time.monotonic() - self.start, 1),
                                  "eta_seconds": None if eta is None or not running else round(eta, 1),
                                  "last": self.last, "updated_at": time.time()}
        try:
            atomic_write_json(self.path, record)
        except OSError:  # progress is a courtesy: a store that cannot take it still runs
            pass


def estimate(left: dict[str, float], done: dict[str, tuple[float, float]], elapsed: float) -> float | None:
    """Wall seconds left: each stage's cost left (``left``, stage → cost) at that stage's seconds
    per unit of cost so far (``done``, stage → (cost, seconds) of its finished cells; a stage with
    none yet at the rate of all finished cells), divided by the concurrency so far (the finished
    cells' seconds over the ``elapsed`` wall seconds). None before any cell has finished."""
    cost = sum(c for c, _ in done.values())
    seconds = sum(s for _, s in done.values())
    if cost <= 0 or elapsed <= 0:
        return None
    if seconds <= 0:  # no cell reported its seconds: the elapsed time per unit of cost
        return elapsed / cost * sum(left.values())
    overall = seconds / cost
    work = sum(c * (done[s][1] / done[s][0] if done.get(s, (0.0, 0.0))[0] > 0 else overall)
               for s, c in left.items())
    return work / max(seconds / elapsed, 1e-9)


def read_progress(study_dir: Path) -> dict[str, Any] | None:
    """The progress record of a study's last run, or None (never run, or unreadable)."""
    record, _ = read_json_object(study_dir / PROGRESS_JSON)
    return record
