"""HybridRetriever: Chinese BM25 + dense vectors, fused by weighted reciprocal rank, with clause lookup.

    question ─┬─ ClauseLocator ── named article's chunks first / named document boosted
              ├─ lexical (bm25s over jieba words + bigrams, filters as a row mask)
              └─ dense (Chroma query with our embedder, filters as `where`)
                       └─ weighted RRF ─ optional cross-encoder ─ top k Hits

The dense list's weight comes from settings per embedder mode; with weight 0 it only breaks ties,
so a weak embedder cannot drag the lexical order down (measured: see `make bench`).
Readers work on one lexical snapshot per query; dense hits outside that snapshot are dropped, so a
question never mixes an old and a new version of a document.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from typing import Any

import numpy as np

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from kb.retrieval.clauses import ClauseLocator, article_number
from kb.retrieval.lexical import LexicalSnapshot
from kb.models import Chunk, Filters, Hit

log = logging.getLogger(__name__)
_DATE = re.compile(r"[(（](\d{4}-\d{2}-\d{2})[)）]")


class HybridRetriever:
    def __init__(self, settings, store, lexical, embedder, tokenizer, reranker=None, thesaurus=None):
        self.settings = settings
        self.store = store
        self.lexical = lexical
        self._embedder = embedder
        self.tokenizer = tokenizer
        self.reranker = reranker
        self.thesaurus = thesaurus
        self._lock = threading.RLock()
        self._locators: dict[str, ClauseLocator] = {}  # store version (of a view) → its locator
        self._last_check = 0.0

    @property
    def embedder(self):
        return self._embedder

    # -- snapshot management -------------------------------------------------------------------
    def refresh(self, force: bool = False) -> LexicalSnapshot | None:
        """Make sure the lexical snapshot reflects the store (cheap unless the store changed)."""
        snap = self.lexical.snapshot
        interval = self.settings.chroma.version_check_seconds
        now = time.monotonic()
        if snap is not None and not force and now - self._last_check < interval:
            return snap
        with self._lock:
            self._last_check = now
            store_version = self.store.version()
            snap = self.lexical.load()
            if snap is not None and snap.store_version == store_version and not force:
                return snap
            if not store_version and snap is None:
                return None
            # Another process (or instance sharing the Chroma server) changed the store: rebuild.
            return self.rebuild(store_version)

    def rebuild(
        self,
        store_version: str | None = None,
        workers: int = 1,
        changed: dict[str, list[Chunk]] | None = None,
        rows=None,
    ) -> LexicalSnapshot:
        """Rebuild the lexical snapshot. With `changed` (doc_id → its new chunks, [] for removed),
        the current snapshot supplies every other document, so a small ingest into a large
        knowledge base does not re-read the whole store; without it, the store is read. Term
        counts of unchanged chunks are reused either way (chunk ids carry the document version)."""
        with self._lock:
            store_version = store_version if store_version is not None else self.store.version()
            current = self.lexical.snapshot
            if changed is not None and current is not None:
                keep = [current.chunk(r) for r in range(len(current)) if current.meta["doc_id"][r] not in changed]
                chunks = keep + [c for doc_chunks in changed.values() for c in doc_chunks]
                chunks.sort(key=lambda c: (c.doc_id, c.start, c.chunk_id))
            else:
                chunks = self.store.visible_chunks()
            snap = self.lexical.build(chunks, store_version, workers=workers, rows=rows, reuse=current)
            self._locators = {}
            return snap

    @staticmethod
    def view(snap: LexicalSnapshot | None, filters: Filters | None) -> LexicalSnapshot | None:
        """The snapshot as the filters' reader sees it: without the collections the access filter
        excludes (see LexicalSnapshot.scoped), the snapshot itself otherwise."""
        if snap is None or filters is None or not filters.exclude_collections:
            return snap
        return snap.scoped(filters.exclude_collections)

    def snapshot_for(self, filters: Filters | None = None) -> LexicalSnapshot | None:
        """The current snapshot (refreshed when the store changed) as the filters' reader sees it."""
        return self.view(self.lexical.snapshot or self.refresh(), filters)

    def chunk(self, chunk_id: str, filters: Filters | None = None) -> Chunk | None:
        """A chunk of the current snapshot by id (None when the filters' reader may not see it)."""
        snap = self.view(self.lexical.snapshot, filters)
        if snap is None:
            return None
        row = self._row_index(snap).get(chunk_id)
        return None if row is None else snap.chunk(row)

    def locator(self, snap: LexicalSnapshot) -> ClauseLocator:
        cached = self._locators.get(snap.store_version)
        if cached is not None:
            return cached
        titles: dict[str, str] = {}
        for doc_id, title in zip(snap.meta["doc_id"], snap.meta["title"]):
            titles.setdefault(doc_id, title)
        dates = {d: (m.group(1) if (m := _DATE.search(d)) else "") for d in titles}
        loc = ClauseLocator(titles, dates)
        if len(self._locators) >= 16:  # one per access scope in use; old versions drop out
            self._locators = {}
        self._locators[snap.store_version] = loc
        return loc

    # -- search ----------------------------------------------------------------------------------
    def search(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        k = k or self.settings.retrieval.top_k
        question = (question or "").strip()
        if not question:
            return []
        snap = self.view(self.refresh(), filters)
        if snap is None or len(snap) == 0:
            return []
        cfg = self.settings.retrieval
        n_cand = max(cfg.candidate_k, k)
        # colloquial wording → the official terms documents use ("聊" → 谈话, 访谈)
        q_tokens = self.query_tokens(question)
        lexical = snap.search(q_tokens, n_cand, filters)
        weight = cfg.dense_weight.get(self.embedder.mode, 0.0) if self.embedder is not None else 0.0
        dense: list[tuple[int, float]] = []
        if weight > 0 or not lexical:
            dense = self._dense(snap, question, n_cand, filters)
        scores: dict[int, float] = {}
        lex_rank: dict[int, int] = {}
        dense_rank: dict[int, int] = {}
        rrf_k = cfg.rrf_k
        for rank, (row, _) in enumerate(lexical, 1):
            scores[row] = scores.get(row, 0.0) + 1.0 / (rrf_k + rank)
            lex_rank[row] = rank
        # with weight 0 the dense list still breaks ties among lexical hits, and is used on its
        # own when the lexical side found nothing at all
        dense_w = weight if weight > 0 else (1.0 if not lexical else 1e-6)
        for rank, (row, _) in enumerate(dense, 1):
            if row in scores or weight > 0 or not lexical:
                scores[row] = scores.get(row, 0.0) + dense_w / (rrf_k + rank)
                dense_rank[row] = rank
        if cfg.collection_weights:
            collections = snap.meta["collection"]
            for row in scores:
                w = cfg.collection_weights.get(collections[row])
                if w is not None:
                    scores[row] *= w
        ordered = sorted(scores, key=lambda r: -scores[r])
        if dense and lexical and cfg.lexical_lead_ratio > 0:
            # Rank fusion ignores how far ahead the lexical winner is. When BM25 is clearly sure
            # (its #1 scores lexical_lead_ratio × its #2), no dense list moves that hit down.
            top_row, top_score = lexical[0]
            runner_up = lexical[1][1] if len(lexical) > 1 else 0.0
            if top_score >= cfg.lexical_lead_ratio * runner_up and ordered[0] != top_row:
                ordered.remove(top_row)
                ordered.insert(0, top_row)
        clause_rows: list[int] = []
        if cfg.clause_boost:
            ordered, clause_rows = self._apply_clause(snap, question, ordered, filters)
        if self.reranker is not None and ordered:
            ordered = self._rerank(snap, question, ordered, clause_rows)
        ordered = self._prefer_current(snap, ordered)
        hits = []
        for rank, row in enumerate(ordered[:k], 1):
            score = scores.get(row, 0.0) + (1.0 if row in clause_rows else 0.0)
            hits.append(
                Hit(
                    rank=rank,
                    chunk=snap.chunk(row),
                    score=score,
                    lexical_rank=lex_rank.get(row),
                    dense_rank=dense_rank.get(row),
                    via_clause=row in clause_rows,
                )
            )
        return hits

    def superseded(self, snap: LexicalSnapshot) -> dict[str, str]:
        """doc_id → the document superseding it (已修订 / 已废止 with a successor: ingest/validity.py),
        read from the registry once per store version."""
        cached = getattr(self, "_superseded", None)
        if cached is not None and cached[0] == snap.store_version:
            return cached[1]
        try:
            registry = self.store.registry()
        except Exception as exc:  # a store without a registry (a fake, a damaged store): no preference
            log.debug("validity not read: %s", exc)
            registry = {}
        found = {d: str(m.get("superseded_by") or "") for d, m in registry.items()
                 if m.get("superseded_by") and m.get("validity") in ("已修订", "已废止")}
        self._superseded = (snap.store_version, found)
        return found

    def _prefer_current(self, snap: LexicalSnapshot, ordered: list[int]) -> list[int]:
        """A superseded version's chunk goes just after the first chunk of the version superseding it
        when that one is also a hit: the current text is read first, the old one stays findable."""
        superseded = self.superseded(snap)
        if not superseded or not ordered:
            return ordered
        doc_ids = snap.meta["doc_id"]
        present = {doc_ids[r] for r in ordered}
        if not any(doc_ids[r] in superseded and superseded[doc_ids[r]] in present for r in ordered):
            return ordered
        out: list[int] = []
        waiting: dict[str, list[int]] = {}
        seen: set[str] = set()
        for row in ordered:
            doc = doc_ids[row]
            current = superseded.get(doc)
            if current and current in present and current not in seen:
                waiting.setdefault(current, []).append(row)
                continue
            out.append(row)
            if doc not in seen:
                seen.add(doc)
                out.extend(waiting.pop(doc, []))
        for rows in waiting.values():
            out.extend(rows)
        return out

    def query_tokens(self, question: str) -> list[str]:
        """The tokens lexical search uses for a question: its own, plus the official terms of its
        colloquial words when query expansion is on."""
        tokens = self.tokenizer.tokenize(question)
        if self.thesaurus is not None:
            expansions = self.thesaurus.expansions(question)
            if expansions:
                tokens = tokens + self.tokenizer.tokenize(" ".join(expansions))
        return tokens

    def lexical_scores(
        self, question: str, k: int = 10, filters: Filters | None = None, by: str = "doc_id"
    ) -> list[tuple[str, float]]:
        """(doc_id — or chunk_id with ``by="chunk_id"`` — , BM25 score) of the top lexical chunks: the
        raw scores rank fusion hides, which answerability compares with the question's own idf mass."""
        snap = self.snapshot_for(filters)
        if snap is None or len(snap) == 0:
            return []
        return [(snap.meta[by][row], score) for row, score in snap.search(self.query_tokens(question), k, filters)]

    def clause_query(self, question: str, filters: Filters | None = None):
        """The 《title》第N条 reference of a question, resolved against the current snapshot's titles,
        and the resolved documents whose title is exactly the one written: (query, exact doc ids)."""
        snap = self.snapshot_for(filters)
        if snap is None or len(snap) == 0:
            return None, []
        locator = self.locator(snap)
        query = locator.parse(question)
        return query, locator.named_exactly(query)

    # restrict dense search by id when the filters leave at most this many chunks; otherwise ask
    # for more neighbours and drop the ones outside the filters
    DENSE_ID_FILTER_MAX = 5000

    def _dense(self, snap: LexicalSnapshot, question: str, n: int, filters: Filters | None) -> list[tuple[int, float]]:
        mask = snap.mask(filters)
        if mask is None and snap.excluded:
            # a view without some collections: the store holds their vectors, so the dense side
            # is restricted to the view's rows like any filter
            mask = np.ones(len(snap), dtype=bool)
        ids = None
        want = n
        if mask is not None:
            allowed = np.nonzero(mask)[0]
            if len(allowed) == 0:
                return []
            if len(allowed) <= self.DENSE_ID_FILTER_MAX:
                ids = [snap.chunk_ids[r] for r in allowed]
            else:
                want = n * 4
        row_of = self._row_index(snap)
        embedded = None
        while True:
            try:
                if embedded is None:
                    embedded = self.embedder.embed_query(question)
                results = self.store.query(embedded, want, ids=ids)
            except Exception as exc:  # the dense side is an upgrade; never let it take search down
                log.warning("dense search failed: %s", exc)
                return []
            out = []
            for chunk_id, sim in results:
                row = row_of.get(chunk_id)
                if row is None:  # outside this snapshot = another version (or view): invisible
                    continue
                if mask is not None and not mask[row]:
                    continue
                out.append((row, sim))
            # a view of a large store: ask for more until the view's own n nearest are in (only
            # for access views: ordinary filters keep their old behaviour, and their rankings)
            if not snap.excluded or ids is not None or len(out) >= n or len(results) < want:
                return out[:n]
            want *= 4

    def _row_index(self, snap: LexicalSnapshot) -> dict[str, int]:
        cache = getattr(snap, "_row_of", None)
        if cache is None:
            cache = {cid: i for i, cid in enumerate(snap.chunk_ids)}
            object.__setattr__(snap, "_row_of", cache)
        return cache

    def _apply_clause(
        self, snap: LexicalSnapshot, question: str, ordered: list[int], filters: Filters | None
    ) -> tuple[list[int], list[int]]:
        locator = self.locator(snap)
        clause = locator.parse(question)
        if not clause.found:
            return ordered, []
        mask = snap.mask(filters)
        named: list[int] = []
        for doc_id in clause.doc_ids:
            for row in snap.rows_of_doc(doc_id):
                if mask is None or mask[row]:
                    named.append(int(row))
        if not named:
            return ordered, []
        if clause.article is not None:
            target = [r for r in named if article_number(snap.meta["article"][r]) == clause.article]
            if target:
                # versions newest first, and within a document the article's chunks in order
                front = target
                rest = [r for r in ordered if r not in set(front)]
                return front + rest, front
        # a named document without (found) article: its chunks that matched lexically come first
        named_set = set(named)
        front = [r for r in ordered if r in named_set]
        if not front:
            front = named[:3]
        rest = [r for r in ordered if r not in named_set]
        return front + rest, []

    def _rerank(self, snap: LexicalSnapshot, question: str, ordered: list[int], pinned: list[int]) -> list[int]:
        top_n = self.settings.reranker.top_n
        head = [r for r in ordered[:top_n] if r not in pinned]
        scores = self.reranker.score(question, [snap.texts[r] for r in head])
        reranked = [r for _, r in sorted(zip(scores, head), key=lambda t: -t[0])]
        return pinned + reranked + [r for r in ordered[top_n:] if r not in pinned]

    def neighbours(self, hits: list[Hit], top_docs: int = 2, window: int = 2, filters: Filters | None = None) -> list[Hit]:
        """Chunks next to the best hits in their documents (the answer to "有多高" often sits one chunk
        after the one that names the subject). Returned as extra, lower-ranked hits."""
        snap = self.view(self.lexical.snapshot, filters)
        if snap is None or not hits:
            return []
        row_of = self._row_index(snap)
        seen = {h.chunk.chunk_id for h in hits}
        extra: list[Hit] = []
        docs_done: list[str] = []
        for h in hits:
            if h.chunk.doc_id in docs_done:
                continue
            if len(docs_done) >= top_docs:
                break
            docs_done.append(h.chunk.doc_id)
            rows = sorted(snap.rows_of_doc(h.chunk.doc_id).tolist(), key=lambda r: snap.meta["start"][r])
            row = row_of.get(h.chunk.chunk_id)
            if row is None or row not in rows:
                continue
            i = rows.index(row)
            for j in list(range(i + 1, min(len(rows), i + 1 + window))) + list(range(max(0, i - window), i)):
                chunk = snap.chunk(rows[j])
                if chunk.chunk_id in seen:
                    continue
                seen.add(chunk.chunk_id)
                extra.append(Hit(rank=len(hits) + len(extra) + 1, chunk=chunk, score=0.0))
        return extra

    # -- llama-index -----------------------------------------------------------------------------
    def as_llama_retriever(self, k: int | None = None, filters: Filters | None = None) -> "KBRetriever":
        return KBRetriever(self, k=k, filters=filters)


class ScopedRetriever:
    """The retriever as one reader sees it: every call carries the reader's access filter
    (Filters.exclude_collections), whatever filters the caller passes — answering, its neighbour
    chunks and clause lookup, enumeration completion and drafting all search through this, so
    none of them can reach a collection the reader may not see. Built per access scope by
    kb/container.py (Services.for_user)."""

    def __init__(self, base: HybridRetriever, denied):
        self.base = base
        self.denied = sorted(set(denied))

    def __getattr__(self, name: str):
        # settings, store, tokenizer, thesaurus, refresh, rebuild, query_tokens, locator…
        return getattr(self.base, name)

    @property
    def embedder(self):
        return self.base.embedder

    def scope(self, filters: Filters | None) -> Filters:
        if filters is None:
            return Filters(exclude_collections=list(self.denied))
        excluded = sorted(set(filters.exclude_collections or []) | set(self.denied))
        return dataclasses.replace(filters, exclude_collections=excluded)

    def search(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return self.base.search(question, k=k, filters=self.scope(filters))

    def lexical_scores(self, question: str, k: int = 10, filters: Filters | None = None, by: str = "doc_id"):
        return self.base.lexical_scores(question, k, self.scope(filters), by=by)

    def clause_query(self, question: str, filters: Filters | None = None):
        return self.base.clause_query(question, self.scope(filters))

    def neighbours(self, hits: list[Hit], top_docs: int = 2, window: int = 2, filters: Filters | None = None) -> list[Hit]:
        return self.base.neighbours(hits, top_docs, window, filters=self.scope(filters))

    def chunk(self, chunk_id: str, filters: Filters | None = None) -> Chunk | None:
        return self.base.chunk(chunk_id, self.scope(filters))

    def snapshot_for(self, filters: Filters | None = None):
        return self.base.snapshot_for(self.scope(filters))

    def as_llama_retriever(self, k: int | None = None, filters: Filters | None = None) -> "KBRetriever":
        return KBRetriever(self.base, k=k, filters=self.scope(filters))


def chunk_to_node(chunk: Chunk) -> TextNode:
    meta: dict[str, Any] = chunk.to_dict()
    meta.pop("text")
    meta["page"] = chunk.page if chunk.page is not None else ""
    return TextNode(
        id_=chunk.chunk_id,
        text=chunk.text,
        metadata=meta,
        excluded_embed_metadata_keys=list(meta),
        excluded_llm_metadata_keys=["chunk_id", "start", "end", "page"],
    )


class KBRetriever(BaseRetriever):
    """The HybridRetriever as a llama-index retriever (usable in query engines)."""

    def __init__(self, hybrid: HybridRetriever, k: int | None = None, filters: Filters | None = None):
        super().__init__()
        self._hybrid = hybrid
        self._k = k
        self._filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._hybrid.search(query_bundle.query_str, k=self._k, filters=self._filters)
        return [NodeWithScore(node=chunk_to_node(h.chunk), score=h.score) for h in hits]
