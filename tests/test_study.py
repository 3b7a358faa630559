"""repro.harness.study end to end on a micro spec: resume, failures, kill -9, executors agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from repro.gan import nets
from repro.harness import study
from repro.harness.spec import load_spec

MICRO = """
[study]
name = "micro"
seeds = [0, 1]
threads_per_cell = 1

[train]
train_size = 512
epochs = 2
batch_size = 64
eval_every = 0
g_widths = [32, 64]
d_widths = [64, 32]

[[objectives]]
loss = "bce"

[[objectives]]
loss = "kl"

[evaluate]
n_samples = 120
prd_runs = 1
prd_clusters = 5
grid_images = 8
refit_steps = 100
feature_spaces = ["classifier", "autoencoder"]

[[evaluate.blocks]]
sampler = "none"
sigma = [1.0]

[[evaluate.blocks]]
sampler = "obrs"
budget = [2.0]
burn_in = 200
"""
N_CELLS = 2 + 4 + 8 + 2  # classifier and autoencoder, 2 objectives × 2 seeds, 2 samplers per model, a ceiling per seed
METRICS = ["fid", "precision", "recall", "density", "coverage", "f8", "f1_8", "inception_score", "acceptance_rate"]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repro", "study", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=900)


def _metrics(root: Path) -> pd.DataFrame:
    frame = pd.read_csv(root / "micro" / "results.csv")
    return frame.sort_values("cell_id").set_index("cell_id")[["status", *METRICS]]


def _finished_at(root: Path) -> dict[str, float]:
    return {p.parent.name: json.loads(p.read_text())["finished_at"] for p in (root / "micro" / "cells").glob("*/status.json")}


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "micro.toml"
    path.write_text(MICRO)
    return path


@pytest.fixture(scope="module")
def reference(spec_path: Path, tmp_path_factory) -> Path:
    """One uninterrupted run on the local executor."""
    root = tmp_path_factory.mktemp("reference")
    proc = _cli("run", str(spec_path), "--root", str(root), "--executor", "local", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return root


def test_run_completes_every_cell_and_writes_the_tidy_table(reference: Path, spec_path: Path) -> None:
    planned = study.plan(load_spec(spec_path), reference)
    assert {p.state for p in planned} == {"done"}
    frame = _metrics(reference)
    assert len(frame) == 2 * 2 * 2 and (frame["status"] == "ok").all()
    assert frame[METRICS].notna().all().all()
    obrs = pd.read_csv(reference / "micro" / "results.csv").query("sampler == 'obrs'")
    # K = 2: about 2 proposals per sample (c_K = 1 when the ratio's max M ≤ K accepts more); c_K
    # comes from a burn-in of 200 and the rate from ~240 proposals, so ±0.1 is sampling noise
    assert (obrs["acceptance_rate"] >= 0.35).all()
    # every row carries its trained model's summary, the same for rows of one model
    full = pd.read_csv(reference / "micro" / "results.csv")
    assert (full["train_seconds"] > 0).all() and (full["train_epochs"] >= 1).all()
    assert set(full["train_arch"]) <= set(nets.ARCHS) and full["train_arch"].notna().all()
    assert (full.groupby("train_id")["train_seconds"].nunique() == 1).all()
    cell = reference / "micro" / "cells" / full["cell_id"].iloc[0]  # a model's evaluation (ceilings have no grid)
    assert (cell / "prd.npz").is_file()
    assert (cell / "grid.png").is_file()
    status = json.loads((cell / "status.json").read_text())
    assert status["provenance"]["git"].keys() == {"commit", "dirty"} and "torch" in status["provenance"]["versions"]
    # the class diagnostics: every model's sample rebalanced to the real mix, the ratio samplers'
    # ratio calibrated by class (docs/maths.md §6.9)
    assert full["fid_rebalanced"].notna().all()
    assert full.loc[full["sampler"] == "obrs", "ratio_class_gap"].notna().all()
    assert full.loc[full["sampler"] == "none", "ratio_class_gap"].isna().all()
    record = json.loads((reference / "micro" / "cells" / obrs["cell_id"].iloc[0] / "classes.json").read_text())
    assert abs(sum(record["h_real"]) - 1) < 1e-9 and len(record["gap"]) == len(record["h_fake"]) == 10


def test_the_ceiling_scores_held_out_real_images_per_evaluation_seed(reference: Path) -> None:
    """ceiling.csv: one real-versus-real row per evaluation seed, by the models' protocol; held-out
    real images beat any two-epoch GAN on FID and on coverage of the real sample."""
    ceiling = pd.read_csv(reference / "micro" / study.CEILING_CSV)
    models = pd.read_csv(reference / "micro" / "results.csv")
    assert sorted(ceiling["eval_seed"]) == [0, 1] and (ceiling["status"] == "ok").all()
    assert ceiling[METRICS[:-1]].notna().all().all() and "acceptance_rate" not in ceiling
    assert ceiling["fid"].max() < models["fid"].min()
    assert ceiling["recall"].min() > models["recall"].max()
    assert (ceiling["classes_covered"] == 10).all()


def test_every_cell_is_scored_again_in_the_second_feature_space(reference: Path) -> None:
    """results-autoencoder.csv and ceiling-autoencoder.csv: the same rows, the embedding metrics
    measured in the autoencoder's code, the class metrics the classifier's (docs/maths.md §7.2)."""
    folder = reference / "micro"
    primary, other = (pd.read_csv(folder / name).sort_values("cell_id").reset_index(drop=True)
                      for name in ("results.csv", "results-autoencoder.csv"))
    assert list(primary["cell_id"]) == list(other["cell_id"]) and (other["status"] == "ok").all()
    embedding = ["fid", "precision", "recall", "density", "coverage", "f8", "f1_8"]
    assert other[embedding].notna().all().all() and (primary["fid"] != other["fid"]).all()
    pd.testing.assert_frame_equal(primary[["inception_score", "class_kl", "acceptance_rate"]],
                                  other[["inception_score", "class_kl", "acceptance_rate"]])
    assert "fid_rebalanced" not in other  # an FID in the classifier's space
    ceiling = pd.read_csv(folder / "ceiling-autoencoder.csv")
    assert sorted(ceiling["eval_seed"]) == [0, 1] and ceiling["fid"].max() < other["fid"].min()
    described = json.loads((folder / "feature_spaces.json").read_text())
    assert described["autoencoder"]["feature_dim"] == 32 and described["autoencoder"]["knn_accuracy_test"] > 0.9
    assert described["classifier"]["test_accuracy"] > 0.98


def test_rerun_recomputes_nothing(reference: Path, spec_path: Path) -> None:
    before = _finished_at(reference)
    proc = _cli("run", str(spec_path), "--root", str(reference), "--no-progress", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout.strip().splitlines()[-1])["ran"] == 0
    assert _finished_at(reference) == before


def test_plan_json_reports_states(reference: Path, spec_path: Path, tmp_path: Path) -> None:
    done = json.loads(_cli("plan", str(spec_path), "--root", str(reference), "--json").stdout)
    assert {c["state"] for c in done["cells"]} == {"done"} and len(done["cells"]) == N_CELLS
    fresh = json.loads(_cli("plan", str(spec_path), "--root", str(tmp_path), "--json").stdout)
    assert {c["state"] for c in fresh["cells"]} == {"missing"}
    assert {c["stage"] for c in fresh["cells"]} == {"features", "train", "evaluate"}


def test_inprocess_executor_gives_the_same_numbers(reference: Path, spec_path: Path, tmp_path: Path) -> None:
    report = study.run(load_spec(spec_path), tmp_path, executor="inprocess", progress=False)
    assert report.ok
    pd.testing.assert_frame_equal(_metrics(tmp_path), _metrics(reference))


def test_seeds_trained_as_one_stack_give_the_same_numbers(reference: Path, spec_path: Path, tmp_path: Path) -> None:
    """stack_seeds = "always": each configuration's two seeds are one unit of work (one process
    trains them as one stacked model), each still its own cell with its own result; on the CPU the
    numbers are those of the seeds trained apart, bitwise, and the result says what it trained with."""
    stacked = spec_path.parent / "micro_stacked.toml"
    stacked.write_text(MICRO.replace('threads_per_cell = 1', 'threads_per_cell = 1\nstack_seeds = "always"'))
    spec = load_spec(stacked)
    assert study.stacks_seeds(spec, "local") and not study.stacks_seeds(load_spec(spec_path), "local")
    units = study.training_units(study.schedule(study.expand(spec)), stack=True)
    assert sorted(len(u) for u in units if u[0].stage == "train") == [2, 2]
    report = study.run(spec, tmp_path, executor="local", progress=False)
    assert report.ok
    pd.testing.assert_frame_equal(_metrics(tmp_path), _metrics(reference))
    results = [json.loads(p.read_text()) for p in (tmp_path / "micro" / "cells").glob("*/result.json")]
    assert sorted(r["stack"] for r in results if "stack" in r) == [[0, 1]] * 4


def test_failed_cell_is_recorded_and_retried(reference: Path, spec_path: Path, tmp_path: Path) -> None:
    hooks = str(Path(__file__).parent / "hooks")  # sitecustomize: the failure injection, in every process
    proc = _cli("run", str(spec_path), "--root", str(tmp_path), "--no-progress",
                env={"REPRO_FAIL_CELLS": "kl", "PYTHONPATH": os.pathsep.join(filter(None, [hooks, os.environ.get("PYTHONPATH")]))})
    assert proc.returncode == 1
    assert "failure injected" in proc.stderr and "--retry-failed" in proc.stderr
    frame = pd.read_csv(tmp_path / "micro" / "results.csv")
    assert (frame.query("objective == 'bce'")["status"] == "ok").all()
    assert (frame.query("objective == 'kl'")["status"] == "failed").all()  # upstream failure recorded too
    plain = _cli("run", str(spec_path), "--root", str(tmp_path), "--no-progress", "--json")
    assert plain.returncode == 1 and json.loads(plain.stdout.splitlines()[-1])["ran"] == 0  # no silent retry
    retry = _cli("run", str(spec_path), "--root", str(tmp_path), "--no-progress", "--retry-failed")
    assert retry.returncode == 0, retry.stderr
    pd.testing.assert_frame_equal(_metrics(tmp_path), _metrics(reference))


def test_kill_9_then_rerun_resumes_without_recomputing(reference: Path, spec_path: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "repro", "study", "run", str(spec_path), "--root", str(tmp_path), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cells = tmp_path / "micro" / "cells"
    deadline = time.monotonic() + 600
    try:
        # kill once some train cells are done and the study is still going
        while time.monotonic() < deadline and proc.poll() is None:
            trains = [p for p in cells.glob("*/status.json") if json.loads(p.read_text() or "{}").get("state")
                      and json.loads((p.parent / "cell.json").read_text())["stage"] == "train"]
            if trains:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the study finished before it could be killed; make MICRO bigger"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = _finished_at(tmp_path)
    assert 0 < len(before) < N_CELLS
    proc2 = _cli("run", str(spec_path), "--root", str(tmp_path), "--no-progress", "--json")
    assert proc2.returncode == 0, proc2.stderr
    after = _finished_at(tmp_path)
    assert {k: after[k] for k in before} == before  # nothing finished was recomputed
    assert json.loads(proc2.stdout.splitlines()[-1])["ran"] == N_CELLS - len(before)
    pd.testing.assert_frame_equal(_metrics(tmp_path), _metrics(reference))


def _session_pids(sid: int) -> list[int]:
    """Live processes of session ``sid`` (from /proc; zombies do not count)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state, ppid, pgrp, session, …
            out.append(int(stat.parent.name))
    return out


