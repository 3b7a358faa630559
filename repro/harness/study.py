"""Plan, run and report a study: the spec's cells, their state in the store, the executors.

``plan`` says what would run and why (missing, failed, stale); ``run`` runs every cell without
a result as soon as the cells it depends on are done (features → train → evaluate per model,
``schedule`` decides which ready cell goes first), and records each failure without stopping the
study; ``execute_cells`` is what a worker runs for one unit of work (a cell, or the train cells of
one configuration's seeds trained as one stack: ``training_units``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from repro import evaluation
from repro.analysis import quality
from repro.analysis.results import CEILING_CSV, RESULTS_CSV, SPACES_JSON, in_space
from repro.core.atomic import atomic_path, atomic_write_json, locked, remove
from repro.core.config import load
from repro.core.errors import ReproError, StoreError
from repro.core.runtime import PROJECT_ROOT, provenance, stable_hash
from repro.core.vocab import FEATURE_SPACES, PRIMARY_SPACE
from repro.data import datasets, features, grids, spaces
from repro.gan import checkpoint, refit, sampling, train
from repro.harness.cells import Cell, expand, is_ceiling
from repro.harness.executors import Task, make_executor
from repro.harness.progress import ProgressLog
from repro.harness.spec import STAGES, Spec, SpecError
from repro.harness.store import Store, read_json_object
from repro.samplers import SamplingParams, registry

log = logging.getLogger(__name__)

DEFAULT_ROOT = PROJECT_ROOT / "runs"


TO_RUN = ("missing", "stale", "damaged", "outdated")  # states a run computes (afresh)


@dataclass(frozen=True)
class PlannedCell:
    cell: Cell
    state: str  # done | diverged | failed | damaged | outdated | missing | stale
    why: str

    @property
    def will_run(self) -> bool:
        return self.state in TO_RUN


def plan(spec: Spec, root: str | Path = DEFAULT_ROOT) -> list[PlannedCell]:
    """Every cell of the spec with its verified state (``Store.state``). A finished cell that
    depends on a cell that will be computed again is ``outdated``: its result was derived from
    files that are gone or damaged, so it is computed again too."""
    store = Store(root, spec.name)
    families = store.families()
    out: list[PlannedCell] = []
    rerun: dict[str, str] = {}  # id → state, for the cells that will run
    for cell in expand(spec):  # dependency order: a cell's deps are planned before it
        state, why = store.state(cell, families)
        if state not in TO_RUN:
            upstream = next((d for d in cell.deps if d in rerun), None)
            if upstream is not None:
                state, why = "outdated", f"depends on {upstream}, which is {rerun[upstream]} and will be recomputed"
        if state in TO_RUN:
            rerun[cell.id] = state
        out.append(PlannedCell(cell, state, why))
    return out


def summary(planned: list[PlannedCell]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for p in planned:
        counts = out.setdefault(p.cell.stage, {})
        counts[p.state] = counts.get(p.state, 0) + 1
    return out


# --------------------------------------------------------------------------- one cell


class UpstreamError(RuntimeError):
    pass


def execute_cell(root: str, study: str, cell: Cell, threads: int) -> str:
    """Run one cell and record its outcome in the store; never raises. Returns the state."""
    return execute_cells(root, study, (cell,), threads)[0]


def execute_cells(root: str, study: str, cells: tuple[Cell, ...], threads: int) -> list[str]:
    """What a worker runs: one cell, or the train cells of one configuration's seeds trained
    together as one stack (``training_units``). Records every cell's outcome in the store; never
    raises. Returns the cells' states."""
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    store = Store(root, study)
    if len(cells) > 1:
        return _execute_stack(store, cells)
    cell = cells[0]
    cell_dir = store.prepare(cell)  # an OSError here (a read-only cell) reaches run's on_done
    start = time.perf_counter()
    state, result, error = "done", None, None
    try:
        if cell.stage == "features":
            result = _run_features(cell)
        elif cell.stage == "train":
            result = _run_train(store, cell, cell_dir)
            if result.get("status") == "diverged":
                state, error = "diverged", result.get("reason")
        else:
            result = _run_evaluate(store, cell, cell_dir)
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded; the study goes on
        state, error = _failure(exc, cell_dir)
    store.record(cell, state, result, error, time.perf_counter() - start, provenance())
    return [state]


