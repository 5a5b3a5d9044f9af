"""A vector (HNSW) segment Chroma cannot load (issue #30): `kb doctor` reports it (exit 1, no
traceback), an ingest refuses with the fix, and `kb doctor --repair` rebuilds the knowledge base from
the registry and the stored texts — same documents, same chunk ids, answerable questions — without
touching users, grants, conversations or the audit log.

Chroma writes a collection's vector segment to disk only after `hnsw:sync_threshold` records (50,000
in kb/storage/store.py); below that the vectors stay in its write-ahead log and damaged segment files are
simply rebuilt from it (checked: the corruption below then changes nothing). So these tests build
their small corpus with tiny thresholds, which makes Chroma persist the segments — and purge the log —
as a large ingest does.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from kb.cli import main as kb_main
from kb.storage.store import VectorIndexDamaged
from kb.storage.store_recovery import REBUILD_MARKER, RECOVERY_DIR, damaged_collections, read_rows_from_sqlite
from tests.reliability.conftest import (
    PLACES,
    run_kb,
    store_state,
    write_corpus,
)

DOCS = 6
QUESTION = f"{PLACES[3]}市考察组在第3阶段应当走访多少个单位"  # answered by 规定003 only


@pytest.fixture
def persisted_segments(monkeypatch):
    """Collections made from here on write their vector segments to disk every few records."""
    import kb.storage.store

    monkeypatch.setattr(kb.storage.store, "_HNSW", {**kb.storage.store._HNSW, "hnsw:batch_size": 2, "hnsw:sync_threshold": 2})


def _ingest(tmp_path: Path, services_factory):
    home = tmp_path / "kb"
    corpus = write_corpus(tmp_path / "corpus", DOCS)[0].parent
    services = services_factory(home)
    summary = services.ingest.ingest_paths([corpus])
    assert summary["added"] == DOCS and summary["failed"] == []
    return home, services


def _before(services) -> dict:
    state = store_state(services)
    hits = services.retriever.search(QUESTION)
    assert hits and hits[0].chunk.doc_id == "规定003"
    state["answer_doc"] = hits[0].chunk.doc_id
    state["text"] = services.store.get_document_text("规定003")
    return state


def _vector_segments(home: Path) -> dict[str, Path]:
    """collection name → its vector segment's folder, for the segments Chroma has written to disk."""
    with sqlite3.connect(home / "chroma" / "chroma.sqlite3") as con:
        rows = con.execute(
            "SELECT c.name, s.id FROM segments s JOIN collections c ON c.id = s.collection "
            "JOIN max_seq_id m ON m.segment_id = s.id WHERE s.scope = 'VECTOR'"
        ).fetchall()
    return {name: home / "chroma" / segment for name, segment in rows}


def _corrupt(folder: Path) -> None:
    """What a kill while Chroma writes the segment leaves: a header it cannot read back."""
    header = folder / "header.bin"
    assert header.is_file() and header.stat().st_size > 0, f"segment {folder} was never written to disk"
    header.write_bytes(os.urandom(header.stat().st_size))


def _chunks_collection(services) -> str:
    return services.store.collection_name(services.store.chunks_suffix)


def _fingerprint(home: Path) -> dict[str, str]:
    """sha256 of every file outside the store and the lexical index (users, grants, keys, audit, conversations)."""
    out = {}
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home).as_posix()
        if path.is_file() and not rel.startswith(("chroma/", "index/", "cache/")) and rel != "ingest.lock":
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _assert_same_as_before(services, before: dict) -> None:
    after = store_state(services)
    assert after["documents"] == before["documents"]
    assert after["chunk_ids"] == before["chunk_ids"]
    snap = services.lexical.load()
    assert snap is not None and snap.store_version == services.store.version()
    assert sorted(snap.chunk_ids) == after["chunk_ids"]
    hits = services.retriever.search(QUESTION)
    assert hits and hits[0].chunk.doc_id == before["answer_doc"]
    # the dense side answers again: a chunk's own text finds that chunk
    chunk = services.store.document_chunks("规定003")[2]
    found = services.store.query(np.asarray(services.embedder.embed_query(chunk.text)), 3)
    assert found and found[0][0] == chunk.chunk_id


