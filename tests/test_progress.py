"""repro.harness.progress: a run in a log says what it is doing, cell by cell, and so does status."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from repro.harness.cells import expand
from repro.harness.progress import PROGRESS_JSON, ProgressLog, describe_cell, duration, estimate, read_progress
from repro.harness.spec import parse_spec
from repro.harness.study import cell_cost

SPEC = {
    "study": {"name": "p", "seeds": [0]},
    "train": {"train_size": 256, "epochs": 1, "batch_size": 64, "eval_every": 0, "g_widths": [32, 64],
              "d_widths": [64, 32]},
    "objectives": [{"loss": "bce"}, {"loss": "kl"}],
    "evaluate": {"n_samples": 100, "prd_runs": 1, "prd_clusters": 5, "grid_images": 0, "refit_steps": 50,
                 "blocks": [{"sampler": "none", "sigma": [1.0]}, {"sampler": "drs", "acceptance": [0.5], "burn_in": 200}]},
}


def test_a_cell_is_described_in_words() -> None:
    words = [describe_cell(c) for c in expand(parse_spec(SPEC, "p.toml"))]
    assert words[0] == "features mnist" and "train bce seed 0" in words and "train kl seed 0" in words
    assert "evaluate kl seed 0, DRS at 50% acceptance, σ=1" in words
    assert "evaluate bce seed 0, plain sampler, σ=1" in words and "ceiling eval seed 0" in words
    assert duration(59) == "59 s" and duration(61) == "1 min 01 s" and duration(3720) == "1 h 02 min"


def test_each_finished_cell_is_one_line_with_an_estimate_and_failures_say_why(tmp_path: Path) -> None:
    cells = expand(parse_spec(SPEC, "p.toml"))
    out = io.StringIO()
    log = ProgressLog(cells, cell_cost, tmp_path, lines=True, stream=out)
    start = read_progress(tmp_path)
    assert (start["done"], start["total"], start["running"], start["eta_seconds"]) == (0, len(cells), True, None)
    log.finished(cells[0], "done", 12.0)
    log.finished(cells[1], "failed", 3.0, "boom")
    log.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"[1/{len(cells)}] done features mnist in 12 s; about ") and lines[0].endswith(" left")
    assert lines[1].startswith(f"[2/{len(cells)}] failed train ") and lines[2] == f"  FAILED train {cells[1].id}: boom"
    record = json.loads((tmp_path / PROGRESS_JSON).read_text())
    assert record["done"] == 2 and record["failed"] == 1 and record["running"] is False
    assert record["last"] == lines[1]
    quiet = io.StringIO()
    ProgressLog(cells, cell_cost, tmp_path / "q", lines=False, stream=quiet).finished(cells[0], "done", 1.0)
    assert quiet.getvalue() == "" and (tmp_path / "q" / PROGRESS_JSON).is_file()


def test_a_study_run_into_a_log_prints_its_cells_and_status_reads_the_run(tmp_path: Path) -> None:
    spec = tmp_path / "p.toml"
    spec.write_text("\n".join([
        '[study]\nname = "p"\nseeds = [0]',
        '[train]\ntrain_size = 256\nepochs = 1\nbatch_size = 64\neval_every = 0\ng_widths = [32, 64]\nd_widths = [64, 32]',
        '[[objectives]]\nloss = "bce"',
        '[evaluate]\nn_samples = 100\nprd_runs = 1\nprd_clusters = 5\ngrid_images = 0',
        '[[evaluate.blocks]]\nsampler = "none"\nsigma = [1.0]']))
    run = subprocess.run([sys.executable, "-m", "repro", "study", "run", str(spec), "--root", str(tmp_path / "runs"),
                          "--executor", "inprocess"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = [l for l in run.stderr.splitlines() if l.startswith("[")]
    assert [l.split("]")[0] for l in lines] == ["[1/4", "[2/4", "[3/4", "[4/4"]  # classifier, model, eval, ceiling
    assert any(" done train bce seed 0 in " in l for l in lines)
    status = subprocess.run([sys.executable, "-m", "repro", "study", "status", str(spec), "--root", str(tmp_path / "runs"),
                             "--json"], capture_output=True, text=True, timeout=600)
    record = json.loads(status.stdout)["run"]
    assert record["done"] == record["total"] == 4 and record["running"] is False


def test_the_estimate_prices_each_stage_at_its_own_rate_and_divides_by_the_concurrency() -> None:
    # training: 10 s per unit of cost; evaluation: 100 s per unit; two cells at a time (40 s of
    # cells in 20 s of wall time): 2 units of training and 0.5 of evaluation left = 70 s of work
    done = {"train": (2.0, 20.0), "evaluate": (0.2, 20.0)}
    assert estimate({"train": 2.0, "evaluate": 0.5}, done, 20.0) == pytest.approx((20 + 50) / 2)
    # a stage with no finished cell yet is priced at the rate of all finished cells
    assert estimate({"features": 1.0}, {"train": (2.0, 20.0)}, 10.0) == pytest.approx(10 / 2)
    assert estimate({"train": 1.0}, {}, 5.0) is None
    assert estimate({"train": 1.0}, {"train": (1.0, 0.0)}, 4.0) == pytest.approx(4.0)  # no seconds: wall rate
