"""kb/access/limits.py: request sizes are refused with a message naming the field and the limit, at the
service entry points every adapter goes through (#30 item 7)."""
from __future__ import annotations

import time

import pytest

from kb.access.limits import RequestTooLarge, check_draft_request, check_question, recent_history
from kb.models import DraftRequest
from kb.settings import LimitsSettings


def test_a_draft_with_thousands_of_long_dimensions_is_refused_at_once(services):
    request = DraftRequest(kind="interview", target="某区委书记", dimensions=[f"维度{i}" + "很" * 500 for i in range(2000)])
    started = time.monotonic()
    with pytest.raises(ValueError, match="考察维度太多（2000 个，上限 12 个）"):
        services.drafts.draft(request)
    assert time.monotonic() - started < 2.0
    assert services.audit.query() == []


def test_one_over_long_dimension_is_named():
    with pytest.raises(RequestTooLarge, match="考察维度“很很.*太长（500 字，上限 40 字）"):
        check_draft_request(DraftRequest(dimensions=["政治担当", "很" * 500]))
    with pytest.raises(RequestTooLarge, match="起草要求太长"):
        check_draft_request(DraftRequest(request="很" * 3000))


def test_question_and_history_bounds_follow_the_settings():
    limits = LimitsSettings(max_question_chars=10, max_history_messages=2, max_history_chars=6)
    check_question("短问题", ["一", "二"], limits)
    with pytest.raises(RequestTooLarge, match="问题太长（11 字，上限 10 字）"):
        check_question("很" * 11, None, limits)
    with pytest.raises(RequestTooLarge, match="3 条，上限 2 条"):
        check_question("问", ["一", "二", "三"], limits)
    with pytest.raises(RequestTooLarge, match="共 8 字，上限 6 字"):
        check_question("问", ["一二三四", "五六七八"], limits)


def test_a_stored_conversation_keeps_its_latest_turns():
    limits = LimitsSettings(max_history_messages=2, max_history_chars=100)
    assert recent_history(["一", "二", "三"], limits) == ["二", "三"]
