"""Audit log: who asked, drafted, exported, ingested or deleted what, and which documents were cited.

Stored in SQLite under KB_HOME (mode 0600: questions and names are confidential). Every call opens
its own short-lived connection, so the log is safe to use from the server's worker threads and
from CLI processes at the same time; WAL mode lets readers (``kb audit``) run while the server writes.

Tamper evidence: each row stores the hash of the previous row and its own hash over its content
and that previous hash (SHA-256, a hash chain); a one-row ``audit_head`` table holds the last row's
id and hash, written in the same transaction. `verify()` recomputes the chain: an edited row, a
deleted row (a gap, or a head that names a row no longer there) or a re-ordered one is reported
with the first row affected. Someone who can rewrite the whole file can also rebuild a consistent
chain: keep the head hash `kb audit verify` prints somewhere else (a 保密 check record) to anchor it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from contextlib import closing, contextmanager
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

# The actions the product records; other names are accepted so new features need no migration.
ACTIONS = ("ask", "draft", "export", "ingest", "delete", "login", "login_failed", "user_add", "user_remove")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    time    TEXT NOT NULL,
    user    TEXT,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '',
    doc_ids TEXT NOT NULL DEFAULT '[]',
    extra   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
CREATE TABLE IF NOT EXISTS audit_head (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    last_id INTEGER NOT NULL,
    hash    TEXT NOT NULL
);
"""
GENESIS = "0" * 64
# at most this many characters of a detail are stored (a question is far shorter; a pasted
# document is cut, its length and hash kept)
MAX_DETAIL_CHARS = 4000


