"""Runs datasets against the services and scores every item with `eval.metrics`.

The flow per dataset kind:
  * domain_qa / law_clause — retriever.search(k=10) for the retrieval metrics, answers.ask() for the
    answer metrics;
  * cmrc — the same, against a temporary knowledge base holding only the dataset's passages;
  * drafts — drafts.draft(DraftRequest) for the drafting metrics.

Each item becomes a record ``{"id", "type", "question", "expected", "got", "metrics", "counts",
"score", "why"}``; dataset metrics are aggregated from the records (so a per-type breakdown is the
same aggregation over a subset).
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from eval import metrics as m
from eval.datasets import Dataset

RETRIEVAL_METRICS = ("source_hit@1", "source_hit@5", "mrr@10", "ndcg@10")
JUDGE_METRICS = ("judge_faithfulness", "judge_correctness")
KIND_METRICS: dict[str, tuple[str, ...]] = {
    "domain_qa": RETRIEVAL_METRICS
    + ("key_point_recall", "refusal_rate", "not_answered_rate", "false_refusal_rate", "answered_rate",
       "answered_precision", "citation_verbatim_rate", "unsupported_sentence_rate", "standalone_unchanged_rate"),
    "law_clause": RETRIEVAL_METRICS
    + ("key_point_recall", "false_refusal_rate", "answered_rate", "answered_precision", "citation_verbatim_rate",
       "unsupported_sentence_rate"),
    "cmrc": RETRIEVAL_METRICS
    + ("answer_contains_gold", "em", "f1", "false_refusal_rate", "answered_rate", "answered_precision", "citation_verbatim_rate",
       "unsupported_sentence_rate"),
    "drafts": ("dimension_coverage", "topic_coverage", "cited_question_rate", "near_duplicate_rate", "format_ok_rate",
               "distinct_follow_up_rate", "distinct_follow_up_min", "role_mention_rate"),
    "conversation": ("resolved_mention_rate", "key_point_recall", "pair_success_rate", "citation_verbatim_rate"),
}
SEARCH_K = 10


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DocumentTexts:
    """Cached store.get_document_text lookups (each cited document is fetched once per dataset)."""

    def __init__(self, store: Any):
        self.store = store
        self.cache: dict[str, str | None] = {}

    def __call__(self, doc_id: str) -> str | None:
        if doc_id not in self.cache:
            self.cache[doc_id] = self.store.get_document_text(doc_id) if doc_id else None
        return self.cache[doc_id]


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Answer items (domain QA, law clause, CMRC)
# ---------------------------------------------------------------------------------------------


def targets_for(item: dict[str, Any], kind: str) -> list[m.GoldTarget]:
    if kind == "cmrc":
        return m.cmrc_targets(item.get("answers", []))
    if kind == "law_clause":
        return m.law_targets(item.get("sources", []))
    return m.qa_targets(item.get("sources", []))


def expected_text(item: dict[str, Any], kind: str) -> str:
    if kind == "cmrc":
        return " / ".join(item.get("answers", []))
    if not item.get("answerable", True):
        return "(refusal)"
    return item.get("answer") or "; ".join(item.get("key_points", []))


def score_answer_item(
    item: dict[str, Any],
    kind: str,
    ranked: Sequence[tuple[str, str]],
    answer: dict[str, Any],
    document_text: m.DocumentText,
) -> dict[str, Any]:
    """Score one question: retrieval over `ranked` (doc_id, text) and the Answer.to_dict() `answer`."""
    targets = targets_for(item, kind)
    answerable = bool(item.get("answerable", True))
    refused = bool(answer.get("refused"))
    status = answer.get("status") or ("refused" if refused else "answered")
    text = answer.get("answer", "") or ""
    citations = answer.get("citations", []) or []
    why: list[str] = []

    values: dict[str, float | None] = {
        "source_hit@1": m.source_hit_at_k(ranked, targets, 1),
        "source_hit@5": m.source_hit_at_k(ranked, targets, 5),
        "mrr@10": m.mrr_at_k(ranked, targets, SEARCH_K),
        "ndcg@10": m.ndcg_at_k(ranked, targets, SEARCH_K),
    }
    if targets:
        rank = m.first_relevant_rank(ranked, targets, SEARCH_K)
        if rank is None:
            got_docs = ", ".join(dict.fromkeys(d for d, _ in ranked[:5])) or "nothing"
            why.append(f"no gold source in the top {SEARCH_K} (top 5 docs: {_short(got_docs, 120)})")
        elif rank > 1:
            why.append(f"first gold source at rank {rank}")

    if answerable and refused:
        why.append("refused an answerable question")
    if not answerable and status == "answered":
        why.append("answered an unanswerable question")
    if answerable and status == "related":
        why.append("gave related passages for an answerable question")

    if kind in ("domain_qa", "law_clause"):
        key_points = item.get("key_points", []) if answerable else []
        values["key_point_recall"] = m.key_point_recall("" if refused else text, key_points)
        missing = m.missing_key_points("" if refused else text, key_points)
        if missing and not refused:
            why.append("missing key points: " + "、".join(missing))
    else:  # cmrc
        span = "" if refused else m.answer_span(text)
        golds = item.get("answers", [])
        values["answer_contains_gold"] = m.answer_contains_gold(span, golds)
        values["em"] = m.cmrc_em(span, golds)
        values["f1"] = m.cmrc_f1(span, golds)
        if not refused and not values["answer_contains_gold"]:
            why.append("answer does not contain a gold answer")

    verbatim = 0
    for citation in citations:
        quote = citation.get("quote", "")
        doc_id = citation.get("doc_id", "")
        if m.quote_is_verbatim(quote, document_text(doc_id)):
            verbatim += 1
        else:
            why.append(f"citation [{citation.get('n')}] not verbatim in {doc_id or '?'}: {_short(quote)!r}")

    sentences = 0 if refused else len(m.split_sentences(text))
    unsupported = 0 if refused else len(answer.get("unsupported", []) or [])
    values["unsupported_sentence_rate"] = None if refused else m.unsupported_sentence_rate(text, answer.get("unsupported", []) or [])
    if unsupported:
        why.append(f"{unsupported} unsupported sentence(s)")

    if answerable:
        parts = [values.get("source_hit@5"), values.get("key_point_recall"), values.get("f1"), 0.0 if refused else 1.0]
        if citations:
            parts.append(verbatim / len(citations))
        score = m.mean(parts)
    else:
        score = 0.0 if status == "answered" else 1.0
    return {
        "id": item.get("id"),
        "type": item.get("type", kind),
        "question": item.get("question", ""),
        "expected": expected_text(item, kind),
        "got": text,
        "answerable": answerable,
        "refused": refused,
        "status": status,
        "metrics": values,
        "counts": {
            "citations": len(citations),
            "verbatim_citations": verbatim,
            "sentences": sentences,
            "unsupported": unsupported,
        },
        "retrieved": [d for d, _ in ranked[:5]],
        "score": 1.0 if score is None else round(score, 6),
        "why": why,
    }


def aggregate_answer_items(records: Sequence[dict[str, Any]], kind: str) -> dict[str, float | None]:
    """Dataset-level answer/retrieval metrics from item records (see METRIC_DEFINITIONS)."""
    out: dict[str, float | None] = {}
    for name in RETRIEVAL_METRICS:
        out[name] = m.mean(r["metrics"].get(name) for r in records)
    outcomes = [(r["answerable"], r["refused"]) for r in records]
    states = [(r["answerable"], r.get("status") or ("refused" if r["refused"] else "answered")) for r in records]
    if kind in ("domain_qa", "law_clause"):
        out["key_point_recall"] = m.mean(r["metrics"].get("key_point_recall") for r in records if r["answerable"])
    if kind == "domain_qa":
        out["refusal_rate"] = m.refusal_rate(outcomes)
        out["not_answered_rate"] = m.not_answered_rate(states)
        out["standalone_unchanged_rate"] = m.mean(r["metrics"].get("standalone_unchanged") for r in records)
    out["answered_rate"] = m.answered_rate(states)
    held = "answer_contains_gold" if kind == "cmrc" else "key_point_recall"
    out["answered_precision"] = m.answered_precision(
        (a, s, None if r["metrics"].get(held) is None else r["metrics"][held] >= 1.0) for (a, s), r in zip(states, records)
    )
    if kind == "cmrc":
        for name in ("answer_contains_gold", "em", "f1"):
            out[name] = m.mean(r["metrics"].get(name) for r in records)
    out["false_refusal_rate"] = m.false_refusal_rate(outcomes)
    out["citation_verbatim_rate"] = m.ratio(
        sum(r["counts"]["verbatim_citations"] for r in records), sum(r["counts"]["citations"] for r in records)
    )
    out["unsupported_sentence_rate"] = m.ratio(
        sum(r["counts"]["unsupported"] for r in records), sum(r["counts"]["sentences"] for r in records)
    )
    for name in JUDGE_METRICS:
        values = [r["metrics"].get(name) for r in records if name in r["metrics"]]
        if values:
            out[name] = m.mean(values)
    return out


# ---------------------------------------------------------------------------------------------
# Optional LLM judge
# ---------------------------------------------------------------------------------------------

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


def _count(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        # A list of claims counts its entries; a list of verdicts counts the true ones.
        if value and all(isinstance(v, bool) for v in value):
            return float(sum(value))
        return float(len(value))
    return None


def parse_judge_output(raw: str) -> dict[str, float | None]:
    """Parse the judge's JSON ({"claims", "supported", "correctness"}) into faithfulness/correctness."""
    match = _JSON_OBJECT.search(raw or "")
    if not match:
        raise ValueError("judge output holds no JSON object")
    data = json.loads(match.group(0))
    claims = _count(data.get("claims"))
    supported = _count(data.get("supported"))
    if isinstance(data.get("supported"), list) and not all(isinstance(v, bool) for v in data["supported"]):
        supported = float(len(data["supported"]))
    faithfulness = None
    if claims:
        faithfulness = max(0.0, min(1.0, (supported or 0.0) / claims))
    correctness = data.get("correctness")
    correctness = max(0.0, min(1.0, float(correctness))) if isinstance(correctness, (int, float)) else None
    return {"judge_faithfulness": faithfulness, "judge_correctness": correctness}


