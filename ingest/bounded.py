"""Reading risky files in a child process with a memory ceiling and a wall-time limit.

A PDF page can ask to be rendered at any size (one blank 14,400 × 14,400 pt page cost 5.2 GB) and a
zip of XML can expand a hundredfold; the per-format checks in ingest/loaders.py and ingest/ocr.py
refuse what they recognise, and this is the backstop for what they do not. Each risky file (PDF,
.docx, .ofd, .doc/.wps) is loaded in a child process whose address space is capped with
``RLIMIT_AS`` (``ingest.file_memory_mb``) and which is killed after ``ingest.file_timeout_s``. A file
that hits either limit fails alone with a clear reason; the child is replaced and the batch goes on,
and nothing already ingested is touched (the parent holds the store; the child only reads the file).

The child is kept and reused across files and ingests (``spawn`` start, so its imports and the OCR
models load once per process, not per file): the cost for a small file is one round trip of its
loaded text through a pipe.
"""
from __future__ import annotations

import atexit
import signal
import threading
from pathlib import Path
from typing import Any, Callable

# formats whose loading runs third-party parsers (pypdf, pdfium, OCR, lxml, LibreOffice's output) on
# untrusted content; plain text, Markdown and HTML are read by our own bounded code in-process
RISKY_SUFFIXES = frozenset({".pdf", ".docx", ".ofd", ".doc", ".wps", ".xlsx", ".xlsm", ".xls", ".et"})
MB = 1024 * 1024


def is_risky(path: str | None) -> bool:
    return path is not None and Path(path).suffix.lower() in RISKY_SUFFIXES


def bounded(ingest_settings) -> bool:
    """Whether any per-file limit is set (both 0: files are loaded in-process as before)."""
    return bool(ingest_settings.file_memory_mb or ingest_settings.file_timeout_s)


def use_child(path: str | None, ingest_settings) -> bool:
    """Whether this file is read in a bounded child: a risky format, a limit set, and at least
    ``ingest.bounded_min_kb`` in size (smaller files skip the round trip)."""
    if not (bounded(ingest_settings) and is_risky(path)):
        return False
    try:
        return Path(path).stat().st_size >= ingest_settings.bounded_min_kb * 1024
    except OSError:
        return False  # load_file reports it


def apply_memory_limit(memory_mb: float) -> None:
    """Cap this process's address space (soft limit): past it, allocations fail (MemoryError)."""
    if not memory_mb or memory_mb <= 0:
        return
    import resource

    limit = int(memory_mb * MB)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def memory_reason(memory_mb: float) -> str:
    return f"exceeded the memory limit of {memory_mb:g} MB while parsing (ingest.file_memory_mb)"


def timeout_reason(seconds: float) -> str:
    return f"timed out after {seconds:g} s while parsing (ingest.file_timeout_s)"


def ran_out_of_memory(exc: BaseException) -> bool:
    """An exception caused by a failed allocation: MemoryError anywhere in its chain, or libxml2's
    "Memory allocation failed" (lxml reports it as a syntax error)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError) or "memory allocation failed" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _child_main(conn, memory_mb: float) -> None:
    apply_memory_limit(memory_mb)
    # a killed parent must not leave the child waiting on its pipe for ever: EOF ends the loop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which ends the child
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = ("ok", fn(*args))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            if ran_out_of_memory(exc):
                result = ("memory", None)
            else:
                result = ("error", exc)
        try:
            conn.send(result)
        except MemoryError:
            conn.send(("memory", None))
        except Exception as exc:  # an unpicklable exception
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
        if result[0] == "memory":
            return  # a process that ran out of memory may be in any state: a fresh one reads the next file


class ChildFailed(Exception):
    """The file could not be read within the limits; ``reason`` says why (memory, time, a crash)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BoundedChild:
    """One reading process with a memory ceiling; :meth:`call` runs a function there with a time limit."""

    def __init__(self, memory_mb: float):
        from multiprocessing import get_context

        self.memory_mb = memory_mb
        context = get_context("spawn")  # not fork: the parent has threads and open Chroma handles
        self._conn, child_conn = context.Pipe()
        self.process = context.Process(target=_child_main, args=(child_conn, memory_mb), daemon=True,
                                       name="kb-bounded-reader")
        self.process.start()
        child_conn.close()

    def call(self, fn: Callable, args: tuple, timeout_s: float) -> Any:
        """``fn(*args)`` in the child. Raises ChildFailed (the child is then dead and must be dropped)
        or the exception ``fn`` raised (the child stays usable)."""
        try:
            self._conn.send((fn, args))
            ready = self._conn.poll(timeout_s if timeout_s and timeout_s > 0 else None)
        except (OSError, EOFError, BrokenPipeError):
            ready = True  # the child is gone: recv below says so
        if not ready:
            self.kill()
            raise ChildFailed(timeout_reason(timeout_s))
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            code = self.process.exitcode
            self.kill()
            if code is not None and code < 0 and -code in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
                # what a native library does when an allocation fails under RLIMIT_AS, and what the
                # kernel's OOM killer does
                name = signal.Signals(-code).name
                raise ChildFailed(f"{memory_reason(self.memory_mb)} — or crashed: the reading process was "
                                  f"ended by {name}") from None
            raise ChildFailed(f"the process reading this file ended unexpectedly (exit code {code}); "
                              "the file was not read") from None
        if status == "memory":
            self.kill()
            raise ChildFailed(memory_reason(self.memory_mb))
        if status == "error":
            raise value
        return value

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        try:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        except (OSError, ValueError, AssertionError):
            pass
        try:
            self._conn.close()
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._conn.close()  # EOF ends the child's loop
            self.process.join(2)
        except (OSError, ValueError, AssertionError):
            pass
        self.kill()


# Idle children, reused by every ingest of this process (one per concurrent ingest at most).
_idle: list[BoundedChild] = []
_lock = threading.Lock()


def run_bounded(fn: Callable, args: tuple, memory_mb: float, timeout_s: float) -> Any:
    """``fn(*args)`` in a reused child with the limits. Raises ChildFailed or what ``fn`` raised."""
    child = None
    with _lock:
        while _idle:
            candidate = _idle.pop()
            if candidate.memory_mb == memory_mb and candidate.alive():
                child = candidate
                break
            candidate.close()
    if child is None:
        child = BoundedChild(memory_mb)
    try:
        result = child.call(fn, args, timeout_s)
    except ChildFailed:
        child.kill()
        raise
    except BaseException:
        _release(child)
        raise
    _release(child)
    return result


def _release(child: BoundedChild) -> None:
    if not child.alive():
        child.kill()
        return
    with _lock:
        _idle.append(child)


def close_all() -> None:
    with _lock:
        children, _idle[:] = list(_idle), []
    for child in children:
        child.close()


atexit.register(close_all)


def load_in_child(path: str, ingest_settings) -> Any:
    """What the child runs for a file: ingest.loaders.load_file (a LoadedDocument, or LoadError)."""
    from ingest.loaders import load_file

    return load_file(Path(path), ingest_settings)
