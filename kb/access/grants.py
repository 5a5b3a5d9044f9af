"""Collection grants: which inspection groups may read a confidential collection, and until when.

Stored in ``grants.json`` under KB_HOME, rewritten whole on each change (temp file + ``os.replace``,
mode 0600) under an advisory lock, and re-read on every call, so ``kb collections grant`` and
``revoke`` take effect in a running server at its next question.

The rule (kb/access/scope.py applies it): a collection without any grant is readable by every user
(the behaviour before grants existed); a collection with grants only by admins and by the groups
holding a grant that has not expired. An expired grant still marks the collection as restricted:
the group's access ends with its inspection, the collection does not become public.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

_FILE_VERSION = 1
# Group names end up in audit rows and tables like user names: no spaces or path characters.
_GROUP_RE = re.compile(r"^[\w.\-]{1,64}$")


def validate_group(group: str) -> str:
    if not isinstance(group, str) or not _GROUP_RE.match(group):
        raise ValueError(f"invalid group name {group!r}: use 1-64 letters, digits, '_', '-' or '.' (no spaces)")
    return group


def parse_until(until: str | date | None) -> str | None:
    """YYYY-MM-DD (the last day the grant holds) or None for no end."""
    if until is None or until == "":
        return None
    if isinstance(until, date):
        return until.isoformat()
    try:
        return date.fromisoformat(str(until).strip()).isoformat()
    except ValueError:
        raise ValueError(f"cannot understand the date {until!r}: use YYYY-MM-DD") from None


class UnknownCollection(ValueError):
    """A grant names a collection the knowledge base does not hold (a typo, most likely)."""

    def __init__(self, collection: str, known: list[str]):
        import difflib

        close = difflib.get_close_matches(collection, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        listing = ", ".join(known[:20]) + ("…" if len(known) > 20 else "") if known else "none yet"
        super().__init__(
            f"no collection named {collection!r}{hint} (collections: {listing}). Nothing was granted: check "
            f"the name with `kb collections list`, or pass --new to restrict a collection before its first ingest"
        )
        self.collection = collection
        self.known = known


class JsonFile:
    """One JSON document rewritten atomically (0600) under an advisory lock on ``<file>.lock``."""

    def __init__(self, path: str | Path, key: str):
        self.path = Path(path)
        self.key = key
        self._lock = threading.RLock()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                import fcntl
            except ImportError:  # pragma: no cover - non-POSIX
                yield
                return
            fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ValueError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.path}: file is corrupt ({exc})") from exc
        body = data.get(self.key) if isinstance(data, dict) else None
        if not isinstance(body, dict):
            raise ValueError(f"{self.path}: file is corrupt (expected {{\"{self.key}\": {{...}}}})")
        return body

    def write(self, body: dict[str, Any]) -> None:
        payload = json.dumps({"version": _FILE_VERSION, self.key: body}, ensure_ascii=False, indent=2)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise


class GrantStore:
    """collection → group → {"until": YYYY-MM-DD | None, "granted_at": ISO time}."""

    def __init__(self, path: str | Path):
        self.file = JsonFile(path, "grants")

    @property
    def path(self) -> Path:
        return self.file.path

    def grant(
        self,
        collection: str,
        group: str,
        until: str | date | None = None,
        known: Iterable[str] | None = None,
        allow_new: bool = False,
    ) -> dict[str, Any]:
        """Let `group` read `collection`. With `known` (the collections the knowledge base holds), a
        name that is neither among them nor already restricted is an error (UnknownCollection)
        unless `allow_new` — restricting a collection before its first document is ingested. A
        mistyped name used to succeed silently and leave the real collection open to everyone."""
        collection = (collection or "").strip()
        if not collection:
            raise ValueError("collection name must not be empty")
        validate_group(group)
        record = {"until": parse_until(until), "granted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with self.file.exclusive():
            grants = self.file.read()
            if known is not None and not allow_new:
                known = set(known)
                if collection not in known and collection not in grants:
                    raise UnknownCollection(collection, sorted(known | set(grants)))
            grants.setdefault(collection, {})[group] = record
            self.file.write(grants)
        return {"collection": collection, "group": group, **record}

    def revoke(self, collection: str, group: str) -> None:
        with self.file.exclusive():
            grants = self.file.read()
            groups = grants.get(collection) or {}
            if group not in groups:
                raise ValueError(f"collection {collection!r} has no grant for group {group!r}")
            del groups[group]
            # the last grant revoked: the collection stays restricted (readable by admins only) —
            # revoking access never makes confidential material public
            grants[collection] = groups
            self.file.write(grants)

    def release(self, collection: str) -> None:
        """Drop every grant of a collection: it becomes readable by all users again."""
        with self.file.exclusive():
            grants = self.file.read()
            if collection not in grants:
                raise ValueError(f"collection {collection!r} has no grants")
            del grants[collection]
            self.file.write(grants)

    def all(self) -> dict[str, dict[str, dict[str, Any]]]:
        with self.file._lock:
            return self.file.read()

    def restricted(self) -> set[str]:
        return set(self.all())

    def denied_for(self, groups: Iterable[str], today: date | None = None) -> frozenset[str]:
        """The restricted collections none of `groups` holds an unexpired grant for."""
        today = today or date.today()
        mine = set(groups)
        denied = set()
        for collection, by_group in self.all().items():
            ok = any(
                g in mine and (rec.get("until") is None or date.fromisoformat(rec["until"]) >= today)
                for g, rec in (by_group or {}).items()
            )
            if not ok:
                denied.add(collection)
        return frozenset(denied)
