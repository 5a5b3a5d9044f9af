"""latency: retrieval p50/p95/max of 500 queries on the laws index after a 10-query warm-up, the
lexical index's full rebuild time, and the RSS of a fresh process that loads the index and answers one
query (what `kb serve` holds)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, latency_summary
from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    services = ctx.laws_kb()
    retriever = services.retriever
    k = services.settings.retrieval.top_k
    queries = ctx.latency_queries()
    for q in queries[:10]:  # warm-up: first-use loads (segmenter dictionary, index pages)
        retriever.search(q, k)
    times = []
    for q in queries:
        t = time.perf_counter()
        retriever.search(q, k)
        times.append(time.perf_counter() - t)
    out: dict[str, Any] = {"queries": len(queries), "k": k, "retrieval_ms": latency_summary(times)}
    t0 = time.perf_counter()
    snap = retriever.rebuild()  # from the store: reads every document back, reuses term counts
    out["lexical_rebuild_s"] = round(time.perf_counter() - t0, 2)
    out["lexical_rows"] = len(snap)
    out.update(serving_rss(services.settings.home))
    return out


def serving_rss(home: Path) -> dict[str, Any]:
    """RSS of a fresh process that loads the index and answers one query (what `kb serve` holds)."""
    code = (
        "import json, time, psutil\n"
        "from kb.container import build_services\n"
        "from kb.settings import load_settings\n"
        "t0 = time.perf_counter()\n"
        f"s = build_services(load_settings(home={str(home)!r}))\n"
        "s.retriever.refresh(force=False)\n"
        "s.retriever.search('中华人民共和国宪法第一条是怎么规定的？', 5)\n"
        "load = time.perf_counter() - t0\n"
        "print(json.dumps({'rss': psutil.Process().memory_info().rss, 'load_s': load}))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(REPO_ROOT), timeout=600
    )
    if proc.returncode != 0:
        return {"serving_rss_error": proc.stderr.strip()[-500:]}
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"serving_rss_mb": round(data["rss"] / 2**20, 1), "serving_load_s": round(data["load_s"], 2)}
