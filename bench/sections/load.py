"""load: a real `kb serve` over corpus/seeds under 1 / 10 / 50 concurrent OpenAI-API clients
(requests/s, p50/p95/p99), and the web UI's answer latency alone and during a 20-client API batch. The
measuring is bench/load.py (~2 minutes); --no-load skips it, --load-seconds sets the seconds per level
(default 20; 5 with --quick)."""
from __future__ import annotations

from typing import Any

from bench.common import log
from bench.context import BenchContext


def run(ctx: BenchContext) -> dict[str, Any]:
    from bench import load

    ctx.require(ctx.shared / "corpus" / "seeds", "corpus/seeds")
    seconds = ctx.load_seconds or (load.QUICK_SECONDS if ctx.quick else load.DEFAULT_SECONDS)
    return load.measure(ctx.shared, ctx.workdir, seconds, say=log)
