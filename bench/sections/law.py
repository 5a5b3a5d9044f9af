"""law: law clause lookup (law_clause_dev) over corpus/laws: hit@1/5/10 and MRR@10 with the clause
locator (``ours``) and without it (``peer_plain_bm25``: ``retrieval.clause_boost=False``). Misses are
listed with the locator's parse, the top hit, the gold document's versions in the index and a guessed
cause. Uses the run's laws KB (ingested once, shared with ingest / latency / concurrency)."""
from __future__ import annotations

import time
from typing import Any

from bench.common import latency_summary, ranked_of, score_ranked
from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    from eval.metrics import law_targets

    items = ctx.law_items()
    services = ctx.laws_kb()
    targets = [law_targets(it["sources"]) for it in items]
    cfg = services.settings.retrieval
    original = cfg.clause_boost
    out: dict[str, Any] = {"items": len(items)}
    ranked_by: dict[str, list] = {}
    try:
        for name, boost in (("ours", True), ("peer_plain_bm25", False)):
            cfg.clause_boost = boost
            ranked, times = [], []
            hits_by_item = []
            for it in items:
                t = time.perf_counter()
                hits = services.retriever.search(it["question"], 10)
                times.append(time.perf_counter() - t)
                hits_by_item.append(hits)
                ranked.append(ranked_of(hits))
            m = score_ranked(ranked, targets)
            ranked_by[name] = (hits_by_item, m["_ranks"])
            out[name] = {k: m[k] for k in ("n", "hit@1", "hit@5", "hit@10", "mrr@10")}
            out[name]["query_ms"] = latency_summary(times)
    finally:
        cfg.clause_boost = original
    hits_by_item, ranks = ranked_by["ours"]
    out["misses"] = law_misses(services, items, hits_by_item, ranks)
    return out


def law_misses(services, items, hits_by_item, ranks) -> list[dict[str, Any]]:
    snap = services.retriever.refresh()
    titles = {}
    if snap is not None:
        for doc_id, title in zip(snap.meta["doc_id"], snap.meta["title"]):
            titles.setdefault(doc_id, title)
    misses = []
    for it, hits, rank in zip(items, hits_by_item, ranks):
        if rank == 1:
            continue
        src = it["sources"][0]
        gold = src["doc"]
        base = gold.rsplit("/", 1)[-1].split("(")[0]
        versions = sorted(d for d in titles if d.rsplit("/", 1)[-1].split("(")[0] == base)
        parsed: dict[str, Any] = {}
        try:
            clause = services.retriever.locator(snap).parse(it["question"])
            parsed = {"article": clause.article, "doc_ids": clause.doc_ids[:4]}
        except Exception as exc:  # the locator is someone else's moving part; report, don't die
            parsed = {"error": str(exc)}
        top = hits[0] if hits else None
        gold_rows = [h.rank for h in hits if h.chunk.doc_id == gold]
        misses.append(
            {
                "id": it.get("id"),
                "question": it["question"],
                "gold_doc": gold,
                "gold_article": src.get("article"),
                "quote": src.get("quote"),
                "rank": rank,
                "gold_doc_ranks": gold_rows[:5],
                "gold_in_index": gold in titles,
                "versions_in_index": versions,
                "clause_parse": parsed,
                "top1": None
                if top is None
                else {
                    "doc": top.chunk.doc_id,
                    "article": top.chunk.article,
                    "via_clause": top.via_clause,
                    "text": top.chunk.text[:80],
                },
                "cause": law_cause(gold, src, top, versions, gold in titles, parsed, services),
            }
        )
    return misses


def law_cause(gold, src, top, versions, gold_indexed, parsed, services) -> str:
    """A first guess at why a clause lookup missed (the report's diagnosis column)."""
    from eval.metrics import normalize_text

    if not gold_indexed:
        return "gold document not in the index (ingest failure?)"
    if top is None:
        return "no hits"
    if parsed.get("doc_ids") is not None and not parsed.get("doc_ids"):
        return "clause locator resolved no document"
    if parsed.get("doc_ids") and gold not in parsed["doc_ids"]:
        return "clause locator resolved another document"
    if top.chunk.doc_id != gold and top.chunk.doc_id in versions:
        return "another version of the same law ranked first"
    if top.chunk.doc_id == gold:
        quote = normalize_text(src.get("quote", ""))
        text = services.store.get_document_text(gold)
        if text is None:  # lexical-only laws index: the indexed chunks are the text
            snap = services.retriever.refresh()
            text = "".join(snap.texts[r] for r in snap.rows_of_doc(gold)) if snap is not None else ""
        if quote and quote not in normalize_text(text):
            return "quote not in the stored text (cleaning changed it?)"
        if parsed.get("article") is None:
            return "article number not parsed from the question"
        return "right document, wrong chunk (article label / chunking split the quote?)"
    return "lexical ranking preferred another document"
