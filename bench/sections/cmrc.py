"""cmrc: CMRC-2018 trial passages (one document each): hit@1/5/10 and MRR@10 for our retriever, the
llama-index peer (bench/peer.py) with ours/peer ratios, and the jieba vs rjieba segmenters (hit@5, MRR,
chars/s of the raw cut and of the full tokenizer). Questions whose answer is not in the top 5 go to
``misses``. Leaves its KB in ``ctx.cmrc_ours`` for the fusion sweep."""
from __future__ import annotations

import time
from typing import Any

from bench.common import log, public, rnd, score_ranked
from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    data = ctx.cmrc
    log(f"cmrc: {len(data.passages)} passages, {len(data.questions)} questions")
    ours_services = ctx.services("cmrc-ours")
    default_segmenter = ours_services.settings.retrieval.segmenter
    ours, ranked, _ = ctx.run_cmrc_kb(ours_services)
    result: dict[str, Any] = {
        "passages": len(data.passages),
        "questions": len(data.questions),
        "settings": {
            "segmenter": default_segmenter,
            "embedder": ours_services.settings.embedder.mode,
            "dense_weight": dict(ours_services.settings.retrieval.dense_weight),
        },
        "ours": public(ours),
        "misses": cmrc_misses(ctx, ranked, ours["_ranks"]),
    }
    ctx.cmrc_ours = ours_services  # reused by the fusion sweep (same hash index)
    # the peer ---------------------------------------------------------------------------------
    from eval.metrics import cmrc_targets

    targets = [cmrc_targets(q["answers"]) for q in data.questions]
    peers: dict[str, Any] = {}
    for variant in ("defaults", "jieba"):
        try:
            from bench.peer import LlamaIndexBM25Peer

            t0 = time.perf_counter()
            peer = LlamaIndexBM25Peer(variant, top_k=10).build(data.passages)
            build_s = time.perf_counter() - t0
            peer_ranked = [peer.search(q["question"]) for q in data.questions]
            m = public(score_ranked(peer_ranked, targets))
            m["nodes"] = peer.n_nodes
            m["build_s"] = round(build_s, 2)
            peers[variant] = m
        except Exception as exc:
            peers[variant] = {"skipped": str(exc)}
            log(f"peer {variant} skipped: {exc}")
    result["peer"] = peers
    ratios = {}
    for variant, m in peers.items():
        if "mrr@10" in m:
            ratios[variant] = {
                key: rnd(ours[key] / m[key], 3) if m[key] else None for key in ("hit@1", "hit@5", "hit@10", "mrr@10")
            }
    result["ours_over_peer"] = ratios
    # segmenters -------------------------------------------------------------------------------
    segmenters: dict[str, Any] = {}
    sample = speed_sample(ctx)
    for seg in ("jieba", "rjieba"):
        if seg == default_segmenter:
            m = public(ours)
        else:
            other, _, _ = ctx.run_cmrc_kb(ctx.services(f"cmrc-{seg}", retrieval__segmenter=seg))
            m = public(other)
        segmenters[seg] = {"hit@5": m["hit@5"], "mrr@10": m["mrr@10"], "ingest_s": m["ingest_s"]}
        segmenters[seg].update(tokenizer_speed(seg, sample))
    result["segmenters"] = segmenters
    return result


def cmrc_misses(ctx: BenchContext, ranked: list[list[tuple[str, str]]], ranks: list[int | None],
                k: int = 5) -> list[dict[str, Any]]:
    out = []
    for q, r, rank in zip(ctx.cmrc.questions, ranked, ranks):
        if rank is not None and rank <= k:
            continue
        docs = [d for d, _ in r]
        out.append(
            {
                "id": q["id"],
                "question": q["question"],
                "answers": q["answers"][:3],
                "gold_passage": q["context_id"],
                "answer_rank": rank,
                "gold_passage_rank": docs.index(q["context_id"]) + 1 if q["context_id"] in docs else None,
                "top1": {"doc": r[0][0], "text": r[0][1][:80]} if r else None,
            }
        )
    return out


def tokenizer_speed(segmenter: str, texts: list[str]) -> dict[str, Any]:
    """chars/s of the raw segmenter cut and of the full tokenizer (cut + filters + bigrams) over texts."""
    from kb.retrieval.tokenizer import ChineseTokenizer

    n_chars = sum(len(t) for t in texts)
    tok = ChineseTokenizer(segmenter=segmenter)
    tok.tokenize("预热分词器")  # dictionary load is not tokenisation
    t0 = time.perf_counter()
    for t in texts:
        tok.segmenter.cut(t)
    cut_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        tok.tokenize(t)
    full_s = time.perf_counter() - t0
    return {
        "sample_chars": n_chars,
        "cut_chars_per_s": round(n_chars / cut_s) if cut_s else None,
        "tokenize_chars_per_s": round(n_chars / full_s) if full_s else None,
    }


def speed_sample(ctx: BenchContext) -> list[str]:
    """The segmenter speed sample: the CMRC passages, then corpus/laws text up to 200 k characters
    (quick) or 1 M."""
    budget = 200_000 if ctx.quick else 1_000_000
    texts = [p[2] for p in ctx.cmrc.passages]
    total = sum(len(t) for t in texts)
    laws = ctx.shared / "corpus" / "laws"
    if laws.is_dir():
        for p in sorted(laws.rglob("*.md")):
            if total >= budget:
                break
            text = p.read_text(encoding="utf-8", errors="replace")
            texts.append(text)
            total += len(text)
    return texts