def test_workers_exit_when_study_run_is_killed(spec_path: Path, tmp_path: Path) -> None:
    """kill -9 of the parent alone (not its process group): its pool workers must not go on
    computing queued cells or idle for ever."""
    cmd = [sys.executable, "-m", "repro", "study", "run", str(spec_path), "--root", str(tmp_path), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(_session_pids(proc.pid)) < 3:  # parent + 2 workers
            time.sleep(0.05)
        assert len(_session_pids(proc.pid)) >= 3, "the pool never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _session_pids(proc.pid):
            time.sleep(0.2)
        assert _session_pids(proc.pid) == [], "workers outlived the killed study run"
    finally:
        for pid in _session_pids(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_a_second_run_on_the_same_store_waits_for_the_first(spec_path: Path, tmp_path: Path) -> None:
    store = tmp_path / "micro"
    store.mkdir()
    cmd = [sys.executable, "-m", "repro", "study", "run", str(spec_path), "--root", str(tmp_path), "--no-progress"]
    with study.study_lock(store):  # this test is the first run
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(8)  # ample time to import, parse, and reach the lock
        assert proc.poll() is None, proc.communicate()
        assert not (store / "cells").exists()  # it computed nothing while the lock was held
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "another study run (pid" in err and "waiting" in err


def test_the_schedule_puts_the_longest_chains_first_and_every_cell_after_its_dependencies(tmp_path: Path) -> None:
    spec_file = tmp_path / "ft.toml"
    spec_file.write_text(MICRO.replace('[[objectives]]\nloss = "kl"\n',
                                       '[[objectives]]\nloss = "pr"\nlam = [0.5, 2.0]\ninit_from = "bce"\n'))
    cells = expand_spec(spec_file)
    order = study.schedule(cells)
    assert sorted(c.id for c in order) == sorted(c.id for c in cells)
    position = {c.id: i for i, c in enumerate(order)}
    assert all(position[d] < position[c.id] for c in order for d in c.deps)
    assert order[0].stage == "features"
    # the BCE models (parents of the fine-tunes) before the fine-tunes, training before evaluation
    stages = [c.stage for c in order]
    assert stages.index("evaluate") > max(i for i, s in enumerate(stages) if s == "train")
    trains = [c for c in order if c.stage == "train"]
    assert [c.labels["objective"] for c in trains[:2]] == ["bce", "bce"]
    # costs: epochs x (1 + G steps per D step) / 2
    assert study.cell_cost(trains[0]) == trains[0].config["train"]["epochs"]


def expand_spec(path: Path):
    from repro.harness.cells import expand

    return expand(load_spec(path))


# --------------------------------------------------------------------------- one damaged file never bricks a store


def _damaged_copy(reference: Path, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(reference / "micro", root / "micro")
    return root, pd.read_csv(root / "micro" / "results.csv")


def _cells_of(root: Path, stage: str, **labels) -> list[Path]:
    out = []
    for meta in sorted((root / "micro" / "cells").glob("*/cell.json")):
        d = json.loads(meta.read_text())
        if d["stage"] == stage and all(d["labels"].get(k) == v for k, v in labels.items()):
            out.append(meta.parent)
    return out


def _file_for_folder(cell: Path) -> None:
    import shutil

    shutil.rmtree(cell)
    cell.write_text("not a folder")


@pytest.mark.parametrize("damage", [
    lambda c: (c / "cell.json").write_bytes(b"\x00\xff\xfe binary"),
    lambda c: (c / "cell.json").write_text("[1, 2, 3]"),
    lambda c: ((c / "cell.json").unlink(), (c / "cell.json").mkdir()),
    lambda c: (c / "status.json").write_text(json.dumps({"state": "done", "files": "abc"})),
    _file_for_folder,
], ids=["binary-cell-json", "list-cell-json", "folder-cell-json", "files-not-a-map", "cell-folder-is-a-file"])
def test_one_damaged_cell_never_bricks_the_store(reference: Path, spec_path: Path, tmp_path: Path, damage) -> None:
    """plan, status and run all work; what is damaged is named and recomputed, with the same numbers."""
    root, _ = _damaged_copy(reference, tmp_path)
    cell = _cells_of(root, "evaluate", objective="kl", sampler="none")[0]
    damage(cell)
    for action in ("plan", "status"):
        proc = _cli(action, str(spec_path), "--root", str(root), "--json")
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    states = {c["id"]: c for c in json.loads(_cli("plan", str(spec_path), "--root", str(root), "--json").stdout)["cells"]}
    if states[cell.name]["state"] != "done":  # the status or the folder itself: damaged, and named
        assert states[cell.name]["state"] == "damaged" and cell.name in states[cell.name]["why"]
    proc = _cli("run", str(spec_path), "--root", str(root), "--no-progress", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["ran"] == (states[cell.name]["state"] != "done")
    pd.testing.assert_frame_equal(_metrics(root), _metrics(reference))


def test_an_unfinished_training_run_with_a_truncated_checkpoint_starts_again(reference: Path, spec_path: Path,
                                                                             tmp_path: Path) -> None:
    """A train cell that never finished, whose checkpoint a full disk cut short: it trains again
    from the start instead of failing on every retry, and gives the same numbers."""
    root, _ = _damaged_copy(reference, tmp_path)
    cell = _cells_of(root, "train", objective="bce")[0]
    (cell / "status.json").unlink()  # unfinished
    ckpt = cell / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    proc = _cli("run", str(spec_path), "--root", str(root), "--no-progress", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "cannot be resumed" in proc.stderr or "not a readable checkpoint" in proc.stderr
    pd.testing.assert_frame_equal(_metrics(root), _metrics(reference))


@pytest.mark.parametrize("setup, fragment", [
    (lambda root: (root / "micro").write_text("a file"), "is a file where the store's folder"),
    (lambda root: (root / "micro" / ".lock").mkdir(parents=True), "is a folder, not the study's lock file"),
], ids=["store-is-a-file", "lock-is-a-folder"])
def test_a_store_that_cannot_be_used_is_one_clear_error(spec_path: Path, tmp_path: Path, setup, fragment) -> None:
    setup(tmp_path)
    proc = _cli("run", str(spec_path), "--root", str(tmp_path), "--no-progress")
    assert proc.returncode == 2 and fragment in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_spec_record_that_is_a_folder_is_replaced(reference: Path, spec_path: Path, tmp_path: Path) -> None:
    import shutil

    root, _ = _damaged_copy(reference, tmp_path)
    (root / "micro" / study.OWNER).unlink()
    (root / "micro" / study.OWNER).mkdir()
    proc = _cli("run", str(spec_path), "--root", str(root), "--no-progress", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[-1])["ran"] == 0, proc.stderr
    assert json.loads((root / "micro" / study.OWNER).read_text())["path"] == str(spec_path.resolve())
    shutil.rmtree(root)
