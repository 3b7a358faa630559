"""The results store: one folder per cell, named by the cell's hash; completion state on disk.

Layout (``runs/<study>/`` by default)::

    cells/<cell id>/cell.json     the resolved configuration, stage, labels, family hash
    cells/<cell id>/status.json   {"state": done|failed|diverged, "error", "provenance", "wall_seconds", …}
    cells/<cell id>/result.json   the stage's result (metrics for evaluate cells)
    cells/<cell id>/…             stage files: checkpoints and curve.csv (train), prd.npz and
                                  grid.png (evaluate)
    results.csv                   the tidy table of evaluate cells (rebuilt after every run)
    ceiling.csv                   the real-versus-real cells: held-out real images scored as a model
    provenance.json               the last run's command, commit and versions

Every file is written atomically, and status.json last: a cell whose status.json is missing
did not finish, whatever else its folder holds (a training checkpoint to resume from).

The store verifies what it reads. A finished cell's status.json records the SHA-256 of every
file the cell wrote (``files``); a cell whose status is unreadable or names an unknown state,
or whose files are missing or no longer match, is ``damaged`` (the reason names the file) and
is recomputed on the next run, with every cell that depends on it (``outdated``). The tidy
table is built from verified cells only. Every JSON file is read through ``read_json_object``,
so that a damaged file (binary, truncated, a list, a folder) or a file in a cell folder's place
makes that one cell damaged and never stops the store from being read.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from repro.core.atomic import atomic_write_json, remove
from repro.core.runtime import file_sha256
from repro.core.vocab import PRIMARY_SPACE
from repro.evaluation import CLASS_BASED
from repro.harness.cells import Cell, is_ceiling



RECORDED_STATES = ("done", "failed", "diverged")  # what a status.json may say
# Not covered by a cell's digests: the status itself, its description, a failure's traceback, and
# what later cells add to a train cell's folder (the refit discriminators, their locks).
_UNTRACKED_FILES = {"status.json", "cell.json", "traceback.json"}
_UNTRACKED_DIRS = {"refit"}


def read_json_object(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(object, problem) of a JSON file the store wrote: (None, None) when there is nothing at
    ``path``; (None, why) when what is there is no readable JSON object (a folder, binary bytes,
    truncated text, a list). The one reader for every file of the store, so that no damaged file
    raises: it is named, and the cell is recomputed."""
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        return None, f"{path} is a folder, not a file"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path} is unreadable ({type(exc).__name__})"
    if not isinstance(obj, dict):
        return None, f"{path} records {type(obj).__name__!r}, not a JSON object"
    return obj, None


def artefacts(cell_dir: Path) -> dict[str, str]:
    """relative path → SHA-256 of every file a cell wrote (temporary files and caches excluded)."""
    out = {}
    for path in sorted(cell_dir.rglob("*")):
        rel = path.relative_to(cell_dir)
        if (not path.is_file() or rel.parts[0] in _UNTRACKED_DIRS or str(rel) in _UNTRACKED_FILES
                or path.name.startswith(".")):
            continue
        out[str(rel)] = file_sha256(path)
    return out