def judge_answer(services: Any, item: dict[str, Any], kind: str, answer: dict[str, Any]) -> dict[str, float | None]:
    """Ask the LLM judge about one answered item; correctness only for answerable items."""
    contexts = "\n\n".join(
        f"[{i}] {h.get('title', '')} {h.get('text', '')}".strip() for i, h in enumerate(answer.get("contexts", []) or [], 1)
    )
    prompt = services.prompts.get("judge").render(
        question=item.get("question", ""),
        reference=expected_text(item, kind),
        answer=answer.get("answer", ""),
        contexts=contexts,
    )
    verdict = parse_judge_output(services.llm.complete(prompt))
    if not item.get("answerable", True):
        verdict["judge_correctness"] = None
    return verdict


# ---------------------------------------------------------------------------------------------
# Draft items
# ---------------------------------------------------------------------------------------------


def score_draft_item(item: dict[str, Any], draft: dict[str, Any], document_text: m.DocumentText) -> dict[str, Any]:
    """Score one drafting task against its Draft.to_dict()."""
    kind = item.get("kind", "")
    questions = m.draft_questions(draft)
    topics = item.get("expected_topics", [])
    dimensions = item.get("dimensions", [])
    values = {
        "dimension_coverage": m.dimension_coverage(draft, dimensions),
        "topic_coverage": m.topic_coverage(draft, topics),
        "cited_question_rate": m.cited_question_rate(draft, document_text),
        "near_duplicate_rate": m.near_duplicate_rate(draft),
        "format_ok_rate": m.format_ok_rate(draft, kind),
        "distinct_follow_up_rate": m.distinct_follow_up_rate(draft),
        "role_mention_rate": m.role_mention_rate(draft, _draft_roles(item)),
    }
    texts = [q.get("text", "") for q in questions]
    cited = sum(1 for q in questions if m.question_is_cited(q, document_text))
    pairs = m.near_duplicate_pairs(texts)
    why: list[str] = []
    if not questions:
        why.append("draft has no questions")
    covered = set(m.covered_topics(draft, topics))
    missing_topics = [t for t in topics if t not in covered]
    if missing_topics:
        why.append("missing topics: " + "、".join(missing_topics))
    if values["dimension_coverage"] is not None and values["dimension_coverage"] < 1:
        present = " ".join(s.get("dimension", "") for s in draft.get("sections", []))
        why.append(f"dimensions not covered or warned (sections: {_short(present, 80) or 'none'})")
    if cited < len(questions):
        why.append(f"{len(questions) - cited} question(s) without a verbatim citation")
    for i, j in pairs:
        why.append(f"near-duplicate questions: {_short(texts[i], 40)!r} / {_short(texts[j], 40)!r}")
    why.extend(m.format_problems(draft, kind))
    if values["distinct_follow_up_rate"] is not None and values["distinct_follow_up_rate"] < 0.9:
        why.append(f"repeated follow-ups: {values['distinct_follow_up_rate']:.0%} distinct")
    if values["role_mention_rate"] is not None and values["role_mention_rate"] < 1:
        why.append("roles not named in the text: " + "、".join(_draft_roles(item)))
    parts = [
        values["dimension_coverage"],
        values["topic_coverage"],
        values["cited_question_rate"],
        None if values["near_duplicate_rate"] is None else 1 - min(1.0, values["near_duplicate_rate"]),
        values["format_ok_rate"],
    ]
    score = m.mean(parts) if questions else 0.0
    return {
        "id": item.get("id"),
        "type": item.get("type", kind),
        "question": item.get("request", ""),
        "expected": "topics: " + "、".join(topics) + ("; dimensions: " + "、".join(dimensions) if dimensions else ""),
        "got": " | ".join(texts),
        "metrics": values,
        "counts": {
            "questions": len(questions),
            "cited_questions": cited,
            "duplicate_pairs": len(pairs),
            "format_ok": m.format_ok_count(draft, kind),
        },
        "score": 1.0 if score is None else round(score, 6),
        "why": why,
    }


