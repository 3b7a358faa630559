"""The results store: one folder per cell, named by the cell's hash; completion state on disk.

Layout (``runs/<study>/`` by default)::

    cells/<cell id>/cell.json     the resolved configuration, stage, labels, family hash
    cells/<cell id>/status.json   {"state": done|failed|diverged, "error", "provenance", "wall_seconds", …}
    cells/<cell id>/result.json   the stage's result (metrics for evaluate cells)
    cells/<cell id>/…             stage files: checkpoints and curve.csv (train), prd.npz and
                                  grid.png (evaluate)
    results.csv                   the tidy table of evaluate cells (rebuilt after every run)
    provenance.json               the last run's command, commit and versions

Every file is written atomically, and status.json last: a cell whose status.json is missing
did not finish, whatever else its folder holds (a training checkpoint to resume from).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from repro.atomic import atomic_write_json
from repro.spec import Cell



class Store:
    def __init__(self, root: str | Path, study: str) -> None:
        self.root = Path(root)
        self.dir = self.root / study

    def cell_dir(self, cell_id: str) -> Path:
        return self.dir / "cells" / cell_id

    def status(self, cell_id: str) -> dict[str, Any] | None:
        path = self.cell_dir(cell_id) / "status.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def result(self, cell_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.cell_dir(cell_id) / "result.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def families(self) -> dict[str, str]:
        """family hash → id of finished cells (to tell stale cells: same config, other code version)."""
        out = {}
        for meta in (self.dir / "cells").glob("*/cell.json"):
            try:
                d = json.loads(meta.read_text())
            except json.JSONDecodeError:
                continue
            if (meta.parent / "status.json").is_file():
                out[d["family"]] = meta.parent.name
        return out

    def state(self, cell: Cell, families: dict[str, str] | None = None) -> tuple[str, str]:
        """(state, why): done / diverged / failed (with the error) / missing / stale."""
        st = self.status(cell.id)
        if st is not None:
            return st["state"], st.get("error") or ""
        families = self.families() if families is None else families
        if cell.family in families:
            return "stale", f"a result of the same configuration exists under {families[cell.family]} " \
                            "from another code version"
        return "missing", "no result yet"

    def prepare(self, cell: Cell) -> Path:
        d = self.cell_dir(cell.id)
        d.mkdir(parents=True, exist_ok=True)
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
            "provenance": provenance})

    def clear_status(self, cell_id: str) -> None:
        (self.cell_dir(cell_id) / "status.json").unlink(missing_ok=True)

    def train_summary(self, train_id: str) -> dict[str, Any]:
        """The columns a trained model contributes to each of its evaluation rows: training time
        (this run only; a fine-tune's excludes its source's), epochs, and the first and last
        validation FID of its training curve (the first is the untrained G, or the source model
        when fine-tuning)."""
        res = self.result(train_id) or {}
        final = res.get("final") or {}
        return {"train_seconds": res.get("seconds"), "train_epochs": res.get("epochs_done"),
                "train_fid_first": res.get("initial_fid"), "train_fid_last": final.get("fid")}

    def tidy(self, cells: list[Cell]) -> pd.DataFrame:
        """One row per evaluate cell of the spec: labels, state, metrics, sampling statistics,
        and the trained model's summary (``train_summary``)."""
        rows = []
        trained: dict[str, dict[str, Any]] = {}
        for cell in cells:
            if cell.stage != "evaluate":
                continue
            st = self.status(cell.id) or {"state": "missing"}
            res = self.result(cell.id) or {}
            row = {"cell_id": cell.id, **cell.labels, "status": "ok" if st["state"] == "done" else st["state"],
                   "wall_seconds": st.get("wall_seconds")}
            row.update({k: v for k, v in res.get("metrics", {}).items()})
            stats = res.get("sampling", {})
            for key in ("acceptance_rate", "proposals"):
                row[key] = stats.get(key)
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
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame = frame.replace({None: math.nan})
        return frame
