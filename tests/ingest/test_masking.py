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


# --- NameMasker: a document's names, everywhere they occur, each with its own placeholder -----------

# 32 invented names in the forms inspection reports use them: before 同志 and titles, compound
# surnames, surnames that are everyday characters (常 于 向 任 …), lists with 、, and table cells.
REPORT_NAMES = [
    "李建国", "周文斌", "陈晓燕", "王海涛", "欧阳明辉", "于洪涛", "常建军", "司马春来", "诸葛文华", "上官秀梅",
    "向志刚", "任红梅", "关海鹏", "安晓东", "刘德胜", "赵丽萍", "孙卫东", "马国强", "朱玉兰", "胡建华",
    "郭志远", "何秀英", "高振宇", "林静", "罗永红", "郑伟", "梁丽", "谢东升", "宋春燕", "唐晓明",
    "韩冰", "冯立新",
]
REPORT = "\n".join([
    "考察组组长由李建国同志担任，成员包括周文斌、陈晓燕、郭志远等5名同志。",
    "王海涛同志，市委副书记、市长。民主测评优秀率为82.7%。",
    "欧阳明辉同志，市委常委、常务副市长。对欧阳明辉同志进行提醒谈话。",
    "于洪涛同志，市委常委、组织部部长。常建军同志，市委常委、宣传部部长。",
    "司马春来副市长分管交通工作，诸葛文华主任列席会议，上官秀梅同志作了发言。",
    "向志刚同志、任红梅同志、关海鹏同志、安晓东同志参加了谈话。",
    "刘德胜书记主持会议，赵丽萍部长、孙卫东局长作了表态发言。",
    "参加座谈的有马国强、朱玉兰、胡建华、何秀英等同志。",
    "高振宇同志反映，林静同志、罗永红同志工作作风扎实。",
    "郑伟、梁丽、谢东升同志分别汇报了分管工作。",
    "宋春燕同志和唐晓明同志负责材料汇总，韩冰同志、冯立新同志负责联络。",
    "民主测评主要结果，姓名：于洪涛，职务：市委常委、组织部部长，优秀率：79.4%。",
    "民主测评主要结果，姓名：欧阳明辉，职务：市委常委、常务副市长，优秀率：61.3%。",
    "区委书记带头查摆问题，有关同志要向县长汇报整改情况，全体同志参加，班子同志要带头。",
])


def test_no_name_of_the_test_corpus_leaks():
    from ingest.masking import NameMasker

    assert len(REPORT_NAMES) >= 30
    masked = NameMasker().mask(REPORT)
    leaked = [name for name in REPORT_NAMES if name in masked]
    assert leaked == []
    # titles and ordinary words stay
    assert "区委书记带头查摆问题，有关同志要向县长汇报整改情况，全体同志参加，班子同志要带头。" in masked
    assert "市委常委、常务副市长" in masked


def test_the_same_person_keeps_one_placeholder():
    from ingest.masking import NameMasker

    masker = NameMasker()
    masked = masker.mask(REPORT)
    who = masker.names["欧阳明辉"]
    assert who.startswith("某") and who != "某某"
    assert masked.count(who) == 3  # twice in the body, once in the table, all the same person
    assert masker.names["于洪涛"] != who
    assert len({masker.names[n] for n in REPORT_NAMES}) == len(REPORT_NAMES)


def test_compound_surname_is_masked_whole():
    from ingest.masking import NameMasker

    masked = NameMasker().mask("欧阳明辉同志分管财政金融工作。")
    assert "辉" not in masked and masked.endswith("同志分管财政金融工作。")


def test_fixed_placeholder_when_not_consistent():
    from ingest.masking import NameMasker

    masked = NameMasker("某某", consistent=False).mask("王海涛同志和常建军同志参加。")
    assert masked == "某某同志和某某同志参加。"


# --- names that are also dictionary words (万里, 高峰, 向阳 …) and the words they must not take -------

