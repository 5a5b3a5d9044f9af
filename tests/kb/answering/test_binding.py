"""Binding before "answered": the anchors a question names, the facet it asks for, the number it wants.

A purpose-written corpus through the real ingest. Every near miss a naive answerer would take is in it:
the province's totals next to the city asked about, a 第二届 for a 第三届, a year, a role without a
name, numerals inside words. Each rule also has a unit check that fails with the rule switched off.
"""
from __future__ import annotations

import pytest

from kb.answering.binding import Binder
from kb.answering.lexicon import AnswerLexicon
from kb.answering.question_analysis import analyse_question
from kb.models import Chunk, Hit
from tests.kb.answering.conftest import corpus_kb

CORPUS = {
    "江淮省党内政治监督谈话情况.txt": (
        "江淮省党内政治监督谈话情况\n\n"
        "今年5月至7月，江淮省集中开展党内政治监督谈话，该省省市县三级党委共谈话3200人次，其中省委开展谈话60人次，"
        "省辖市党委开展谈话540人次，县(市、区)党委开展谈话2600人次。\n\n"
        "谈话坚持一把手带头，实行一票否决，统一安排在民主生活会前进行。临河市委书记在会上作了表态发言。\n\n"
        "在第二届发展大会上，共有80个项目集中签约。\n\n"
        "2021年，江淮省还建立了谈话后续整改机制，督促被谈话人逐项整改。\n\n"
        "谈话由省委主要负责人主持，省纪委监委协助组织实施。\n"
    ),
    "江淮省安全生产条例.md": (
        "# 江淮省安全生产条例\n\n"
        "第一条 为了加强安全生产工作，防止和减少生产安全事故，制定本条例。\n\n"
        "第二条 本省行政区域内生产经营单位的安全生产，适用本条例。\n\n"
        "第三条 安全生产工作坚持安全第一、预防为主、综合治理的方针。\n\n"
        "第四条 县级以上人民政府应当加强对安全生产工作的领导。\n"
    ),
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    with corpus_kb(tmp_path_factory, "binding", CORPUS) as services:
        yield services


def ask(kb, question):
    return kb.answers.ask(question)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("江淮省市县三级党委共谈话多少人次？", "3200人次"),
        ("江淮省委开展谈话多少人次？", "60人次"),
        ("江淮省的县(市、区)党委开展谈话多少人次？", "2600人次"),
        ("第二届发展大会上共有多少个项目集中签约？", "80个项目"),
        ("2021年江淮省建立了什么机制？", "整改机制"),
        ("江淮省的政治监督谈话由谁主持？", "省委主要负责人主持"),
        ("江淮省安全生产条例第三条的内容是什么？", "安全第一"),
    ],
)
def test_bound_questions_are_answered(kb, question, expected):
    answer = ask(kb, question)
    assert answer.status == "answered", (question, answer.notes)
    assert expected in answer.answer


@pytest.mark.parametrize(
    "question, why",
    [
        # a city the documents never name: the province's totals are not its figures
        ("东岭市委开展了多少人次谈话？", "东岭"),
        # a city named in passing: the totals two sentences away are still not its own
        ("临河市委开展了多少人次谈话？", "临河"),
        # another province
        ("江东省市县三级党委共谈话多少人次？", "江东"),
        # 第三届 is not 第二届, 2019 is not 2021
        ("第三届发展大会上共有多少个项目集中签约？", "第三届"),
        ("2019年江淮省建立了什么机制？", "2019"),
        # a duration nobody states
        ("江淮省的政治监督谈话整改期限是几个月？", "duration"),
        # numerals inside words (一票否决, 一把手, 统一) count nothing
        ("实行一票否决一共需要多少票？", "number"),
        # the role asked about, named again, says nobody's name
        ("主持江淮省政治监督谈话的省委主要负责人是谁？", "names no one"),
        # a law the knowledge base does not hold, nor one of that title in another place
        ("东岭市安全生产条例第三条的内容是什么？", "东岭"),
        ("请给出安全生产法第三条的原文。", "no document titled"),
    ],
)
def test_unbound_questions_are_not_answered(kb, question, why):
    answer = ask(kb, question)
    assert answer.status != "answered", (question, answer.answer)
    assert answer.refused == (answer.status == "refused")
    if answer.status == "related":
        assert answer.answer.startswith(AnswerLexicon.load().related_line)
        assert any(why in n for n in answer.notes), answer.notes


