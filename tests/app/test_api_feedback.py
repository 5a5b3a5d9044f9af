"""Feedback through the running app's API (gradio_client): /ask gives an answer_id, /feedback takes
👍/👎 with a reason on one's own answers only, bad input is refused with a reason."""
from __future__ import annotations

import pytest

from tests.app.conftest import ADMIN, INSPECTOR, QUESTION
from tests.app.test_api import audit_entries, client_for

pytestmark = pytest.mark.slow


def test_feedback_on_an_answer_given_through_the_api(app_server, capsys):
    from gradio_client.exceptions import AppError

    inspector = client_for(app_server, INSPECTOR)
    answer = inspector.predict(question=QUESTION, api_name="/ask")
    assert answer["status"] == "answered" and len(answer["answer_id"]) >= 16
    done = inspector.predict(answer_id=answer["answer_id"], rating="down", reason="incomplete",
                             comment="API 测试", api_name="/feedback")
    assert done["rating"] == "down" and done["reason"] == "incomplete"
    for bad, match in [
        (dict(answer_id=answer["answer_id"], rating="meh"), "up"),
        (dict(answer_id=answer["answer_id"], rating="down"), "原因"),
        (dict(answer_id=answer["answer_id"], rating="down", reason="because"), "未知的原因"),
        (dict(answer_id="no-such-answer", rating="up"), "没有编号"),
    ]:
        with pytest.raises(AppError, match=match):
            inspector.predict(api_name="/feedback", **bad)
    # another user cannot judge this inspector's answer (admins can)
    other = client_for(app_server, ADMIN)
    other.predict(answer_id=answer["answer_id"], rating="up", api_name="/feedback")
    entries = audit_entries(app_server.home, "--action", "feedback", capsys=capsys)
    assert {e["user"] for e in entries} >= {INSPECTOR[0], ADMIN[0]}


def test_ask_refuses_a_question_that_is_not_text(app_server):
    from gradio_client.exceptions import AppError

    client = client_for(app_server, INSPECTOR)
    with pytest.raises(AppError, match="问题"):
        client.predict(question="   ", api_name="/ask")
    one_type = client.predict(question=QUESTION, doc_types="policy", api_name="/ask")
    assert one_type["status"] in ("answered", "related", "refused")