def row_hash(prev: str, entry_id: int, when: str, user, action: str, detail: str, doc_ids: str, extra: str) -> str:
    """The chained hash of one row: over the previous row's hash and every stored column."""
    payload = json.dumps([prev, int(entry_id), when, user, action, detail, doc_ids, extra], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def fingerprint(text: str, keep: int = 32) -> str:
    """What is logged of an untrusted string (a user name typed at the login form): its first
    `keep` characters, its length and a hash — bounded whatever was sent."""
    text = text if isinstance(text, str) else repr(text)
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
    if len(text) <= keep:
        return text
    return f"{text[:keep]}…(len={len(text)}, sha256:{digest})"


class AuditTampered(Exception):
    """The chain does not verify; `row` is the first row altered, missing or out of place."""

    def __init__(self, row: int, reason: str):
        super().__init__(f"row {row}: {reason}")
        self.row = row
        self.reason = reason


def _format_time(moment: datetime) -> str:
    # One fixed-width UTC format, so that string comparison in SQL is chronological comparison.
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_since(since: str | date | datetime) -> str:
    """Turn a date ("2025-03-01") or datetime ("2025-03-01T08:00", with or without an offset;
    naive means UTC) into the stored time format."""
    if isinstance(since, datetime):
        moment = since
    elif isinstance(since, date):
        moment = datetime.combine(since, time.min)
    else:
        text = str(since).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"cannot understand the date {since!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return _format_time(moment)


class AuditLog:
    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self._initialized = False
        # one thread creates the schema: threads racing through the first PRAGMA journal_mode=WAL and
        # migration got "database is locked" at once (no busy wait there) and lost their entry
        self._init_lock = threading.Lock()

    def _secure_files(self) -> None:
        """Create the database 0600 and narrow an existing one (and its WAL files) to 0600."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as exc:
            raise ValueError(f"{self.db_path}: cannot open audit database ({exc.strerror or exc})") from exc
        for path in (self.db_path, Path(f"{self.db_path}-wal"), Path(f"{self.db_path}-shm")):
            try:
                if path.stat().st_mode & 0o077:
                    os.chmod(path, 0o600)
            except FileNotFoundError:
                pass
            except OSError:  # not ours to change (read-only copy): reading still works
                pass

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._initialized:
            self._secure_files()
        try:
            conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise ValueError(f"{self.db_path}: cannot open audit database ({exc})") from exc
        with closing(conn):
            try:
                if not self._initialized:
                    with self._init_lock:
                        if not self._initialized:
                            conn.execute("PRAGMA journal_mode=WAL")
                            conn.executescript(_SCHEMA)
                            self._migrate(conn)
                            self._secure_files()  # the WAL files now exist
                            self._initialized = True
                yield conn
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise
                raise ValueError(f"{self.db_path}: audit database is unusable ({exc})") from exc

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """A log written before the chain existed: add the columns and chain its rows as they are."""
        columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
        if "hash" in columns:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
            if "hash" not in columns:
                conn.execute("ALTER TABLE audit ADD COLUMN prev_hash TEXT")
                conn.execute("ALTER TABLE audit ADD COLUMN hash TEXT")
                prev, last = GENESIS, 0
                for row in conn.execute("SELECT id, time, user, action, detail, doc_ids, extra FROM audit ORDER BY id").fetchall():
                    h = row_hash(prev, *row)
                    conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev, h, row[0]))
                    prev, last = h, row[0]
                if last:
                    conn.execute("INSERT OR REPLACE INTO audit_head(one, last_id, hash) VALUES (1, ?, ?)", (last, prev))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def record(
        self,
        user: str | None,
        action: str,
        detail: str = "",
        doc_ids: Iterable[str] = (),
        **extra: Any,
    ) -> int:
        """Append one entry and return its id."""
        if not isinstance(action, str) or not action.strip():
            raise ValueError("audit action must be a non-empty string")
        if isinstance(doc_ids, str):  # a lone id, not an iterable of characters
            doc_ids = [doc_ids]
        detail = detail or ""
        if len(detail) > MAX_DETAIL_CHARS:
            extra.setdefault("detail_chars", len(detail))
            extra.setdefault("detail_sha256", hashlib.sha256(detail.encode("utf-8", "replace")).hexdigest())
            detail = detail[:MAX_DETAIL_CHARS] + "…"
        if isinstance(user, str) and len(user) > 256:
            user = fingerprint(user)
        row = (
            _format_time(datetime.now(timezone.utc)),
            user,
            action,
            detail,
            json.dumps([str(d) for d in doc_ids], ensure_ascii=False),
            json.dumps(extra, ensure_ascii=False, default=str),
        )
        with self._connect() as conn:
            # IMMEDIATE: the writer lock is taken before the previous hash is read, so two
            # processes appending at once cannot both chain onto the same row
            conn.execute("BEGIN IMMEDIATE")
            try:
                head = conn.execute("SELECT last_id, hash FROM audit_head WHERE one = 1").fetchone()
                prev = head[1] if head else GENESIS
                cur = conn.execute(
                    "INSERT INTO audit(time, user, action, detail, doc_ids, extra, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, '')",
                    (*row, prev),
                )
                entry_id = int(cur.lastrowid)
                h = row_hash(prev, entry_id, *row)
                conn.execute("UPDATE audit SET hash = ? WHERE id = ?", (h, entry_id))
                conn.execute("INSERT OR REPLACE INTO audit_head(one, last_id, hash) VALUES (1, ?, ?)", (entry_id, h))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return entry_id

    def verify(self) -> dict[str, Any]:
        """Recompute the chain. Returns {"rows", "head"} when it is intact; raises AuditTampered
        naming the first row that was altered, deleted or moved."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, time, user, action, detail, doc_ids, extra, prev_hash, hash FROM audit ORDER BY id"
            ).fetchall()
            head = conn.execute("SELECT last_id, hash FROM audit_head WHERE one = 1").fetchone()
        prev, expected_id = GENESIS, None
        for entry_id, when, user, action, detail, doc_ids, extra, prev_hash, stored in rows:
            if prev_hash != prev:
                if entry_id != (expected_id or 1):
                    raise AuditTampered(expected_id or 1, f"missing (deleted; the log jumps to row {entry_id})")
                raise AuditTampered(entry_id, "previous-row hash does not match (a row before it was altered, deleted or moved)")
            if row_hash(prev, entry_id, when, user, action, detail, doc_ids, extra) != stored:
                raise AuditTampered(entry_id, "content altered (its hash does not match)")
            prev, expected_id = stored, entry_id + 1
        if rows and head is None:
            raise AuditTampered(rows[-1][0], "the chain head record is missing")
        if head is not None:
            last_id, head_hash = head
            if not rows or rows[-1][0] < last_id:
                missing = (rows[-1][0] + 1) if rows else 1
                raise AuditTampered(missing, f"missing (deleted; the chain head names row {last_id})")
            if rows[-1][0] != last_id or head_hash != prev:
                raise AuditTampered(rows[-1][0], "does not match the chain head (altered or appended outside the log)")
        return {"rows": len(rows), "head": prev, "last_id": rows[-1][0] if rows else 0}

    def export(self) -> Iterator[dict[str, Any]]:
        """Every row, oldest first, with its chain hashes (for `kb audit export --jsonl`)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, time, user, action, detail, doc_ids, extra, prev_hash, hash FROM audit ORDER BY id"
            ).fetchall()
        for row in rows:
            entry = self._row_dict(row[:7])
            entry["prev_hash"], entry["hash"] = row[7], row[8]
            yield entry

    def query(
        self,
        since: str | date | datetime | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries matching all the given filters, oldest first; with `limit`, the newest `limit`."""
        where, params = [], []
        if since is not None and since != "":
            where.append("time >= ?")
            params.append(parse_since(since))
        if user:
            where.append("user = ?")
            params.append(user)
        if action:
            where.append("action = ?")
            params.append(action)
        sql = "SELECT id, time, user, action, detail, doc_ids, extra FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            if int(limit) < 0:
                raise ValueError("limit must not be negative")
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._row_dict(row) for row in reversed(rows)]

    @staticmethod
    def _row_dict(row: tuple) -> dict[str, Any]:
        entry_id, when, user, action, detail, doc_ids, extra = row
        try:
            ids = json.loads(doc_ids) if doc_ids else []
        except json.JSONDecodeError:
            ids = [doc_ids]
        try:
            more = json.loads(extra) if extra else {}
        except json.JSONDecodeError:
            more = {"raw": extra}
        return {
            "id": entry_id,
            "time": when,
            "user": user,
            "action": action,
            "detail": detail,
            "doc_ids": ids,
            "extra": more,
        }
