"""Storage failures as one clear line instead of a traceback: "知识库存储不可用" (Chroma server down,
KB_HOME unreadable, a database that cannot be opened) and "磁盘已满" (no space left), each with
the path or address concerned. `kb.cli.main` uses it for every command; `kb doctor` turns it into
its "cannot check" exit code; the web app can show the same line (app.py's error mapping).
"""
from __future__ import annotations

import errno
import sqlite3

EXIT_STORAGE = 3  # a command could not reach its storage (kb doctor: EXIT_CANNOT_CHECK)

_FULL_WORDS = ("database or disk is full", "no space left on device", "disk is full", "磁盘已满")
_DOWN_WORDS = (
    "could not connect to a chroma server",
    "could not connect to tenant",
    "connection refused",
    "failed to establish a new connection",
    "unable to open database",
    "readonly database",
    "attempt to write a readonly database",
    "disk i/o error",
    "name or service not known",
)
_DOWN_TYPES = ("ConnectError", "ConnectTimeout", "ConnectionError", "ConnectionRefusedError", "RemoteProtocolError", "ReadTimeout")


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def storage_problem(exc: BaseException, settings=None) -> str | None:
    """The one-line message for a storage failure, or None when `exc` is something else."""
    where_home = str(settings.home) if settings is not None else "KB_HOME"
    where_store = (settings.chroma.url or str(settings.chroma_dir)) if settings is not None else "the store"
    for e in _chain(exc):
        text = str(e).lower()
        path = getattr(e, "filename", None)
        if (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)) or any(w in text for w in _FULL_WORDS):
            return f"磁盘已满：{path or where_home}（no space left: free disk space, then retry）"
        # a PermissionError without an errno is a refused role (kb/access/users.py), not a file the OS refused
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO):
            return f"知识库存储不可用：{path or where_home}（{e.strerror or e}）"
        if type(e).__name__ in _DOWN_TYPES or any(w in text for w in _DOWN_WORDS):
            target = where_store if "chroma" in text or type(e).__name__ in _DOWN_TYPES or settings is None or settings.chroma.url else where_home
            return f"知识库存储不可用：{target}（{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}）"
        if isinstance(e, sqlite3.OperationalError):
            return f"知识库存储不可用：{where_home}（{e}）"
    return None
