"""concurrency: answers/s with 4 client threads calling ``services.answers.ask`` over the seeds KB
(and single-threaded, for comparison), and retrieval latency on the laws KB while another thread
ingests corpus/seeds into it (which ends with a laws-scale lexical rebuild)."""
from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import latency_summary, load_jsonl
from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["answers"] = concurrent_answers(ctx)
    out["retrieval_during_ingest"] = retrieval_during_ingest(ctx)
    return out


def concurrent_answers(ctx: BenchContext, threads: int = 4) -> dict[str, Any]:
    services = ctx.seeds_kb()
    try:
        answers = services.answers
    except ImportError as exc:
        return {"skipped": f"answer service not available yet ({exc})"}
    items = load_jsonl(ctx.shared / "eval" / "domain_qa_dev.jsonl")
    questions = [it["question"] for it in items]
    n_total = 16 if ctx.quick else 60
    work = [questions[i % len(questions)] for i in range(n_total)]
    try:
        answers.ask(work[0])  # warm-up
    except Exception as exc:
        return {"skipped": f"answers.ask failed: {type(exc).__name__}: {exc}"}
    t0 = time.perf_counter()
    for q in work[: n_total // 4]:
        answers.ask(q)
    single = (n_total // 4) / (time.perf_counter() - t0)
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(work)

    def client():
        while True:
            with lock:
                if not queue:
                    return
                q = queue.pop()
            try:
                answers.ask(q)
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    pool = [threading.Thread(target=client) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "threads": threads,
        "questions": n_total,
        "llm_mode": services.settings.llm.mode,
        "answers_per_s": round(n_total / elapsed, 2),
        "single_thread_answers_per_s": round(single, 2),
        "errors": len(errors),
        "error_examples": errors[:3],
    }


def retrieval_during_ingest(ctx: BenchContext) -> dict[str, Any]:
    """Query the laws KB in a loop while another thread ingests corpus/seeds into it (which ends
    with a rebuild of the laws-scale lexical index)."""
    services = ctx.laws_kb()
    seeds = ctx.require(ctx.shared / "corpus" / "seeds", "corpus/seeds")
    queries = ctx.latency_queries()
    k = services.settings.retrieval.top_k
    done = threading.Event()
    result: dict[str, Any] = {}
    # a lexical-only laws KB has an empty store: ingesting into it would rebuild the index from
    # the store (seeds only). There the ingest goes to a KB of its own: CPU/GIL contention is
    # measured, the laws-scale rebuild is not.
    target = services

    def ingest():
        t0 = time.perf_counter()
        try:
            result["summary"] = target.ingest.ingest_paths([seeds], collection="bench-concurrent")
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"
        result["ingest_s"] = time.perf_counter() - t0
        done.set()

    worker = threading.Thread(target=ingest)
    times, errors, i = [], 0, 0
    worker.start()
    while not done.is_set():
        q = queries[i % len(queries)]
        i += 1
        t = time.perf_counter()
        try:
            services.retriever.search(q, k)
        except Exception:
            errors += 1
        times.append(time.perf_counter() - t)
    worker.join()
    out = {
        "ingest_s": round(result.get("ingest_s", 0.0), 2),
        "ingest_into": "the laws KB",
        "queries": len(times),
        "errors": errors,
    }
    if times:
        out["retrieval_ms"] = latency_summary(times)
    if "error" in result:
        out["ingest_error"] = result["error"]
    return out
