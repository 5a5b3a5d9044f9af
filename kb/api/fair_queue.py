"""A fair slot pool for API work, so a batch client cannot starve the interactive web UI.

Four heavy API calls at once raised other users' latency from 43 to 459 ms (issue #30): every call
ran at once, on the same two cores as the UI. Now API requests (`/v1/chat/completions`, see
kb/api/openai_compat.py) run in at most `slots` (settings.server.api_concurrency, 1 by default)
at a time; the UI's own events run in Gradio's queue, outside this pool, so they always have the
rest of the machine — the UI holds a reserved share instead of competing with every API call.

Requests over the pool wait. Each key's requests wait in order (FIFO); the keys that wait are
served round-robin, so a key with a backlog of 50 requests does not make a key that sends one wait
behind all 50. A request is refused instead of queued when `max_waiting` wait already (all keys:
503) or `max_waiting_per_key` of its own key wait (429), and a request that waited `timeout_s`
gives up (503); all with Retry-After.

Used from one event loop (the server's); no locks: every state change happens between awaits.
"""
from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque
from contextlib import asynccontextmanager


class QueueRefused(Exception):
    def __init__(self, status: int, message: str, retry_after: float):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, max(1.0, retry_after)


class FairQueue:
    def __init__(self, slots: int = 1, max_waiting: int = 16, max_waiting_per_key: int = 4,
                 timeout_s: float = 120.0, typical_s: float = 5.0):
        self.slots = max(1, int(slots))
        self.max_waiting = max(0, int(max_waiting))
        self.max_waiting_per_key = max(0, int(max_waiting_per_key))
        self.timeout_s = float(timeout_s)
        self.typical_s = float(typical_s)  # a guess of one request's duration, for Retry-After
        self.running = 0
        self._waiting: "OrderedDict[str, deque[asyncio.Future]]" = OrderedDict()  # key → its FIFO; order = turn
        self.granted: list[str] = []  # keys in the order they got a slot (tests, diagnostics)

    @classmethod
    def from_settings(cls, settings) -> "FairQueue":
        s = settings.server
        return cls(s.api_concurrency, s.api_max_waiting, s.api_max_waiting_per_key, s.api_queue_timeout_s)

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def _retry_after(self) -> float:
        return math.ceil((self.waiting + 1) / self.slots * self.typical_s)

    def _grant(self, key: str) -> None:
        self.running += 1
        self.granted.append(key)
        del self.granted[:-1000]

    async def acquire(self, key: str) -> None:
        if self.running < self.slots and not self._waiting:
            self._grant(key)
            return
        if self.waiting >= self.max_waiting:
            raise QueueRefused(503, "the server is busy: too many API requests are waiting; retry later",
                               self._retry_after())
        mine = self._waiting.get(key)
        if mine is not None and len(mine) >= self.max_waiting_per_key:
            raise QueueRefused(429, f"too many requests of this API key are waiting (at most "
                               f"{self.max_waiting_per_key}); retry later", self._retry_after())
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except BaseException as exc:
            if future.done() and not future.cancelled():
                self.release()  # the slot came just as we gave up: pass it on
            else:
                future.cancel()
                self._forget(key, future)
            if isinstance(exc, asyncio.TimeoutError):
                raise QueueRefused(503, f"the server is busy: no API slot within {self.timeout_s:.0f} s; retry later",
                                   self._retry_after()) from None
            raise

    def _forget(self, key: str, future: asyncio.Future) -> None:
        queue = self._waiting.get(key)
        if queue is None:
            return
        try:
            queue.remove(future)
        except ValueError:
            pass
        if not queue:
            del self._waiting[key]

    def release(self) -> None:
        """Hand the slot to the next key in turn (its oldest request), or free it."""
        self.running -= 1
        while self._waiting:
            key, queue = next(iter(self._waiting.items()))
            future = queue.popleft()
            del self._waiting[key]
            if queue:
                self._waiting[key] = queue  # the key goes to the back of the round
            if future.done():  # cancelled while waiting
                continue
            self._grant(key)
            future.set_result(None)
            return

    @asynccontextmanager
    async def slot(self, key: str):
        await self.acquire(key)
        try:
            yield
        finally:
            self.release()
