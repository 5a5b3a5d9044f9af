"""Request sizes: a question, the conversation it follows and a draft request are bounded, with a
message that says what was too large and the limit (settings.limits).

Checked in the services — WebAppService, the OpenAI-compatible API and DraftService.draft — so the
web app, the API and `kb draft` refuse the same request the same way. Measured before these
existed: one /draft with 2,000 dimensions of 500 characters cost ~25 s of CPU and wrote 1 MB to the
audit log; nothing else bounded the number or length of dimensions.

The errors are ValueError (RequestTooLarge), which every adapter already turns into a clear
message: gr.Error in the web app, 400 in the API, ``error: …`` on the command line.
"""
from __future__ import annotations

from typing import Any, Sequence


class RequestTooLarge(ValueError):
    """A request over one of the settings.limits bounds; the message names the field and the limit."""


def _limits(limits: Any):
    if limits is None:
        from kb.settings import LimitsSettings

        return LimitsSettings()
    return getattr(limits, "limits", limits)  # a Settings tree or its limits section


def check_question(question: str, history: Sequence[str] | None = None, limits: Any = None) -> None:
    """Refuse a question, or a conversation history, longer than the limits allow."""
    cfg = _limits(limits)
    if isinstance(question, str) and len(question) > cfg.max_question_chars:
        raise RequestTooLarge(f"问题太长（{len(question)} 字，上限 {cfg.max_question_chars} 字）")
    history = [h for h in (history or []) if isinstance(h, str)]
    if len(history) > cfg.max_history_messages:
        raise RequestTooLarge(f"对话历史太长（{len(history)} 条，上限 {cfg.max_history_messages} 条）")
    total = sum(len(h) for h in history)
    if total > cfg.max_history_chars:
        raise RequestTooLarge(f"对话历史太长（共 {total} 字，上限 {cfg.max_history_chars} 字）")


def check_draft_request(request: Any, limits: Any = None) -> None:
    """Refuse a draft request with too many or too long dimensions, or an over-long free text."""
    cfg = _limits(limits)
    dimensions = list(getattr(request, "dimensions", None) or [])
    if len(dimensions) > cfg.max_draft_dimensions:
        raise RequestTooLarge(f"考察维度太多（{len(dimensions)} 个，上限 {cfg.max_draft_dimensions} 个）")
    for d in dimensions:
        text = str(d)
        if len(text) > cfg.max_dimension_chars:
            shown = text[:20] + "…"
            raise RequestTooLarge(f"考察维度“{shown}”太长（{len(text)} 字，上限 {cfg.max_dimension_chars} 字）")
    for field, label in (("target", "考察对象"), ("interviewee", "谈话对象"), ("request", "起草要求")):
        value = getattr(request, field, None)
        if isinstance(value, str) and len(value) > cfg.max_draft_text_chars:
            raise RequestTooLarge(f"{label}太长（{len(value)} 字，上限 {cfg.max_draft_text_chars} 字）")
    materials = list(getattr(request, "materials", None) or [])
    if len(materials) > cfg.max_draft_dimensions * 4:
        raise RequestTooLarge(f"参考材料太多（{len(materials)} 项，上限 {cfg.max_draft_dimensions * 4} 项）")


def recent_history(history: Sequence[str] | None, limits: Any = None) -> list[str]:
    """The latest questions of a stored conversation that fit the history limits (a conversation
    the product keeps may grow past them; its oldest turns matter least to a follow-up)."""
    cfg = _limits(limits)
    kept: list[str] = []
    total = 0
    for h in reversed([h for h in (history or []) if isinstance(h, str)]):
        if len(kept) >= cfg.max_history_messages or total + len(h) > cfg.max_history_chars:
            break
        kept.append(h)
        total += len(h)
    return list(reversed(kept))
