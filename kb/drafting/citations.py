"""Numbering citations across one draft; every citation goes through the verifier."""
from __future__ import annotations

from kb.models import Citation, Hit


class Citations:
    """Numbers citations across the draft; the same quote from the same chunk keeps its number."""

    def __init__(self, verifier, start: int = 0):
        self.verifier = verifier
        self._numbers: dict[tuple[str, str], int] = {}
        self._start = start

    def cite(self, hit: Hit, quote: str) -> Citation:
        key = (hit.chunk.chunk_id, quote)
        n = self._numbers.setdefault(key, self._start + len(self._numbers) + 1)
        return self.verifier.cite(n, hit, quote)
