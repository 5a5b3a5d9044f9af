"""PDFs read in a child process when the ingest runs outside the main thread.

The per-page extraction limit (``ingest.page_timeout_s``) is a SIGALRM timer, and Python delivers
signals to the main thread only. The web app and the HTTP API run an ingest in a worker thread, where
the timer cannot be armed: one PDF whose content stream makes pypdf loop would hold that thread, and
the upload, for ever. So there a PDF is prepared in a child process, in whose main thread the timer
works; and if the child itself dies (a crash in a native renderer, the kernel's OOM killer), only that
file fails, with a reason, and the next file gets a fresh child.

One child per ingest service, created on first use and kept (the imports and the OCR models load once,
not per upload); ``close()`` ends it.
"""
from __future__ import annotations

import threading
from typing import Any

# formats whose loading runs third-party parsers on untrusted page content under the page timer
GUARDED_SUFFIXES = frozenset({".pdf"})


def needs_child(path: str | None) -> bool:
    """Whether a job must be read in the child: a guarded format, and not in the main thread (there
    the page timer works in-process)."""
    if path is None or threading.current_thread() is threading.main_thread():
        return False
    return path.lower().endswith(tuple(GUARDED_SUFFIXES))


class ChildReader:
    def __init__(self) -> None:
        self._pool = None
        self._lock = threading.Lock()

    def prepare(self, worker, args: tuple) -> tuple[str, Any, str | None]:
        """Run ``worker(args)`` (a module-level function returning (doc_id, prepared, error)) in the
        child and return its result; a dead child becomes that file's error."""
        from concurrent.futures.process import BrokenProcessPool

        job = args[0]
        with self._lock:
            pool = self._pool_locked()
            future = pool.submit(worker, args)
        try:
            return future.result()
        except BrokenProcessPool as exc:
            self._discard(pool)
            return job.doc_id, None, f"the process reading this file ended unexpectedly ({exc or 'killed'}); the file was not read"

    def _pool_locked(self):
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            # spawn, not fork: the parent has threads (the web server's) and open Chroma handles
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
        return self._pool

    def _discard(self, pool) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
