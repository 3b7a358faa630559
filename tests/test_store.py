"""repro.harness.store: what a finished cell recorded is verified when it is read; damage is named, and
recomputed with everything downstream (real files, truncated and rewritten as a user or a crash
would)."""

from __future__ import annotations

import json
import tomllib

import pytest

from repro.harness import study
from repro.harness.cells import Cell, expand, is_ceiling
from repro.harness.spec import parse_spec
from repro.harness.store import Store

SPEC = """
[study]
name = "s"
seeds = [0]
[train]
epochs = 1
train_size = 200
[[objectives]]
loss = "bce"
[[objectives]]
loss = "pr"
lam = [1.0]
init_from = "bce"
[evaluate]
n_samples = 100
[[evaluate.blocks]]
sampler = "none"
sigma = [0.5, 1.0]
"""


def _finish_everything(store: Store, cells: list[Cell]) -> None:
    """Record every cell as done, with files like the real stages write."""
    for c in cells:
        d = store.prepare(c)
        if c.stage == "train":
            (d / "checkpoint.pt").write_bytes(b"weights" * 100)
        if c.stage == "evaluate":
            (d / "prd.npz").write_bytes(b"curve")
        result = {"metrics": {"fid": 1.0, "precision": 0.5, "recall": 0.5}} if c.stage == "evaluate" else {"ok": 1}
        store.record(c, "done", result, None, 0.1, {})


@pytest.fixture
def finished(tmp_path):
    spec = parse_spec(tomllib.loads(SPEC), "s.toml")
    store = Store(tmp_path, spec.name)
    cells = expand(spec)
    _finish_everything(store, cells)
    return spec, store, cells


def states(spec, root) -> dict[str, tuple[str, str]]:
    return {p.cell.id: (p.state, p.why) for p in study.plan(spec, root)}


def test_a_finished_cell_records_the_digest_of_each_file_it_wrote(finished) -> None:
    spec, store, cells = finished
    train = next(c for c in cells if c.stage == "train")
    st = store.status(train.id)
    assert set(st["files"]) == {"checkpoint.pt", "result.json"}
    assert all(len(h) == 64 for h in st["files"].values())
    assert {s for s, _ in states(spec, store.root).values()} == {"done"}
    # files other cells add to a train folder (the refit cache) are not the train cell's
    (store.cell_dir(train.id) / "refit").mkdir()
    (store.cell_dir(train.id) / "refit" / "x.pt").write_bytes(b"cache")
    assert store.check(train.id) == ("done", "")


@pytest.mark.parametrize("damage, fragment", [
    (lambda d: (d / "result.json").write_text('{"metrics": {"fid"'), "result.json does not match"),
    (lambda d: (d / "result.json").unlink(), "result.json is missing"),
    (lambda d: (d / "prd.npz").write_bytes(b"cur"), "prd.npz does not match"),
    (lambda d: (d / "status.json").write_text(""), "status.json is unreadable"),
    (lambda d: (d / "status.json").write_text("[1, 2]"), "records 'list'"),
    (lambda d: (d / "status.json").write_text('{"state": "bogus"}'), "records 'bogus'"),
])
def test_damaged_evaluation_is_named_and_recomputed(finished, damage, fragment) -> None:
    spec, store, cells = finished
    ev = next(c for c in cells if c.stage == "evaluate")
    damage(store.cell_dir(ev.id))
    state, why = states(spec, store.root)[ev.id]
    assert state == "damaged" and fragment in why
    planned = {p.cell.id: p for p in study.plan(spec, store.root)}
    assert planned[ev.id].will_run
    # the tidy table carries no numbers for it, and says why
    frame = store.tidy(cells)
    row = frame[frame["cell_id"] == ev.id].iloc[0]
    assert row["status"] == "damaged" and row.isna()["fid"]


def test_a_damaged_checkpoint_outdates_everything_downstream(finished) -> None:
    spec, store, cells = finished
    bce = next(c for c in cells if c.stage == "train" and c.labels["objective"] == "bce")
    ckpt = store.cell_dir(bce.id) / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:10])  # truncated, as by a full disk
    st = states(spec, store.root)
    assert st[bce.id][0] == "damaged" and "checkpoint.pt" in st[bce.id][1]
    downstream = [c for c in cells if bce.id in c.deps]
    pr = next(c for c in cells if c.labels.get("objective") == "pr" and c.stage == "train")
    assert pr in downstream  # the λ-PR fine-tune of this BCE model
    for c in cells:
        if (c.stage == "evaluate" and not is_ceiling(c)) or c is pr:
            assert st[c.id][0] == "outdated", (c.labels, st[c.id])
        elif is_ceiling(c):  # held-out real images: nothing of the damaged model enters them
            assert st[c.id][0] == "done"
    assert st[cells[0].id][0] == "done"  # the feature classifier is upstream, untouched
    # a run clears them before recomputing: nothing of the damaged files is reused
    frame = store.tidy(cells, {k: v[0] for k, v in st.items()})
    assert set(frame["status"]) == {"outdated"}


def test_legacy_status_without_digests_is_still_read(finished) -> None:
    spec, store, cells = finished
    ev = next(c for c in cells if c.stage == "evaluate")
    path = store.cell_dir(ev.id) / "status.json"
    st = json.loads(path.read_text())
    del st["files"]
    path.write_text(json.dumps(st))
    assert store.check(ev.id) == ("done", "")
    (store.cell_dir(ev.id) / "result.json").write_text("{")
    assert store.check(ev.id)[0] == "damaged"


def test_paper_rebuilds_results_from_the_verified_store(finished, tmp_path) -> None:
    """A stale, truncated or random results.csv is never what the paper reads when it is given
    the spec: the table is rebuilt from the cells, damaged ones counted as such."""
    import pandas as pd

    from repro.cli.paper import resolve_study

    spec, store, cells = finished
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(SPEC)
    ev = [c for c in cells if c.stage == "evaluate" and not is_ceiling(c)]
    (store.cell_dir(ev[0].id) / "result.json").write_text("{")
    (store.dir / "results.csv").write_bytes(b"\x00\x9f garbage")
    folder = resolve_study(str(spec_file), store.root)
    assert folder == store.dir
    frame = pd.read_csv(folder / "results.csv")
    assert len(frame) == len(ev)
    assert sorted(frame["status"]) == sorted(["damaged"] + ["ok"] * (len(ev) - 1))


def test_another_spec_with_the_same_name_cannot_take_a_store(finished, tmp_path) -> None:
    from repro.cli import main
    from repro.harness.spec import SpecError, load_spec

    spec, store, cells = finished
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(SPEC)
    b.write_text(SPEC.replace("sigma = [0.5, 1.0]", "sigma = [2.0]"))  # same [study].name "s"
    study.check_owner(load_spec(a), store.dir, claim=True)
    with pytest.raises(SpecError, match=r"holds the results of .*a.toml, another spec than .*b.toml"):
        study.check_owner(load_spec(b), store.dir)
    assert main(["paper", "--study", str(b), "--root", str(store.root), "--no-pdf"]) == 2
    # the same file edited is the same study (cells are content-addressed); --force takes over
    a.write_text(SPEC.replace("sigma = [0.5, 1.0]", "sigma = [0.5, 1.0, 2.0]"))
    study.check_owner(load_spec(a), store.dir, claim=True)
    study.check_owner(load_spec(b), store.dir, force=True, claim=True)
    assert "b.toml" in (store.dir / "spec.json").read_text()
