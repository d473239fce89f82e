"""The advisory run lock of a ledger (``fcntl.flock`` on ``<ledger>.lock``): one writing
run at a time, re-entrant in the thread that holds it; readers do not take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from r2p_models.ledger.access import _check_path
from r2p_models.ledger.errors import LedgerAccessError, LedgerLockedError
from r2p_models.ledger.schema import _utc_stamp

__all__ = ["ledger_lock"]

#: Run locks held by this process: lock file -> [pid, thread, depth] (the pid tells a forked
#: child, which inherits this dict but not the lock, from its parent).
_HELD: dict[str, list[int]] = {}


@contextlib.contextmanager
def ledger_lock(path: str | os.PathLike[str], wait: bool | float = False) -> Iterator[Path]:
    """Hold the advisory run lock of a ledger: one writing run at a time.

    Every r2p command that writes to a ledger holds it for the whole run (``rerun``,
    ``pipeline``, ``backtest``, ``resolve``, ``ledger import-analyst``, ``ledger
    recalibrate``); readers do not take it. An exclusive ``fcntl.flock`` on
    ``<ledger>.lock``, released when the block exits or the process dies. The holder's pid,
    host and start time are written into the file for the error message of the next
    contender; the file is removed when the lock is released (a contender that locked a
    file removed meanwhile retries on the new one). The lock is advisory: it orders runs;
    single writes are protected by SQLite's own locking anyway.

    The lock is re-entrant in the thread that holds it (``pipeline`` holds it and calls
    ``run_backtest`` and ``rerun``, which take it too): an inner block is a no-op and the
    lock is released when the outermost block exits. Another thread or process is refused.

    Parameters
    ----------
    path : str or Path
        The ledger file (need not exist yet; its folder must).
    wait : bool or float, default False
        False: refuse at once if held; True: wait as long as needed; a number: wait up to
        that many seconds.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    LedgerLockedError
        If another run (another process, or another thread of this one) holds the lock.
    LedgerAccessError, LedgerNotFoundError
        If ``path`` is a folder, the ledger or its folder is not writable, or the folder
        does not exist (checked before the lock file is created).
    """
    path = Path(path)
    _check_path(path, write=True)
    lock_path = Path(f"{os.fspath(path)}.lock")
    key = os.path.realpath(lock_path)
    held = _HELD.get(key)
    if held is not None and held[:2] == [os.getpid(), threading.get_ident()]:
        held[2] += 1
        try:
            yield lock_path
        finally:
            held[2] -= 1
        return
    fd = _acquire(path, lock_path, wait)
    try:
        _HELD[key] = [os.getpid(), threading.get_ident(), 1]
        info = f"pid {os.getpid()} on {socket.gethostname()} since {_utc_stamp()}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        try:
            yield lock_path
        finally:
            del _HELD[key]
            lock_path.unlink(missing_ok=True)  # while still holding it: see _acquire
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(path: Path, lock_path: Path, wait: bool | float) -> int:
    """Open and flock ``lock_path``; return the descriptor of the locked file.

    A holder removes the file before it unlocks it, so a contender that was waiting on the
    old file gets a lock on a file no longer at ``lock_path``: it then retries on the file
    now there (created anew if needed), so two runs never hold locks on different files.
    """
    timeout = None if wait is True else 0.0 if wait is False else float(wait)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerAccessError(f"ledger {path}: cannot create its lock file {lock_path}: "
                                    f"{exc.strerror}") from exc
        try:
            if deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
                            raise LedgerLockedError(
                                f"ledger {path} is locked by another run "
                                f"({holder or 'holder unknown'}; lock file {lock_path})"
                                + (f"; waited {timeout:g} s" if timeout else "")
                            ) from None
                        time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
            mine = os.fstat(fd)
            try:
                there = os.stat(lock_path)
            except FileNotFoundError:
                there = None
        except BaseException:
            os.close(fd)
            raise
        if there is not None and (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)  # locked a file its holder had removed: retry on the current one
