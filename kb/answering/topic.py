"""What the knowledge base as a whole is about, as one word-vector direction.

A question about the subject of a focused collection (inspection reports, policy on 政治建设) is about
something the collection holds even when none of its words match a sentence; one about a topic
nowhere in a varied collection (an encyclopaedia) is not. The direction is the mean vector of the
words the knowledge base uses far more often than general Chinese does: each word of the index weighs
its share of chunks times how many times more frequent that is than in jieba's general dictionary
(only over-represented words count). `focus(question)` is the cosine of the question's words with it.
Computed once per lexical snapshot (a pass over the index vocabulary), then cached.
"""
from __future__ import annotations

import math
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def general_frequencies() -> tuple[dict[str, int], int]:
    """Word → count in jieba's general dictionary (its dict.txt), and the total count."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
    return counts, sum(counts.values()) or 1


class KnowledgeBaseTopic:
    def __init__(self, wordvectors):
        self.wv = wordvectors
        self._lock = threading.Lock()
        self._cached: tuple[str, np.ndarray | None] | None = None

    def direction(self, snapshot) -> np.ndarray | None:
        if self.wv is None or snapshot is None or getattr(snapshot, "bm25", None) is None:
            return None
        key = snapshot.store_version
        with self._lock:
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1]
        vec = self._compute(snapshot)
        with self._lock:
            self._cached = (key, vec)
        return vec

    def _compute(self, snapshot) -> np.ndarray | None:
        general, total = general_frequencies()
        bm25 = snapshot.bm25
        indptr = bm25.scores["indptr"]
        n = max(1, len(snapshot))
        words, weights = [], []
        for token, tid in bm25.vocab_dict.items():
            if len(token) < 2 or not self.wv.exact(token):
                continue
            share = (int(indptr[tid + 1]) - int(indptr[tid])) / n
            if share <= 0:
                continue
            p_general = (general.get(token, 0) + 1) / total
            lift = math.log(share / p_general) - math.log(1000.0)  # over-represented ×1000 and more
            if lift > 0:
                words.append(token)
                weights.append(share * lift)
        if not words:
            return None
        return self.wv.sentence_vector(words, weights)

    def focus(self, snapshot, words: list[str]) -> float:
        direction = self.direction(snapshot)
        words = [w for w in words if len(w) >= 2]
        if direction is None or not words:
            return 0.0
        qv = self.wv.sentence_vector(words)
        return float(max(0.0, qv @ direction))