def _failure(exc: BaseException, cell_dir: Path) -> tuple[str, str]:
    log.debug("cell %s failed:\n%s", cell_dir.name, "".join(traceback.format_exception(exc)))
    atomic_write_json(cell_dir / "traceback.json", {"traceback": "".join(traceback.format_exception(exc))})
    return "failed", f"{type(exc).__name__}: {exc}"


def _execute_stack(store: Store, cells: tuple[Cell, ...]) -> list[str]:
    """Train cells that differ only in the seed as one stack (``repro.gan.train.train_group``); each
    cell records its own result, and one that cannot start fails alone."""
    start = time.perf_counter()
    dirs = [store.prepare(c) for c in cells]
    outcome: dict[int, tuple[str, dict[str, Any] | None, str | None]] = {}  # state, result, error
    ready: list[int] = []
    for i, (cell, cell_dir) in enumerate(zip(cells, dirs, strict=True)):
        try:
            _check_parent(store, cell)
            checkpoint.discard_damaged_checkpoint(cell_dir)
            ready.append(i)
        except Exception as exc:  # noqa: BLE001 - this seed fails; its stack trains on
            state, error = _failure(exc, cell_dir)
            outcome[i] = (state, None, error)
    if ready:
        try:
            results = train.train_group([train.TrainConfig.from_dict(cells[i].config["train"]) for i in ready],
                                        [dirs[i] for i in ready], init_froms=[_parent_dir(store, cells[i]) for i in ready],
                                        progress=False, isolate=True, device=None)
        except Exception as exc:  # noqa: BLE001 - the stack itself could not run: every seed of it failed
            results = [exc] * len(ready)
        for i, res in zip(ready, results, strict=True):
            if isinstance(res, BaseException):
                state, error = _failure(res, dirs[i])
                outcome[i] = (state, None, error)
            elif res.get("status") == "diverged":
                outcome[i] = ("diverged", res, res.get("reason"))
            else:
                outcome[i] = ("done", res, None)
    seconds = time.perf_counter() - start  # the stack's: its seeds trained in the same wall time
    for i, cell in enumerate(cells):
        store.record(cell, *outcome[i], seconds, provenance())
    return [outcome[i][0] for i in range(len(cells))]


def _run_features(cell: Cell) -> dict[str, Any]:
    """Train (or load) the network of the cell's feature space; its figures of merit."""
    name = cell.config.get("space", PRIMARY_SPACE)
    space = spaces.get(name)
    cfg = load(space.config, cell.config[name])
    fs = space.load_or_train(cell.config["dataset"], cfg=cfg, progress=False)
    keys = ("test_accuracy", "val_accuracy", "dead_units_test", "train_seconds", "test_mse", "knn_accuracy_test")
    return {k: fs.info[k] for k in keys if k in fs.info}


def _check_parent(store: Store, cell: Cell) -> None:
    """A fine-tune's parent model has a usable result (UpstreamError otherwise)."""
    init = cell.config.get("init_from")
    if init is not None:
        state, why = store.check(init)
        if state != "done":
            raise UpstreamError(f"the model to fine-tune from ({init}) has no usable result: {state or 'missing'} {why}")


def _parent_dir(store: Store, cell: Cell) -> Path | None:
    init = cell.config.get("init_from")
    return store.cell_dir(init) if init else None


def _run_train(store: Store, cell: Cell, cell_dir: Path) -> dict[str, Any]:

    _check_parent(store, cell)
    cfg = train.TrainConfig.from_dict(cell.config["train"])
    checkpoint.discard_damaged_checkpoint(cell_dir)  # an unfinished cell's unreadable checkpoint: start again
    return train.train(cfg, cell_dir, init_from=_parent_dir(store, cell), progress=False, device=None)


CLASSES_JSON = "classes.json"  # an evaluate cell's class shares and its ratio's calibration by class


