"""Numbers in evidence and what a question asks: each rule with a case that fails without it."""
from __future__ import annotations

import pytest
import yaml

from kb.answering.lexicon import LEXICON_FILE, AnswerLexicon
from kb.answering.numbers import answer_units, has_quantity, quantities
from kb.answering.question_analysis import analyse_question, place_names
from kb.retrieval.tokenizer import ChineseTokenizer


@pytest.fixture(scope="module")
def lex():
    return AnswerLexicon.load()


@pytest.fixture(scope="module")
def tok():
    return ChineseTokenizer()


def _lexicon_without_numeral_words() -> AnswerLexicon:
    data = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
    data["numeral_words"] = ["不存在的词"]
    return AnswerLexicon(data, LEXICON_FILE)


@pytest.mark.parametrize("sentence", ["市县党政一把手要带头", "实行一票否决", "统一安排在会前", "做到两个维护、增强四个意识", "落实一岗双责"])
def test_a_numeral_inside_a_word_is_no_number(lex, sentence):
    assert quantities(lex, sentence) == [], sentence
    assert not has_quantity(lex, sentence, None)


def test_without_the_numeral_words_two_maintenances_would_count(lex):
    # the rule under test is what makes "两个维护" no count of two
    assert quantities(_lexicon_without_numeral_words(), "做到两个维护")
    assert not quantities(lex, "做到两个维护")


@pytest.mark.parametrize(
    "sentence, unit, expected",
    [("共谈话4861人次", "人次", True), ("开展了三轮集中学习", "轮", True), ("修改了15稿", "稿", True), ("约只有8公斤重", None, True), ("82.7%", None, True)],
)
def test_written_numbers_are_numbers(lex, sentence, unit, expected):
    units = answer_units(lex, lex.unit_family.get(unit), unit) if unit else None
    assert bool(quantities(lex, sentence, units)) is expected


def test_a_specific_unit_wants_that_unit(lex):
    # "多少条意见" is not answered by "五个进一步", "分几批" not by "一次"
    assert answer_units(lex, "items", "条") == ("条",)
    assert not has_quantity(lex, "提出了“五个进一步”的要求", "items", answer_units(lex, "items", "条"))
    assert not has_quantity(lex, "这次谈话是一次政治上的全面检视", "times", answer_units(lex, "times", "批"))
    # a question for 个 takes any unit of its family
    assert has_quantity(lex, "共有3700多家企业", "items", answer_units(lex, "items", "个"))


def test_anchors_of_a_question(lex, tok):
    a = analyse_question("2020年合肥市委在第二届大会6月15日开展了多少人次“一对一”谈话？", tok, lex)
    kinds = {(x.kind, x.text) for x in a.anchors}
    assert ("place", "合肥") in kinds and ("org", "市委") in kinds and ("year", "2020") in kinds
    assert ("ordinal", "第二届") in kinds and ("day", "6月15日") in kinds and ("quote", "一对一") in kinds
    assert a.quantity and a.unit_class == "people"


def test_place_names_are_words_not_phrase_ends(lex, tok):
    assert place_names("江淮省委开展谈话，长沙县的当家人", lex, tok) == ["江淮", "长沙"]
    # "谈话由"+"省委", "其中"+"省委", "…谈话的"+"省委", "全省" name no place
    for text in ("谈话由省委主要负责人主持", "其中省委开展谈话60人次", "主持政治监督谈话的省委负责人", "全省11个市"):
        assert place_names(text, lex, tok) == [], text


@pytest.mark.parametrize(
    "question, facet",
    [("整改期限一般是几个月？", "time_limit"), ("优秀率占比是多少？", "share"), ("谈话的经费预算是多少？", "money"),
     ("由哪个部门牵头负责？", "responsible_body"), ("办法是哪一天印发的？", "date")],
)
def test_facets(lex, tok, question, facet):
    assert analyse_question(question, tok, lex).facet.name == facet


def test_answer_types(lex, tok):
    assert analyse_question("什么算政治担当？", tok, lex).definition_subject == "政治担当"
    assert analyse_question("“以事察人”是什么意思？", tok, lex).answer_type == "definition"
    who = analyse_question("主持谈话的省委主要负责人是谁？", tok, lex)
    assert who.answer_type == "who" and who.wants_name
    role = analyse_question("谈话由谁主持？", tok, lex)
    assert role.answer_type == "who" and not role.wants_name and role.who_verb == "主持"
    assert analyse_question("每次谈话时间不少于多长？", tok, lex).unit_class == "duration"
    assert analyse_question("体长有多长？", tok, lex).unit_class is None


def test_the_facet_is_the_cue_nearest_the_question_word(lex, tok):
    # "主要负责人" is the subject; the question asks 多少罚款
    a = analyse_question("生产经营单位主要负责人未履行安全生产管理职责，导致发生较大事故的，处多少罚款？", tok, lex)
    assert a.facet.name == "money" and a.facet_word == "罚款"
    assert analyse_question("考察组的组长是谁？", tok, lex).facet.name == "responsible_body"


def test_a_percentage_written_out_is_a_number(lex):
    found = quantities(lex, "（二）发生较大事故的，处上一年年收入百分之六十的罚款；", ("%",))
    assert [q.text for q in found] == ["百分之六十"]
    assert [q.text for q in quantities(lex, "比例不低于千分之五")] == ["千分之五"]


def test_a_fine_set_relative_to_a_base_answers_how_much_fine(lex, tok):
    a = analyse_question("导致发生较大事故的，处多少罚款？", tok, lex)
    assert has_quantity(lex, "处上一年年收入百分之六十的罚款", a.unit_class, a.answer_units)
    assert has_quantity(lex, "处违法所得一倍以上五倍以下的罚款", a.unit_class, a.answer_units)
    # a unit asked is a unit wanted: "多少万元" is not answered by a percentage
    b = analyse_question("处多少万元罚款？", tok, lex)
    assert not has_quantity(lex, "处上一年年收入百分之六十的罚款", b.unit_class, b.answer_units)