class Store:
    def __init__(self, root: str | Path, study: str) -> None:
        self.root = Path(root)
        self.dir = self.root / study

    def cell_dir(self, cell_id: str) -> Path:
        return self.dir / "cells" / cell_id

    def status(self, cell_id: str) -> dict[str, Any] | None:
        """The recorded status, or None when there is none or it is unreadable (``check``)."""
        st, problem = self.read_status(cell_id)
        return None if problem else st

    def read_status(self, cell_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """(status, problem): (None, None) when the cell has no status yet; (None, why) when
        status.json is unreadable, not a JSON object, or names an unknown state."""
        d = self.cell_dir(cell_id)
        if d.exists() and not d.is_dir():
            return None, f"{d} is a file, not a cell folder"
        path = d / "status.json"
        st, problem = read_json_object(path)
        if st is None:
            return None, problem
        if st.get("state") not in RECORDED_STATES:
            return None, f"{path} records {st.get('state')!r}, not one of {', '.join(RECORDED_STATES)}"
        files = st.get("files")
        if files is not None and not (isinstance(files, dict)
                                      and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())):
            return None, f"{path} records files {type(files).__name__!r}, not a map of file names to digests"
        return st, None

    def check(self, cell_id: str) -> tuple[str | None, str]:
        """(state, why) of a cell as verified on disk: a recorded state whose files match, or
        ``damaged`` naming what is wrong, or (None, "") when the cell has no status."""
        st, problem = self.read_status(cell_id)
        if problem:
            return "damaged", problem
        if st is None:
            return None, ""
        if st["state"] == "done":
            d = self.cell_dir(cell_id)
            for name, digest in (st.get("files") or {}).items():
                path = d / name
                if not path.is_file():
                    return "damaged", f"{path} is missing"
                if file_sha256(path) != digest:
                    return "damaged", f"{path} does not match the digest recorded when the cell finished"
            if not isinstance(self.result(cell_id), dict):
                return "damaged", f"{d / 'result.json'} is missing or unreadable"
        return st["state"], st.get("error") or ""

    def result(self, cell_id: str) -> dict[str, Any] | None:
        return read_json_object(self.cell_dir(cell_id) / "result.json")[0]

    def families(self) -> dict[str, str]:
        """family hash → id of finished cells (to tell stale cells: same config, other code version)."""
        out = {}
        for meta in (self.dir / "cells").glob("*/cell.json"):
            d, _ = read_json_object(meta)  # a damaged description names no family
            if d is not None and isinstance(d.get("family"), str) and (meta.parent / "status.json").is_file():
                out[d["family"]] = meta.parent.name
        return out

    def state(self, cell: Cell, families: dict[str, str] | None = None) -> tuple[str, str]:
        """(state, why): done / diverged / failed (with the error) / damaged (naming the file) /
        missing / stale."""
        state, why = self.check(cell.id)
        if state is not None:
            return state, why
        families = self.families() if families is None else families
        if cell.family in families:
            return "stale", f"a result of the same configuration exists under {families[cell.family]} " \
                            "from another code version"
        return "missing", "no result yet"

    def prepare(self, cell: Cell) -> Path:
        """The cell's folder, made if needed (what stands in its place, a file, is removed: it is
        damaged), with cell.json written afresh."""
        d = self.cell_dir(cell.id)
        if d.exists() and not d.is_dir():
            remove(d)
        d.mkdir(parents=True, exist_ok=True)
        if (d / "cell.json").is_dir():  # a folder where the description goes: damaged, and in the way
            remove(d / "cell.json")
        atomic_write_json(d / "cell.json", {"id": cell.id, "family": cell.family, "stage": cell.stage,
                                            "config": cell.config, "deps": list(cell.deps), "labels": cell.labels})
        return d

    def record(self, cell: Cell, state: str, result: dict[str, Any] | None, error: str | None,
               wall_seconds: float, provenance: dict[str, Any]) -> None:
        d = self.prepare(cell)
        if result is not None:
            atomic_write_json(d / "result.json", result)
        atomic_write_json(d / "status.json", {
            "state": state, "error": error, "wall_seconds": wall_seconds, "finished_at": time.time(),
            "provenance": provenance, "files": artefacts(d) if state == "done" else {}})

    def clear_status(self, cell_id: str) -> None:
        d = self.cell_dir(cell_id)
        if d.exists() and not d.is_dir():
            remove(d)  # a file in the cell folder's place: damaged, nothing to keep
        else:
            remove(d / "status.json")

    def clear(self, cell_id: str) -> None:
        """Remove everything of a cell (to recompute it from scratch), whatever stands there."""
        remove(self.cell_dir(cell_id))

    def train_summary(self, train_id: str) -> dict[str, Any]:
        """The columns a trained model contributes to each of its evaluation rows: training time
        (this run only; a fine-tune's excludes its source's), epochs, the networks' architecture,
        and the first and last validation FID of its training curve (the first is the untrained G,
        or the source model when fine-tuning)."""
        res = self.result(train_id) or {}
        final = res.get("final") or {}
        return {"train_status": res.get("status"), "train_seconds": res.get("seconds"),
                "train_epochs": res.get("epochs_done"),
                "train_arch": (res.get("config") or {}).get("arch"),
                "train_fid_first": res.get("initial_fid"), "train_fid_last": final.get("fid")}

    def tidy(self, cells: list[Cell], states: dict[str, str] | None = None,
             space: str = PRIMARY_SPACE) -> pd.DataFrame:
        """One row per evaluate cell of the spec: labels, state, metrics, sampling statistics,
        and the trained model's summary (``train_summary``). ``states`` (cell id → verified
        state, e.g. from ``study.plan``) saves verifying the cells again. ``space``: the feature
        space whose metrics the rows hold (``space_metrics``)."""
        rows = []
        trained: dict[str, dict[str, Any]] = {}
        families = self.families() if states is None else {}
        for cell in cells:
            if cell.stage != "evaluate" or is_ceiling(cell):
                continue
            # verified: a damaged or outdated cell contributes no numbers
            state = states[cell.id] if states is not None else self.state(cell, families)[0]
            st = self.status(cell.id) or {}
            res = (self.result(cell.id) or {}) if state == "done" else {}
            row = {"cell_id": cell.id, **cell.labels, "status": "ok" if state == "done" else state,
                   "wall_seconds": st.get("wall_seconds")}
            row.update(space_metrics(res, space))
            stats = res.get("sampling", {})
            for key in ("acceptance_rate", "proposals"):
                row[key] = stats.get(key)
            row["cost_per_sample"] = _cost_per_sample(stats, res.get("n_samples"))
            refit = stats.get("refit") or {}  # the ratio's quality: held-out log-loss (log 2 = no skill)
            row["d_heldout_logloss"] = refit.get("heldout_logloss")
            row["raw_d_heldout_logloss"] = refit.get("raw_heldout_logloss")
            row["n_samples"] = res.get("n_samples")
            row["refit_steps"] = (refit.get("refit") or {}).get("steps") if refit else None
            tid = cell.config["train_id"]
            if tid not in trained:
                trained[tid] = self.train_summary(tid)
            row.update(trained[tid])
            rows.append(row)
        return _frame(rows)

    def ceiling(self, cells: list[Cell], states: dict[str, str], space: str = PRIMARY_SPACE) -> pd.DataFrame:
        """One row per ceiling cell (``spec.is_ceiling``): its evaluation seed, state, metrics in ``space``."""
        rows = []
        for cell in filter(is_ceiling, cells):
            res = (self.result(cell.id) or {}) if states[cell.id] == "done" else {}
            rows.append({"cell_id": cell.id, **cell.labels, "status": "ok" if states[cell.id] == "done"
                         else states[cell.id], **space_metrics(res, space)})
        return _frame(rows)


def space_metrics(result: dict[str, Any], space: str = PRIMARY_SPACE) -> dict[str, Any]:
    """An evaluate cell's metrics in feature space ``space``: the primary space's as recorded; in
    another, that space's embedding metrics with the class metrics, which are the classifier's in
    every space (``evaluation.CLASS_BASED``). Empty where the cell has none."""
    primary = result.get("metrics", {})
    if space == PRIMARY_SPACE:
        return dict(primary)
    other = (result.get("spaces") or {}).get(space)
    if other is None:
        return {}
    return {**{k: v for k, v in primary.items() if k in CLASS_BASED}, **other}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame.replace({None: math.nan}) if not frame.empty else frame


def _cost_per_sample(stats: dict[str, Any], n: int | None) -> float | None:
    """Forward passes per returned sample (repro.maths.cost); for results recorded before the cost was,
    2 per proposal of a ratio-based sampler, 1 per plain sample."""
    if "cost_per_sample" in stats:
        return stats["cost_per_sample"]
    if not n or stats.get("proposals") is None:
        return None
    return (2.0 if stats.get("method") not in (None, "none") else 1.0) * stats["proposals"] / n
