"""Audit log: who asked, drafted, exported, ingested or deleted what, and which documents were cited.

Stored in SQLite under KB_HOME (mode 0600: questions and names are confidential). Every call opens
its own short-lived connection, so the log is safe to use from the server's worker threads and
from CLI processes at the same time; WAL mode lets readers (``kb audit``) run while the server writes.

Tamper evidence: each row stores the hash of the previous row and its own hash over its content
and that previous hash (SHA-256, a hash chain); a one-row ``audit_head`` table holds the last row's
id and hash, written in the same transaction. `verify()` recomputes the chain: an edited row, a
deleted row (a gap in the ids, or a head that names a row no longer there) or a re-ordered one is
reported with the first row affected.

The anchor: the head alone lives in the table it vouches for, so deleting the last rows and
repointing it passed, and an emptied (or 0-byte) log read "intact: 0 rows". Every append therefore
also writes the last row's id, its hash and the row count to a separate file,
``<log>-anchor.sqlite3`` (0600), while it holds the log's write lock and before it commits, so the
anchor is never behind the log. `verify()` checks the log against it: the row it names must be
there with that hash and that many rows up to it — deleted last rows, a truncated, emptied or
replaced log are reported, and stay reported (an append that finds the log short of its anchor
marks the anchor broken for good). Rows after the anchored one are legitimate only as a copy's
tail (kb backup copies SQLite files by name, so the anchor before the log) and are counted, not
failed. A table ``audit_meta`` records that the log has an anchor: a deleted anchor file is reported
too. Someone who can rewrite both files can still rebuild a consistent pair: keep the head hash
`kb audit verify` prints somewhere else (a 保密 check record) to anchor it beyond this machine.
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
CREATE TABLE IF NOT EXISTS audit_meta (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);
"""
_ANCHOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS anchor (
    one            INTEGER PRIMARY KEY CHECK (one = 1),
    last_id        INTEGER NOT NULL,
    rows           INTEGER NOT NULL,
    hash           TEXT NOT NULL,
    legacy_through INTEGER NOT NULL DEFAULT 0,
    broken         TEXT,
    broken_row     INTEGER
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


def anchor_path_for(db_path: str | Path) -> Path:
    """audit.sqlite3 → audit-anchor.sqlite3 (a name that sorts before the log's: see the module doc)."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}-anchor{db_path.suffix}")


class AuditLog:
    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self.anchor_path = anchor_path_for(self.db_path)
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
        for path in (self.db_path, Path(f"{self.db_path}-wal"), Path(f"{self.db_path}-shm"), self.anchor_path,
                     Path(f"{self.anchor_path}-wal"), Path(f"{self.anchor_path}-shm")):
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
                            self._adopt(conn)
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
                    # rows from before the chain may have gaps that no one can explain now: the gap
                    # check starts after them
                    conn.execute("INSERT OR REPLACE INTO audit_meta(key, value) VALUES ('legacy_through', ?)", (str(last),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- the anchor outside the table ------------------------------------------------------------
    def _read_anchor(self) -> dict[str, Any] | None:
        """The anchor's one row, or None when there is none (no file, an empty one, no row).
        Raises AuditTampered when the file exists but is not a readable anchor."""
        try:
            if self.anchor_path.stat().st_size == 0:
                return None
        except FileNotFoundError:
            return None
        try:
            conn = sqlite3.connect(f"file:{self.anchor_path}?mode=ro", uri=True, timeout=30.0)
            with closing(conn):
                if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'anchor'").fetchone() is None:
                    return None
                row = conn.execute("SELECT last_id, rows, hash, legacy_through, broken, broken_row FROM anchor WHERE one = 1").fetchone()
        except sqlite3.Error as exc:
            raise AuditTampered(0, f"the anchor {self.anchor_path.name} is unreadable ({exc})") from None
        if row is None:
            return None
        keys = ("last_id", "rows", "hash", "legacy_through", "broken", "broken_row")
        return dict(zip(keys, row))

    def _write_anchor(self, anchor: dict[str, Any]) -> None:
        fd = os.open(self.anchor_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        conn = sqlite3.connect(self.anchor_path, timeout=30.0, isolation_level=None)
        with closing(conn):
            try:
                # WAL without syncs: a crash can only leave the anchor behind the log, which verify()
                # accepts (the rows after it are counted), not ahead of it; a sync per append here
                # doubled the cost of every audited action
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")
                conn.executescript(_ANCHOR_SCHEMA)
            except sqlite3.DatabaseError:
                # not a database any more (overwritten): start it again, keeping what `anchor` says
                conn.close()
                os.unlink(self.anchor_path)
                fd = os.open(self.anchor_path, os.O_RDWR | os.O_CREAT, 0o600)
                os.close(fd)
                conn = sqlite3.connect(self.anchor_path, timeout=30.0, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")
                conn.executescript(_ANCHOR_SCHEMA)
            conn.execute(
                "INSERT OR REPLACE INTO anchor(one, last_id, rows, hash, legacy_through, broken, broken_row)"
                " VALUES (1, ?, ?, ?, ?, ?, ?)",
                (anchor["last_id"], anchor["rows"], anchor["hash"], anchor.get("legacy_through") or 0,
                 anchor.get("broken"), anchor.get("broken_row")),
            )

    @staticmethod
    def _meta(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM audit_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _adopt(self, conn: sqlite3.Connection) -> None:
        """Give a log without an anchor (a new one, or one written before anchors existed) its
        anchor, once: a log that had one and lost it is reported instead (audit_meta says so)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            try:
                present = self._read_anchor() is not None
            except AuditTampered:
                present = True  # there, but unreadable: reported by verify(), never replaced here
            if self._meta(conn, "anchored") is None and not present:
                head = conn.execute("SELECT last_id, hash FROM audit_head WHERE one = 1").fetchone()
                count = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
                self._write_anchor({
                    "last_id": head[0] if head else 0,
                    "rows": count,
                    "hash": head[1] if head else GENESIS,
                    "legacy_through": int(self._meta(conn, "legacy_through") or 0),
                })
                conn.execute("INSERT OR REPLACE INTO audit_meta(key, value) VALUES ('anchored', '1')")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _check_anchor(self, conn: sqlite3.Connection) -> tuple[dict[str, Any] | None, tuple[int, str] | None]:
        """(the anchor, the first problem it shows as (row, reason) or None). Cheap — one indexed
        look-up — so every append runs it; `verify()` adds the full row count."""
        try:
            anchor = self._read_anchor()
        except AuditTampered as exc:
            return None, (exc.row, exc.reason)
        if anchor is None:
            if self._meta(conn, "anchored") is not None:
                return None, (0, f"the anchor {self.anchor_path.name} outside the log is missing (deleted or replaced)")
            return None, None
        if anchor["broken"]:
            return anchor, (int(anchor["broken_row"] or 0), anchor["broken"])
        last_id = int(anchor["last_id"])
        if last_id > 0:
            row = conn.execute("SELECT hash FROM audit WHERE id = ?", (last_id,)).fetchone()
            if row is None:
                top = conn.execute("SELECT MAX(id) FROM audit").fetchone()[0]
                if top is None:
                    return anchor, (1, f"the log is empty, but its anchor counts {anchor['rows']} rows up to row {last_id}"
                                       " (emptied, truncated or replaced)")
                if top < last_id:
                    return anchor, (top + 1, f"missing (deleted; the anchor outside the log names row {last_id})")
                return anchor, (last_id, "missing (deleted; the anchor outside the log names it)")
            if row[0] != anchor["hash"]:
                return anchor, (last_id, "does not match the anchor outside the log (altered, or the log was replaced)")
        return anchor, None

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
            old_anchor = None
            anchor_written = False
            try:
                anchor, problem = self._check_anchor(conn)
                old_anchor = anchor
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
                if anchor is not None and problem is None:
                    rows = int(anchor["rows"]) + conn.execute("SELECT COUNT(*) FROM audit WHERE id > ?", (anchor["last_id"],)).fetchone()[0]
                else:  # no anchor yet, or a broken one: count once, and keep the break on record for good
                    rows = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
                legacy = anchor["legacy_through"] if anchor else int(self._meta(conn, "legacy_through") or 0)
                new_anchor = {"last_id": entry_id, "rows": rows, "hash": h, "legacy_through": legacy}
                if problem is not None:
                    new_anchor.update(broken=problem[1], broken_row=problem[0])
                conn.execute("INSERT OR IGNORE INTO audit_meta(key, value) VALUES ('anchored', '1')")
                # before COMMIT, under the write lock: the anchor is never behind the log
                self._write_anchor(new_anchor)
                anchor_written = True
                conn.execute("COMMIT")
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                finally:
                    if anchor_written and old_anchor is not None:
                        self._write_anchor(old_anchor)  # the row is not in the log: nor in its anchor
                raise
            return entry_id

    def verify(self) -> dict[str, Any]:
        """Recompute the chain and compare it with the anchor. Returns {"rows", "head", "last_id",
        "anchored", "unanchored"} when it is intact; raises AuditTampered naming the first row that
        was altered, deleted or moved, or the log emptied or cut short of its anchor."""
        with self._connect() as conn:
            # the anchor is read under the write lock, so no append is between writing it and
            # committing; the rows are read after, so they are never behind it
            conn.execute("BEGIN IMMEDIATE")
            try:
                anchor, problem = self._check_anchor(conn)
                legacy = int(anchor["legacy_through"]) if anchor else int(self._meta(conn, "legacy_through") or 0)
            finally:
                conn.execute("COMMIT")
            rows = conn.execute(
                "SELECT id, time, user, action, detail, doc_ids, extra, prev_hash, hash FROM audit ORDER BY id"
            ).fetchall()
            head = conn.execute("SELECT last_id, hash FROM audit_head WHERE one = 1").fetchone()
        prev, expected = GENESIS, 1
        for entry_id, when, user, action, detail, doc_ids, extra, prev_hash, stored in rows:
            # ids are consecutive (AUTOINCREMENT, and a rolled-back append takes its id back): a
            # jump is a deleted row even when the chain was re-linked over it — except among the
            # rows of a log written before the chain, whose gaps no one can explain now
            if entry_id != expected and not (legacy and expected - 1 <= legacy):
                raise AuditTampered(expected, f"missing (deleted; the log jumps to row {entry_id})")
            if prev_hash != prev:
                if entry_id != expected:
                    raise AuditTampered(expected, f"missing (deleted; the log jumps to row {entry_id})")
                raise AuditTampered(entry_id, "previous-row hash does not match (a row before it was altered, deleted or moved)")
            if row_hash(prev, entry_id, when, user, action, detail, doc_ids, extra) != stored:
                raise AuditTampered(entry_id, "content altered (its hash does not match)")
            prev, expected = stored, entry_id + 1
        if rows and head is None:
            raise AuditTampered(rows[-1][0], "the chain head record is missing")
        if head is not None:
            last_id, head_hash = head
            if not rows or rows[-1][0] < last_id:
                missing = (rows[-1][0] + 1) if rows else 1
                raise AuditTampered(missing, f"missing (deleted; the chain head names row {last_id})")
            if rows[-1][0] != last_id or head_hash != prev:
                raise AuditTampered(rows[-1][0], "does not match the chain head (altered or appended outside the log)")
        if problem is not None:  # after the chain: a row it names first comes first
            raise AuditTampered(*problem)
        unanchored = 0
        if anchor is not None:
            anchored_rows = sum(1 for r in rows if r[0] <= anchor["last_id"])
            if anchored_rows != anchor["rows"]:
                raise AuditTampered(int(anchor["last_id"]), f"the log holds {anchored_rows} rows up to this one, its anchor "
                                                           f"outside the log counts {anchor['rows']} (rows deleted or added)")
            unanchored = len(rows) - anchored_rows
        return {"rows": len(rows), "head": prev, "last_id": rows[-1][0] if rows else 0,
                "anchored": anchor is not None, "unanchored": unanchored}

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
