"""`kb ask QUESTION [--json] [-k N] [--type T]` and `kb ask --batch FILE.jsonl` (extractive mode)."""
from __future__ import annotations

import json
import os

import pytest

from kb.cli import main
from kb.models import REFUSAL_TEXT
from tests.kb.answering.test_answering import write_corpus

ANSWER_KEYS = {"question", "answer", "refused", "mode", "citations", "unsupported", "contexts"}
CITATION_KEYS = {"n", "chunk_id", "doc_id", "title", "section", "article", "page", "quote", "verified", "doc_number",
                 "pages", "start", "end",
                 "validity", "validity_note"}
CONTEXT_KEYS = {"rank", "chunk_id", "doc_id", "title", "section", "article", "page", "text", "score"}
QUESTION = "考察组的组长一般由什么级别的干部担任？"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A knowledge base ingested through `kb ingest`; settings.yaml / KB_* of the shell kept out."""
    root = tmp_path_factory.mktemp("ask-cmd")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for name in list(os.environ):
            if name.startswith("KB_"):
                mp.delenv(name)
        home = root / "kbhome"
        assert main(["--home", str(home), "ingest", str(write_corpus(root / "corpus")), "--no-progress"]) == 0
        yield home


def ask(home, capsys, *argv):
    capsys.readouterr()
    code = main(["--home", str(home), "ask", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def document_text(home, doc_id):
    from kb.container import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(home))
    try:
        return services.store.get_document_text(doc_id)
    finally:
        services.close()


def test_ask_json_has_the_output_contract(home, capsys):
    code, out, _ = ask(home, capsys, QUESTION, "--json")
    assert code == 0
    assert len(out.strip().splitlines()) == 1  # one JSON value on stdout
    data = json.loads(out)
    assert ANSWER_KEYS <= set(data)
    assert "id" not in data  # only batch answers carry ids
    assert data["question"] == QUESTION and data["mode"] == "extractive" and data["refused"] is False
    assert "处级以上干部担任" in data["answer"]
    assert data["citations"] and data["contexts"]
    retrieved = {h["chunk_id"] for h in data["contexts"]}
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS
        assert c["verified"] is True
        assert c["chunk_id"] in retrieved
        assert c["quote"] in document_text(home, c["doc_id"])
        assert document_text(home, c["doc_id"])[c["start"]:c["end"]] == c["quote"]  # offsets in the stored text
        assert f"[{c['n']}]" in data["answer"]
    for h in data["contexts"]:
        assert set(h) == CONTEXT_KEYS


def test_ask_k_and_type_restrict_the_contexts(home, capsys):
    from ingest.pipeline import FRAMEWORK_DOC_ID

    code, out, _ = ask(home, capsys, "考察组怎样组建？", "--json", "-k", "3", "--type", "criteria")
    assert code == 0
    data = json.loads(out)
    assert 1 <= len(data["contexts"]) <= 3
    # the shipped criteria framework is the only document of type criteria in this knowledge base
    assert {h["doc_id"] for h in data["contexts"]} == {FRAMEWORK_DOC_ID}
    assert all(c["doc_id"] == FRAMEWORK_DOC_ID for c in data["citations"])


def test_ask_refusal_json(home, capsys):
    code, out, _ = ask(home, capsys, "火星上有多少座火山？", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["answer"] == REFUSAL_TEXT and data["refused"] is True
    assert data["citations"] == [] and data["contexts"]


def test_ask_text_shows_the_answer_with_numbered_sources(home, capsys):
    code, out, _ = ask(home, capsys, QUESTION)
    assert code == 0
    answer_text, _, sources = out.partition("来源：")
    assert "处级以上干部担任" in answer_text and "[1]" in answer_text
    assert "[1] 《干部考察工作办法》" in sources
    assert "处级以上干部担任" in sources  # the quote is shown under its number
    assert "未核验" not in out
    assert not out.lstrip().startswith("{")


def test_ask_text_refusal_lists_possibly_related_sources(home, capsys):
    code, out, _ = ask(home, capsys, "火星上有多少座火山？")
    assert code == 0
    assert out.startswith("【未找到依据】\n" + REFUSAL_TEXT)  # the state first, then the refusal
    assert "可能相关的来源" in out


def test_ask_without_question_is_a_usage_error(home, capsys):
    code, out, err = ask(home, capsys)
    assert code == 2 and out == "" and "QUESTION" in err


def test_ask_batch_answers_each_line_and_reports_malformed_ones(home, capsys, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "\n".join(
            [
                json.dumps({"id": "q1", "question": QUESTION}, ensure_ascii=False),
                '{"id": "q2", "question": 不是JSON',
                "",
                json.dumps({"id": 3, "question": "火星上有多少座火山？"}, ensure_ascii=False),
                json.dumps(["not", "an", "object"]),
                json.dumps({"id": "q5", "question": "干部考察的方式包括哪些？", "k": 2}, ensure_ascii=False),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    code, out, _ = ask(home, capsys, "--batch", str(batch))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1  # some lines were bad
    assert len(lines) == 5  # the blank line is skipped, every other line gives one object

    assert lines[0]["id"] == "q1" and ANSWER_KEYS <= set(lines[0]) and not lines[0]["refused"]
    assert lines[0]["citations"] and all(c["verified"] for c in lines[0]["citations"])

    assert set(lines[1]) == {"id", "line", "error"} and lines[1]["line"] == 2
    assert "questions.jsonl:2" in lines[1]["error"] and "malformed JSON" in lines[1]["error"]

    assert lines[2]["id"] == 3 and lines[2]["refused"] is True and lines[2]["answer"] == REFUSAL_TEXT

    assert "error" in lines[3] and lines[3]["line"] == 5

    assert lines[4]["id"] == "q5" and len(lines[4]["contexts"]) <= 2


def test_ask_batch_missing_file_is_a_clear_error(home, capsys, tmp_path):
    missing = tmp_path / "nope.jsonl"
    code, out, err = ask(home, capsys, "--batch", str(missing))
    assert code != 0 and out == ""
    assert "nope.jsonl" in err


def test_the_printed_answer_starts_with_its_state():
    from kb.cli.ask_cmd import render_text
    from kb.models import Answer

    for status, label in (("answered", "【已回答】"), ("related", "【未直接回答"), ("refused", "【未找到依据】")):
        text = render_text(Answer(question="q", answer="a", refused=False, mode="extractive", status=status))
        assert text.startswith(label), text
