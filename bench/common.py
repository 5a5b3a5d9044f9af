"""What every benchmark section shares: paths, the quick-mode sizes, progress logging, latency
percentiles, the stage timer, loading the CMRC and JSONL data files, and scoring a ranked list
(hit@k / MRR, with the relevance rule of `kb eval`: eval/metrics.py). Nothing here builds a knowledge
base (that is bench/context.py) or runs a section (bench/sections/)."""
from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO_ROOT.parent / "shared"

QUICK_CMRC_PASSAGES = 30
QUICK_LAW_EXTRA_DOCS = 150
LATENCY_QUERIES = 500


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
