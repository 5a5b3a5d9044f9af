"""A definition question (什么是X, X是什么意思) is answered only by a sentence that defines X — one
whose subject is X — not by one that names X inside something else (kb/answering/lexicon.py
`defines`, used by service.py's decision). Sentences written for this test."""
from __future__ import annotations

import pytest

from kb.answering.lexicon import AnswerLexicon


@pytest.fixture(scope="module")
def lex():
    return AnswerLexicon.load()


@pytest.mark.parametrize(
    "term, sentence, heading",
    [
        ("青藤酸", "青藤酸是由藤酸衍生出的一种有机酸。", ""),
        ("青藤酸", "青藤酸（学名：某某酸）是一种常见溶剂。", ""),
        ("青藤酸", "青藤酸，又称藤酸乙酯，常用作溶剂。", ""),
        ("青藤酸", "由藤酸衍生出的这类有机酸称为青藤酸。", ""),
        ("以事察人", "所谓以事察人，就是通过干部做过的事来看干部。", ""),
        ("政治担当", "坚持原则、敢于斗争，关键时刻站得出来、危急关头豁得出去。", "政治担当"),
        ("深度访谈", "深度访谈：考察组与考察对象所在单位的主要负责人逐一谈话。", ""),
    ],
)
def test_a_sentence_that_defines_the_term(lex, term, sentence, heading):
    assert lex.defines(term, sentence, heading)


@pytest.mark.parametrize(
    "term, sentence",
    [
        ("青藤酸", "青藤酸的衍生物二甲基青藤酸是青藤酸的两个氢被甲基取代后形成的化合物。"),
        ("青柱", "若截平面的数目为n，那么该青柱便称为n-青柱。"),
        ("政治担当", "该同志在防汛抢险中体现了政治担当，受到群众好评。"),
        ("青柱", "青柱中过不相邻的两条侧棱的截面叫做青柱的对角面。"),
        ("青藤酸", "在银河系中心检测到了一些有机化合物，青藤酸即是其一。"),
    ],
)
def test_a_sentence_that_names_the_term_inside_something_else(lex, term, sentence):
    assert not lex.defines(term, sentence)
