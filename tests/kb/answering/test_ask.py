"""The ask: the slot a question asks to be filled, the relation, the target and the qualifiers.

Questions written for this test in the shapes inspectors and news readers ask (none is an evaluation
item); each case names what a wrong reading would do.
"""
from __future__ import annotations

import pytest

from kb.answering.ask import SlotData, read_ask, version_of
from kb.answering.lexicon import AnswerLexicon
from kb.answering.question_analysis import analyse_question
from kb.language.ner import EntityTagger
from kb.retrieval.tokenizer import ChineseTokenizer


@pytest.fixture(scope="module")
def reader():
    tokenizer = ChineseTokenizer()
    lex = AnswerLexicon.load()
    tagger = EntityTagger("lac")

    def read(question: str):
        return read_ask(question, analyse_question(question, tokenizer, lex), tokenizer, SlotData.load(), tagger)

    return read


@pytest.mark.parametrize(
    "question, slot",
    [
        ("《长河》的导演是谁？", "person"),
        ("《长河》的导演", "person"),  # no question word: the attribute noun asks
        ("青云杯2021赛季的冠军是谁？", "agent"),  # a team or a country as often as a person
        ("第三届博览会在哪举办？", "place"),
        ("东岭国的首都在哪？", "place"),
        ("星河三号的发射时间？", "date"),
        ("第三届博览会什么时候开幕？", "date"),
        ("东岭国哪一年加入联盟？", "year"),
        ("东岭市2020年新增就业多少人？", "quantity"),
        ("2013年某地地震的震级", "quantity"),
        ("东岭公司的新名字是什么？", "name"),
        ("《长河》的原名叫什么？", "person"),
        ("整改工作由谁牵头？", "role"),
        ("青云是什么类型的游戏？", "category"),
        # no typed slot: composition and the calibrated models decide
        ("什么算政治担当？", None),
        # a list: the items of the list the question names
        ("深度访谈的对象主要有哪些？", "list"),  # "深度" is no 深度 (a size) asked
        ("市县党政正职教育培养中存在哪些突出问题？", "list"),  # "在哪" inside "存在哪些" asks no place
        ("五个政治包括哪些？", "list"),
        ("民主测评中谁的优秀率最低？", "extreme"),
        ("记录具体潦草在哪？", None),  # in what respect, not where
        ("东岭塔位于哪儿？", "place"),  # a verb of being somewhere before the question word
        ("这位诗人出生于哪里？", "place"),
        ("这篇文章好在哪里？", None),
        ("在东岭会战的时候，守军得到谁的支援？", None),  # the clause that sets the scene asks no date
        ("“以事察人”是什么意思？", None),
        ("“四必谈”都包括谁和谁谈？", "list"),  # pairs of roles: a list, not a person
    ],
)
def test_the_slot_a_question_asks_for(reader, question, slot):
    assert reader(question).slot == slot


def test_the_relation_is_the_attribute_or_the_predicate(reader):
    assert [w for w, _ in reader("《长河》的导演是谁？").relations] == ["导演"]
    assert "执导" in dict(reader("《长河》的导演是谁？").relations)["导演"]
    assert [w for w, _ in reader("星河三号的发射时间？").relations] == ["发射"]
    assert [w for w, _ in reader("第三届博览会在哪举办？").relations] == ["举办"]
    assert [w for w, _ in reader("谁创立了青云公司？").relations] == ["创立"]
    # a verb inside the question word ("谁主持") is the relation, not the topic's verb (谈话)
    assert [w for w, _ in reader("江淮省的政治监督谈话由谁主持？").relations] == ["主持"]
    # the noun right before the question word, listed or not
    assert [w for w, _ in reader("此剧的制作人是谁？").relations] == ["制作人"]


def test_qualifiers_are_read(reader):
    kinds = {(q.kind, q.value) for q in reader("CBA2019-2020赛季总冠军").qualifiers}
    assert ("season", "2019-2020") in kinds
    kinds = {(q.kind, q.value) for q in reader("2018年女排世锦赛在哪举办？").qualifiers}
    assert ("gender", "女") in kinds
    kinds = {(q.kind, q.value) for q in reader("《长河》国内上映日期").qualifiers}
    assert ("region", "domestic") in kinds
    kinds = {(q.kind, q.value) for q in reader("2018年中国城镇新增就业多少人？").qualifiers}
    assert ("scope", "national") in kinds
    kinds = {(q.kind, q.value) for q in reader("2020奥运会在哪举办？").qualifiers}
    assert ("year", "2020") in kinds  # a year written without 年


def test_a_list_question_names_its_list_and_size(reader):
    ask = reader("谈心谈话要求做到的“六个谈透”包括哪些内容？")
    assert ask.head == "六个谈透" and ask.items == 6
    ask = reader("五个政治包括哪些？")
    assert ask.head == "五个政治" and ask.items == 5
    ask = reader("政治建设考察具体要经过哪些步骤？")
    assert ask.head == "步骤" and ask.items == 0
    assert [w for w, _ in reader("要抵制和反对哪些庸俗腐朽的政治文化？").relations][1:] == ["抵制"]
    # an article's number is no size: 第一百零八条 names no eight-item list
    ask = reader("黄河保护法第一百零八条规定了哪些行为？")
    assert ask.head == "行为" and ask.items == 0
    # "哪些方面", "哪些内容": no noun to demand of a list — the untyped answerer decides
    assert not reader("考察履职实绩时，除经济指标外还要看哪些方面？").typed
    # what the list is of: a name the tagger split is one name, and must be named ("五月|艾", "长柄|艾纳香")
    assert reader("五月艾分布在哪些地区？").named == ["五月艾"]
    assert reader("长柄艾纳香分布在哪些地区？").named == ["长柄艾纳香"]
    assert "贯穿" not in reader("激励干部担当作为要贯穿干部工作的哪些环节？").target


def test_named_things_and_versions(reader):
    ask = reader("小米MIX3的处理器是什么？")
    assert "MIX3" in ask.entities
    assert version_of("MIX3") == ("MIX", "3")
    assert version_of("神舟十一号") == ("神舟", "十一")
    assert version_of("东京2020") is None  # a year is no version
    assert reader("东岭国有多少个成员国？").counted == "成员国"
    assert reader("江淮省市县三级党委共谈话多少人次？").counted == ""  # 人次 is the unit


def test_quantity_units_follow_the_attribute(reader):
    assert reader("2013年某地地震的震级").units == ("级",)
    assert reader("某国2019年人口出生率").units == ("family:percent",)
    assert reader("2020年某国经济增长了多少？").units == ("family:percent",)
    assert reader("峡谷有多长？").units == ("family:size",)  # a length, not a duration


def test_slot_data_refuses_an_unknown_slot(tmp_path):
    bad = tmp_path / "slots.yaml"
    text = SlotData.load().source.read_text(encoding="utf-8").replace("slot: year", "slot: colour", 1)
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="colour"):
        SlotData.load(bad)