def test_damaged_chunk_segment_is_reported_then_rebuilt(tmp_path: Path, services_factory, persisted_segments) -> None:
    home, services = _ingest(tmp_path, services_factory)
    before = _before(services)
    chunks_name = _chunks_collection(services)
    services.close()  # Chroma embedded: one process on a directory at a time
    _corrupt(_vector_segments(home)[chunks_name])

    damaged = services_factory(home)
    with pytest.raises(VectorIndexDamaged):
        damaged.store.chunk_count()  # the corruption is real: Chroma cannot load the segment
    damaged.close()

    doctor = run_kb(home, "doctor")
    assert doctor.returncode == 1, doctor.stderr
    assert "Traceback" not in doctor.stderr + doctor.stdout
    assert chunks_name in doctor.stdout and "--repair" in doctor.stdout
    doctor_json = run_kb(home, "doctor", "--json")
    report = json.loads(doctor_json.stdout)
    assert doctor_json.returncode == 1 and not report["ok"]
    assert list(report["check"]["damaged_collections"]) == [chunks_name]
    assert report["check"]["documents"] == DOCS + 1  # the shipped framework document too

    ingest = run_kb(home, "ingest", str(tmp_path / "corpus"), "--no-progress")
    assert ingest.returncode == 3, ingest.stderr
    assert "Traceback" not in ingest.stderr and "kb doctor --repair" in ingest.stderr

    repair = run_kb(home, "doctor", "--repair", "--json")
    assert repair.returncode == 0, repair.stderr
    repaired = json.loads(repair.stdout)
    assert repaired["repaired"] and repaired["ok"] and repaired["remaining"] == []
    assert repaired["recovered"]["rebuilt"] == [chunks_name]
    assert repaired["after"]["chunks"] == len(before["chunk_ids"])
    again = run_kb(home, "doctor")
    assert again.returncode == 0, again.stdout + again.stderr

    _assert_same_as_before(services_factory(home), before)
    rerun = run_kb(home, "ingest", str(tmp_path / "corpus"), "--json", "--no-progress")
    assert rerun.returncode == 0 and json.loads(rerun.stdout)["unchanged"] == DOCS


def test_damaged_registry_and_texts_are_read_back_from_chroma_sqlite(tmp_path: Path, services_factory, persisted_segments) -> None:
    home, services = _ingest(tmp_path, services_factory)
    before = _before(services)
    names = {services.store.collection_name(s) for s in ("docs", "texts")} | {_chunks_collection(services)}
    services.close()
    segments = _vector_segments(home)
    assert names <= set(segments), f"not every collection was written to disk: {sorted(segments)}"
    for name in names:
        _corrupt(segments[name])

    code = kb_main(["--home", str(home), "doctor", "--json"])
    assert code == 1
    listing = run_kb(home, "docs", "list")
    assert listing.returncode == 3 and "Traceback" not in listing.stderr
    assert "kb doctor --repair" in listing.stderr and len(listing.stderr.strip().splitlines()) == 1
    repair = run_kb(home, "doctor", "--repair", "--json")
    assert repair.returncode == 0, repair.stderr
    recovered = json.loads(repair.stdout)["recovered"]
    assert set(recovered["rebuilt"]) == names
    assert set(recovered["from_sqlite"]) == names - {_chunks_collection(services)}
    after = services_factory(home)
    _assert_same_as_before(after, before)
    assert after.store.get_document_text("规定003") == before["text"]
    assert not (home / RECOVERY_DIR).exists()
    # no segment folder is left behind for the collections Chroma deleted
    live = set(_vector_segments(home).values()) | {p.parent for p in (home / "chroma").glob("*/header.bin")}
    assert {p for p in (home / "chroma").iterdir() if p.is_dir()} <= live


def test_a_missing_segment_folder_is_reported_then_rebuilt(tmp_path: Path, services_factory, persisted_segments, capsys) -> None:
    """Chroma starts an empty index for a written segment whose folder is gone, and says nothing:
    searches would just find nothing, and a repair of "documents missing chunks" would drop them all."""
    home, services = _ingest(tmp_path, services_factory)
    before = _before(services)
    chunks_name = _chunks_collection(services)
    services.close()
    shutil.rmtree(_vector_segments(home)[chunks_name])
    assert kb_main(["--home", str(home), "doctor"]) == 1
    assert "files are missing" in capsys.readouterr().out
    assert kb_main(["--home", str(home), "doctor", "--repair"]) == 0
    _assert_same_as_before(services_factory(home), before)


