"""Feedback on answers (👍/👎 with a reason) and how it becomes evaluation items.

This is how a site grows its own evaluation set: an approved answer becomes a regression item whose
key points are its approved quotes; "should have refused" becomes an unanswerable item; an approved
refusal stays one. Feedback that says an answer was wrong in another way (wrong citation, incomplete,
should have answered) names a problem but not the right answer, so it is listed for a person to write
the gold answer and is not exported as if it were one.

The items follow the domain-QA schema of ``kb eval`` (id, question, type, answerable, answer,
key_points, sources[{doc, quote}]), plus ``origin`` saying which feedback they come from.
"""
from __future__ import annotations

from typing import Any, Iterable

RATINGS = ("up", "down")
# Aliases the API accepts for a rating (the UI's buttons, scripts passing 1 / -1).
_RATING_ALIASES = {"up": "up", "👍": "up", "1": "up", "+1": "up", "good": "up",
                   "down": "down", "👎": "down", "-1": "down", "bad": "down"}
REASONS = ("wrong_citation", "incomplete", "should_refuse", "should_answer", "other")
REASON_LABELS = {
    "wrong_citation": "引用错误",
    "incomplete": "回答不完整",
    "should_refuse": "应当拒答（资料中没有依据）",
    "should_answer": "应当回答（资料中有依据）",
    "other": "其他",
}
RATING_LABELS = {"up": "👍 赞", "down": "👎 踩"}
MAX_COMMENT_CHARS = 2000


def normalise_feedback(rating: Any, reason: Any = "", comment: Any = "") -> tuple[str, str, str]:
    """Validated (rating, reason, comment); ValueError naming what is wrong."""
    key = str(rating if rating is not None else "").strip().lower()
    if key not in _RATING_ALIASES:
        raise ValueError(f"评价只能是 up（👍）或 down（👎），收到：{str(rating)[:20]!r}")
    rating = _RATING_ALIASES[key]
    reason = str(reason or "").strip()
    if rating == "down" and not reason:
        raise ValueError(f"请选择 👎 的原因：{', '.join(REASONS)}")
    if reason and reason not in REASONS:
        raise ValueError(f"未知的原因 {reason[:30]!r}：应为 {', '.join(REASONS)} 之一")
    if rating == "up" and reason not in ("", "other"):
        raise ValueError("👍 不需要原因（原因用于 👎）")
    comment = str(comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValueError(f"说明太长（超过 {MAX_COMMENT_CHARS} 字）")
    return rating, reason, comment


def latest_per_answer(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per answer: the newest judgement wins (entries arrive newest first)."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        if entry["answer_id"] in seen:
            continue
        seen.add(entry["answer_id"])
        out.append(entry)
    return out


def eval_item(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The domain-QA item a feedback entry stands for, or None when it needs a person's gold answer."""
    answer = entry.get("answer") or {}
    question = (entry.get("resolved_question") or entry.get("question") or answer.get("question") or "").strip()
    if not question:
        return None
    status = entry.get("status") or answer.get("status") or ""
    origin = {
        "answer_id": entry["answer_id"],
        "rating": entry["rating"],
        "reason": entry.get("reason", ""),
        "comment": entry.get("comment", ""),
        "user": entry.get("user", ""),
        "at": entry.get("created_at", ""),
    }
    base = {"id": f"fb-{entry['answer_id'][:12]}", "question": question}
    unanswerable = {"type": "unanswerable", "answerable": False, "answer": "", "key_points": [], "sources": []}
    if entry["rating"] == "down":
        if entry.get("reason") == "should_refuse":
            return {**base, **unanswerable, "origin": origin}
        return None
    # 👍: the answer as given is right
    if status == "refused":
        return {**base, **unanswerable, "origin": origin}
    quotes = [c for c in answer.get("citations", []) if c.get("verified", True) and c.get("quote")]
    if not quotes:
        return None
    key_points: list[str] = []
    sources: list[dict[str, str]] = []
    for c in quotes:
        if c["quote"] not in key_points:
            key_points.append(c["quote"])
            sources.append({"doc": c.get("doc_id", ""), "quote": c["quote"]})
    return {
        **base,
        "type": "regression",
        "answerable": True,
        "answer": answer.get("answer", ""),
        "key_points": key_points,
        "sources": sources,
        "origin": origin,
    }


def export_items(entries: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(evaluation items, entries that need a person to write the gold answer)."""
    items, pending = [], []
    for entry in latest_per_answer(entries):
        item = eval_item(entry)
        if item is None:
            pending.append(entry)
        else:
            items.append(item)
    return items, pending
