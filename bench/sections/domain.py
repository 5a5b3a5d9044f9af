"""domain: domain QA source hit@1/5 and MRR@10 over corpus/seeds (the answerable items of
domain_qa_dev), per question type, and the same for our own probe set (eval/probes/seeds_probe.jsonl:
colloquial paraphrases, two-part questions) under ``probe``. A hit is a top-5 chunk of a gold document
holding the start of the quote (eval/metrics.py). Uses the run's seeds KB."""
from __future__ import annotations

from typing import Any

from bench.common import REPO_ROOT, load_jsonl, ranked_of, rnd
from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    items = load_jsonl(ctx.require(ctx.shared / "eval" / "domain_qa_dev.jsonl", "domain_qa_dev.jsonl"))
    out = source_hits(ctx, items)
    # our own set of questions over the seeds, written by someone who never saw the dev set: more
    # colloquial paraphrases, two-part questions (eval/probes/README.md)
    probe = REPO_ROOT / "eval" / "probes" / "seeds_probe.jsonl"
    if probe.is_file():
        out["probe"] = source_hits(ctx, load_jsonl(probe))
    return out


def source_hits(ctx: BenchContext, items: list[dict[str, Any]]) -> dict[str, Any]:
    from eval.metrics import first_relevant_rank, qa_targets

    answerable = [it for it in items if it.get("answerable") and it.get("sources")]
    services = ctx.seeds_kb()
    per_type: dict[str, list[int]] = {}
    ranks, misses = [], []
    for it in answerable:
        hits = services.retriever.search(it["question"], 10)
        ranked = ranked_of(hits)
        rank = first_relevant_rank(ranked, qa_targets(it["sources"]), 10)
        ranks.append(rank)
        hit5 = rank is not None and rank <= 5
        per_type.setdefault(it.get("type", "?"), []).append(int(hit5))
        if not hit5:
            misses.append(
                {
                    "id": it.get("id"),
                    "type": it.get("type"),
                    "question": it["question"],
                    "gold": [{"doc": s.get("doc"), "quote": s.get("quote", "")[:60]} for s in it["sources"]],
                    "rank": rank,
                    "gold_doc_ranks": [h.rank for h in hits if h.chunk.doc_id in {s.get("doc") for s in it["sources"]}][:5],
                    "top": [{"doc": h.chunk.doc_id, "text": h.chunk.text[:60]} for h in hits[:3]],
                }
            )
    n = len(ranks)
    return {
        "items": n,
        "ingest_s": round(ctx.seeds_ingest_s, 2),
        "source_hit@1": rnd(sum(1 for r in ranks if r == 1) / n) if n else None,
        "source_hit@5": rnd(sum(1 for r in ranks if r is not None and r <= 5) / n) if n else None,
        "mrr@10": rnd(sum(1.0 / r for r in ranks if r) / n) if n else None,
        "by_type": {t: {"n": len(v), "source_hit@5": rnd(sum(v) / len(v))} for t, v in sorted(per_type.items())},
        "misses": misses,
    }