def test_repair_leaves_users_conversations_and_audit_untouched(tmp_path: Path, services_factory, persisted_segments) -> None:
    home, services = _ingest(tmp_path, services_factory)
    services.users.add("张三", "correct-horse-battery", "admin")
    services.grants.grant("default", "第三组", until="2099-12-31")
    conversation = services.conversations.create("张三", "考察准备")
    services.audit.record("张三", "ask", detail=QUESTION)
    before = _before(services)
    chunks_name = _chunks_collection(services)
    services.close()
    files = _fingerprint(home)
    assert {"users.json", "grants.json", "conversations.sqlite3", "audit.sqlite3"} <= set(files)
    _corrupt(_vector_segments(home)[chunks_name])

    assert run_kb(home, "doctor", "--repair").returncode == 0
    assert _fingerprint(home) == files
    after = services_factory(home)
    assert after.users.verify("张三", "correct-horse-battery")
    assert after.conversations.get("张三", conversation.id).title == "考察准备"
    assert after.audit.verify()["rows"] >= 1
    _assert_same_as_before(after, before)


def test_an_interrupted_rebuild_is_finished_by_the_next_repair(tmp_path: Path, services_factory, capsys) -> None:
    home, services = _ingest(tmp_path, services_factory)
    before = _before(services)
    # a repair killed while re-embedding: the marker is there and only some vectors are back
    (home / REBUILD_MARKER).write_text("x", encoding="utf-8")
    services.store.delete_chunks(before["chunk_ids"][: len(before["chunk_ids"]) // 2])
    assert _chunks_collection(services) in {services.store.collection_name(s) for s in damaged_collections(services.store)}
    services.close()

    assert kb_main(["--home", str(home), "doctor"]) == 1
    assert REBUILD_MARKER in capsys.readouterr().out
    assert kb_main(["--home", str(home), "doctor", "--repair"]) == 0
    assert not (home / REBUILD_MARKER).exists()
    _assert_same_as_before(services_factory(home), before)  # no document was dropped as incomplete


def test_an_interrupted_registry_recovery_restarts_from_its_saved_rows(tmp_path: Path, services_factory) -> None:
    home, services = _ingest(tmp_path, services_factory)
    before = _before(services)
    # a repair killed after saving the registry's rows and dropping the damaged collection
    saved = home / RECOVERY_DIR / "docs.json"
    saved.parent.mkdir()
    saved.write_text(json.dumps(services.store.registry(), ensure_ascii=False), encoding="utf-8")
    services.store.client.delete_collection(services.store.collection_name("docs"))
    services.close()

    assert kb_main(["--home", str(home), "doctor", "--repair"]) == 0
    assert not saved.exists()
    _assert_same_as_before(services_factory(home), before)


def test_sqlite_reader_sees_what_chroma_sees(tmp_path: Path, services_factory) -> None:
    """The fallback reader gives the same registry and texts as Chroma, log tail included."""
    home, services = _ingest(tmp_path, services_factory)
    store = services.store
    store.bump_version()  # an unapplied-looking tail in the log does not change what is read
    registry = store.registry()
    texts = {i: m for ids, metas, _ in store._paged(store.texts, include=["metadatas"]) for i, m in zip(ids, metas)}
    version = store.version()
    services.close()
    db = home / "chroma" / "chroma.sqlite3"
    assert read_rows_from_sqlite(db, "kb_docs") == registry
    assert read_rows_from_sqlite(db, "kb_texts") == texts
    assert read_rows_from_sqlite(db, "kb_meta")["version"]["version"] == version
    assert read_rows_from_sqlite(db, "kb_no_such_collection") == {}


def test_sqlite_reader_of_a_store_killed_before_its_schema_reads_nothing(tmp_path: Path) -> None:
    """An ingest killed while Chroma was creating chroma.sqlite3 leaves the file with no tables (the
    random-kill test found it): nothing was committed, and reading it is no error."""
    path = tmp_path / "chroma.sqlite3"
    sqlite3.connect(path).close()  # an empty database file
    assert path.is_file()
    assert read_rows_from_sqlite(path, "kb_docs") == {}
