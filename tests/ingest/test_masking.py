"""Person-name masking: names become the placeholder, titles and ordinary policy words stay."""
from __future__ import annotations

import pytest

from ingest.masking import mask_person_names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张三书记主持召开会议。", "某某书记主持召开会议。"),
        ("李书记和王县长一起到村里调研。", "某某书记和某某县长一起到村里调研。"),
        ("王某某同志对问题作了说明。", "某某同志对问题作了说明。"),
        ("请张某说明有关情况。", "请某某说明有关情况。"),
        ("考察组与陈明华进行了谈话。", "考察组与某某进行了谈话。"),
        ("刘建国同志在会上讲话。", "某某同志在会上讲话。"),
        ("赵副县长分管农业工作。", "某某副县长分管农业工作。"),
        ("市委书记杨晓军说,作为区委书记要带头。", "市委书记某某说,作为区委书记要带头。"),
    ],
)
def test_names_are_masked_and_titles_kept(text, expected):
    assert mask_person_names(text) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "建立健全政治标准评价体系,坚决维护党中央权威和集中统一领导。",
        "区委书记带头查摆问题,有关同志要向县长汇报整改情况。",
        "现任书记和班子成员要弘扬清正廉洁的价值观,杜绝形式主义。",
        "坚持用习近平新时代中国特色社会主义思想武装头脑。",
        "对于某些问题,各级纪检监察机关要严肃处理,精准施策。",
        "吉林省长期坚持从严治党,浙江某市开展了专项整治。",
        "考察组实地察看基层党建点、党性教育基地、重点工程项目。",
    ],
)
def test_policy_sentences_are_unchanged(sentence):
    assert mask_person_names(sentence) == sentence


def test_custom_placeholder():
    assert mask_person_names("张三书记讲话", placeholder="XX") == "XX书记讲话"


def test_empty_text():
    assert mask_person_names("") == ""
