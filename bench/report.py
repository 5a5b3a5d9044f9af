"""The product targets of `make bench` and how results are judged and shown: TARGETS (metric key →
comparison, bound, label), the verdicts (one per measured target) that go to ``bench.json``'s
``targets``, and the table printed on stdout (PASS/FAIL next to every metric with a target)."""
from __future__ import annotations

import sys
from typing import Any

# metric key -> (comparison, bound, label). Keys are "section.metric" in the results tree.
TARGETS: dict[str, tuple[str, float, str]] = {
    "cmrc.ours.hit@5": (">=", 0.97, "CMRC hit@5"),
    "cmrc.ours.mrr@10": (">=", 0.90, "CMRC MRR@10"),
    "law.ours.hit@1": (">=", 0.95, "law clause hit@1"),
    "domain.source_hit@5": (">=", 0.95, "domain source hit@5"),
    "domain.probe.source_hit@5": (">=", 0.95, "domain source hit@5, our probe set (paraphrases, two-part questions)"),
    "latency.retrieval_ms.p95": ("<=", 50.0, "retrieval p95 (ms)"),
    "latency.serving_rss_mb": ("<=", 1536.0, "serving RSS (MB)"),
    "ingest.seconds": ("<=", 120.0, "laws ingest (s)"),
    "realdocs.text_pdf_ingest_s": ("<=", 5.0, "44-page text PDF ingest (s)"),
    "realdocs.ocr.peak_rss_mb": ("<=", 1024.0, "OCR peak RSS (MB)"),
    "load.ui_during_batch.latency_ms.p95": ("<=", 2000.0, "web UI answer p95 during a 20-client API batch (ms)"),
}


def lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def verdicts(sections: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, (op, bound, label) in TARGETS.items():
        value = lookup(sections, key)
        if value is None:
            continue
        ok = value >= bound if op == ">=" else value <= bound
        out.append({"metric": key, "label": label, "value": value, "target": f"{op} {bound:g}", "pass": ok})
    return out


def table_rows(sections: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, value, verdict) rows for stdout."""
    verdict_of = {v["metric"]: v for v in verdicts(sections)}
    rows: list[tuple[str, str, str]] = []

    def add(key: str, label: str | None = None, fmt: str = "{}"):
        value = lookup(sections, key)
        if value is None:
            return
        v = verdict_of.get(key)
        mark = f"{'PASS' if v['pass'] else 'FAIL'} ({v['target']})" if v else ""
        rows.append((label or key, fmt.format(value), mark))

    for who in ("ours", "peer.defaults", "peer.jieba"):
        for m in ("hit@1", "hit@5", "hit@10", "mrr@10"):
            add(f"cmrc.{who}.{m}")
        if who.startswith("peer") and lookup(sections, f"cmrc.{who}.skipped"):
            rows.append((f"cmrc.{who}", "skipped", lookup(sections, f"cmrc.{who}.skipped")[:60]))
    for variant in ("defaults", "jieba"):
        add(f"cmrc.ours_over_peer.{variant}.mrr@10", f"cmrc ours/peer({variant}) MRR ratio")
        add(f"cmrc.ours_over_peer.{variant}.hit@5", f"cmrc ours/peer({variant}) hit@5 ratio")
    for seg in ("jieba", "rjieba"):
        for m in ("hit@5", "mrr@10", "cut_chars_per_s", "tokenize_chars_per_s"):
            add(f"cmrc.segmenters.{seg}.{m}")
    runs = lookup(sections, "fusion.runs") or {}
    for emb, data in runs.items():
        if "skipped" in data:
            rows.append((f"fusion.{emb}", "skipped", data["skipped"][:60]))
            continue
        for w, m in data.items():
            if w.startswith("w=") and isinstance(m, dict):
                rows.append((f"fusion.{emb}.{w}", f"hit@1 {m['hit@1']} hit@5 {m['hit@5']} mrr {m['mrr@10']}", ""))
    for emb, data in (lookup(sections, "fusion.domain") or {}).items():
        if "skipped" in data:
            rows.append((f"fusion.domain.{emb}", "skipped", data["skipped"][:60]))
            continue
        for w, m in data.items():
            if w.startswith("w=") and isinstance(m, dict):
                rows.append((f"fusion.domain.{emb}.{w}", f"source hit@5 {m['source_hit@5']} mrr {m['mrr@10']} paraphrase hit@5 {m['paraphrase_source_hit@5']} mrr {m['paraphrase_mrr@10']}", ""))
    for who in ("ours", "peer_plain_bm25"):
        for m in ("hit@1", "hit@5"):
            add(f"law.{who}.{m}")
    add("domain.source_hit@5")
    for t in (lookup(sections, "domain.by_type") or {}):
        add(f"domain.by_type.{t}.source_hit@5")
    add("domain.probe.source_hit@5")
    for t in (lookup(sections, "domain.probe.by_type") or {}):
        add(f"domain.probe.by_type.{t}.source_hit@5")
    add("ingest.mode")
    for m in ("seconds", "seconds_without_chroma", "chars", "chars_per_s", "chars_per_s_without_chroma", "chunks", "failed"):
        add(f"ingest.{m}")
    for stage in (lookup(sections, "ingest.stages_s") or {}):
        rows.append((f"ingest.stage: {stage}", f"{sections['ingest']['stages_s'][stage]} s", ""))
    for m in ("p50", "p95", "max"):
        add(f"latency.retrieval_ms.{m}")
    for m in ("serving_rss_mb", "serving_load_s", "lexical_rebuild_s", "lexical_rows"):
        add(f"latency.{m}")
    add("latency.serving_rss_error")
    add("concurrency.answers.answers_per_s")
    add("concurrency.answers.single_thread_answers_per_s")
    add("concurrency.answers.skipped")
    add("concurrency.retrieval_during_ingest.retrieval_ms.p50", "retrieval p50 during ingest (ms)")
    add("concurrency.retrieval_during_ingest.retrieval_ms.p95", "retrieval p95 during ingest (ms)")
    add("ingest.peak_rss_mb_main_upper_bound", "laws ingest peak RSS, bench process (MB, upper bound)")
    add("ingest.peak_rss_mb_largest_worker", "laws ingest peak RSS, largest worker (MB)")
    add("recovery.rerun_s", "rerun after SIGKILL mid-ingest (s)")
    add("recovery.doctor_ok_after_rerun", "kb doctor clean after the rerun")
    for level in (lookup(sections, "load.api") or {}):
        for m, label in (("requests_per_s", "req/s"), ("latency_ms.p50", "p50 ms"), ("latency_ms.p95", "p95 ms"),
                         ("latency_ms.p99", "p99 ms"), ("refused", "refused (429/503)"), ("errors", "errors")):
            add(f"load.api.{level}.{m}", f"API {level.replace('_', ' = ')}: {label}")
    for m in ("p50", "p95"):
        add(f"load.ui_alone.latency_ms.{m}", f"web UI alone: answer {m} (ms)")
    for m in ("p50", "p95"):
        add(f"load.ui_during_batch.latency_ms.{m}", f"web UI during a 20-client API batch: answer {m} (ms)")
    add("load.ui_during_batch.first_update_ms.p95", "web UI during the batch: first update p95 (ms)")
    add("load.ui_during_batch.batch.requests_per_s", "the 20-client batch meanwhile: req/s")
    return rows


def print_table(sections: dict[str, Any], out=sys.stdout) -> None:
    rows = table_rows(sections)
    width = max((len(r[0]) for r in rows), default=10)
    vwidth = max((len(r[1]) for r in rows), default=10)
    print(f"{'metric'.ljust(width)}  {'value'.ljust(vwidth)}  target", file=out)
    print("-" * (width + vwidth + 20), file=out)
    for name, value, mark in rows:
        print(f"{name.ljust(width)}  {value.ljust(vwidth)}  {mark}", file=out)
    failing = [v for v in verdicts(sections) if not v["pass"]]
    if failing:
        print(f"\n{len(failing)} target(s) missed: " + ", ".join(v["label"] for v in failing), file=out)
    else:
        print("\nall measured targets met", file=out)
