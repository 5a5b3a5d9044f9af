"""Login throttling: slow down repeated failures per (user name, client address), per client
address, and per API key, and bound what failed attempts may write to the audit log.

Threat: an unauthenticated client guessing passwords (27 guesses/s were measured before this
existed) or flooding the login form to fill the disk. Defences (settings.security):
  - `login_max_failures` failures for one user name *from one client address* make that address
    wait `lockout_s` before its next attempt on that name, and every further failure doubles the
    wait, up to `lockout_max_s` (exponential back-off). A flat lock on the name alone let anyone
    who knew a name lock its owner out for 15 minutes with 5 guesses; now the owner, at their own
    address, is never refused because of guesses made elsewhere;
  - `client_max_failures` failures from one client address, whatever the names, back it off the
    same way (one client trying many names);
  - API keys (kb/api/openai_compat.py): a valid key is throttled per key
    (`api_key_requests_per_minute`), never because of other keys' failures from its address;
    invalid keys are backed off per address like logins, without touching the valid ones;
  - at most `audit_failed_logins_max` failed-login rows per window reach the audit log; the
    rest are counted and the count is written with the next row that is allowed;
  - names are kept as a hash of at most their first 1024 characters, and the tables are bounded,
    so a flood of distinct names costs a fixed amount of memory.
The client address is the peer's, or the X-Forwarded-For address a configured proxy
(`trusted_proxies`) vouches for (kb/api/web_guard.py). The state is per server process and in
memory: a restart clears it (documented in docs/security.md).
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


def _pair(name: str | None, client: str | None) -> str:
    text = name if isinstance(name, str) else repr(name)
    return _key("pair", f"{text[:1024]}\x00{client or ''}")


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginGuard:
    def __init__(self, security, clock=time.monotonic):
        self.cfg = security
        self.clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._key_uses: OrderedDict[str, list[float]] = OrderedDict()
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

    def _fail(self, key: str, limit: int, now: float) -> None:
        """Count a failure; from the `limit`-th on, wait lockout_s, doubled by each further one."""
        rec = self._get(key)
        # failures are forgotten after a whole window without any (the last wait included), not one
        # by one: a sliding count would decay while the waits grow, and the back-off never climb
        if now - max(rec.last, rec.locked_until) > self.cfg.failure_window_s:
            rec.failures = 0
        rec.failures += 1
        rec.last = now
        if rec.failures >= limit:
            doublings = min(rec.failures - limit, 32)
            wait = min(float(self.cfg.lockout_max_s), float(self.cfg.lockout_s) * 2 ** doublings)
            rec.locked_until = max(rec.locked_until, now + wait)

    def refusal(self, name: str | None, client: str | None) -> float:
        """Seconds an attempt on `name` from `client` must still wait (0.0 = it may be checked)."""
        now = self.clock()
        with self._lock:
            wait = self._locked(_pair(name, client), now)
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
        with self._lock:
            self._fail(_pair(name, client), self.cfg.login_max_failures, now)
            if client:
                self._fail(_key("client", client), self.cfg.client_max_failures, now)

    def succeeded(self, name: str | None, client: str | None) -> None:
        with self._lock:
            self._records.pop(_pair(name, client), None)

    # -- API keys ------------------------------------------------------------------------------
    def api_client_refusal(self, client: str | None) -> float:
        """Seconds a client that sent too many invalid keys must wait before the next invalid one
        is looked at (a valid key is never refused for this)."""
        if not client:
            return 0.0
        now = self.clock()
        with self._lock:
            return self._locked(_key("apiclient", client), now)

    def api_key_failed(self, client: str | None) -> None:
        if not client:
            return
        now = self.clock()
        with self._lock:
            self._fail(_key("apiclient", client), self.cfg.client_max_failures, now)

    def api_key_wait(self, key_name: str) -> float:
        """Count one request of a valid key; seconds to wait when it is over its rate (0.0 = go)."""
        limit = int(getattr(self.cfg, "api_key_requests_per_minute", 0) or 0)
        if limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            uses = [t for t in self._key_uses.pop(key_name, []) if now - t < 60.0]
            self._key_uses[key_name] = uses
            while len(self._key_uses) > _MAX_TRACKED:
                self._key_uses.popitem(last=False)
            if len(uses) >= limit:
                return max(0.001, 60.0 - (now - uses[0]))
            uses.append(now)
            return 0.0

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
