"""The shared state of one `make bench` run (BenchContext): the options, the temporary folder the
knowledge bases live in, and the knowledge bases several sections use, each built once per run —
the CMRC passages (cmrc, fusion), the laws KB (law, ingest, latency, concurrency; its timed ingest is
the `ingest` section's result) and the seeds KB (domain, concurrency). Sections (bench/sections/) get
it as their one argument."""
from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any, Sequence

from bench.common import (
    LATENCY_QUERIES,
    QUICK_CMRC_PASSAGES,
    QUICK_LAW_EXTRA_DOCS,
    BenchError,
    CmrcData,
    StageTimer,
    corpus_chars,
    latency_summary,
    load_cmrc,
    load_jsonl,
    log,
    ranked_of,
    score_ranked,
)


class BenchContext:
    def __init__(self, shared: Path, cmrc_path: Path, quick: bool, workdir: Path, reuse: bool = False):
        self.reuse = reuse
        self.shared = shared
        self.cmrc_path = cmrc_path
        self.quick = quick
        self.workdir = workdir
        self.load_seconds: float | None = None  # seconds per load level (None: bench/load.py's default)
        self.cmrc_ours = None  # Services of the cmrc section's own KB, reused by the fusion sweep (same hash index)
        self.ingest_result: dict[str, Any] | None = None  # the laws ingest, measured by laws_kb (section ingest)
        self.seeds_ingest_s: float | None = None
        self._services: list[Any] = []
        self._laws = None  # Services of the laws KB, built once (law / ingest / latency / concurrency)
        self._seeds = None
        self._cmrc: CmrcData | None = None

    # -- plumbing ------------------------------------------------------------------------------
    def services(self, name: str, **overrides):
        from kb.container import build_services
        from kb.settings import load_settings

        home = self.workdir / name
        settings = load_settings(home=str(home), **overrides)
        services = build_services(settings)
        self._services.append(services)
        return services

    def close(self) -> None:
        for s in self._services:
            try:
                s.close()
            except Exception as exc:  # closing is best effort; the temp dir goes anyway
                log(f"close failed: {exc}")

    @property
    def cmrc(self) -> CmrcData:
        if self._cmrc is None:
            self._cmrc = load_cmrc(self.cmrc_path, QUICK_CMRC_PASSAGES if self.quick else None)
        return self._cmrc

    def require(self, path: Path, what: str) -> Path:
        if not path.exists():
            raise BenchError(f"{path}: {what} not found (the shared data lives in ../shared)")
        return path

    # -- CMRC --------------------------------------------------------------------------------------
    def run_cmrc_kb(self, services) -> tuple[dict[str, Any], list[list[tuple[str, str]]], float]:
        """Ingest the CMRC passages into `services`, search every question; (metrics, ranked, ingest s)."""
        from eval.metrics import cmrc_targets

        data = self.cmrc
        t0 = time.perf_counter()
        summary = services.ingest.ingest_texts(data.passages)
        ingest_s = time.perf_counter() - t0
        if summary.get("failed"):
            log(f"CMRC ingest failures: {summary['failed'][:3]}")
        ranked, times = self.search_all(services, [q["question"] for q in data.questions], 10)
        metrics = score_ranked(ranked, [cmrc_targets(q["answers"]) for q in data.questions])
        metrics["chunks"] = summary.get("chunks")
        metrics["ingest_s"] = round(ingest_s, 2)
        metrics["query_ms"] = latency_summary(times)
        return metrics, ranked, ingest_s

    @staticmethod
    def search_all(services, questions: Sequence[str], k: int) -> tuple[list[list[tuple[str, str]]], list[float]]:
        ranked, times = [], []
        for q in questions:
            t = time.perf_counter()
            hits = services.retriever.search(q, k)
            times.append(time.perf_counter() - t)
            ranked.append(ranked_of(hits))
        return ranked, times

    # -- laws KB -----------------------------------------------------------------------------------
    def laws_dir(self) -> Path:
        return self.require(self.shared / "corpus" / "laws", "corpus/laws")

    def law_items(self) -> list[dict[str, Any]]:
        return load_jsonl(self.require(self.shared / "eval" / "law_clause_dev.jsonl", "law_clause_dev.jsonl"))

    def quick_laws_tree(self) -> Path:
        """A symlink tree holding the gold documents plus a few hundred others, with the same relative
        paths (so document ids match the gold set) — the quick mode's laws corpus."""
        laws = self.laws_dir()
        root = self.workdir / "laws-quick"
        gold = {s["doc"] for item in self.law_items() for s in item.get("sources", [])[:1]}
        files = sorted(laws.rglob("*.md"))
        chosen = [p for p in files if p.relative_to(laws).with_suffix("").as_posix() in gold]
        chosen += [p for p in files if p not in set(chosen)][:QUICK_LAW_EXTRA_DOCS]
        for p in chosen:
            link = root / p.relative_to(laws)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(p)
        return root

    def laws_kb(self):
        """Ingest corpus/laws once (timed, with a stage breakdown, kept in ingest_result) and keep the services."""
        if self._laws is not None:
            return self._laws
        source = self.quick_laws_tree() if self.quick else self.laws_dir()
        chars, files = corpus_chars(source)
        services = self.services("laws")
        reusable = bool(services.store.list_documents())
        if self.reuse and reusable:
            # --workdir with a laws KB from an earlier run: measure retrieval, not ingest again
            log(f"reusing the laws knowledge base in {services.settings.home} (ingest not re-measured)")
            self.ingest_result = {"reused": str(services.settings.home), "files": files, "chars": chars}
            self._laws = services
            return services
        timer = StageTimer()
        timer.wrap(services.embedder, "embed_documents", "embed")
        timer.wrap(services.store, "write_documents", "chroma_write")
        timer.wrap(services.retriever, "rebuild", "index_build")
        log(f"ingesting {files} law files ({chars / 1e6:.1f} M chars) from {source} ...")
        t0 = time.perf_counter()
        summary = services.ingest.ingest_paths([source])
        total = time.perf_counter() - t0
        stages = {k: round(v, 2) for k, v in timer.seconds.items()}
        accounted = sum(timer.seconds.values())
        # what the main process did not spend in the stages above it spent waiting for the worker
        # processes (load / clean / split / tokenize), or on registry bookkeeping
        stages["load_clean_split_tokenize (workers, waited for)"] = round(total - accounted, 2)
        self.ingest_result = {
            "corpus": str(source),
            "files": files,
            "chars": chars,
            "seconds": round(total, 2),
            "chars_per_s": round(chars / total) if total else None,
            "documents_added": summary.get("added"),
            "chunks": summary.get("chunks"),
            "failed": len(summary.get("failed", [])),
            "failed_examples": summary.get("failed", [])[:5],
            "workers": services.settings.ingest.workers,
            "cpu_count": os.cpu_count(),
            "stages_s": stages,
            # peak resident memory: this process (the bench, which also holds earlier sections' data,
            # so an upper bound for the ingest) and the largest worker process
            "peak_rss_mb_main_upper_bound": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_rss_mb_largest_worker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "quick_subset": self.quick,
        }
        log(f"laws ingest {total:.1f} s, {summary.get('chunks')} chunks, stages {stages}")
        self._laws = services
        return services

    def latency_queries(self) -> list[str]:
        """500 questions: the law clause questions, the same laws' other articles, and CMRC questions."""
        items = self.law_items()
        queries = [it["question"] for it in items]
        from kb.retrieval.clauses import int_to_chinese

        for it in items:
            title = it["sources"][0]["doc"].rsplit("/", 1)[-1].split("(")[0]
            for n in (1, 3):
                queries.append(f"{title}第{int_to_chinese(n)}条是怎么规定的？")
            queries.append(f"{title}的立法目的是什么？")
        cmrc = [q["question"] for q in self.cmrc.questions] if self.cmrc_path.is_file() else []
        queries.extend(cmrc[: max(0, LATENCY_QUERIES - len(queries))])
        while len(queries) < LATENCY_QUERIES:
            queries.extend(queries[: LATENCY_QUERIES - len(queries)])
        return queries[:LATENCY_QUERIES]

    # -- seeds KB ----------------------------------------------------------------------------------
    def seeds_kb(self):
        """Ingest corpus/seeds once (timed: seeds_ingest_s) and keep the services (domain / concurrency)."""
        if self._seeds is None:
            seeds = self.require(self.shared / "corpus" / "seeds", "corpus/seeds")
            services = self.services("seeds")
            t0 = time.perf_counter()
            services.ingest.ingest_paths([seeds])
            self.seeds_ingest_s = time.perf_counter() - t0
            self._seeds = services
        return self._seeds
