"""Files uploaded through the web app: where they live, how much each user may keep, removal.

Gradio stores an upload under its temp folder (GRADIO_TEMP_DIR) as ``<sha>/<name>`` before any
event handler runs, so the quota has to be applied where the request arrives:
kb/api/request_limits.py asks `refusal()` before the body is read (by its Content-Length) and
counts the bytes while they stream (`start` / `grow` / `finish`). A request in flight counts
against both quotas by the bytes received so far, so concurrent uploads cannot jointly pass them.

Removal: the ingest that used uploaded files removes them when it ends, whether it succeeded or
not (`remove`, called from app.py's ingest handler); anything older than `max_age_s` (an upload
never ingested, a partial file of a cut-off request) is removed by `sweep()`, which runs before
every upload; Gradio's own ``delete_cache`` (app.py) removes its copies of downloads too. The folder
is this process's own (`make_upload_root`): made fresh at start, removed at exit (a process killed
with SIGKILL leaves its folder behind in the temp dir).
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

_MB = 1024 * 1024
LOCAL_USER = ""  # no login (local only): one user


def make_upload_root(base: str | Path | None = None) -> Path:
    """A fresh private folder for this process's uploads (0700 under the process umask)."""
    base_dir = Path(base).expanduser() if base else Path(tempfile.gettempdir())
    base_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="kb-uploads-", dir=str(base_dir)))
    os.chmod(root, 0o700)
    return root


def _mb(n: float) -> str:
    value = n / _MB
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


class UploadStore:
    def __init__(self, root: str | Path, max_user_mb: float, max_total_mb: float, max_age_s: float = 3600.0,
                 clock=time.time):
        self.root = Path(root).resolve()
        self.max_user = int(max_user_mb * _MB)
        self.max_total = int(max_total_mb * _MB)
        self.max_age_s = float(max_age_s)
        self.clock = clock
        self._files: dict[str, tuple[str, int, float]] = {}  # path → (user, bytes, stored at)
        self._inflight: dict[int, tuple[str, int]] = {}  # request → (user, bytes received so far)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, root: str | Path) -> "UploadStore":
        u = settings.uploads
        return cls(root, u.max_user_mb, u.max_total_mb, u.max_age_s)

    # -- accounting ----------------------------------------------------------------------------
    def _prune(self) -> None:
        """Forget files removed by someone else (Gradio's delete_cache, an operator)."""
        for path in [p for p in self._files if not os.path.exists(p)]:
            del self._files[path]

    def usage(self, user: str | None) -> int:
        user = user or LOCAL_USER
        with self._lock:
            self._prune()
            return (sum(size for owner, size, _ in self._files.values() if owner == user)
                    + sum(size for owner, size in self._inflight.values() if owner == user))

    def total(self) -> int:
        with self._lock:
            self._prune()
            return sum(size for _, size, _ in self._files.values()) + sum(size for _, size in self._inflight.values())

    def remaining(self, user: str | None) -> tuple[int, str]:
        """(bytes the user may still upload, "user" or "total": the quota that binds)."""
        mine, everyone = self.usage(user), self.total()
        left_user, left_total = self.max_user - mine, self.max_total - everyone
        return (left_user, "user") if left_user <= left_total else (left_total, "total")

    def message(self, user: str | None, filename: str | None, size: int | None) -> str:
        """The refusal line: the file, its size if known, and the quota it would pass."""
        name = f"「{filename}」" if filename else "所选文件"
        what = f"{name}（{_mb(size)} MB）" if size else name
        left, which = self.remaining(user)
        if which == "user":
            quota = f"每位用户的上传配额 {_mb(self.max_user)} MB（已用 {_mb(self.usage(user))} MB）"
        else:
            quota = f"服务器的上传总配额 {_mb(self.max_total)} MB（已用 {_mb(self.total())} MB）"
        return f"上传被拒绝：{what}超出{quota}。已上传的文件导入后即删除，请导入后再上传，或分批上传。"

    def refusal(self, user: str | None, incoming: int, filename: str | None = None, slack: int = 0) -> str | None:
        """None when `incoming` bytes (less `slack` for the multipart framing) fit both quotas."""
        left, _ = self.remaining(user)
        if incoming - slack > left:
            return self.message(user, filename, incoming)
        return None

    # -- a request in flight ----------------------------------------------------------------------
    def start(self, user: str | None) -> int:
        with self._lock:
            rid = next(self._ids)
            self._inflight[rid] = (user or LOCAL_USER, 0)
            return rid

    def grow(self, rid: int, n: int) -> None:
        with self._lock:
            user, size = self._inflight.get(rid, (LOCAL_USER, 0))
            self._inflight[rid] = (user, size + n)

    def finish(self, rid: int, paths=()) -> None:
        """The request ended; `paths` are the files it stored (Gradio's answer)."""
        with self._lock:
            user, _ = self._inflight.pop(rid, (LOCAL_USER, 0))
            now = self.clock()
            for p in paths or ():
                path = Path(str(p))
                if not self.contains(path):
                    continue
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                self._files[str(path.resolve())] = (user, size, now)

    # -- removal -----------------------------------------------------------------------------------
    def contains(self, path: str | Path) -> bool:
        try:
            Path(path).resolve().relative_to(self.root)
        except (ValueError, OSError):
            return False
        return True

    def remove(self, paths) -> int:
        """Delete uploaded files (only ones inside the upload folder) and their emptied folders."""
        removed = 0
        for p in paths or ():
            path = Path(str(getattr(p, "name", p)))
            if not self.contains(path) or not path.is_file():
                continue
            resolved = path.resolve()
            try:
                resolved.unlink()
                removed += 1
            except OSError:
                continue
            with self._lock:
                self._files.pop(str(resolved), None)
            parent = resolved.parent
            if parent != self.root:
                try:
                    parent.rmdir()  # Gradio's <sha> folder, when nothing else is in it
                except OSError:
                    pass
        return removed

    def sweep(self, stale_s: float = 300.0) -> int:
        """Remove uploads older than max_age_s, and partial files (Gradio's top-level ``tmp…`` of a
        request that was cut off or whose client went away) untouched for `stale_s`."""
        now = self.clock()
        removed = 0
        with self._lock:
            expired = [p for p, (_, _, at) in self._files.items() if now - at > self.max_age_s]
        removed += self.remove(expired)
        if not self.root.is_dir():
            return removed
        wall = time.time()
        for entry in self.root.iterdir():
            try:
                age = wall - entry.stat().st_mtime
            except OSError:
                continue
            if entry.is_file() and entry.name.startswith("tmp") and age > stale_s:
                entry.unlink(missing_ok=True)
                removed += 1
            elif entry.is_dir() and age > self.max_age_s:
                for f in entry.rglob("*"):
                    if f.is_file() and wall - f.stat().st_mtime > self.max_age_s and str(f.resolve()) not in self._files:
                        f.unlink(missing_ok=True)
                        removed += 1
                try:
                    entry.rmdir()
                except OSError:
                    pass
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
