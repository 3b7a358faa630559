"""repro.harness.executors: every backend calls back once per task, with the value or the exception."""

from __future__ import annotations

import os
import time

import pytest

from repro.core.errors import ReproError
from repro.harness.executors import ExecutorError, InProcessExecutor, LocalExecutor, Task, make_executor


def square_or_fail(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative {x}")
    return x * x


def die(x: int) -> int:
    os._exit(3)  # a worker killed outright (OOM, kill -9)


@pytest.mark.parametrize("executor", [InProcessExecutor(), LocalExecutor(workers=2)], ids=["inprocess", "local"])
def test_values_and_exceptions_reach_on_done(executor) -> None:
    got: dict[int, object] = {}
    executor.map(square_or_fail, [(2,), (-1,), (3,)], "evaluate", lambda i, v: got.__setitem__(i, v))
    assert got[0] == 4 and got[2] == 9
    assert isinstance(got[1], ValueError) and "negative -1" in str(got[1])


def test_a_dying_worker_is_reported_not_hung() -> None:
    got: dict[int, object] = {}
    LocalExecutor(workers=1).map(die, [(1,)], "train", lambda i, v: got.__setitem__(i, v))
    assert isinstance(got[0], BaseException)


def log_start_end(path: str, name: str, seconds: float) -> str:
    """Append 'start name' and 'end name' lines to ``path`` around a sleep (O_APPEND: one line per write)."""
    with open(path, "a") as fh:
        fh.write(f"start {name}\n")
    time.sleep(seconds)
    with open(path, "a") as fh:
        fh.write(f"end {name}\n")
    return name


@pytest.mark.parametrize("executor", [InProcessExecutor(), LocalExecutor(workers=2)], ids=["inprocess", "local"])
def test_a_graph_runs_each_task_after_its_dependencies(executor, tmp_path) -> None:
    log = str(tmp_path / "log")
    # a (slow) -> c, b (fast) -> d -> e: on two workers d starts while a still runs (2 s: room for
    # a spawned worker that starts late on a loaded machine)
    tasks = [Task((log, "a", 2.0), "train"), Task((log, "b", 0.1), "train"),
             Task((log, "c", 0.1), "evaluate", (0,)), Task((log, "d", 0.1), "train", (1,)),
             Task((log, "e", 0.1), "evaluate", (3,))]
    got: dict[int, object] = {}
    executor.run_graph(log_start_end, tasks, lambda i, v: got.__setitem__(i, v))
    assert got == {0: "a", 1: "b", 2: "c", 3: "d", 4: "e"}
    lines = open(log).read().split("\n")
    at = {line: k for k, line in enumerate(lines)}
    for child, parent in (("c", "a"), ("d", "b"), ("e", "d")):
        assert at[f"end {parent}"] < at[f"start {child}"]
    if executor.slots == 2:  # no waiting for a stage to end: d and e ran while a was still running
        assert at["end e"] < at["end a"]


def test_one_worker_takes_the_first_ready_task_in_list_order(tmp_path) -> None:
    log = str(tmp_path / "log")
    # b waits for a; c is ready from the start but listed after b, and d after c
    tasks = [Task((log, "a", 0.0), "train"), Task((log, "b", 0.0), "train", (0,)),
             Task((log, "c", 0.0), "evaluate"), Task((log, "d", 0.0), "evaluate")]
    LocalExecutor(workers=1).run_graph(log_start_end, tasks, lambda i, v: None)
    starts = [line.split()[1] for line in open(log).read().split("\n") if line.startswith("start")]
    assert starts == ["a", "b", "c", "d"]


def test_a_dying_worker_in_a_graph_fails_its_task_and_the_rest_still_run(tmp_path) -> None:
    log = str(tmp_path / "log")
    got: dict[int, object] = {}
    tasks = [Task((1,), "train"), Task((log, "after", 0.0), "evaluate", (0,))]
    LocalExecutor(workers=1).run_graph(die_or_log, tasks, lambda i, v: got.__setitem__(i, v))
    assert isinstance(got[0], BaseException) and got[1] == "after"


def die_or_log(*args):
    return die(*args) if len(args) == 1 else log_start_end(*args)


def test_a_cycle_or_a_dangling_dependency_is_refused() -> None:
    with pytest.raises(ExecutorError, match="wait for each other"):
        InProcessExecutor().run_graph(square_or_fail, [Task((1,), "train", (1,)), Task((2,), "train", (0,))],
                                      lambda i, v: None)
    with pytest.raises(ExecutorError, match="not other tasks"):
        LocalExecutor(workers=1).run_graph(square_or_fail, [Task((1,), "train", (5,))], lambda i, v: None)


def test_factory() -> None:
    assert make_executor("inprocess").slots == 1
    assert make_executor("local", workers=3).slots == 3
    assert make_executor("local", threads_per_cell=os.cpu_count() or 1).slots == 1
    with pytest.raises(ReproError, match="unknown executor 'k8s'"):
        make_executor("k8s")


def die_if(path: str, name: str, seconds: float, victim: str) -> str:
    """``log_start_end``, except that the task named ``victim`` kills its own worker (kill -9)
    once the others have started, every time it runs."""
    import signal

    if name == victim:
        time.sleep(seconds / 2)
        os.kill(os.getpid(), signal.SIGKILL)
    return log_start_end(path, name, seconds)


def test_a_killed_worker_fails_its_own_task_only(tmp_path) -> None:
    """kill -9 of one worker breaks the whole pool; the healthy task beside it runs again and
    finishes, the killed one fails, and what depends on the healthy one still runs."""
    log = str(tmp_path / "log")
    tasks = [Task((log, "victim", 1.0, "victim"), "train"), Task((log, "healthy", 1.0, "victim"), "train"),
             Task((log, "child", 0.0, "victim"), "evaluate", (1,))]
    got: dict[int, object] = {}
    LocalExecutor(workers=2).run_graph(die_if, tasks, lambda i, v: got.__setitem__(i, v))
    assert isinstance(got[0], BaseException) and got[1] == "healthy" and got[2] == "child"
    assert sorted(got) == [0, 1, 2]
