"""User accounts of one knowledge base: names, roles and scrypt password hashes in ``users.json``.

The file lives under KB_HOME and is rewritten whole on every change (temp file + ``os.replace``,
mode 0600) so a crash never leaves a half-written account list. It is re-read on every call, so
an account added with ``kb users add`` is seen by a running server without a restart.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

ROLES = ("admin", "inspector")
ROLE_LABELS = {"admin": "管理员", "inspector": "考察员"}

# Letters (Chinese included), digits, "_", "-", "." — no spaces or path/shell characters, because
# names end up in audit records, log lines and table output.
_NAME_RE = re.compile(r"^[\w.\-]{1,64}$")
_MAX_PASSWORD_CHARS = 1024
DEFAULT_MIN_PASSWORD_LENGTH = 8  # settings.security.min_password_length

# scrypt cost parameters for new hashes; the parameters are stored with each hash so they can be
# raised later without invalidating existing accounts.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_DKLEN = 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_SCRYPT_MAXMEM
    )


def hash_password(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, _SCRYPT_DKLEN)
    return {
        "algorithm": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": salt.hex(),
        "hash": digest.hex(),
    }


def check_password(password: str, stored: dict[str, Any]) -> bool:
    try:
        if stored.get("algorithm") != "scrypt":
            return False
        salt = bytes.fromhex(stored["salt"])
        expected = bytes.fromhex(stored["hash"])
        digest = _scrypt(password, salt, int(stored["n"]), int(stored["r"]), int(stored["p"]), len(expected))
    except (KeyError, TypeError, ValueError):
        return False
    return hmac.compare_digest(digest, expected)


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '_', '-' or '.' (no spaces)"
        )
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"invalid role {role!r}: must be one of {', '.join(ROLES)}")
    return role


class PasswordPolicyError(ValueError):
    """A password the policy refuses (too short, the user name, a common password, a simple run)."""


COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[1] / "data" / "common_passwords.txt"
_common: frozenset[str] | None = None


def common_passwords() -> frozenset[str]:
    """kb/data/common_passwords.txt, lower-cased (read once)."""
    global _common
    if _common is None:
        lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
        _common = frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))
    return _common


def _simple_run(password: str) -> bool:
    """One character repeated, a short unit repeated ("121212", "abcabcabc"), or an ascending or
    descending sequence ("12345678", "87654321", "abcdefgh") — guessed first, whatever the length."""
    n = len(password)
    for period in (1, 2, 3):
        if n >= 2 * period and password == (password[:period] * (n // period + 1))[:n]:
            return True
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:])}
    return n >= 4 and steps in ({1}, {-1})


def _validate_password(password: str, min_length: int = DEFAULT_MIN_PASSWORD_LENGTH, name: str | None = None) -> str:
    """The password policy: at least `min_length` characters, not the user name (ignoring case and
    digits or punctuation around it: zhang, Zhang2024), not a common password, not a simple run.
    Applies when an account is created; measured before it existed: 12345678, password and the
    user name itself were accepted."""
    if not isinstance(password, str) or password == "":
        raise PasswordPolicyError("password must not be empty")
    if len(password) < min_length:
        raise PasswordPolicyError(f"password is too short: at least {min_length} characters")
    if len(password) > _MAX_PASSWORD_CHARS:
        raise PasswordPolicyError(f"password is too long (more than {_MAX_PASSWORD_CHARS} characters)")
    lowered = password.lower()
    if name and (lowered == name.lower() or re.sub(r"^[\d\W_]+|[\d\W_]+$", "", lowered) == name.lower()):
        raise PasswordPolicyError("password must not be the user name")
    if lowered in common_passwords():
        raise PasswordPolicyError("password is too common (it is in kb/data/common_passwords.txt): choose another")
    if _simple_run(password):
        raise PasswordPolicyError("password is a simple run of characters (like 12345678 or aaaaaaaa): choose another")
    return password


class UserStore:
    """Accounts in one JSON file. Thread-safe; changes from other processes are serialized with
    an advisory lock on a sidecar ``<file>.lock`` so two ``kb users add`` cannot lose an update."""

    def __init__(self, path: str | Path, min_password_length: int = DEFAULT_MIN_PASSWORD_LENGTH):
        from kb.access.grants import JsonFile

        self.path = Path(path)
        self.file = JsonFile(self.path, "users")
        self.min_password_length = int(min_password_length)
        self._lock = threading.RLock()
        # Spent on verify() of unknown names so a login attempt takes as long for a missing
        # account as for a wrong password (no user-name probing by timing).
        self._dummy_hash: dict[str, Any] | None = None

    # ---- file access (kb/access/grants.py JsonFile: atomic 0600 rewrite under a sidecar lock) ----------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock, self.file.exclusive():
            yield

    def _read(self) -> dict[str, dict[str, Any]]:
        users = self.file.read()
        if not all(isinstance(u, dict) for u in users.values()):
            raise ValueError(f"{self.path}: user file is corrupt (expected {{\"users\": {{name: record}}}})")
        return users

    def _write(self, users: dict[str, dict[str, Any]]) -> None:
        self.file.write(users)

    # ---- public API -------------------------------------------------------------------------
    def add(self, name: str, password: str, role: str, groups: Iterable[str] = ()) -> dict[str, Any]:
        from kb.access.grants import validate_group

        validate_name(name)
        validate_role(role)
        _validate_password(password, self.min_password_length, name)
        groups = sorted({validate_group(g) for g in groups})
        record = {
            "role": role,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "groups": groups,
            "password": hash_password(password),
        }
        with self._exclusive():
            users = self._read()
            if name in users:
                raise ValueError(f"user {name!r} already exists")
            users[name] = record
            self._write(users)
        return {"name": name, "role": role, "created_at": record["created_at"], "groups": groups}

    def set_groups(self, name: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
        """Add and remove inspection groups of an account; returns its groups afterwards."""
        from kb.access.grants import validate_group

        add = {validate_group(g) for g in add}
        remove = set(remove)
        with self._exclusive():
            users = self._read()
            if name not in users:
                raise ValueError(f"no such user {name!r}")
            current = set(users[name].get("groups") or [])
            groups = sorted((current | add) - remove)
            users[name]["groups"] = groups
            self._write(users)
        return groups

    def groups(self, name: str | None) -> list[str]:
        if not name:
            return []
        with self._lock:
            record = self._read().get(name)
        groups = record.get("groups") if record else None
        return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []

    def remove(self, name: str) -> None:
        with self._exclusive():
            users = self._read()
            if name not in users:
                raise ValueError(f"no such user {name!r}")
            del users[name]
            self._write(users)

    def list(self) -> list[dict[str, str]]:
        with self._lock:
            users = self._read()
        return [
            {
                "name": name,
                "role": str(rec.get("role", "")),
                "created_at": str(rec.get("created_at", "")),
                "groups": [g for g in rec.get("groups") or [] if isinstance(g, str)],
            }
            for name, rec in sorted(users.items())
        ]

    def verify(self, name: str, password: str) -> bool:
        with self._lock:
            record = self._read().get(name) if isinstance(name, str) else None
        if not isinstance(password, str) or not password:
            return False
        if record is None or not isinstance(record.get("password"), dict):
            if self._dummy_hash is None:
                self._dummy_hash = hash_password(secrets.token_hex(8))
            check_password(password, self._dummy_hash)
            return False
        return check_password(password, record["password"])

    def role(self, name: str) -> str | None:
        with self._lock:
            record = self._read().get(name)
        if record is None:
            return None
        role = record.get("role")
        return role if role in ROLES else None

    def has_users(self) -> bool:
        with self._lock:
            return bool(self._read())

    def require_role(self, name: str | None, role: str) -> None:
        """Raise PermissionError unless `name` may act as `role` (an admin may do what an inspector may)."""
        validate_role(role)
        actual = self.role(name) if name else None
        if actual == role or actual == "admin":
            return
        raise PermissionError(f"用户 {name or '（未登录）'} 无权执行此操作（需要{ROLE_LABELS[role]}）")
