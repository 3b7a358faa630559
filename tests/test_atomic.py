"""repro.core.atomic: a reader sees the old file or the whole new one, whatever happens to the writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repro.core.atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_json


def test_json_round_trip_and_no_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert path.read_text().endswith("\n")
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # the temporary file is gone


def test_a_failing_writer_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    atomic_write_bytes(path, b"old")

    def half_then_fail(fh) -> None:
        fh.write(b"new but incomplete")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
    with pytest.raises(ValueError), atomic_path(path) as tmp:
        tmp.write_bytes(b"other")
        raise ValueError
    assert path.read_bytes() == b"old"


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    atomic_write_bytes(path, b"old")
    code = (f"import time\nfrom repro.core.atomic import atomic_write\n"
            f"def w(fh):\n    fh.write(b'partial'); fh.flush(); open({str(tmp_path / 'started')!r}, 'w').close(); time.sleep(60)\n"
            f"atomic_write({str(path)!r}, w)\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "started").exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.read_bytes() == b"old"


def test_what_is_not_a_regular_file_is_never_replaced(tmp_path) -> None:
    """A FIFO (or a device node) or a folder at the target: an OSError naming it, and it stays."""
    import os
    import stat

    fifo, folder = tmp_path / "pipe", tmp_path / "folder"
    os.mkfifo(fifo)
    folder.mkdir()
    for target in (fifo, folder):
        with pytest.raises(OSError, match="not a regular file") as info:
            atomic_write_bytes(target, b"data")
        assert info.value.filename == str(target)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and folder.is_dir() and not any(folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]  # no temporary file left


def test_one_lock_at_a_time_and_the_waiter_is_told_who_holds_it(tmp_path) -> None:
    """A second process waits for the lock, is told the holder's pid, then takes it."""
    import os
    import subprocess
    import sys
    import time

    from repro.core.atomic import locked

    path = tmp_path / ".lock"
    code = ("import sys, time; from repro.core.atomic import locked\n"
            "with locked(sys.argv[1], on_wait=lambda h: print('waiting for', h, flush=True)):\n"
            "    print('got it', time.time(), flush=True)\n")
    with locked(path):
        assert path.read_text() == f"pid {os.getpid()}"
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
        time.sleep(3)  # ample time to start and reach the lock
        assert proc.poll() is None
        released = time.time()
    out, _ = proc.communicate(timeout=60)
    assert out.splitlines()[0] == f"waiting for pid {os.getpid()}"
    assert float(out.splitlines()[1].split()[-1]) >= released
