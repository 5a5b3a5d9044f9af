import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest

from kb.audit import AuditLog, parse_since


@pytest.fixture
def log(tmp_path):
    return AuditLog(tmp_path / "home" / "audit.sqlite3")


def test_record_and_query_roundtrip(log):
    entry_id = log.record("alice", "ask", "干部选拔任用的条件是什么？", doc_ids=["d1", "d2"], answer_chars=120)
    entries = log.query()
    assert len(entries) == 1
    entry = entries[0]
    assert entry["id"] == entry_id
    assert entry["user"] == "alice"
    assert entry["action"] == "ask"
    assert entry["detail"] == "干部选拔任用的条件是什么？"
    assert entry["doc_ids"] == ["d1", "d2"]
    assert entry["extra"] == {"answer_chars": 120}
    when = datetime.fromisoformat(entry["time"])
    assert when.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=1)


def test_wal_mode(log):
    log.record("alice", "login", "")
    with sqlite3.connect(log.db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_filters_by_user_and_action(log):
    log.record("alice", "ask", "q1")
    log.record("bob", "ask", "q2")
    log.record("alice", "draft", "r1")
    assert [e["detail"] for e in log.query(user="alice")] == ["q1", "r1"]
    assert [e["detail"] for e in log.query(action="ask")] == ["q1", "q2"]
    assert [e["detail"] for e in log.query(user="alice", action="draft")] == ["r1"]
    assert log.query(user="carol") == []


def test_limit_keeps_newest_in_chronological_order(log):
    for i in range(5):
        log.record("alice", "ask", f"q{i}")
    assert [e["detail"] for e in log.query(limit=2)] == ["q3", "q4"]


def test_since_filters_by_time(log):
    log.record("alice", "ask", "old")
    # Backdate the first entry by editing the stored time: `since` compares stored UTC strings.
    with sqlite3.connect(log.db_path) as conn:
        conn.execute("UPDATE audit SET time = '2020-01-01T00:00:00.000000+00:00'")
    log.record("alice", "ask", "new")
    assert [e["detail"] for e in log.query(since="2021-01-01")] == ["new"]
    assert [e["detail"] for e in log.query(since="2019-12-31T23:59")] == ["old", "new"]
    assert [e["detail"] for e in log.query(since="2020-01-01T08:00:00+08:00")] == ["old", "new"]
    assert log.query(since=datetime.now(timezone.utc) + timedelta(days=1)) == []


def test_parse_since_rejects_garbage():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_since("yesterday")
    assert parse_since("2025-03-01") == "2025-03-01T00:00:00.000000+00:00"


def test_concurrent_threads(log):
    def worker(n):
        for i in range(10):
            log.record(f"user{n}", "ask", f"{n}-{i}", doc_ids=[f"d{i}"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = log.query()
    assert len(entries) == 60
    assert len({e["id"] for e in entries}) == 60


def test_corrupt_database_names_the_file(tmp_path):
    path = tmp_path / "audit.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="audit.sqlite3"):
        AuditLog(path).query()


def test_empty_action_rejected(log):
    with pytest.raises(ValueError):
        log.record("alice", "", "x")
