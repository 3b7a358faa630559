"""Executors: one interface, three backends (in-process, local processes, SLURM via submitit).

``Executor.map(fn, args_list, stage)`` runs ``fn(*args)`` for every argument tuple and
calls ``on_done(index, value_or_exception)`` as each finishes; ``Executor.run_graph(fn, tasks)``
does the same for tasks that wait for others (a fine-tune for its parent model, an evaluation
for its model). Tasks write their own results to the store (atomically), so an executor only
schedules: the same spec gives the same results on every backend, and a killed executor loses
nothing that finished.

- ``inprocess``: one after the other in this process (debugging, breakpoints).
- ``local``: a pool of worker processes sized to the machine (cores // threads per cell); a
  task starts as soon as its dependencies are done and a worker is free, the first ready task
  in the given (priority) order first, so no core idles while work is ready.
- ``slurm``: submitit job arrays, chunked below MaxArraySize, at most ``max_concurrent``
  tasks running, per-stage resources; a timed-out or preempted task is requeued
  (``submitit.helpers.Checkpointable``) and resumes from its training checkpoint. A graph
  runs in rounds: every ready task of one stage as one array.
"""

from __future__ import annotations

import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import logging
import multiprocessing as mp
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit

from repro.core import config
from repro.core.errors import ReproError
from repro.core.vocab import STAGES

log = logging.getLogger(__name__)

OnDone = Callable[[int, Any], None]


@dataclass(frozen=True)
class Resources:
    """What an ``#SBATCH`` header holds, for one stage."""
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    cpus_per_task: int = 2
    gpus_per_task: int = 0
    mem_gb: int = 8
    time_min: int = 60

    def __post_init__(self) -> None:
        config.check_minimum(self, {"cpus_per_task": 1, "gpus_per_task": 0, "mem_gb": 1, "time_min": 1})


@dataclass(frozen=True)
class SlurmSettings:
    max_array_size: int = 1000
    max_concurrent: int = 32
    resources: dict[str, Resources] = field(default_factory=lambda: {s: Resources() for s in STAGES})

    def __post_init__(self) -> None:
        config.check_minimum(self, {"max_array_size": 1, "max_concurrent": 1})


class ExecutorError(ReproError):
    """The executor itself could not run (no sbatch, a broken pool, …)."""


@dataclass(frozen=True)
class Task:
    """One call of a graph: ``fn(*args)``, run once the tasks at indices ``deps`` have ended
    (whatever their outcome: a task whose input failed records that failure itself)."""

    args: tuple[Any, ...]
    stage: str
    deps: tuple[int, ...] = ()


def ready_tasks(tasks: Sequence[Task], ended: set[int], started: set[int]) -> list[int]:
    """Indices of the tasks not yet started whose dependencies have all ended, in list order."""
    return [i for i, t in enumerate(tasks) if i not in started and all(d in ended for d in t.deps)]


def _check_graph(tasks: Sequence[Task]) -> None:
    for i, t in enumerate(tasks):
        bad = [d for d in t.deps if not 0 <= d < len(tasks) or d == i]
        if bad:
            raise ExecutorError(f"task {i} depends on {bad}, which are not other tasks of the graph")


class Executor(ABC):
    name = "abstract"
    slots = 1  # how many cells run at once (the progress bar's "running")

    @abstractmethod
    def map(self, fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]], stage: str, on_done: OnDone) -> None:
        """Run ``fn(*args)`` for each args; ``on_done(i, result or exception)`` as each ends."""

    def run_graph(self, fn: Callable[..., Any], tasks: Sequence[Task], on_done: OnDone) -> None:
        """Run every task after its dependencies; ``on_done(i, result or exception)`` as each ends.
        This default runs rounds through ``map``, each round the ``batch`` of the ready tasks (a
        backend's one hook; the local pool schedules task by task instead). Raises
        ``ExecutorError`` on a cycle."""
        _check_graph(tasks)
        ended: set[int] = set()
        while len(ended) < len(tasks):
            ready = ready_tasks(tasks, ended, ended)
            if not ready:
                raise ExecutorError(f"tasks {sorted(set(range(len(tasks))) - ended)} wait for each other (a cycle)")
            batch = self.batch(tasks, ready)

            def done(j: int, value: Any, batch=batch) -> None:
                ended.add(batch[j])
                on_done(batch[j], value)

            self.map(fn, [tasks[i].args for i in batch], tasks[batch[0]].stage, done)

    def batch(self, tasks: Sequence[Task], ready: list[int]) -> list[int]:
        """Which of the ready tasks (in list order) run together in one ``map``: by default every
        ready task of the first one's stage (one SLURM array per stage and round)."""
        return [i for i in ready if tasks[i].stage == tasks[ready[0]].stage]


