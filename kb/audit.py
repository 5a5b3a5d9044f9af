"""Audit log: who asked, drafted, exported, ingested or deleted what, and which documents were cited.

Stored in SQLite under KB_HOME. Every call opens its own short-lived connection, so the log is
safe to use from the server's worker threads and from CLI processes at the same time; WAL mode
lets readers (``kb audit``) run while the server writes.
"""
from __future__ import annotations

import json
import sqlite3
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
"""


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

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.db_path, timeout=30.0)
        except sqlite3.Error as exc:
            raise ValueError(f"{self.db_path}: cannot open audit database ({exc})") from exc
        with closing(conn):
            try:
                if not self._initialized:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(_SCHEMA)
                    self._initialized = True
                yield conn
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise
                raise ValueError(f"{self.db_path}: audit database is unusable ({exc})") from exc

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
        row = (
            _format_time(datetime.now(timezone.utc)),
            user,
            action,
            detail or "",
            json.dumps([str(d) for d in doc_ids], ensure_ascii=False),
            json.dumps(extra, ensure_ascii=False, default=str),
        )
        with self._connect() as conn:
            with conn:  # one transaction
                cur = conn.execute(
                    "INSERT INTO audit(time, user, action, detail, doc_ids, extra) VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
            return int(cur.lastrowid)

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