def _run_evaluate(store: Store, cell: Cell, cell_dir: Path) -> dict[str, Any]:
    """One model × sampler setting × evaluation seed, by the protocol of ``repro.evaluation``;
    a ceiling cell (``spec.is_ceiling``) scores held-out real images instead of a model's."""
    cfg = cell.config
    settings = load(evaluation.EvalSettings, cfg["evaluate"])
    n, eval_seed = settings.n_samples, cfg["eval_seed"]
    if is_ceiling(cell):
        ds = datasets.load(cfg["dataset"])
        fs = features.load_or_train(ds, progress=False)
        held_out = fs.real_features(ds, evaluation.held_out_split(settings.reference_split))
        fake, stats, images = held_out[evaluation.subset(len(held_out), n, eval_seed, evaluation.HELD_OUT_SEED)], {}, None
    else:
        train_id = cfg["train_id"]
        state, why = store.check(train_id)
        if state != "done":
            raise UpstreamError(f"the trained model {train_id} " + ("has not finished" if state is None else
                                                                   f"is {state}: {why}"))
        model = checkpoint.load_trained(store.cell_dir(train_id))
        params = SamplingParams.from_hashed(cfg["sampling"])
        images, stats = sampling.sample_trained(model, n, params, eval_seed,
                                                refit_cfg=refit.RefitConfig(steps=settings.refit_steps))
        if not bool(torch.isfinite(images).all()):  # nothing non-finite is scored or saved
            raise ReproError(f"the sampler {params.method} at {cfg['sampling']} produced non-finite images "
                             f"({int((~torch.isfinite(images)).any(dim=tuple(range(1, images.dim()))).sum())} of "
                             f"{len(images)}); the setting leaves the generator's range")
        ds = datasets.load(model.config.dataset)
        fs = features.load_or_train(ds, progress=False)
        fake = fs.embed(images, value_range=(-1.0, 1.0))
    proposals = None
    if not is_ceiling(cell) and params.scored:  # where the ratio's class selection comes from
        prop, log_r = sampling.proposals_with_log_ratio(
            model, n, params, eval_seed, refit_cfg=refit.RefitConfig(steps=settings.refit_steps))
        proposals = (log_r, fs.probs_from_features(fs.embed(prop, value_range=(-1.0, 1.0))))
    # the one protocol (repro.evaluation.measure); the class diagnostics for a model's samples only
    result_metrics, (prd_p, prd_r), record = evaluation.measure(fs, ds, fake, settings, eval_seed,
                                                                diagnostics=not is_ceiling(cell), proposals=proposals)
    in_spaces = _in_other_spaces(ds, images, settings, eval_seed)
    if record is not None:
        atomic_write_json(cell_dir / CLASSES_JSON, record)
    with atomic_path(cell_dir / "prd.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, precision=prd_p, recall=prd_r)
    if images is not None and settings.grid_images:
        grids.save_grid(cell_dir / "grid.png", images[: settings.grid_images])
    out = {"metrics": result_metrics, "sampling": stats, "n_samples": n}
    return {**out, "spaces": in_spaces} if in_spaces else out


def _in_other_spaces(ds: Any, images: torch.Tensor | None, settings: evaluation.EvalSettings,
                     eval_seed: int) -> dict[str, dict[str, float]]:
    """The embedding metrics of a cell's images in each other feature space of ``settings``
    (docs/maths.md §7.2); ``images`` None: a ceiling cell's held-out real images, the same subset."""
    out = {}
    for name in settings.feature_spaces[1:]:
        other = spaces.load(ds, name)
        if images is None:
            held = other.real_features(ds, evaluation.held_out_split(settings.reference_split))
            fake = held[evaluation.subset(len(held), settings.n_samples, eval_seed, evaluation.HELD_OUT_SEED)]
        else:
            fake = other.embed(images, value_range=(-1.0, 1.0))
        out[name] = evaluation.measure_in(other, ds, fake, settings, eval_seed)[0]
    return out


# --------------------------------------------------------------------------- the study


@dataclass
class RunReport:
    study_dir: Path
    counts: dict[str, dict[str, int]]
    failed: list[tuple[str, str, str]]  # (stage, cell id, why): failed, damaged or still missing
    ran: int
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failed


# Relative cost of a cell, in epochs of a one-G-step training run (≈ 55 s on one core of the
# reference machine); only the order of the schedule depends on it, never a result.
COST_FEATURES = {"classifier": 4.0, "autoencoder": 1.0}  # ~3 min and ~45 s
# an evaluation of 5,000 samples (default study, one core): a plain sampler ~2 s; one that reads a
# ratio (DRS, OBRS, MH, Langevin, adaptive) 4-20 s, 9 s on average (the first of a model also refits D)
COST_EVALUATE = {"plain": 0.1, "scored": 0.4}  # in training epochs, as the rest


def cell_cost(cell: Cell) -> float:
    """A training run costs its epochs × (1 + G steps per D step)/2: a D step and a G step cost about the same."""
    if cell.stage == "features":
        return COST_FEATURES[cell.config.get("space", PRIMARY_SPACE)]
    if cell.stage == "evaluate":
        method = cell.config.get("sampling", {}).get("method")  # none: a ceiling cell
        return COST_EVALUATE["scored" if method is not None and registry.get(method).scored else "plain"]
    t = cell.config["train"]
    return t["epochs"] * (1.0 + t["g_steps"] / t["d_steps"]) / 2.0


def schedule(cells: list[Cell]) -> list[Cell]:
    """The cells in the order a free worker should take them when several are ready: longest
    path to the end of the study first (a cell's cost plus that of its costliest chain of
    dependents, the classic critical-path list schedule). So the longest training runs and the
    parents of fine-tunes start first, and evaluations fill the cores as models finish. A cell's
    path is longer than any of its dependents', so the order is also a dependency order."""
    ids = {c.id for c in cells}
    children: dict[str, list[Cell]] = {}
    for c in cells:
        for d in c.deps:
            if d in ids:
                children.setdefault(d, []).append(c)
    path: dict[str, float] = {}
    for c in reversed(cells):  # expand() lists dependencies first, so children come before parents here
        path[c.id] = cell_cost(c) + max((path[k.id] for k in children.get(c.id, [])), default=0.0)
    position = {c.id: i for i, c in enumerate(cells)}
    return sorted(cells, key=lambda c: (-path[c.id], position[c.id]))


def stacks_seeds(spec: Spec, executor: str) -> bool:
    """Whether a configuration's seeds train as one stacked model (one task) or apart (a task
    each): ``[study].stack_seeds``; "auto" stacks where the training runs on a GPU (one batched
    product for all seeds) and not on the CPU, where a stack computes one product per seed and
    trains no faster per core (``bench/train.py``) while apart two cores train two seeds at once.
    The numbers are the same either way on the CPU (``repro.gan.seedstack``)."""
    if spec.stack_seeds != "auto":
        return spec.stack_seeds == "always"
    if executor == "slurm":
        return spec.slurm.resources["train"].gpus_per_task > 0

    return torch.cuda.is_available()


def training_units(cells: list[Cell], stack: bool) -> list[tuple[Cell, ...]]:
    """The units of work, in the order of ``cells``: one per cell, except that with ``stack`` the
    train cells of one configuration (differing only in the seed, and in the parent model of a
    fine-tune) form one unit, placed where its first cell is."""
    def key(c: Cell) -> str:
        return stable_hash({"train": {k: v for k, v in c.config["train"].items() if k != "seed"},
                            "parent": c.labels.get("init_from"), "variant": c.labels.get("variant")})

    groups: dict[str, list[Cell]] = {}
    for c in cells:
        if stack and c.stage == "train":
            groups.setdefault(key(c), []).append(c)
    units: list[tuple[Cell, ...]] = []
    placed: set[str] = set()
    for c in cells:
        if not (stack and c.stage == "train"):
            units.append((c,))
        elif key(c) not in placed:
            placed.add(key(c))
            units.append(tuple(groups[key(c)]))
    return units


def run(spec: Spec, root: str | Path = DEFAULT_ROOT, *, executor: str | None = None, retry_failed: bool = False,
        force: bool = False, progress: bool = True) -> RunReport:
    """Run every cell without a result, each after the cells it depends on; record failures and go
    on. One run per store at a time (``study_lock``)."""
    store = Store(root, spec.name)
    open_store_dir(store.dir)
    with study_lock(store.dir):
        check_owner(spec, store.dir, force, claim=True)
        return _run(spec, store, root, executor, retry_failed, force, progress)


OWNER = "spec.json"  # which spec file (path and digest) a store's results come from


def open_store_dir(study_dir: Path) -> None:
    """Make the study's store folder, or say in one line why it cannot be (``StoreError``)."""
    try:
        study_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (study_dir, *study_dir.parents) if p.exists() and not p.is_dir()), study_dir)
        raise StoreError(f"{blocker} is a file where the store's folder {study_dir} should be; move it away, "
                         "or give the study another [study].name or --root") from None
    except PermissionError as exc:
        raise StoreError(f"cannot make the store {study_dir}: {exc.strerror}; pass a writable --root") from None
    if not os.access(study_dir, os.W_OK | os.X_OK):
        raise StoreError(f"the store {study_dir} is not writable; pass a writable --root")


