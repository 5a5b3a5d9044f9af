import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest

from kb.access.audit import AuditLog, parse_since


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


# ---- tamper evidence, file mode, bounded rows ----------------------------------------------------
def _chain(log, n=5):
    for i in range(n):
        log.record("alice", "ask", f"q{i}", doc_ids=[f"d{i}"], status="answered")


def test_fresh_chain_verifies(log):
    from kb.access.audit import GENESIS

    assert log.verify()["rows"] == 0
    _chain(log)
    result = log.verify()
    assert result["rows"] == 5 and result["last_id"] == 5 and result["head"] != GENESIS


@pytest.mark.parametrize("column, value", [("detail", "x"), ("user", "mallory"), ("doc_ids", "[]"), ("extra", "{}"), ("time", "2020-01-01T00:00:00.000000+00:00")])
def test_altering_any_column_of_a_row_is_named(log, column, value):
    from kb.access.audit import AuditTampered

    _chain(log)
    with sqlite3.connect(log.db_path) as conn:
        conn.execute(f"UPDATE audit SET {column} = ? WHERE id = 3", (value,))
    with pytest.raises(AuditTampered) as err:
        log.verify()
    assert err.value.row == 3


@pytest.mark.parametrize("victim", [1, 3, 5])
def test_deleting_a_row_is_named(log, victim):
    from kb.access.audit import AuditTampered

    _chain(log)
    with sqlite3.connect(log.db_path) as conn:
        conn.execute("DELETE FROM audit WHERE id = ?", (victim,))
    with pytest.raises(AuditTampered) as err:
        log.verify()
    assert err.value.row == victim and "missing" in err.value.reason


def test_rehashing_an_altered_row_still_breaks_the_next_link(log):
    from kb.access.audit import AuditTampered, row_hash

    _chain(log)
    with sqlite3.connect(log.db_path) as conn:
        row = conn.execute("SELECT id, time, user, action, detail, doc_ids, extra, prev_hash FROM audit WHERE id = 2").fetchone()
        forged = row_hash(row[7], row[0], row[1], row[2], row[3], "forged", row[5], row[6])
        conn.execute("UPDATE audit SET detail = 'forged', hash = ? WHERE id = 2", (forged,))
    with pytest.raises(AuditTampered) as err:
        log.verify()
    assert err.value.row == 3


def test_a_log_written_before_the_chain_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT, action TEXT NOT NULL,"
            " detail TEXT NOT NULL DEFAULT '', doc_ids TEXT NOT NULL DEFAULT '[]', extra TEXT NOT NULL DEFAULT '{}');"
            "INSERT INTO audit(time, user, action) VALUES ('2024-01-01T00:00:00.000000+00:00', 'old', 'ask');"
        )
    log = AuditLog(path)
    log.record("new", "ask", "q")
    assert log.verify()["rows"] == 2
    assert [e["user"] for e in log.export()] == ["old", "new"]


