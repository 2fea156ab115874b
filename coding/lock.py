"""An exclusive lock on a project, so two commands never interleave their writes.

The lock is an ``flock`` on the project folder itself (every user of a shared project folder
sees it; no file is created, so a command refused for bad input changes nothing and there is no
lock file a planted symlink could redirect). Who holds it is noted in ``outputs/.lock`` when
that folder exists, opened without following a symlink. The kernel releases the lock when the
process ends, even when it is killed, so a crashed run never leaves a stale lock behind. On
systems without ``fcntl`` (Windows) it does nothing.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import StoreError

NOTE = ".lock"


class ProjectLock:
    """``with ProjectLock(root, what="code"):`` — raises :class:`StoreError` naming the holder
    when another command has the project (after waiting up to ``wait`` seconds)."""

    def __init__(self, root: Path | str, *, what: str = "a command", wait: float = 0.0):
        self.root = Path(root)
        self.note = self.root / "outputs" / NOTE
        self.what = what
        self.wait = wait
        self._fd: int | None = None

    def _read_note(self) -> str:
        try:
            fd = os.open(self.note, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return ""
        try:
            return os.read(fd, 200).decode("utf-8", "replace").strip()
        finally:
            os.close(fd)

    def _write_note(self, text: str) -> None:
        if not self.note.parent.is_dir():
            return
        try:
            fd = os.open(self.note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError:
            return  # the note is a courtesy; the lock is the folder's
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

    def __enter__(self) -> "ProjectLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        if not self.root.is_dir():
            return self  # no project here: opening it will say so
        try:
            fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise StoreError(f"{self.root}: cannot open the project folder ({e.strerror})") from None
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    holder = self._read_note() or "another command"
                    raise StoreError(f"{self.root}: the project is busy ({holder}); "
                                     "wait for that command to finish and run this one again") from None
                time.sleep(0.05)
        self._fd = fd
        self._write_note(f"pid {os.getpid()}: {self.what}")
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            import fcntl

            self._write_note("")
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
