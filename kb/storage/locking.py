"""The single-writer lock that keeps two ingests from writing one knowledge base at the same time.

Design — why ``flock`` and not just ``O_CREAT|O_EXCL`` plus a pid check:
  A pid file alone cannot be taken over safely. When the holder has died, two newcomers can both
  read the dead pid and both replace the file, and each believes it won; a pid can also be reused
  by an unrelated process after a crash, which would block ingest forever.

  So the mutual exclusion is an exclusive, non-blocking ``fcntl.flock`` on the lock file itself.
  The kernel drops a flock when its holder exits for any reason (including SIGKILL), so a lock
  left by a crashed process is free by construction and taking it over is the same atomic
  ``flock`` call as taking a fresh one: two racers cannot both win. ``flock`` locks belong to an
  open file description, so a second ``IngestLock`` in the same process (or thread) is refused too.

  The JSON inside the file (pid, hostname, start time) is only for people: it names the running
  ingest in the ``LockHeld`` message and in ``holder()``.

  Release unlinks the file while still holding the flock, then closes. A process that opened the
  old file just before the unlink may get the flock on that now-nameless inode after we close it,
  so ``acquire`` checks, once locked, that the path still names the inode it locked, and retries
  otherwise. The descriptor is not inherited by child processes (Python opens files
  non-inheritable), so a converter spawned during ingest cannot keep the lock alive after us.

POSIX only (Linux, macOS), like the deployments this product targets.
"""
from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

_POLL_SECONDS = 0.1
_READ_RETRIES = 10  # the holder writes its details just after locking: give it a moment


class LockHeld(RuntimeError):
    """Another ingest holds the lock."""

    def __init__(self, path: Path, holder: dict[str, Any] | None):
        self.path = Path(path)
        self.holder = holder or {}
        self.pid = self.holder.get("pid")
        self.hostname = self.holder.get("hostname")
        self.started_at = self.holder.get("started_at")
        pid = self.pid if self.pid is not None else "未知"
        started = self.started_at or "未知时间"
        host = ""
        if self.hostname and self.hostname != socket.gethostname():
            host = f" on host {self.hostname}"
        super().__init__(
            f"另一个导入正在进行（pid {pid}，始于 {started}）: another ingest is running "
            f"(pid {pid}{host}, started {started}) on this knowledge base ({self.path}); "
            f"wait for it to finish"
        )


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _read_info(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


class IngestLock:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, timeout: float = 0.0) -> "IngestLock":
        """Take the lock, waiting up to `timeout` seconds; raise LockHeld if it stays taken."""
        import fcntl

        if self._fd is not None:
            raise LockHeld(self.path, _read_info(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise LockHeld(self.path, self._holder_info()) from None
                time.sleep(_POLL_SECONDS)
                continue
            except BaseException:
                os.close(fd)
                raise
            # Locked — but is it still the file at self.path? (See "Release" in the module doc.)
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            try:
                self._write_info(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return self

    def _holder_info(self) -> dict[str, Any] | None:
        for _ in range(_READ_RETRIES):
            info = _read_info(self.path)
            if info is not None:
                return info
            time.sleep(0.02)
        return None

    @staticmethod
    def _write_info(fd: int) -> None:
        # Whatever a dead holder left is overwritten in place; the flock, not the content, is the lock.
        info = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started_at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode("utf-8"), 0)
        os.fsync(fd)

    def release(self) -> None:
        """Give the lock back; does nothing unless this object holds it."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    os.unlink(self.path)
            except FileNotFoundError:
                pass
        finally:
            os.close(fd)  # closing drops the flock

    def holder(self) -> dict[str, Any] | None:
        """Details of the live holder as recorded in the file (informational: for status displays)."""
        info = _read_info(self.path)
        if not info:
            return None
        pid = info.get("pid")
        if info.get("hostname") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid):
            return None
        return info

    def __enter__(self) -> "IngestLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:  # a forgotten lock must not outlive its object
        if getattr(self, "_fd", None) is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