class InProcessExecutor(Executor):
    name = "inprocess"

    def map(self, fn, args_list, stage, on_done) -> None:
        for i, args in enumerate(args_list):
            try:
                value = fn(*args)
            except Exception as exc:  # noqa: BLE001 - reported through on_done like the others
                value = exc
            on_done(i, value)

    def batch(self, tasks, ready) -> list[int]:
        """One task at a time: the first ready one in list order."""
        return ready[:1]


def _die_with_parent(parent_pid: int, every_seconds: float = 1.0) -> None:
    """Pool-worker initializer: a daemon thread ends the worker once its parent is gone (a
    ``kill -9`` of ``study run`` would otherwise leave workers computing their queued cells and
    then idling for ever). Polling ``getppid`` works wherever the worker is reparented."""
    import threading  # noqa: PLC0415

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(every_seconds)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


class LocalExecutor(Executor):
    """A pool of ``workers`` processes (spawned: no forked OpenMP/torch state) that end with
    the process that started them."""

    name = "local"

    def __init__(self, workers: int = 0, threads_per_cell: int = 1) -> None:
        cores = os.cpu_count() or 1
        self.workers = workers or max(1, cores // threads_per_cell)

    @property
    def slots(self) -> int:
        return self.workers

    def map(self, fn, args_list, stage, on_done) -> None:
        if not args_list:
            return
        workers = min(self.workers, len(args_list))
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                    initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(fn, *args): i for i, args in enumerate(args_list)}
            for fut in cf.as_completed(futures):
                try:
                    value = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died (OOM, kill -9) lands here
                    value = exc
                on_done(futures[fut], value)

    def run_graph(self, fn, tasks, on_done) -> None:
        """One pool for the whole graph. A task is handed to the pool only when a worker is free,
        so the order of the list decides among the tasks that are ready at that moment (a task
        queued earlier would otherwise run before a more urgent one that became ready later).

        A worker that dies (OOM, kill -9) breaks the pool, and every task running in it ends with
        ``BrokenProcessPool``, the healthy ones too. Those tasks become suspects and run again in a
        fresh pool, one at a time and alone: a suspect that breaks the pool on its own is the one
        that dies, and fails; the others finish (a training run resumes from its checkpoint)."""
        _check_graph(tasks)
        if not tasks:
            return
        ended: set[int] = set()
        started: set[int] = set()
        suspects: set[int] = set()
        pool = self._pool(len(tasks))
        running: dict[cf.Future, int] = {}
        try:
            while len(ended) < len(tasks):
                for i in self._next(tasks, ended, started, suspects, running):
                    running[pool.submit(fn, *tasks[i].args)] = i
                    started.add(i)
                if not running:
                    raise ExecutorError(f"tasks {sorted(set(range(len(tasks))) - ended)} wait for each other (a cycle)")
                alone = len(running) == 1  # whether a task that ends with a broken pool ran by itself
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                broken = False
                for fut in finished:
                    i = running.pop(fut)
                    try:
                        value = fut.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        if not alone:
                            suspects.add(i)  # not known to be the one that died: again, alone
                            started.discard(i)
                            log.warning("a worker died while task %d ran beside others; it runs again alone", i)
                            continue
                        value = exc  # it ran alone and its worker died: it is the one
                    except Exception as exc:  # noqa: BLE001 - reported through on_done like the others
                        value = exc
                    ended.add(i)
                    on_done(i, value)
                if broken:  # the broken pool's other futures have ended too; a fresh pool for the rest
                    for i in running.values():
                        suspects.add(i)
                        started.discard(i)
                    running.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._pool(len(tasks) - len(ended))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _next(self, tasks: Sequence[Task], ended: set[int], started: set[int], suspects: set[int],
              running: dict[cf.Future, int]) -> list[int]:
        """The tasks to submit now: the first ready ones for the free workers, except that a
        suspect (``run_graph``) starts only in an empty pool and then runs alone."""
        if any(i in suspects for i in running.values()):
            return []
        ready = ready_tasks(tasks, ended, started)
        if not running:
            first_suspect = next((i for i in ready if i in suspects), None)
            if first_suspect is not None:
                return [first_suspect]
        return [i for i in ready if i not in suspects][: self.workers - len(running)]

    def _pool(self, n_tasks: int) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=max(1, min(self.workers, n_tasks)), mp_context=mp.get_context("spawn"),
                                      initializer=_die_with_parent, initargs=(os.getpid(),))