WORD_NAMES = ["万里", "方圆", "高峰", "白洁", "常青", "向阳", "甘露", "包文正", "左明", "任红", "安东", "司徒静", "常立新"]
WORD_NAME_REPORT = "\n".join([
    "考察组组长由林振华同志担任，干部一科科长万里同志任副组长，成员有方圆、高峰、白洁。",
    "副组长为司徒静同志，成员有包文正、甘露、左明。",
    "任红、安东同志分别分管农业农村和城乡建设工作。",
    "常青同志，县政府党组成员，协助分管招商引资。于海波同志，县长助理；向阳同志，县政府办公室主任。",
    "执纪执法较为严格。常立新同志，区委常委、组织部部长。",  # 立新 alone reads as an adverb to jieba
])
NOT_PEOPLE = [
    "要关心同志们的工作和生活。", "他和其他同志一起工作。", "全县同志要团结一致。", "党员同志要带头。",
    "组织上任用同志要慎重。", "要包容同志的缺点。", "文明办主任参加会议。", "余下同志继续工作。",
    "高峰期间加强值守。", "上市公司的股东、实际控制人、董事、监事、高级管理人员。",
    "干部科科长万里同志兼任副组长。",  # the verb before a title is no name: only 万里 goes
]


def test_dictionary_word_names_are_masked_in_a_persons_context():
    from ingest.masking import NameMasker

    masked = NameMasker().mask(WORD_NAME_REPORT)
    assert [n for n in WORD_NAMES if n in masked] == []
    assert "任副组长" in masked and "县政府办公室主任" in masked


@pytest.mark.parametrize("sentence", NOT_PEOPLE[:-1])
def test_words_before_comrade_or_titles_that_name_no_one_stay(sentence):
    from ingest.masking import NameMasker

    assert NameMasker().mask(sentence) == sentence


def test_a_verb_before_a_title_is_not_taken_into_the_name():
    from ingest.masking import NameMasker

    assert NameMasker().mask(NOT_PEOPLE[-1]) == "干部科科长某甲同志兼任副组长。"


def test_rarer_surnames_before_a_cue_and_more_than_ten_people():
    from ingest.masking import NameMasker

    text = "副组长为钟离秀英同志。\n牛犇同志，县委常委。"  # a compound surname; 牛 only before a cue
    assert NameMasker().mask(text) == "副组长为某甲同志。\n某乙同志，县委常委。"
    assert NameMasker().mask("牛奶产业发展迅速，符合条件的单位应当报送。") == "牛奶产业发展迅速，符合条件的单位应当报送。"
    people = NameMasker()
    names = ["李建国", "周文斌", "陈晓燕", "王海涛", "赵德明", "孙丽华", "吴永刚", "郑晓东", "冯玉兰", "何志强", "许文涛", "邓春梅"]
    masked = people.mask("、".join(names) + "同志参加了会议。")
    assert masked.startswith("某甲、某乙") and "某癸、某子、某丑同志" in masked


def test_word_names_after_a_title_in_a_list_or_a_name_cell_are_masked():
    from ingest.masking import NameMasker

    # 雷鸣 and 方正 are also words, 柳 a surname that is also a tree: the list is surely of people
    # ("…、…同志", "成员有…"), and a cell under 姓名 is a name
    text = ("副局长雷鸣、方正同志分别分管执法监督和应急指挥。\n成员有江涛、林海、柳青。\n"
            "民主测评结果，姓名：雷鸣，职务：副局长，优秀率：77.4%。")
    masked = NameMasker().mask(text)
    assert [n for n in ("雷鸣", "方正", "江涛", "林海", "柳青") if n in masked] == [], masked
    assert masked.startswith("副局长某甲、某乙同志") and "姓名：某甲，" in masked
    for plain in ("全场掌声雷鸣，柳树成荫。", "季度报告按时报送，尚未完成，景区管理规范，谷物收购。"):
        assert NameMasker().mask(plain) == plain