def check_owner(spec: Spec, study_dir: Path, force: bool = False, claim: bool = False) -> None:
    """Refuse a spec that would write or read another spec's store: a different file *and*
    different content under the same ``[study].name`` (the same file edited, or the same content
    moved, is the same study: cells are content-addressed). ``force`` takes the store over;
    ``claim`` records this spec as the store's."""
    path = study_dir / OWNER
    owner, problem = read_json_object(path)
    if problem and claim:  # damaged: it says nothing about the owner, and this spec claims the store
        log.warning("%s; replacing it", problem)
        remove(path)
    mine = {"path": str(Path(spec.path).resolve()), "digest": spec.digest}
    if (isinstance(owner, dict) and owner.get("path") != mine["path"] and owner.get("digest") != mine["digest"]
            and not force):
        raise SpecError(f"{study_dir} holds the results of {owner.get('path')}, another spec than {spec.path} "
                        f"with the same [study].name {spec.name!r}; give this spec its own name, or pass --force "
                        "to take the store over")
    if claim and owner != mine:
        atomic_write_json(path, mine)


@contextlib.contextmanager
def study_lock(study_dir: Path) -> Iterator[None]:
    """One ``study run`` per store at a time: a second one waits here (saying so) until the first
    is done, then finds its cells finished instead of computing them again. The lock is the
    kernel's (flock), so it is released when its holder dies, even by kill -9."""
    path = study_dir / ".lock"

    def say(holder: str) -> None:
        print(f"{study_dir}: another study run ({holder}) is running; waiting for it to finish",
              file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        try:  # only taking the lock is guarded here: what the study run raises passes through
            stack.enter_context(locked(path, on_wait=say))
        except IsADirectoryError:
            raise StoreError(f"{path} is a folder, not the study's lock file; remove it") from None
        except PermissionError as exc:
            raise StoreError(f"cannot open the study's lock file {path}: {exc.strerror}; pass a writable --root") \
                from None
        yield


def _run(spec: Spec, store: Store, root: str | Path, executor: str | None, retry_failed: bool, force: bool,
         progress: bool) -> RunReport:
    from tqdm.auto import tqdm  # noqa: PLC0415

    name = executor or spec.executor
    ex = make_executor(name, workers=spec.local_workers, threads_per_cell=spec.threads_per_cell,
                       folder=store.dir / "slurm", slurm=spec.slurm)
    start = time.perf_counter()
    planned = plan(spec, root)
    todo = []
    blocked: dict[str, str] = {}  # cell id → why it could not even be started or recorded
    for p in planned:
        if not (p.will_run or force or (retry_failed and p.state == "failed")):
            continue
        try:
            # recompute from scratch: a checkpoint would otherwise be resumed, and a damaged or
            # outdated cell's files (a checkpoint of a parent that changed) must not be reused
            if force or p.state in ("damaged", "outdated"):
                store.clear(p.cell.id)
            store.clear_status(p.cell.id)  # a retried training run resumes from its checkpoint
        except OSError as exc:  # a read-only or immutable cell: this cell cannot run, the others can
            blocked[p.cell.id] = f"cannot clear {store.cell_dir(p.cell.id)}: {exc.strerror or exc}"
            log.warning("%s", blocked[p.cell.id])
            continue
        todo.append(p.cell)
    units = training_units(schedule(todo), stacks_seeds(spec, name))
    index = {c.id: i for i, unit in enumerate(units) for c in unit}
    tasks = [Task((str(store.root), spec.name, unit, spec.threads_per_cell), unit[0].stage,
                  tuple(sorted({index[d] for c in unit for d in c.deps if d in index} - {i})))
             for i, unit in enumerate(units)]
    totals = {stage: sum(c.stage == stage for c in todo) for stage in STAGES}
    ended = dict.fromkeys(STAGES, 0)
    counts = {"done": 0, "failed": 0, "diverged": 0}
    # disable=None: tqdm stays quiet when stderr is not a terminal (a log file, a CI job), where
    # one line per finished cell replaces it
    bar = tqdm(total=len(todo), desc=f"{spec.name}", unit="cell", disable=True if not progress or not todo else None)
    lines = ProgressLog(todo, cell_cost, store.dir, lines=progress and bool(todo) and not sys.stderr.isatty())

    def on_done(i: int, value: Any) -> None:
        if isinstance(value, BaseException):  # the worker itself died, or could not write: record it here
            for cell in units[i]:
                why = f"worker failed: {type(value).__name__}: {value}"
                try:
                    store.record(cell, "failed", None, why, 0.0, provenance())
                except OSError as exc:  # the cell's folder cannot be written: say so in the report
                    blocked[cell.id] = f"{why}; and its failure could not be recorded: {exc.strerror or exc}"
            value = ["failed"] * len(units[i])
        for cell, state in zip(units[i], value, strict=True):
            counts[state] = counts.get(state, 0) + 1
            ended[cell.stage] += 1
            st = store.status(cell.id) or {}
            lines.finished(cell, state, st.get("wall_seconds"), blocked.get(cell.id) or st.get("error"))
        stages = {s: f"{ended[s]}/{totals[s]}" for s in STAGES if totals[s]}
        bar.set_postfix(**stages, **{k: v for k, v in counts.items() if v or k == "failed"}, refresh=False)
        bar.update(len(units[i]))

    try:
        ex.run_graph(execute_cells, tasks, on_done)
    finally:
        bar.close()
        lines.close()
    ran = len(todo)
    final = plan(spec, root)
    write_tables(spec, store, final)
    failed = [(p.cell.stage, p.cell.id, blocked.get(p.cell.id)
               or (p.why if p.state == "failed" else f"{p.state}: {p.why}"))
              for p in final if p.state not in ("done", "diverged")]
    return RunReport(store.dir, summary(final), failed, ran, time.perf_counter() - start)


def write_tables(spec: Spec, store: Store, planned: list[PlannedCell]) -> None:
    """results.csv, ceiling.csv and quality.csv (each trained model against the training bar,
    ``repro.analysis.quality``) from the verified cells of ``planned`` (a fresh ``plan``), and
    provenance.json; results and ceiling again in each other feature space of the study
    (results-autoencoder.csv, …: ``results.in_space``). The training bar is judged in the primary
    space only: a model passes or fails it whatever space a verdict is then checked in."""
    cells, states = [p.cell for p in planned], {p.cell.id: p.state for p in planned}
    for space in spec.evaluate.feature_spaces:
        frame = store.tidy(cells, states, space)
        ceiling = store.ceiling(cells, states, space)
        for table in (frame, ceiling):
            if not table.empty:
                table.insert(0, "study", spec.name)
        for table, name in ((frame, RESULTS_CSV), (ceiling, CEILING_CSV)):
            with atomic_path(store.dir / in_space(name, space)) as tmp:
                table.to_csv(tmp, index=False)
        if space == PRIMARY_SPACE:
            judged = quality.assess(frame, ceiling, spec.quality)
            with atomic_path(store.dir / quality.QUALITY_CSV) as tmp:
                quality.with_bar(judged, spec.quality).to_csv(tmp, index=False)
    atomic_write_json(store.dir / SPACES_JSON, _space_records(store, cells, states))
    for space in set(FEATURE_SPACES) - set(spec.evaluate.feature_spaces):  # an earlier run's, not this spec's
        for name in (RESULTS_CSV, CEILING_CSV):
            remove(store.dir / in_space(name, space))
    atomic_write_json(store.dir / "provenance.json", {**provenance(), "spec": spec.path})


def _space_records(store: Store, cells: list[Cell], states: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What each feature space is, for the paper: its features cell's figures of merit and dimension."""
    out = {}
    for c in cells:
        if c.stage == "features" and states[c.id] == "done":
            name = c.config.get("space", PRIMARY_SPACE)
            out[name] = {**(store.result(c.id) or {}), "feature_dim": c.config[name]["feature_dim"]}
    return out
