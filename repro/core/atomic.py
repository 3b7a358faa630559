"""Atomic file writes: write to a temporary file in the same folder, fsync, rename; and the
one file lock of the project (``locked``).

A reader sees either the old file or the complete new one, never a half-written one,
even if the process is killed mid-write (rename is atomic on POSIX file systems).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Use it for writers that want a file name (``np.savez``, ``torch.save``, ``savefig``).
    On an exception the temporary file is removed and ``path`` is untouched. What stands at
    ``path`` and is not a regular file (a folder, a device node, a FIFO) is never replaced: an
    ``OSError`` names it.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, a device, a FIFO: never replaced by a file
        # OSError picks its subclass from the code: IsADirectoryError or FileExistsError
        raise OSError(errno.EISDIR if path.is_dir() else errno.EEXIST, "not a regular file; refusing to replace it",
                      str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(fh)`` on a binary handle whose content replaces ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(path, text.encode())


def remove(path: str | os.PathLike[str]) -> None:
    """Remove whatever is at ``path`` (a file, a link or a folder), if anything."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(path: str | os.PathLike[str], on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) for the block. The lock is the
    kernel's (flock): released when its holder ends, even by kill -9. The holder's pid is written
    in the file; a caller that has to wait first gets ``on_wait(holder)`` (e.g. to say so).
    ``OSError`` where the file cannot be opened (a folder, no permission)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                fh.seek(0)
                on_wait(fh.read().strip() or "another process")
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