class CellTask(submitit.helpers.Checkpointable):
    """A cell as a SLURM task. On time-out or preemption submitit calls ``checkpoint``, which
    (by default) resubmits the same call: a training cell then resumes from its checkpoint."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


class SlurmExecutor(Executor):
    name = "slurm"

    def __init__(self, folder: str | Path, settings: SlurmSettings, poll_seconds: float = 2.0) -> None:
        self.folder = Path(folder)
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.slots = settings.max_concurrent  # at most; the cluster may run fewer

    def _executor(self, stage: str, res: Resources) -> submitit.AutoExecutor:
        folder = self.folder / stage / time.strftime("%Y%m%d-%H%M%S")  # job ids restart with the controller
        try:
            ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        except RuntimeError as exc:
            raise ExecutorError(f"the slurm executor needs a SLURM cluster (sbatch on PATH, SLURM_CONF set): {exc}") \
                from None
        params: dict[str, Any] = {
            "timeout_min": res.time_min, "cpus_per_task": res.cpus_per_task, "mem_gb": res.mem_gb,
            "slurm_array_parallelism": self.settings.max_concurrent, "name": f"repro-{stage}",
            "slurm_signal_delay_s": min(90, max(10, res.time_min * 60 // 4)),
        }
        if res.gpus_per_task:
            params["gpus_per_node"] = res.gpus_per_task
        if res.partition:
            params["slurm_partition"] = res.partition
        if res.account:
            params["slurm_account"] = res.account
        if res.qos:
            params["slurm_qos"] = res.qos
        ex.update_parameters(**params)
        return ex

    def map(self, fn, args_list, stage, on_done) -> None:
        if not args_list:
            return
        res = self.settings.resources[stage]
        ex = self._executor(stage, res)
        task = CellTask(fn)
        jobs: list[tuple[int, Any]] = []
        chunk = self.settings.max_array_size
        for start in range(0, len(args_list), chunk):  # one array per chunk, below MaxArraySize
            part = list(args_list[start : start + chunk])
            columns = [list(col) for col in zip(*part, strict=True)]
            submitted = ex.map_array(task, *columns)
            jobs.extend((start + j, job) for j, job in enumerate(submitted))
            log.info("submitted %d %s task(s) as array %s", len(part), stage, submitted[0].job_id.split("_")[0])
        pending = dict(jobs)
        while pending:
            for i, job in list(pending.items()):
                if job.done():
                    try:
                        value = job.result()
                    except Exception as exc:  # noqa: BLE001 - FailedJobError, cancelled, timed out
                        value = exc
                    on_done(i, value)
                    del pending[i]
            if pending:
                time.sleep(self.poll_seconds)


def make_executor(name: str, *, workers: int = 0, threads_per_cell: int = 1, folder: str | Path = ".",
                  slurm: SlurmSettings | None = None) -> Executor:
    if name == "inprocess":
        return InProcessExecutor()
    if name == "local":
        return LocalExecutor(workers, threads_per_cell)
    if name == "slurm":
        return SlurmExecutor(folder, slurm or SlurmSettings())
    raise ReproError(f"unknown executor {name!r}; expected one of inprocess, local, slurm")
