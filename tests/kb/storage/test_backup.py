"""`kb backup` / `kb restore` (kb/storage/backup.py): a round trip gives the same documents, chunks, answers,
users, grants, conversations and audit log; a backup taken while the app writes is consistent; a
damaged or unfinished backup, a busy or non-empty KB_HOME are refused."""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from kb.storage.backup import MANIFEST
from kb.cli import main
from kb.container import build_services
from kb.storage.locking import IngestLock
from tests.conftest import NO_SETTINGS_FILE, make_settings

QUESTION = "深度访谈的对象有哪些"
TEXTS = [
    ("访谈规定", "考察谈话规定", "第一条 深度访谈的对象包括班子成员、中层干部和服务对象代表。\n第二条 访谈应当逐人记录，形成书面材料。" * 3),
    ("民主测评", "民主测评办法", "第一条 民主测评在全体干部大会上进行，测评表当场密封。\n第二条 测评结果按好、较好、一般、差统计。" * 3),
]


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch):
    """The CLI reads KB_* from the environment: none may leak in from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)


def kb(capsys, home: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--settings", NO_SETTINGS_FILE, "--home", str(home), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _state(services) -> dict:
    store = services.store
    hits = services.retriever.search(QUESTION)
    return {
        "documents": {r.doc_id: (r.sha256, r.chunks, r.title) for r in store.list_documents()},
        "chunk_ids": sorted(ref.chunk_id for ref in store.chunk_refs()),
        "top": [h.chunk.chunk_id for h in hits[:3]],
        "version": store.version(),
    }


@pytest.fixture
def serving(tmp_path: Path):
    """A knowledge base with documents, a user, a grant, a conversation and audit rows, whose
    services stay open (as a serving app's do) while the test backs it up."""
    services = build_services(make_settings(tmp_path / "kb"))
    services.ingest.ingest_texts(TEXTS, doc_type="policy")
    services.users.add("张三", "correct-horse-battery", "inspector", groups=["第三组"])
    services.grants.grant("default", "第三组", until="2099-12-31")
    conversation = services.conversations.create("张三", "考察准备")
    services.audit.record("张三", "ask", detail=QUESTION)
    try:
        yield services, conversation
    finally:
        services.close()


def test_backup_then_restore_into_a_fresh_home(tmp_path: Path, serving, capsys) -> None:
    services, conversation = serving
    before = _state(services)
    assert before["top"] and before["top"][0].startswith("访谈规定#")
    home = services.settings.home
    dest = tmp_path / "backup"

    # the app keeps writing its audit log while the backup runs
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            services.audit.record("张三", "ask", detail="备份期间的问题")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        code, out, err = kb(capsys, home, "backup", str(dest), "--json")
    finally:
        stop.set()
        writer.join()
    assert code == 0, err
    manifest = json.loads(out)
    listed = {f["path"] for f in manifest["files"]}
    assert {"chroma/chroma.sqlite3", "users.json", "grants.json", "conversations.sqlite3", "audit.sqlite3"} <= listed
    assert "ingest.lock" not in listed and not any(p.endswith(("-wal", "-shm")) for p in listed)
    assert {f["path"] for f in manifest["files"] if f["sqlite"]} >= {"chroma/chroma.sqlite3", "audit.sqlite3", "conversations.sqlite3"}
    assert json.loads((dest / MANIFEST).read_text(encoding="utf-8"))["format"] == "kb-backup"
    assert (dest.stat().st_mode & 0o077) == 0  # holds password hashes and the audit log

    fresh = tmp_path / "restored"
    code, out, err = kb(capsys, fresh, "restore", str(dest), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ok"] and result["problems"] == [] and result["moved_aside"] is None
    assert kb(capsys, fresh, "doctor")[0] == 0

    restored = build_services(make_settings(fresh))
    try:
        assert _state(restored) == before
        assert restored.users.verify("张三", "correct-horse-battery")
        assert restored.grants.all() == services.grants.all()
        assert restored.conversations.get("张三", conversation.id).title == "考察准备"
        rows = restored.audit.verify()["rows"]  # the hash chain of a copy taken mid-write is intact
        assert 1 <= rows <= services.audit.verify()["rows"]
    finally:
        restored.close()


def test_backup_waits_for_no_ingest(tmp_path: Path, serving, capsys) -> None:
    services, _ = serving
    with IngestLock(services.settings.lock_file):
        code, _, err = kb(capsys, services.settings.home, "backup", str(tmp_path / "b"))
    assert code == 3 and "another ingest is running" in err
    assert not (tmp_path / "b" / MANIFEST).exists()


def test_a_damaged_or_unfinished_backup_is_refused(tmp_path: Path, serving, capsys) -> None:
    services, _ = serving
    dest = tmp_path / "backup"
    assert kb(capsys, services.settings.home, "backup", str(dest))[0] == 0
    assert kb(capsys, services.settings.home, "backup", str(dest))[0] == 2  # DEST not empty

    users = dest / "users.json"
    original = users.read_bytes()
    users.write_bytes(original.replace(b"inspector", b"admin\x20\x20\x20\x20"))
    code, _, err = kb(capsys, tmp_path / "r1", "restore", str(dest))
    assert code == 2 and "users.json" in err and "sha256" in err
    assert not (tmp_path / "r1").exists()  # verified before anything is written
    users.write_bytes(original)

    (dest / "stray.txt").write_text("x", encoding="utf-8")
    code, _, err = kb(capsys, tmp_path / "r2", "restore", str(dest))
    assert code == 2 and "stray.txt" in err
    (dest / "stray.txt").unlink()

    (dest / MANIFEST).unlink()
    code, _, err = kb(capsys, tmp_path / "r3", "restore", str(dest))
    assert code == 2 and MANIFEST in err


def test_restore_over_a_knowledge_base_needs_force_and_keeps_the_old_one(tmp_path: Path, serving, capsys) -> None:
    services, _ = serving
    before = _state(services)
    dest = tmp_path / "backup"
    assert kb(capsys, services.settings.home, "backup", str(dest))[0] == 0
    other = tmp_path / "other"
    other_services = build_services(make_settings(other))
    other_services.ingest.ingest_texts([("别的", "别的文件", "第一条 这是另一个知识库的文件。" * 5)])
    other_services.close()

    code, _, err = kb(capsys, other, "restore", str(dest))
    assert code == 2 and "--force" in err
    code, out, err = kb(capsys, other, "restore", str(dest), "--force", "--json")
    assert code == 0, err
    aside = Path(json.loads(out)["moved_aside"])
    assert (aside / "chroma" / "chroma.sqlite3").is_file()  # nothing was deleted
    restored = build_services(make_settings(other))
    try:
        assert _state(restored) == before
    finally:
        restored.close()


def test_sqlite_files_are_copied_through_the_backup_api(tmp_path: Path, serving, capsys) -> None:
    """A row still only in the -wal file is in the copy (a plain file copy would miss it)."""
    services, _ = serving
    db = services.settings.conversations_db
    holder = sqlite3.connect(db)  # keeps the WAL from being checkpointed into the main file
    holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
    services.conversations.create("张三", "只在预写日志里")
    dest = tmp_path / "backup"
    assert kb(capsys, services.settings.home, "backup", str(dest))[0] == 0
    holder.close()
    copy = sqlite3.connect(dest / "conversations.sqlite3")
    try:
        titles = [r[0] for r in copy.execute("SELECT title FROM conversations")]
    finally:
        copy.close()
    assert "只在预写日志里" in titles
