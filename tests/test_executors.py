"""repro.executors: every backend calls back once per task, with the value or the exception."""

from __future__ import annotations

import os

import pytest

from repro.errors import ReproError
from repro.executors import InProcessExecutor, LocalExecutor, make_executor


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


def test_factory() -> None:
    assert make_executor("inprocess").slots == 1
    assert make_executor("local", workers=3).slots == 3
    assert make_executor("local", threads_per_cell=os.cpu_count() or 1).slots == 1
    with pytest.raises(ReproError, match="unknown executor 'k8s'"):
        make_executor("k8s")
