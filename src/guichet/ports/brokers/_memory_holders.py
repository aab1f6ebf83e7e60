"""Holder tokens of the embedded broker: who holds a taken message, and whether it is still alive.

Each MemoryBroker opened on a folder is a holder: it creates <folder>/holders/<token>.lock and keeps an
exclusive flock on it for its lifetime. A taken message records its holder's token. The OS releases a
flock when the process that held it dies, whatever the way (SIGKILL, OOM, power cut: after a reboot no
lock is held at all), so a holder is dead when its lock file is missing or can be flocked; unlike a pid,
a token is never reused, neither after a reboot nor by another container sharing the volume.

flock (not fcntl/lockf record locks) belongs to the open file description: a second open() of the same
file conflicts even within one process, so two brokers of one process see each other alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import uuid
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

HOLDERS_DIR = "holders"
_SUFFIX = ".lock"
_NEW_SUFFIX = ".new"  # a lock file being created (see _acquire)
_NEW_GRACE_S = 60.0


def new_token() -> str:
    # "h-" + hex: SQLite's INTEGER affinity can never turn it into a number (a bare hex string of digits
    # could), so the taken column keeps 0 for "ready" and a text token otherwise.
    return "h-" + uuid.uuid4().hex


class Holder:
    """This broker's token, and the exclusive flock on its lock file (none for an in-memory broker)."""

    def __init__(self, folder: Path | None) -> None:
        self.token = new_token()
        self.folder = None if folder is None else folder / HOLDERS_DIR
        self._file: IO[bytes] | None = None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = _acquire(self.folder, self.token)

    def release(self) -> None:
        """Remove the lock file, then release the lock: messages still taken become recoverable."""
        if self._file is None or self.folder is None:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"{self.token}{_SUFFIX}").unlink()
        self._file.close()  # closing the descriptor releases the flock
        self._file = None

    def dead(self, tokens: list[str]) -> list[str]:
        """The tokens among these whose holder is gone (never this holder's own token)."""
        if self.folder is None:
            return []  # an in-memory broker shares its queues with nobody
        return [t for t in tokens if t != self.token and not alive(self.folder, t)]

    def sweep_orphans(self) -> None:
        """Delete the lock files that no live holder holds (left by crashed processes)."""
        if self.folder is None:
            return
        for path in self.folder.glob(f"*{_SUFFIX}"):
            if path.name.removesuffix(_SUFFIX) != self.token:
                _held(path)
        # A ".new" file is unlocked for an instant while its holder starts: only old ones are debris.
        for path in self.folder.glob(f"*{_NEW_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - path.stat().st_mtime > _NEW_GRACE_S:
                    _held(path)


def alive(folder: Path, token: str) -> bool:
    """Whether token's holder still holds its lock; a dead holder's file is deleted on the way."""
    if not token.startswith("h-"):
        return False  # a pid written by an older version, or anything else: nobody holds it any more
    if _held(folder / f"{token}{_SUFFIX}"):
        return True
    log.info("holder %s gone: the messages it held are requeued", token)
    return False


def _held(path: Path) -> bool:
    """Whether someone holds path's flock; when nobody does, the file is deleted."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return False
    with file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        # Deleted while we hold the lock: a concurrent check cannot take it for a live holder's file.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return False


def _acquire(folder: Path, token: str) -> IO[bytes]:
    # Created under a temporary name and renamed once locked: a sweep can never find the final file
    # unlocked while its holder is still starting (it would delete it, and then count the holder dead).
    temporary = folder / f"{token}{_NEW_SUFFIX}"
    file = temporary.open("xb")
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        file.write(f"{os.getpid()}\n".encode())  # for humans only; liveness is the lock, never the pid
        file.flush()
        os.replace(temporary, folder / f"{token}{_SUFFIX}")
    except BaseException:
        file.close()
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return file
