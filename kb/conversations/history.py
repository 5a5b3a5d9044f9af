"""Conversations, the answers given in them, and the feedback on those answers — kept per user in one
SQLite file under KB_HOME (``conversations.sqlite3``).

Why every answer is stored whole (its JSON with citations and the passages it was given): an
inspector who opens a conversation weeks later must see, behind each citation chip, the passage the
answer actually cited, from the document version it cited — even after the document was updated or
removed. The chunk ids name that version (``doc_id#version#ordinal``), so the UI can say when the
knowledge base has moved on.

Answers given outside a conversation (the ``/ask`` API) are stored too, without a conversation, so
feedback can name any ``answer_id``. Like the audit log, every call opens its own short-lived
connection (safe from the server's worker threads and CLI processes at once; WAL lets readers run).
"""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id         TEXT PRIMARY KEY,
    user       TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user, updated_at);
CREATE TABLE IF NOT EXISTS answers (
    answer_id         TEXT PRIMARY KEY,
    conversation_id   TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    seq               INTEGER NOT NULL DEFAULT 0,
    user              TEXT NOT NULL,
    question          TEXT NOT NULL,
    resolved_question TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    answer_json       TEXT NOT NULL,
    cited_versions    TEXT NOT NULL DEFAULT '{}',
    created_at        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_conversation ON answers(conversation_id, seq);
CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id  TEXT NOT NULL,
    user       TEXT NOT NULL,
    rating     TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    comment    TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
"""

# A conversation's title is its first question, cut to what fits a sidebar line.
TITLE_CHARS = 30
MAX_TITLE_CHARS = 100


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def version_of(chunk_id: str) -> tuple[str, str]:
    """(doc_id, version) named by a chunk id ``doc_id#version#ordinal`` (doc ids may contain '#')."""
    parts = (chunk_id or "").rsplit("#", 2)
    if len(parts) == 3:
        return parts[0], parts[1]
    return chunk_id or "", ""


def cited_versions(answer: dict[str, Any]) -> dict[str, str]:
    """doc_id → version for every document an answer cited or showed as possibly related."""
    out: dict[str, str] = {}
    for item in list(answer.get("citations") or []) + list(answer.get("contexts") or []):
        doc_id, version = version_of(str(item.get("chunk_id") or ""))
        doc_id = str(item.get("doc_id") or doc_id)
        if doc_id and version:
            out.setdefault(doc_id, version)
    return out


@dataclass
class Turn:
    answer_id: str
    seq: int
    question: str
    resolved_question: str
    status: str
    answer: dict[str, Any]
    cited_versions: dict[str, str]
    created_at: str


@dataclass
class Conversation:
    id: str
    user: str
    title: str
    created_at: str
    updated_at: str
    turns: list[Turn] = field(default_factory=list)

    def questions(self) -> list[str]:
        """The questions asked so far, oldest first (a follow-up is read in their light)."""
        return [t.question for t in self.turns]


class ConversationStore:
    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self._initialized = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.db_path.exists()
        try:
            conn = sqlite3.connect(self.db_path, timeout=30.0)
        except sqlite3.Error as exc:
            raise ValueError(f"{self.db_path}: cannot open the conversations database ({exc})") from exc
        if fresh:
            # questions and answers about named people are confidential: readable by the server's user only
            try:
                os.chmod(self.db_path, 0o600)
            except OSError:
                pass
        with closing(conn):
            try:
                conn.execute("PRAGMA foreign_keys=ON")
                if not self._initialized:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(_SCHEMA)
                    self._initialized = True
                yield conn
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise
                raise ValueError(f"{self.db_path}: the conversations database is unusable ({exc})") from exc

    # -- conversations ---------------------------------------------------------------------------
    def create(self, user: str, title: str = "") -> Conversation:
        now = _now()
        conversation = Conversation(uuid.uuid4().hex, user, _clean_title(title), now, now)
        with self._connect() as conn, conn:
            conn.execute(
                "INSERT INTO conversations(id, user, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (conversation.id, user, conversation.title, now, now),
            )
        return conversation

    def list(self, user: str) -> list[dict[str, Any]]:
        """The user's conversations, most recently used first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT c.id, c.title, c.created_at, c.updated_at, COUNT(a.answer_id) FROM conversations c "
                "LEFT JOIN answers a ON a.conversation_id = c.id WHERE c.user = ? "
                "GROUP BY c.id ORDER BY c.updated_at DESC",
                (user,),
            ).fetchall()
        return [
            {"id": r[0], "title": r[1] or "新对话", "created_at": r[2], "updated_at": r[3], "turns": int(r[4])}
            for r in rows
        ]

    def get(self, user: str, conversation_id: str) -> Conversation:
        """The user's conversation with its turns; KeyError when it is not theirs or does not exist
        (the two read the same, so ids of other users' conversations cannot be probed)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, user, title, created_at, updated_at FROM conversations WHERE id = ? AND user = ?",
                (conversation_id, user),
            ).fetchone()
            if row is None:
                raise KeyError(f"对话 {conversation_id} 不存在")
            turns = conn.execute(
                "SELECT answer_id, seq, question, resolved_question, status, answer_json, cited_versions, created_at "
                "FROM answers WHERE conversation_id = ? ORDER BY seq",
                (conversation_id,),
            ).fetchall()
        conversation = Conversation(*row)
        conversation.turns = [_turn(t) for t in turns]
        return conversation

    def rename(self, user: str, conversation_id: str, title: str) -> None:
        title = _clean_title(title)
        if not title:
            raise ValueError("对话名称不能为空")
        with self._connect() as conn, conn:
            cur = conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND user = ?", (title, conversation_id, user)
            )
        if cur.rowcount == 0:
            raise KeyError(f"对话 {conversation_id} 不存在")

    def delete(self, user: str, conversation_id: str) -> None:
        """Delete a conversation and its answers (feedback on them is kept: it is evaluation data)."""
        with self._connect() as conn, conn:
            cur = conn.execute("DELETE FROM conversations WHERE id = ? AND user = ?", (conversation_id, user))
        if cur.rowcount == 0:
            raise KeyError(f"对话 {conversation_id} 不存在")

    # -- answers ---------------------------------------------------------------------------------
    def add_answer(self, user: str, answer: dict[str, Any], conversation_id: str | None = None) -> Turn:
        """Store one answer (in a conversation when given: it becomes its next turn, and the first
        question names an untitled conversation)."""
        answer_id = str(answer.get("answer_id") or uuid.uuid4().hex)
        now = _now()
        versions = cited_versions(answer)
        with self._connect() as conn, conn:
            seq = 0
            if conversation_id is not None:
                row = conn.execute(
                    "SELECT title FROM conversations WHERE id = ? AND user = ?", (conversation_id, user)
                ).fetchone()
                if row is None:
                    raise KeyError(f"对话 {conversation_id} 不存在")
                seq = conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM answers WHERE conversation_id = ?", (conversation_id,)
                ).fetchone()[0]
                title = row[0] or _clean_title(str(answer.get("question", "")), TITLE_CHARS)
                conn.execute(
                    "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?", (now, title, conversation_id)
                )
            conn.execute(
                "INSERT OR REPLACE INTO answers(answer_id, conversation_id, seq, user, question, resolved_question, "
                "status, answer_json, cited_versions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    conversation_id,
                    int(seq),
                    user,
                    str(answer.get("question", "")),
                    str(answer.get("resolved_question") or ""),
                    str(answer.get("status") or ("refused" if answer.get("refused") else "answered")),
                    json.dumps(answer, ensure_ascii=False, default=str),
                    json.dumps(versions, ensure_ascii=False),
                    now,
                ),
            )
        return Turn(answer_id, int(seq), str(answer.get("question", "")), str(answer.get("resolved_question") or ""),
                    str(answer.get("status", "")), answer, versions, now)

    def answer(self, answer_id: str) -> tuple[str, Turn] | None:
        """(user, turn) of a stored answer, or None."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT user, answer_id, seq, question, resolved_question, status, answer_json, cited_versions, created_at "
                "FROM answers WHERE answer_id = ?",
                (answer_id,),
            ).fetchone()
        if row is None:
            return None
        return row[0], _turn(row[1:])

    # -- feedback --------------------------------------------------------------------------------
    def add_feedback(self, answer_id: str, user: str, rating: str, reason: str = "", comment: str = "") -> int:
        """One judgement per user and answer: a second click replaces the first (it becomes the newest
        entry), never a second row."""
        with self._connect() as conn, conn:
            conn.execute("DELETE FROM feedback WHERE answer_id = ? AND user = ?", (answer_id, user))
            cur = conn.execute(
                "INSERT INTO feedback(answer_id, user, rating, reason, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (answer_id, user, rating, reason, comment, _now()),
            )
        return int(cur.lastrowid)

    def remove_feedback(self, answer_id: str, user: str) -> int:
        """`user` took back their 👍/👎 on the answer: their judgement is gone (rows removed)."""
        with self._connect() as conn, conn:
            cur = conn.execute("DELETE FROM feedback WHERE answer_id = ? AND user = ?", (answer_id, user))
        return int(cur.rowcount or 0)

    def ratings(self, user: str, answer_ids: list[str]) -> dict[str, str]:
        """answer_id → the rating `user` gave it ("up" / "down"), for the answers they judged."""
        ids = [a for a in dict.fromkeys(answer_ids) if a]
        out: dict[str, str] = {}
        with self._connect() as conn:
            for at in range(0, len(ids), 500):
                part = ids[at:at + 500]
                marks = ",".join("?" * len(part))
                for answer_id, rating in conn.execute(
                    f"SELECT answer_id, rating FROM feedback WHERE user = ? AND answer_id IN ({marks}) ORDER BY id",
                    (user, *part),
                ):
                    out[answer_id] = rating
        return out

    def feedback(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every feedback entry with the answer it judges, newest first."""
        sql = (
            "SELECT f.id, f.answer_id, f.user, f.rating, f.reason, f.comment, f.created_at, "
            "a.question, a.resolved_question, a.status, a.answer_json, a.conversation_id "
            "FROM feedback f LEFT JOIN answers a ON a.answer_id = f.answer_id ORDER BY f.id DESC"
        )
        params: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        out = []
        for r in rows:
            try:
                answer = json.loads(r[10]) if r[10] else None
            except json.JSONDecodeError:
                answer = None
            out.append({
                "id": r[0], "answer_id": r[1], "user": r[2], "rating": r[3], "reason": r[4], "comment": r[5],
                "created_at": r[6], "question": r[7] or "", "resolved_question": r[8] or "", "status": r[9] or "",
                "answer": answer, "conversation_id": r[11],
            })
        return out


def _clean_title(title: str, limit: int = MAX_TITLE_CHARS) -> str:
    text = " ".join(str(title or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _turn(row: tuple) -> Turn:
    answer_id, seq, question, resolved, status, answer_json, versions, created = row
    try:
        answer = json.loads(answer_json)
    except json.JSONDecodeError:
        answer = {"question": question, "answer": "", "status": status, "citations": [], "contexts": []}
    try:
        cited = json.loads(versions) if versions else {}
    except json.JSONDecodeError:
        cited = {}
    return Turn(answer_id, int(seq), question, resolved or "", status, answer, cited, created)
