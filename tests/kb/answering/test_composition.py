"""How answers read: the framework's definitions, the related line, merged quotes, labelled paragraphs."""
from __future__ import annotations

import pytest

from kb.answering.composition import AnswerComposer
from kb.answering.evidence import Candidate
from kb.answering.lexicon import AnswerLexicon
from kb.answering.question_parts import split_question
from kb.models import Chunk, Hit
from tests.conftest import make_settings, normalise
from tests.kb.answering.test_binding import kb  # noqa: F401 (the binding corpus)


def test_what_counts_as_a_framework_term_is_answered_by_its_definition(kb):  # noqa: F811
    answer = kb.answers.ask("什么算政治担当？")
    assert answer.status == "answered", answer.notes
    first = answer.citations[0]
    assert first.doc_id and "内涵" in first.section and "政治担当" in first.section, first
    assert normalise(first.quote).startswith("政治担当是"), first.quote


def test_a_related_answer_opens_with_the_fixed_line_and_cites_its_passages(kb):  # noqa: F811
    answer = kb.answers.ask("江淮省的政治监督谈话整改期限是几个月？")
    assert answer.status == "related"
    line = AnswerLexicon.load().related_line
    assert answer.answer.startswith(line + "\n1. ")
    assert answer.citations and all(c.verified for c in answer.citations)
    assert all(f"[{c.n}]" in answer.answer for c in answer.citations)


def _cand(chunk: Chunk, text: str, pos: int) -> Candidate:
    start = chunk.text.find(text)
    return Candidate(Hit(rank=1, chunk=chunk, score=1.0), text, 1.0, 0.5, pos, start)


def test_adjacent_sentences_of_one_chunk_become_one_quote():
    text = "第一句话说了一件事。第二句话接着说。第三句另起一段。"
    chunk = Chunk("c#v#0", "c", "文", "", "", None, 0, len(text), text)
    a, b, c = _cand(chunk, "第一句话说了一件事。", 0), _cand(chunk, "第二句话接着说。", 1), _cand(chunk, "第三句另起一段。", 2)
    merged = AnswerComposer.merge_adjacent([a, b])
    assert [m.text for m in merged] == ["第一句话说了一件事。第二句话接着说。"]
    assert merged[0].text in text  # still a verbatim span
    assert len(AnswerComposer.merge_adjacent([a, c])) == 2  # not adjacent: two quotes


def test_a_comparison_reads_as_one_labelled_paragraph_per_document(tmp_path):
    composer = AnswerComposer(make_settings(tmp_path / "kb"), AnswerLexicon.load())
    one = Chunk("a#v#0", "a", "甲文件", "", "", None, 0, 10, "甲说的话。")
    two = Chunk("b#v#0", "b", "乙文件", "", "", None, 0, 10, "乙说的话。")
    from kb.answering.question_analysis import QuestionAnalysis

    analysis = QuestionAnalysis("甲文件和乙文件各说了什么？", [], False, False, False, None, multi_source=True)
    text = composer.render(analysis, [_cand(one, "甲说的话。", 0), _cand(two, "乙说的话。", 0)], "answered")
    assert text == "《甲文件》：甲说的话。[1]\n《乙文件》：乙说的话。[2]"


@pytest.mark.parametrize(
    "question, parts",
    [
        ("全程参加会议的督导组组长是谁？他提出了什么要求？", ["全程参加会议的督导组组长是谁？", "全程参加会议的督导组组长，提出了什么要求？"]),
        ("深度访谈的对象主要有哪些？", ["深度访谈的对象主要有哪些？"]),
    ],
)
def test_a_question_asking_two_things_is_split(question, parts):
    assert split_question(question) == parts


def test_each_part_of_a_two_part_question_is_answered(kb):  # noqa: F811
    answer = kb.answers.ask("江淮省市县三级党委共谈话多少人次？第二届发展大会上有多少个项目集中签约？")
    assert answer.status == "answered", answer.notes
    assert "3200人次" in answer.answer and "80个项目" in answer.answer
    assert answer.answer.startswith("（1）") and "\n（2）" in answer.answer
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    half = kb.answers.ask("江淮省市县三级党委共谈话多少人次？第三届发展大会上有多少个项目集中签约？")
    assert half.status == "related"  # one part has no answer: the whole is not given as answered


def test_a_quote_ending_at_a_semicolon_runs_on_to_its_full_stop_but_not_into_the_next_item(tmp_path):
    composer = AnswerComposer(make_settings(tmp_path / "kb"), AnswerLexicon.load())
    text = "此树用途广泛，包括作为食物来源；木材可制成矛；心材可作颜料。一是考察程序不够优化；二是培训方式有待改进。"
    chunk = Chunk("c#v#0", "c", "文", "", "", None, 0, len(text), text)
    whole = composer.complete_sentences([_cand(chunk, "此树用途广泛，包括作为食物来源；", 0)])
    assert whole[0].text == "此树用途广泛，包括作为食物来源；木材可制成矛；心材可作颜料。" and whole[0].text in text
    item = composer.complete_sentences([_cand(chunk, "一是考察程序不够优化；", 3)])
    assert item[0].text == "一是考察程序不够优化；"  # 二是 opens the next item of the series


def test_the_table_row_asked_about_leads_its_neighbours():
    rows = ["安排表，单位：市直机关，时间：8月4日至8月22日。", "安排表，单位：市属高校，时间：9月22日至10月17日。"]
    text = "各单位考察时间安排如下。" + "".join(rows)
    chunk = Chunk("c#v#0", "c", "文", "", "", None, 0, len(text), text)
    first, second = _cand(chunk, rows[0], 1), _cand(chunk, rows[1], 2)
    second = Candidate(second.hit, second.text, 2.0, 0.9, second.position, second.start)
    from kb.answering.composition import _table_rows

    assert set(map(id, _table_rows([first, second]))) == {id(first), id(second)}
    prose = [_cand(chunk, "各单位考察时间安排如下。", 0), first]
    assert _table_rows(prose) == []