# -- the rules one by one, with the rule switched off -------------------------------------------------
def _hit(text: str, title: str = "江淮省党内政治监督谈话情况", doc_id: str = "d") -> Hit:
    chunk = Chunk(f"{doc_id}#v#0000", doc_id, title, "", "", None, 0, len(text), text)
    return Hit(rank=1, chunk=chunk, score=1.0)


@pytest.fixture(scope="module")
def tools(kb):
    lex = AnswerLexicon.load()
    binder = Binder(lex, kb.tokenizer, lambda doc_id: None)
    return lex, binder, kb.tokenizer


def test_a_clause_must_bind_the_level_asked(tools):
    lex, binder, tok = tools
    sentence = "该省省市县三级党委共谈话3200人次，其中省委开展谈话60人次，省辖市党委开展谈话540人次"
    county = analyse_question("县委开展谈话多少人次？", tok, lex)
    assert binder.bind(county, sentence, _hit(sentence)).quantity == 0  # no 县 clause with a number
    province = analyse_question("省委开展谈话多少人次？", tok, lex)
    assert binder.bind(province, sentence, _hit(sentence)).quantity == 1
    # without the level of the organisation the county question would take the 省委's 60
    county.anchors = [a for a in county.anchors if a.kind != "org"]
    assert binder.bind(county, sentence, _hit(sentence)).quantity == 1


def test_a_statement_about_the_whole_province_is_not_about_a_city(tools):
    lex, binder, tok = tools
    sentence = "全省11个市、119个县(市、区)党委班子召开了专题民主生活会"
    analysis = analyse_question("太原市有多少个县党委班子召开了专题民主生活会？", tok, lex)
    assert [a.text for a in analysis.anchors if a.kind == "place"] == ["太原"]
    assert binder.bind(analysis, sentence, _hit(sentence, title="山西省专题民主生活会通报")).anchors == 0


def test_a_facet_must_be_stated(tools):
    lex, binder, tok = tools
    analysis = analyse_question("政治监督谈话的经费预算是多少？", tok, lex)
    assert analysis.facet is not None and analysis.facet.name == "money"
    assert binder.facet_level(analysis, "谈话每年一般不少于1次，时间安排在民主生活会前") == 0
    assert binder.facet_level(analysis, "谈话所需经费列入本级财政预算") == 1
    analysis.facet = None  # no facet asked: nothing to check
    assert binder.facet_level(analysis, "谈话每年一般不少于1次") is None


def test_an_ordinal_and_a_day_are_anchors(tools):
    lex, binder, tok = tools
    analysis = analyse_question("第三届发展大会6月15日签约了多少个项目？", tok, lex)
    kinds = {a.kind: a.text for a in analysis.anchors}
    assert kinds.get("ordinal") == "第三届" and kinds.get("day") == "6月15日"
    sentence = "在第二届发展大会上，6月5日共有80个项目集中签约"
    b = binder.bind(analysis, sentence, _hit(sentence))
    assert b.anchors == 0 and {a.kind for a in b.unbound} == {"ordinal", "day"}


def test_a_name_jieba_does_not_tag_still_answers_who(tools):
    lex, binder, tok = tools
    who = analyse_question("开发区和工业园区考察的联系人是谁？", tok, lex)
    row = "各单位考察时间安排表，单位：开发区和工业园区，考察时间：2025年10月20日至11月7日，联系人：郑浩然。"
    assert binder.bind(who, row, _hit(row)).name == 1
    deputy = analyse_question("考察组的副组长是谁？", tok, lex)
    sentence = "考察组由林振华同志任组长，干部一科科长万里同志任副组长。"
    assert binder.bind(deputy, sentence, _hit(sentence)).name == 1
    nobody = "考察组设组长、副组长各1名。"
    assert binder.bind(deputy, nobody, _hit(nobody)).name == 0


def test_the_organisation_in_a_persons_title_is_no_competing_subject(tools):
    lex, binder, tok = tools
    question = analyse_question("区委领导班子考察组的副组长是谁？", tok, lex)
    org = next(a for a in question.anchors if a.kind == "org")
    assert not binder._competing(org, "考察组由市委组织部副部长林振华同志任组长，干部一科科长万里同志任副组长。")
    assert binder._competing(org, "市委组织部负责考察工作的组织实施。")
