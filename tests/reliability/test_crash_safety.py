"""Crash-safe ingest: SIGKILL part-way, rerun, and the knowledge base equals a clean run's; `kb doctor`
finds and repairs what an interrupted ingest leaves.

Chroma embedded is not safe for two processes on one directory, so the test process opens a
KB_HOME only after every process that wrote it is dead.
"""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import numpy as np
import pytest

from kb.cli import main as kb_main
from kb.storage.locking import IngestLock
from kb.models import Chunk
from tests.reliability.conftest import (
    PLACES,
    kill_session,
    run_kb,
    start_kb,
    store_state,
    wait_for_progress,
    write_corpus,
)

CORPUS_FILES = 200  # enough that the ingest is still running when the test kills it


def _lexical_matches_store(services) -> None:
    store = services.store
    visible = [c.chunk_id for c in store.visible_chunks()]
    snap = services.lexical.load()
    assert snap is not None, "no lexical index after the ingest"
    assert snap.store_version == store.version(), "lexical index built from another store version"
    assert sorted(snap.chunk_ids) == sorted(visible), "lexical index and store disagree on the visible chunks"


@pytest.mark.slow
def test_sigkilled_ingest_then_rerun_equals_clean_run(tmp_path: Path, services_factory) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, CORPUS_FILES, paragraphs=10)
    clean_home, crash_home = tmp_path / "clean", tmp_path / "crashed"
    seed = int(os.environ.get("KB_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    context = f"(seed {seed}; rerun with KB_TEST_SEED={seed})"

    clean = run_kb(clean_home, "ingest", str(corpus), "--json", "--no-progress")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["added"] == CORPUS_FILES

    # Kill 1: once the progress bar shows some documents through (so some are stored, some not).
    first = start_kb(crash_home, "ingest", str(corpus), "--json")
    target = rng.randint(2, CORPUS_FILES // 2)
    try:
        reached, _ = wait_for_progress(first, target)
    finally:
        kill_session(first)
    assert reached >= target, f"the first ingest finished before it could be killed {context}"
    assert first.returncode == -9

    # Kill 2: the rerun, after a random short time (start-up, its repair of the first crash, or storing).
    second = start_kb(crash_home, "ingest", str(corpus), "--json", "--no-progress")
    time.sleep(rng.uniform(0.5, 3.0))
    kill_session(second)

    final = run_kb(crash_home, "ingest", str(corpus), "--json", "--no-progress")
    assert final.returncode == 0, f"{final.stderr} {context}"
    summary = json.loads(final.stdout)
    assert summary["failed"] == []
    assert summary["added"] + summary["updated"] + summary["unchanged"] == CORPUS_FILES, context

    doctor = run_kb(crash_home, "doctor", "--json")
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["ok"] and report["problems"] == [], f"{report} {context}"

    # Every writer is dead now: open both knowledge bases in this process and compare.
    crashed_services = services_factory(crash_home)
    clean_services = services_factory(clean_home)
    crashed, expected = store_state(crashed_services), store_state(clean_services)
    assert crashed["documents"] == expected["documents"], context
    assert crashed["chunk_ids"] == expected["chunk_ids"], f"duplicate or orphan chunks {context}"
    _lexical_matches_store(crashed_services)
    _lexical_matches_store(clean_services)
    hits = crashed_services.retriever.search(f"{PLACES[7]}市考察组在第3阶段应当走访多少个单位")
    assert hits and hits[0].chunk.doc_id == "规定007"


# -- kb doctor ----------------------------------------------------------------------------------
def _damage(services) -> dict[str, str]:
    """Leave what interrupted ingests leave: an orphan, a stale chunk, a document missing a chunk, the marker."""
    store = services.store
    embedder = services.embedder
    orphan = Chunk(chunk_id="未发布#aaaaaaaaaaaa#0000", doc_id="未发布", title="未发布", section="", article="",
                   page=None, start=0, end=4, text="未发布的", doc_type="other", collection="default")
    # what a crash between writing vectors and the registry leaves behind
    store.chunks.upsert(ids=[orphan.chunk_id], embeddings=np.asarray(embedder.embed_documents([orphan.text])))
    kept = store.document_chunks("甲")[0]
    stale = Chunk(**{**kept.__dict__, "chunk_id": "甲#bbbbbbbbbbbb#0000"})
    store.chunks.upsert(ids=[stale.chunk_id], embeddings=np.asarray(embedder.embed_documents([stale.text])))
    missing = store.document_chunks("乙")[-1].chunk_id
    store.chunks.delete(ids=[missing])
    (services.settings.home / "ingest.dirty").write_text("12345", encoding="utf-8")
    return {"orphan": orphan.chunk_id, "stale": stale.chunk_id, "missing": missing}


def _doctor(capsys, home: Path, *flags: str) -> tuple[int, dict]:
    code = kb_main(["--home", str(home), "doctor", "--json", *flags])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_doctor_reports_then_repairs_an_interrupted_ingest(tmp_path: Path, services_factory, capsys) -> None:
    home = tmp_path / "kb"
    services = services_factory(home)
    text = "\n".join(f"第{i}条 规定内容第{i}项，考察对象应当如实说明情况。" * 6 for i in range(1, 9))
    services.ingest.ingest_texts([("甲", "甲规定", text), ("乙", "乙规定", text.replace("规定", "办法"))])
    code, report = _doctor(capsys, home)
    assert code == 0 and report["ok"] and report["problems"] == []

    damage = _damage(services)
    code, report = _doctor(capsys, home)
    assert code == 1, report
    assert not report["ok"] and not report["repaired"]
    check = report["check"]
    assert check["orphan_chunks"] == [damage["orphan"]]
    assert check["stale_chunks"] == [damage["stale"]]
    assert check["incomplete_documents"] == ["乙"]
    assert check["interrupted_ingest"] is True
    assert len(report["problems"]) >= 4

    code, report = _doctor(capsys, home, "--repair")
    assert code == 0, report
    assert report["repaired"] and report["ok"] and report["remaining"] == []
    code, report = _doctor(capsys, home)
    assert code == 0 and report["problems"] == []
    after = services_factory(home)
    assert [r.doc_id for r in after.store.list_documents() if r.doc_id in ("甲", "乙")] == ["甲"]
    assert not (home / "ingest.dirty").exists()


def test_doctor_is_refused_while_an_ingest_holds_the_lock(tmp_path: Path, capsys) -> None:
    home = tmp_path / "kb"
    home.mkdir()
    with IngestLock(home / "ingest.lock"):
        code = kb_main(["--home", str(home), "doctor", "--repair", "--json"])
    captured = capsys.readouterr()
    assert code == 3
    assert f"pid {os.getpid()}" in captured.err
    assert captured.out == ""


def test_doctor_text_output_names_the_problems(tmp_path: Path, services_factory, capsys) -> None:
    home = tmp_path / "kb"
    services = services_factory(home)
    services.ingest.ingest_texts([("甲", "甲规定", "第一条 考察对象应当如实说明情况。" * 20)])
    (home / "ingest.dirty").write_text("1", encoding="utf-8")
    code = kb_main(["--home", str(home), "doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert "ingest.dirty" in out and "--repair" in out
