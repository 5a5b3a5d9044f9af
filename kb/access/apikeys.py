"""API keys for the OpenAI-compatible API (kb/api/openai_compat.py): each key acts as one user.

``kb apikeys create NAME --user U`` prints the key once; ``apikeys.json`` under KB_HOME (0600)
keeps only its SHA-256 (a key is 256 random bits, so a fast hash is enough: nothing to guess),
its first characters for recognising it, the user and the dates. Revoked keys stay listed.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kb.access.grants import JsonFile
from kb.access.users import validate_name

KEY_PREFIX = "kb-"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


class ApiKeyStore:
    def __init__(self, path: str | Path):
        self.file = JsonFile(path, "keys")

    def create(self, name: str, user: str) -> tuple[str, dict[str, Any]]:
        """A new key for `user`: (the key — shown once, never stored —, its record)."""
        validate_name(name)
        validate_name(user)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = {
            "user": user,
            "sha256": _digest(key),
            "prefix": key[:10],
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "revoked_at": None,
        }
        with self.file.exclusive():
            keys = self.file.read()
            if name in keys and not keys[name].get("revoked_at"):
                raise ValueError(f"API key {name!r} already exists (revoke it first)")
            keys[name] = record
            self.file.write(keys)
        return key, self._public(name, record)

    def revoke(self, name: str) -> None:
        with self.file.exclusive():
            keys = self.file.read()
            if name not in keys:
                raise ValueError(f"no such API key {name!r}")
            if not keys[name].get("revoked_at"):
                keys[name]["revoked_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
                self.file.write(keys)

    def list(self) -> list[dict[str, Any]]:
        with self.file._lock:
            keys = self.file.read()
        return [self._public(n, r) for n, r in sorted(keys.items())]

    def authenticate(self, key: str | None) -> tuple[str, str] | None:
        """(key name, user) for a valid, unrevoked key; None otherwise."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = _digest(key)
        with self.file._lock:
            keys = self.file.read()
        found = None
        for name, rec in keys.items():
            # compare every record (no early exit): the time taken says nothing about the keys
            if hmac.compare_digest(str(rec.get("sha256", "")), digest) and not rec.get("revoked_at"):
                found = (name, str(rec.get("user", "")))
        return found

    @staticmethod
    def _public(name: str, rec: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "user": rec.get("user", ""),
            "prefix": rec.get("prefix", ""),
            "created_at": rec.get("created_at", ""),
            "revoked_at": rec.get("revoked_at"),
        }