def _draft_roles(item: dict[str, Any]) -> list[str]:
    """The roles a drafting request names: the person inspected (or talked to) and, for a talk,
    who talks when the request says so ("县委书记与乡镇党委书记谈话")."""
    roles = [item.get("target", "")]
    if m.is_talk_outline(item.get("kind", "")):
        from kb.drafting import infer_speaker

        roles.append(infer_speaker(item.get("request", ""), item.get("target", "")))
    return [r for r in roles if r]


def aggregate_draft_items(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    questions = sum(r["counts"]["questions"] for r in records)
    distinct = [r["metrics"].get("distinct_follow_up_rate") for r in records]
    distinct = [d for d in distinct if d is not None]
    return {
        "distinct_follow_up_rate": m.mean(distinct),
        "distinct_follow_up_min": min(distinct) if distinct else None,
        "role_mention_rate": m.mean(r["metrics"].get("role_mention_rate") for r in records),
        "dimension_coverage": m.mean(r["metrics"].get("dimension_coverage") for r in records),
        "topic_coverage": m.mean(r["metrics"].get("topic_coverage") for r in records),
        "cited_question_rate": m.ratio(sum(r["counts"]["cited_questions"] for r in records), questions),
        "near_duplicate_rate": m.ratio(sum(r["counts"]["duplicate_pairs"] for r in records), questions),
        "format_ok_rate": m.ratio(sum(r["counts"]["format_ok"] for r in records), questions),
    }


def score_conversation_item(item: dict[str, Any], answer: dict[str, Any], document_text: m.DocumentText) -> dict[str, Any]:
    """Score one follow-up: its resolved question and its answer."""
    resolved = answer.get("resolved_question") or ""
    refused = bool(answer.get("refused"))
    text = "" if refused else (answer.get("answer") or "")
    mentions = item.get("resolved_should_mention", [])
    mentioned = all(m.normalize_text(w) in m.normalize_text(resolved) for w in mentions)
    kpr = m.key_point_recall(text, item.get("key_points", []))
    citations = answer.get("citations", []) or []
    verbatim = sum(1 for c in citations if m.quote_is_verbatim(c.get("quote", ""), document_text(c.get("doc_id", ""))))
    why = []
    if not mentioned:
        why.append(f"resolved question {resolved!r} does not mention " + "、".join(mentions))
    missing = m.missing_key_points(text, item.get("key_points", []))
    if missing:
        why.append("missing key points: " + "、".join(missing))
    success = mentioned and kpr == 1.0
    return {
        "id": item.get("id"), "type": item.get("type", "follow_up"), "question": item.get("question", ""),
        "expected": "; ".join(item.get("key_points", [])), "got": f"[{resolved}] {text}",
        "answerable": True, "refused": refused, "status": answer.get("status") or ("refused" if refused else "answered"),
        "metrics": {"resolved_mention": float(mentioned), "key_point_recall": kpr, "pair_success": float(success)},
        "counts": {"citations": len(citations), "verbatim_citations": verbatim},
        "score": float(success), "why": why,
    }


def aggregate_conversation_items(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    return {
        "resolved_mention_rate": m.mean(r["metrics"]["resolved_mention"] for r in records),
        "key_point_recall": m.mean(r["metrics"]["key_point_recall"] for r in records),
        "pair_success_rate": m.mean(r["metrics"]["pair_success"] for r in records),
        "citation_verbatim_rate": m.ratio(sum(r["counts"]["verbatim_citations"] for r in records), sum(r["counts"]["citations"] for r in records)),
    }


def aggregate(records: Sequence[dict[str, Any]], kind: str) -> dict[str, float | None]:
    if kind == "drafts":
        return aggregate_draft_items(records)
    if kind == "conversation":
        return aggregate_conversation_items(records)
    return aggregate_answer_items(records, kind)


def by_type(records: Sequence[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r.get("type")), []).append(r)
    return {t: {"n": len(rs), **aggregate(rs, kind)} for t, rs in groups.items()}


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def _progress(items: Iterable[Any], name: str, total: int, enabled: bool) -> Iterable[Any]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=name, total=total, unit="item", file=sys.stderr, dynamic_ncols=True)


def _draft_request(item: dict[str, Any]) -> Any:
    from kb.models import DraftRequest

    return DraftRequest(
        kind=item.get("kind", "interview"),
        target=item.get("target", ""),
        interviewee=item.get("interviewee", ""),
        dimensions=list(item.get("dimensions", [])),
        request=item.get("request", ""),
        id=item.get("id"),
    )


def _error_answer(question: str) -> dict[str, Any]:
    # Not a refusal: an unanswerable item that crashed must not be credited as correctly refused.
    return {"question": question, "answer": "", "refused": False, "mode": "error", "citations": [], "unsupported": [], "contexts": []}


def evaluate_dataset(
    dataset: Dataset,
    services: Any,
    *,
    judge: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Run every item of the dataset through `services` and return its report entry."""
    started = time.monotonic()
    document_text = DocumentTexts(services.store)
    records: list[dict[str, Any]] = []
    errors = 0
    use_judge = judge and dataset.kind != "drafts" and services.llm is not None
    for item in _progress(dataset.items, dataset.name, len(dataset.items), progress):
        error: Exception | None = None
        if dataset.kind == "drafts":
            try:
                draft = services.drafts.draft(_draft_request(item)).to_dict()
            except Exception as exc:  # the system under test failing is a result, not a crash of the harness
                error, draft = exc, {"sections": [], "warnings": []}
            record = score_draft_item(item, draft, document_text)
        elif dataset.kind == "conversation":
            question = item.get("question", "")
            try:
                answer = services.answers.ask(question, history=list(item.get("history", []))).to_dict()
            except Exception as exc:
                error, answer = exc, _error_answer(question)
            record = score_conversation_item(item, answer, document_text)
        else:
            question = item.get("question", "")
            try:
                hits = sorted(services.retriever.search(question, k=SEARCH_K), key=lambda h: h.rank)
                ranked = [(h.chunk.doc_id, h.chunk.text) for h in hits]
                answer = services.answers.ask(question).to_dict()
            except Exception as exc:
                error, ranked, answer = exc, [], _error_answer(question)
            record = score_answer_item(item, dataset.kind, ranked, answer, document_text)
            if dataset.kind == "domain_qa" and records:
                # asked right after the previous item: a standalone question must stay as written
                previous = records[-1].get("question", "")
                resolver = getattr(services.answers, "follow_up", None)
                if resolver is not None and previous:
                    record["metrics"]["standalone_unchanged"] = float(resolver.resolve(question, [previous]) == question)
            if use_judge and error is None and not answer.get("refused"):
                try:
                    record["metrics"].update(judge_answer(services, item, dataset.kind, answer))
                except Exception as exc:
                    record["why"].append(f"judge failed: {exc}")
        if error is not None:
            errors += 1
            record["why"].insert(0, f"error: {type(error).__name__}: {error}")
            record["score"] = 0.0
            if errors == 1:
                log(f"{dataset.name}: item {item.get('id')} raised {type(error).__name__}: {error}")
        records.append(record)
    if judge and dataset.kind != "drafts" and services.llm is None:
        log(f"{dataset.name}: --judge skipped (no LLM configured)")
    return {
        "kind": dataset.kind,
        "path": str(dataset.path),
        "n_items": len(records),
        "errors": errors,
        "elapsed_s": round(time.monotonic() - started, 2),
        "metrics": aggregate(records, dataset.kind),
        "by_type": by_type(records, dataset.kind),
        "items": records,
    }


def settings_with_home(settings: Any, home: str | Path) -> Any:
    """A copy of the settings pointing at another knowledge-base directory."""
    return settings.model_copy(update={"home": Path(home).expanduser().resolve()}, deep=True)


def _default_services_factory(settings: Any) -> Any:
    from kb.container import build_services

    return build_services(settings)


def _report_ingest(label: str, result: dict[str, Any], log: Callable[[str], None]) -> None:
    log(
        f"{label}: {result.get('added', 0)} added, {result.get('updated', 0)} updated, "
        f"{result.get('unchanged', 0)} unchanged, {result.get('chunks', 0)} chunks"
    )
    for failure in result.get("failed", []) or []:
        log(f"{label}: failed {failure.get('path')}: {failure.get('error')}")


def run_evaluation(
    datasets: Sequence[Dataset],
    settings: Any,
    *,
    corpus_dirs: Sequence[str | Path] = (),
    kb_home: str | Path | None = None,
    judge: bool = False,
    progress: bool = True,
    services_factory: Callable[[Any], Any] | None = None,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Evaluate the datasets and return the report ``{"datasets": {name: entry}, "settings": {...}}``.

    Datasets other than CMRC share one knowledge base: `kb_home` as is, or else a temporary one
    built from `corpus_dirs`. Each CMRC dataset gets its own temporary knowledge base of its passages.
    """
    factory = services_factory or _default_services_factory
    shared = [d for d in datasets if d.needs_corpus]
    if shared and kb_home is None and not corpus_dirs:
        names = ", ".join(str(d.path) for d in shared)
        raise ValueError(f"{names}: needs a knowledge base — give --corpus DIR or --kb-home DIR")
    report: dict[str, Any] = {
        "datasets": {},
        "settings": {
            "knowledge_base": str(kb_home) if kb_home else "temporary",
            "corpus": [str(c) for c in corpus_dirs],
            "embedder": settings.embedder.mode,
            "reranker": settings.reranker.mode,
            "llm": settings.llm.mode,
            "judge": judge,
        },
    }
    entries: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        shared_services = None
        if shared:
            if kb_home is not None:
                shared_services = factory(settings_with_home(settings, kb_home))
                stack.callback(shared_services.close)
            else:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="kb-eval-", ignore_cleanup_errors=True))
                shared_services = factory(settings_with_home(settings, tmp))
                stack.callback(shared_services.close)  # runs before the directory is removed (LIFO)
                result = shared_services.ingest.ingest_paths([Path(c) for c in corpus_dirs], progress=progress)
                _report_ingest("corpus", result, log)
        for dataset in datasets:
            if dataset.needs_corpus:
                entries[dataset.name] = evaluate_dataset(dataset, shared_services, judge=judge, progress=progress, log=log)
                continue
            with tempfile.TemporaryDirectory(prefix="kb-eval-cmrc-", ignore_cleanup_errors=True) as tmp:
                services = factory(settings_with_home(settings, tmp))
                try:
                    result = services.ingest.ingest_texts(
                        dataset.passages, doc_type="other", collection="cmrc", progress=progress
                    )
                    _report_ingest(f"{dataset.name} passages", result, log)
                    entries[dataset.name] = evaluate_dataset(dataset, services, judge=judge, progress=progress, log=log)
                finally:
                    services.close()
    report["datasets"] = {d.name: entries[d.name] for d in datasets}
    return report
