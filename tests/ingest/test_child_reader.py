"""ingest.child_reader: the page time limit holds when an ingest runs in a worker thread (web app,
HTTP API), and a reading process that dies fails only its file."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from ingest.child_reader import ChildReader, needs_child
from tests.conftest import make_settings


def _in_thread(fn):
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "the ingest thread did not finish"
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_a_slow_page_fails_its_file_when_the_ingest_runs_in_a_worker_thread(tmp_path, make_pdf):
    from tests.ingest.conftest import slow_pdf

    from kb.container import build_services

    slow = slow_pdf(tmp_path / "slow.pdf")
    good = make_pdf(["第一条 考察组进驻后3日内完成谈话安排。"])
    services = build_services(make_settings(tmp_path / "kb", ingest__page_timeout_s=0.5))
    try:
        started = time.perf_counter()
        summary = _in_thread(lambda: services.ingest.ingest_paths([slow, good]))
        elapsed = time.perf_counter() - started
    finally:
        services.close()
    failed = {Path(f["path"]).name: f["error"] for f in summary["failed"]}
    assert "page 1: text extraction took longer than 0.5 s" in failed["slow.pdf"]
    assert summary["added"] >= 1  # the good PDF, read in the same child, is in
    # the 8 s page was cut off (the child's start and imports take a few seconds)
    assert elapsed < 7, elapsed


def test_main_thread_reads_in_process():
    assert not needs_child("a.pdf")
    assert _in_thread(lambda: needs_child("a.PDF"))
    assert not _in_thread(lambda: needs_child("a.docx"))


def _die(args):
    os._exit(3)  # what the OOM killer or a crash in a native renderer does to the child


def _echo(args):
    return args[0].doc_id, "prepared", None


class _Job:
    doc_id = "doc"
    path = "doc.pdf"


def test_a_dead_child_fails_only_that_file_and_the_next_gets_a_new_one():
    reader = ChildReader()
    try:
        doc_id, prepared, error = reader.prepare(_die, (_Job(),))
        assert (doc_id, prepared) == ("doc", None)
        assert "ended unexpectedly" in error and "not read" in error
        assert reader.prepare(_echo, (_Job(),)) == ("doc", "prepared", None)
    finally:
        reader.close()