def test_concurrent_writers_keep_one_chain(log):
    threads = [threading.Thread(target=lambda: [log.record("t", "ask", "q") for _ in range(20)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.verify()["rows"] == 80


def test_database_is_private(log):
    import os
    import stat

    log.record("alice", "login", "")
    for suffix in ("", "-wal"):
        path = f"{log.db_path}{suffix}"
        if os.path.exists(path):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_an_existing_world_readable_database_is_narrowed(tmp_path):
    import os
    import stat

    path = tmp_path / "audit.sqlite3"
    AuditLog(path).record("a", "ask", "q")
    os.chmod(path, 0o644)
    AuditLog(path).query()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_huge_detail_and_user_are_bounded(log):
    from kb.access.audit import MAX_DETAIL_CHARS

    log.record("x" * 1_000_000, "login_failed", "y" * 1_000_000)
    entry = log.query()[-1]
    assert len(entry["user"]) < 200 and "sha256" in entry["user"]
    assert len(entry["detail"]) <= MAX_DETAIL_CHARS + 1 and entry["extra"]["detail_chars"] == 1_000_000
    assert log.db_path.stat().st_size < 200_000


# ---- the anchor outside the table (#30 item 4) -------------------------------------------------------
def _repoint_head(path, last_id):
    with sqlite3.connect(path) as conn:
        h = conn.execute("SELECT hash FROM audit WHERE id = ?", (last_id,)).fetchone()[0]
        conn.execute("UPDATE audit_head SET last_id = ?, hash = ?", (last_id, h))


def test_deleting_the_last_rows_and_repointing_the_head_is_detected(log):
    from kb.access.audit import AuditTampered

    _chain(log)
    with sqlite3.connect(log.db_path) as conn:
        conn.execute("DELETE FROM audit WHERE id > 3")
    _repoint_head(log.db_path, 3)
    with pytest.raises(AuditTampered) as err:
        log.verify()
    assert err.value.row == 4 and "missing" in err.value.reason


def test_a_cut_log_stays_reported_after_new_rows_are_added(log):
    from kb.access.audit import AuditTampered

    _chain(log)
    with sqlite3.connect(log.db_path) as conn:
        conn.execute("DELETE FROM audit WHERE id > 3")
    _repoint_head(log.db_path, 3)
    log.record("bob", "ask", "after the cut")
    log.record("bob", "ask", "and another")
    with pytest.raises(AuditTampered) as err:
        AuditLog(log.db_path).verify()
    assert err.value.row == 4


def test_a_deleted_middle_row_with_the_chain_relinked_is_a_gap(log):
    from kb.access.audit import AuditTampered, row_hash

    _chain(log)
    with sqlite3.connect(log.db_path) as conn:
        conn.execute("DELETE FROM audit WHERE id = 3")
        prev = conn.execute("SELECT hash FROM audit WHERE id = 2").fetchone()[0]
        for r in conn.execute("SELECT id, time, user, action, detail, doc_ids, extra FROM audit WHERE id > 2 ORDER BY id").fetchall():
            h = row_hash(prev, *r)
            conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev, h, r[0]))
            prev = h
        conn.execute("UPDATE audit_head SET hash = ?", (prev,))
    with pytest.raises(AuditTampered) as err:
        log.verify()
    assert err.value.row == 3 and "missing" in err.value.reason


def test_an_emptied_log_that_had_rows_is_tampered(log):
    from kb.access.audit import AuditTampered

    _chain(log, 3)
    with sqlite3.connect(log.db_path) as conn:
        conn.execute("DELETE FROM audit")
        conn.execute("DELETE FROM audit_head")
    with pytest.raises(AuditTampered) as err:
        log.verify()
    assert "empty" in err.value.reason


@pytest.mark.parametrize("append_after", [False, True])
def test_a_zero_byte_log_is_tampered(log, append_after):
    import os

    from kb.access.audit import AuditTampered

    _chain(log, 3)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{log.db_path}{suffix}"):
            os.unlink(f"{log.db_path}{suffix}")
    log.db_path.write_bytes(b"")
    fresh = AuditLog(log.db_path)
    if append_after:
        fresh.record("bob", "ask", "a new log?")
    with pytest.raises(AuditTampered):
        fresh.verify()


def test_a_deleted_anchor_is_reported(log):
    from kb.access.audit import AuditTampered

    _chain(log, 2)
    log.anchor_path.unlink()
    with pytest.raises(AuditTampered, match="anchor"):
        AuditLog(log.db_path).verify()


def test_the_anchor_is_a_private_file_apart_from_the_log(log):
    import os
    import stat

    _chain(log, 2)
    assert log.anchor_path.is_file() and log.anchor_path != log.db_path
    assert stat.S_IMODE(os.stat(log.anchor_path).st_mode) == 0o600
    result = log.verify()
    assert result["anchored"] and result["unanchored"] == 0 and result["rows"] == 2


def test_a_copy_whose_anchor_was_taken_first_verifies(log, tmp_path):
    """kb backup copies the anchor before the log: a copy may hold rows after its anchor."""
    import shutil

    _chain(log, 3)
    saved = tmp_path / "anchor-copy"
    shutil.copy(log.anchor_path, saved)
    _chain(log, 2)
    shutil.copy(saved, log.anchor_path)
    result = AuditLog(log.db_path).verify()
    assert result["rows"] == 5 and result["unanchored"] == 2
    log.record("bob", "ask", "anchors the tail")
    assert AuditLog(log.db_path).verify()["unanchored"] == 0


def test_legacy_gaps_from_before_the_chain_are_not_tampering(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT, action TEXT NOT NULL,"
            " detail TEXT NOT NULL DEFAULT '', doc_ids TEXT NOT NULL DEFAULT '[]', extra TEXT NOT NULL DEFAULT '{}');"
            "INSERT INTO audit(time, user, action) VALUES ('2024-01-01T00:00:00.000000+00:00', 'old', 'ask');"
            "INSERT INTO audit(time, user, action) VALUES ('2024-01-02T00:00:00.000000+00:00', 'old', 'ask');"
            "INSERT INTO audit(time, user, action) VALUES ('2024-01-03T00:00:00.000000+00:00', 'old', 'ask');"
            "DELETE FROM audit WHERE id IN (2, 3);"
        )
    log = AuditLog(path)
    log.record("new", "ask", "q")
    assert log.verify()["rows"] == 2
