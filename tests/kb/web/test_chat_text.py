"""What the chat shows and copies: a question literally, an answer's clean text (answer_as_text) carried
hidden in the message for the copy button."""
from __future__ import annotations

import html
import re

from kb.web.service import render_answer_html, render_copy_text, render_user_text, user_text_of

ANSWER = {
    "answer_id": "abc123",
    "question": "谈话每年几次？",
    "status": "answered",
    "answer": "每年至少开展一次[1]。<b>不是粗体</b>",
    "citations": [{"n": 1, "doc_id": "谈话办法", "title": "谈话办法", "quote": "每年至少开展一次", "article": "第二条"}],
}


def test_a_question_is_shown_as_typed_and_read_back():
    typed = "<b>x</b> [链接](http://evil.example) *强调* 第一行"
    shown = render_user_text(typed)
    assert "<b>" not in shown and "](" not in shown and "*强调*" not in shown
    assert user_text_of(shown) == typed


def test_the_copy_text_is_the_answer_with_its_numbered_sources_without_markup():
    hidden = render_copy_text(ANSWER)
    lines = [html.unescape(line) for line in re.findall(r"<div>(.*?)</div>", hidden[len('<div class="kb-copy-text">'):])]
    assert lines[0] == "【已回答】"
    assert "每年至少开展一次[1]。<b>不是粗体</b>" in lines  # the text as text, the [1] kept
    assert lines[lines.index("来源：") + 1].startswith("[1] 《谈话办法》")
    # inside the rendered answer, hidden by the page's CSS
    assert hidden in render_answer_html(ANSWER)
