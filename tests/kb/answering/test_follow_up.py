"""Follow-up questions are answered as the standalone question they stand for; standalone ones stay."""
from __future__ import annotations

import json

import pytest

from kb.answering.follow_up import FollowUpResolver
from kb.answering.lexicon import AnswerLexicon
from kb.retrieval.tokenizer import ChineseTokenizer
from tests.kb.answering.test_binding import kb  # noqa: F401 (the binding corpus)


@pytest.fixture(scope="module")
def resolver():
    return FollowUpResolver(AnswerLexicon.load(), ChineseTokenizer())


@pytest.mark.parametrize(
    "history, question, resolved",
    [
        (["什么算政治担当？"], "那政治定力呢？", "什么算政治定力？"),
        (["县委书记在民主生活会上要做什么？"], "那市委书记呢？", "市委书记在民主生活会上要做什么？"),
        (["山西各市县委书记的对照检查材料一般修改了多少稿？"], "其他班子成员呢？", "其他班子成员，山西各市县委书记的对照检查材料一般修改了多少稿？"),
        (["安徽党内政治监督谈话中，省委开展谈话多少人次？"], "其中中管干部有多少人次？", "安徽党内政治监督谈话，其中中管干部有多少人次？"),
        (["党内政治监督谈话每年一般不少于几次？"], "时间一般安排在什么时候？", "党内政治监督谈话，时间一般安排在什么时候？"),
        (["深度访谈一般要谈多长时间？"], "谈不下去怎么办？", "深度访谈，谈不下去怎么办？"),
        (["考察分为哪几个步骤？", "深度访谈的对象有哪些？"], "原因是什么？", "深度访谈的对象，原因是什么？"),
    ],
)
def test_a_follow_up_becomes_standalone(resolver, history, question, resolved):
    assert resolver.resolve(question, history) == resolved


@pytest.mark.parametrize(
    "question",
    ["什么算政治担当？", "深度访谈的对象主要有哪些？", "班子成员每年至少要在所在党支部或党小组讲几次党课？",
     "江苏省2020年开展党内政治监督谈话共谈了多少人次？", "“以事察人”是什么意思？"],
)
def test_a_standalone_question_is_left_as_written(resolver, question):
    assert resolver.resolve(question, ["深度访谈一般要谈多长时间？"]) == question
    assert resolver.resolve(question, []) == question


def test_the_answer_says_which_question_it_answered(kb):  # noqa: F811
    answer = kb.answers.ask("其中省委呢？", history=["江淮省市县三级党委共谈话多少人次？"])
    assert answer.question == "其中省委呢？"
    assert answer.resolved_question.startswith("其中省委") and "江淮" in answer.resolved_question
    assert answer.status == "answered" and "60人次" in answer.answer, answer.notes
    data = answer.to_dict()
    assert data["resolved_question"] == answer.resolved_question
    # without the conversation the same words ask nothing the knowledge base can answer
    assert kb.answers.ask("其中省委呢？").resolved_question == "其中省委呢？"


def test_batch_lines_carry_their_history(kb, tmp_path, capsys):  # noqa: F811
    from kb.cli import main

    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "history": ["江淮省市县三级党委共谈话多少人次？"], "question": "其中省委呢？"}, ensure_ascii=False) + "\n"
        + json.dumps({"id": "b", "history": "not a list", "question": "其中省委呢？"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    code = main(["--settings", "/nonexistent/settings.yaml", "--home", str(kb.settings.home), "ask", "--batch", str(batch)])
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines() if l.startswith("{")]
    assert code == 1  # one bad line
    good, bad = lines
    assert good["id"] == "a" and "江淮" in good["resolved_question"] and "60人次" in good["answer"]
    assert bad["id"] == "b" and "history" in bad["error"]


@pytest.mark.parametrize(
    "history, question",
    [
        # a subject and a predicate of its own: never rewritten, whatever it shares with the question
        # before (it used to become "考察组一共个别谈话，考察分为哪几个步骤？")
        (["考察组一共个别谈话了多少人？"], "考察分为哪几个步骤？"),
        (["考察组谈话一般谈多久？"], "政治建设考察分为哪几个步骤？"),
        (["深度访谈的对象有哪些？"], "需要准备哪些材料？"),
    ],
)
def test_a_question_with_its_own_subject_is_never_rewritten(resolver, history, question):
    assert resolver.resolve(question, history) == question


@pytest.mark.parametrize(
    "history, question, resolved",
    [
        # no subject: an attribute of something unnamed, or a bare verb
        (["山西专题民主生活会前，四风问题清单要做满意度测评吗？"], "满意率达不到多少要返工？", "山西专题民主生活会前，满意率达不到多少要返工？"),
        (["深度访谈一般要谈多长时间？"], "一般由谁主持？", "深度访谈，一般由谁主持？"),
        # its subject is the previous one's, shortened ("谈话" of "党内政治监督谈话")
        (["党内政治监督谈话一般安排在什么时候？"], "谈话前要做什么？", "党内政治监督谈话，谈话前要做什么？"),
    ],
)
def test_a_question_without_a_subject_of_its_own_is_completed(resolver, history, question, resolved):
    assert resolver.resolve(question, history) == resolved
