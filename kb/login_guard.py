"""Login throttling: lock a user name, or a client address, after repeated failures, and bound
what failed attempts may write to the audit log.

Threat: an unauthenticated client guessing passwords (27 guesses/s were measured before this
existed) or flooding the login form to fill the disk. Defences (settings.security):
  - `login_max_failures` failures for one user name within `failure_window_s` lock that name for
    `lockout_s`: every attempt is refused, the right password included, until the cool-down ends;
  - `client_max_failures` failures from one client address lock the client the same way (one
    client trying many names);
  - at most `audit_failed_logins_max` failed-login rows per window reach the audit log; the
    rest are counted and the count is written with the next row that is allowed;
  - names are kept as a hash of at most their first 1024 characters, and the tables are bounded,
    so a flood of distinct names costs a fixed amount of memory.
The state is per server process and in memory: a restart clears it (documented in
docs/reliability.md).
"""
from __future__ import annotations

import contextvars
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

# The client address of the request being handled (set by the web middleware for /login, read by
# WebAppService.check_login, which Gradio calls with the name and password only).
current_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("kb_login_client", default=None)

_MAX_TRACKED = 10_000


def _key(kind: str, value: str | None) -> str:
    text = value if isinstance(value, str) else repr(value)
    return kind + ":" + hashlib.sha256(text[:1024].encode("utf-8", "replace")).hexdigest()[:32]


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginGuard:
    def __init__(self, security, clock=time.monotonic):
        self.cfg = security
        self.clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._audit_times: list[float] = []
        self._suppressed = 0

    # -- state ---------------------------------------------------------------------------------
    def _get(self, key: str) -> _Record:
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = _Record()
            while len(self._records) > _MAX_TRACKED:
                self._records.popitem(last=False)  # the oldest tracked entry goes first
        else:
            self._records.move_to_end(key)
        return rec

    def _locked(self, key: str, now: float) -> float:
        rec = self._records.get(key)
        return max(0.0, rec.locked_until - now) if rec is not None else 0.0

    def refusal(self, name: str | None, client: str | None) -> float:
        """Seconds the attempt must still wait (0.0 = it may be checked)."""
        now = self.clock()
        with self._lock:
            wait = self._locked(_key("name", name), now)
            if client:
                wait = max(wait, self._locked(_key("client", client), now))
            return wait

    def client_refusal(self, client: str | None) -> float:
        if not client:
            return 0.0
        now = self.clock()
        with self._lock:
            return self._locked(_key("client", client), now)

    def failed(self, name: str | None, client: str | None) -> None:
        now = self.clock()
        window = self.cfg.failure_window_s
        with self._lock:
            for key, limit in ((_key("name", name), self.cfg.login_max_failures), (_key("client", client), self.cfg.client_max_failures)):
                if key.startswith("client:") and not client:
                    continue
                rec = self._get(key)
                rec.failures = [t for t in rec.failures if now - t < window] + [now]
                if len(rec.failures) >= limit:
                    rec.locked_until = max(rec.locked_until, now + self.cfg.lockout_s)
                    rec.failures = []

    def succeeded(self, name: str | None, client: str | None) -> None:
        with self._lock:
            rec = self._records.get(_key("name", name))
            if rec is not None:
                rec.failures = []

    # -- audit budget --------------------------------------------------------------------------
    def audit_allowed(self) -> tuple[bool, int]:
        """May a failed attempt be written to the audit log now? (allowed, attempts suppressed
        since the last row written — to be recorded with this one)."""
        now = self.clock()
        window = self.cfg.failure_window_s
        with self._lock:
            self._audit_times = [t for t in self._audit_times if now - t < window]
            if len(self._audit_times) >= self.cfg.audit_failed_logins_max:
                self._suppressed += 1
                return False, 0
            self._audit_times.append(now)
            suppressed, self._suppressed = self._suppressed, 0
            return True, suppressed
