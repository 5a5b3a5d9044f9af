"""kb.retrieval.clauses: Chinese numerals and the locator that resolves "《某法》第N条" to documents."""
from __future__ import annotations

import pytest

from kb.retrieval.clauses import ClauseLocator, article_number, chinese_to_int, int_to_chinese

TITLES = {
    "labour": "中华人民共和国劳动合同法",
    "hotline": "潍坊市12345政务服务便民热线条例",
    "inspection": "浙江省劳动保障监察条例",
    "fire": "中华人民共和国消防法",
    "gd-fire": "广东省实施《中华人民共和国消防法》办法",
    "company-2018": "中华人民共和国公司法",
    "company-2023": "中华人民共和国公司法",
    "criminal": "中华人民共和国刑法",
}
DATES = {"company-2018": "2018-10-26", "company-2023": "2023-12-29"}


@pytest.fixture
def locator() -> ClauseLocator:
    return ClauseLocator(TITLES, DATES)


@pytest.mark.parametrize(
    ("text", "value"),
    [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("一百", 100), ("一百零一", 101),
     ("一百一十", 110), ("一百九十九", 199), ("两百", 200), ("一千零一", 1001), ("12", 12), ("１２", 12)],
)
def test_chinese_to_int(text, value):
    assert chinese_to_int(text) == value


@pytest.mark.parametrize("text", ["", "第", "abc", "十x"])
def test_chinese_to_int_rejects_non_numerals(text):
    assert chinese_to_int(text) is None


def test_numerals_round_trip_up_to_199():
    failures = [(n, int_to_chinese(n)) for n in range(1, 200) if chinese_to_int(int_to_chinese(n)) != n]
    assert failures == []


@pytest.mark.parametrize(("n", "text"), [(10, "十"), (11, "十一"), (20, "二十"), (101, "一百零一"), (110, "一百一十"), (199, "一百九十九")])
def test_int_to_chinese_uses_the_form_laws_use(n, text):
    assert int_to_chinese(n) == text


def test_int_to_chinese_rejects_negative():
    with pytest.raises(ValueError):
        int_to_chinese(-1)


@pytest.mark.parametrize("n", range(1, 200))
def test_locator_parses_every_article_number_up_to_199(locator, n):
    assert locator.parse(f"劳动合同法第{int_to_chinese(n)}条规定了什么？").article == n


@pytest.mark.parametrize("label", ["第12条", "第１２条", "第 12 条", "第十二条"])
def test_digit_and_chinese_article_forms(locator, label):
    assert locator.parse(f"劳动合同法{label}的内容是什么？").article == 12
    assert article_number(label.replace(" ", "")) == 12


def test_article_number_of_labels():
    assert article_number("第一百九十九条") == 199
    assert article_number("第3条") == 3
    assert article_number("") is None
    assert article_number("第三章") is None


def test_chapter_is_parsed(locator):
    parsed = locator.parse("劳动合同法第三章讲什么")
    assert parsed.chapter == 3
    assert parsed.article is None


def test_title_in_book_brackets(locator):
    parsed = locator.parse("《中华人民共和国劳动合同法》第十二条是怎么规定的？")
    assert parsed.article == 12
    assert parsed.doc_ids == ["labour"]
    assert parsed.found


def test_title_without_brackets(locator):
    parsed = locator.parse("潍坊市12345政务服务便民热线条例中第四条规定了什么？")
    assert parsed.article == 4
    assert parsed.doc_ids == ["hotline"]


def test_title_without_the_state_prefix(locator):
    assert locator.parse("劳动合同法第十二条").doc_ids == ["labour"]
    assert locator.parse("《劳动合同法》第十二条").doc_ids == ["labour"]


def test_title_with_the_state_prefix_when_the_document_has_none(locator):
    assert locator.parse("中华人民共和国浙江省劳动保障监察条例第四条").doc_ids == ["inspection"]


def test_request_phrasing_around_the_title(locator):
    assert locator.parse("请给出浙江省劳动保障监察条例第四条的原文。").doc_ids == ["inspection"]


def test_fuzzy_title_with_a_typo(locator):
    parsed = locator.parse("浙江省劳动保障监察条列第四条的内容是什么？")
    assert parsed.article == 4
    assert parsed.doc_ids == ["inspection"]


def test_unrelated_title_is_not_resolved(locator):
    parsed = locator.parse("北京市市容环境卫生条例第四十一条的内容是什么？")
    assert parsed.article == 41
    assert parsed.doc_ids == []
    assert not parsed.found


def test_question_without_clause_or_title(locator):
    parsed = locator.parse("政治建设考察分为哪几个步骤？")
    assert parsed.article is None and parsed.chapter is None and parsed.doc_ids == []


def test_short_titles_resolve(locator):
    """公司法 / 刑法 are shorter than the 4 characters a contained title needs: they must still resolve."""
    assert locator.parse("刑法第二十条是什么").doc_ids == ["criminal"]
    assert locator.parse("《刑法》第二十条").doc_ids == ["criminal"]


def test_versions_of_one_law_newest_first(locator):
    parsed = locator.parse("公司法第十条")
    assert parsed.doc_ids == ["company-2023", "company-2018"]


def test_longest_title_wins_over_the_law_in_its_brackets(locator):
    """广东省实施《中华人民共和国消防法》办法 names the provincial rules, not the 消防法 inside its 《》."""
    question = "广东省实施《中华人民共和国消防法》办法中第二十三条规定了什么？"
    assert locator.parse(question).doc_ids == ["gd-fire"]
    assert locator.parse("广东省实施《消防法》办法第二十三条").doc_ids == ["gd-fire"]
    assert locator.parse("消防法第二十三条").doc_ids == ["fire"]


def test_date_suffix_of_titles_is_ignored():
    locator = ClauseLocator({"d": "北京市外商投资条例(2024-05-31)"})
    assert locator.parse("《北京市外商投资条例》第二条是怎么规定的？").doc_ids == ["d"]
