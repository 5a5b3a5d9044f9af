"""Fillers: a span of the slot's type, said of the relation, bound to the target and every qualifier.

Sentences written for this test: each near miss is one the answerer used to give as 已回答 on outside
data (a sentence with no date for 什么时候, a forecast for an outcome, another year, another version,
another work's 导演, a page that repeats the question …), next to the sentence that does answer.
"""
from __future__ import annotations

import pytest

from kb.answering.ask import SlotData, read_ask
from kb.answering.fillers import FillerFinder
from kb.answering.lexicon import AnswerLexicon
from kb.answering.question_analysis import analyse_question
from kb.language.ner import EntityTagger
from kb.retrieval.tokenizer import ChineseTokenizer


@pytest.fixture(scope="module")
def fill():
    tokenizer = ChineseTokenizer()
    lex = AnswerLexicon.load()
    data = SlotData.load()
    tagger = EntityTagger("lac")
    finder = FillerFinder(lex, data, tokenizer, tagger)

    def run(question: str, sentence: str, context: str = "", about: str = ""):
        analysis = analyse_question(question, tokenizer, lex)
        ask = read_ask(question, analysis, tokenizer, data, tagger)
        return finder.fill(ask, analysis, sentence, context, about)

    return run


@pytest.mark.parametrize(
    "question, sentence, filler",
    [
        ("《长河》的导演是谁？", "《长河》是2019年上映的一部剧情片，由李青山执导。", "李青山"),
        ("《长河》的导演是谁？", "电影《长河》的导演是李青山。", "李青山"),
        ("星河三号的发射时间？", "星河三号于2020年11月24日在东岭发射场发射升空。", "2020年11月24日"),
        ("星河三号的发射时间？", "北京时间10月17日7时49分，执行交会对接任务的星河三号飞船发射升空。", "10月17日7时49分"),
        ("东岭国的首都在哪？", "金陵是东岭国的首都，也是全国政治和文化中心。", "金陵"),
        ("2010年世界杯的举办国在哪？", "南非也是2010年足球世界杯的举办国。", "南非"),
        ("2019年中国经济增长了多少？", "2019年我国GDP近百万亿元，增长6.1%，实现预期目标。", "6.1%"),
        ("东岭联盟有多少个成员国？", "东岭联盟现有10个成员国。", "10个"),
        ("谁刺杀了青岚？", "青岚被刺杀，刺客的名字是约翰·威尔克斯·布斯。", "约翰·威尔克斯·布斯"),
        ("青云公司的新名字是什么？", "青云公司宣布更名为Meta。", "Meta"),
        ("苏联解体在哪一年？", "1991年苏联解体后，各国经济开始转型。", "1991年"),
        # the date of a release at home, named with the holiday it fell on
        ("《长河》国内上映日期", "《长河》于2月5日大年初一在全国上映。", "2月5日大年初一"),
        # a number written with thousands separators is one number
        ("东岭县共有多少名党员？", "截至2023年底，东岭县共有党员6,476名。", "6,476名"),
        # the whole, stated before the part that 其中 introduces
        ("东岭市共有多少名党员？", "东岭市共有党员12万名，其中女性党员3万名。", "12万名"),
        # 被谁: the agent of the verb after it
        ("青岚是被谁刺杀的？", "1865年，青岚被约翰·布斯刺杀。", "约翰·布斯"),
        ("首届东岭艺术节在哪一年举办？", "首届东岭艺术节于2015年在金陵举办。", "2015年"),
        ("李明的第一部小说是哪一年出版的？", "李明的第一部小说于1998年出版。", "1998年"),
        ("《远山》的原唱是谁？", "《远山》由周小梅原唱，后被多位歌手翻唱。", "周小梅"),
        ("千叶蓍的别名是什么？", "千叶蓍又名锯草，是菊科植物。", "锯草"),
        # a year with its era; a date before 被 is still when it was done
        ("东岭城是何时建立的？", "东岭城是罗马人在公元前25年建立的。", "公元前25年"),
        ("李青什么时候被挑选为队长？", "李青中学毕业后，2007年被挑选为队长。", "2007年"),
        # a verb of being or coming from somewhere before 哪里 asks for a place
        ("苏佩维埃尔出生于哪里？", "苏佩维埃尔生于乌拉圭，后移居法国。", "乌拉圭"),
        # the quantity's noun a few words before the question word
        ("小王的体重大约是多少？", "小王身高一米八，体重大约75公斤。", "75公斤"),
        # the dimension asked, among others in metres
        ("青石峡谷有多长？", "青石峡谷是一座长702米，深80米的峡谷。", "702米"),
    ],
)
def test_a_sentence_that_fills_the_slot(fill, question, sentence, filler):
    result = fill(question, sentence)
    assert result.ok, result.reason
    assert result.filler.text == filler
    assert sentence[result.filler.start : result.filler.end] == filler  # offsets into the sentence


@pytest.mark.parametrize(
    "question, sentence, why",
    [
        # the asked slot is empty: a 时间 question and a sentence with no date
        ("星河三号的发射时间？", "星河三号的发射引起了广泛关注。", "states no date"),
        # a forecast is no outcome
        ("2019年中国经济增长了多少？", "中国经济增速正在放缓，预计2019年增长6.2%。", "forecast"),
        ("《长河》的上映时间？", "《长河》将于2021年2月12日上映。", "forecast"),
        # another year
        ("2018年中国城镇新增就业了多少人？", "2017年中国城镇新增就业1300多万人。", "another year"),
        ("2018年女排世锦赛在哪举办？", "2022年女排世锦赛由荷兰和波兰联合举办。", "another year"),
        # one province's figure for the nation's
        ("2018年中国城镇新增就业了多少人？", "2018年，全省城镇新增就业136.8万人。", "scope"),
        # the right attribute of another thing
        ("小米MIX1的处理器是什么？", "小米MIX Fold2折叠手机搭载骁龙8处理器。", ""),
        ("小米MIX1的处理器是什么？", "小米Max搭载骁龙652处理器，小米MIX1推荐内容见下。", "小米Max"),  # another line of the maker
        # another dimension: the depth for the length asked (metres measure both)
        ("青石峡谷有多长？", "青石峡谷是一座长度不详、深80米的峡谷。", "深"),
        # an empty quotation names nothing
        ("东岭公开赛的官方名称是什么？", "东岭公开赛，官方名称为「」，是一年一度的比赛。", ""),
        # a name the page cut off ("詹姆斯· ...") names nobody in full
        ("《长河》的编剧是谁？", "近日，《长河》的编剧兼导演罗伯特· ...", ""),
        ("GPT-3的发布时间", "GPT-3似乎不仅仅是语言模型。OpenAI已经于2019年发布了三种GPT-2模型。", ""),
        ("电影《波西米亚狂想曲》的导演是谁？", "拉米·马雷克凭《波西米亚狂想曲》获奖，《罗马》是阿方索·卡隆导演的作品。", ""),
        ("《三体》的作者是谁？", "而《三体秘密》一书当中，作者解读出来的却是这一切是白沐霖的一个阴谋。", ""),
        ("2018年谁当选东岭市市长？", "黄郁芬2018年当选东岭市市议员。", "does not say 市长"),
        ("东岭联盟有多少个成员国？", "东岭联盟成立时有5个创始成员国。", "创始成员国"),
        ("东岭联盟有多少个成员国？", "美国所有50个州都向东岭联盟出口。", "does not count"),
        # a page that only repeats the question
        ("速度与激情8什么时候在内地上映？", "您在查找“速度与激情8什么时候在内地上映”吗？", "repeats the question"),
        # who it was done to is not who did it
        ("谁暗杀了青岚？", "林肯被刺杀将近100年后，青岚遇刺身亡。", ""),
        # the date of another event told before or after this one
        ("里约奥运会开幕日期是什么时候？", "当地时间8月3日，代表团在里约奥运会开幕式前前往圣保罗训练营。", ""),
        # a name that only qualifies the title asked about
        ("2020赛季中超冠军是谁？", "2020赛季，广州队获得亚冠联赛冠军资格。", ""),
        # a time for 什么时候 that is part of a name, not a date of the event
        ("《长河》的上映时间？", "如今电影院复工，在这样的时间点上映带有春节相关元素的电影《长河》显然是不合适的。", ""),
        # one place asked (台湾), another place of the same side named (日本)
        ("《长河》在台湾上映的时间？", "《长河》于2019年2月5日在日本上映。", "日本"),
        # a time said before, pointed back to ("随后", "同时"), is no time this sentence states
        ("星河三号什么时候发射？", "星河三号随后发射升空。", "states no date"),
        ("星河三号什么时候发射？", "星河三号同时发射升空。", "states no date"),
        # a part (其中…) is not the whole
        ("东岭市共有多少名党员？", "东岭市党员队伍不断壮大，其中女性党员3,000名。", "a part"),
        # 首届 / 第一部 asked: the evidence must say it is that one
        ("首届东岭艺术节在哪一年举办？", "2019年，东岭艺术节在金陵举办。", "首届"),
        ("李明的第一部小说是哪一年出版的？", "李明的第二部小说于2001年出版。", "第二部小说"),
    ],
)
def test_a_sentence_that_does_not_fill_the_slot(fill, question, sentence, why):
    result = fill(question, sentence)
    assert not result.ok, (result.filler, question, sentence)
    assert why in result.reason, result.reason


def test_a_subject_inherited_from_text_naming_two_versions_binds_neither(fill):
    question = "青云MX1的处理器是什么？"
    sentence = "首发的天枢855处理器是上半年所有旗舰通用的处理器。"
    # the text before names only the asked version: the sentence inherits it
    assert fill(question, sentence, context="青云MX1发布会今天举行。").ok
    # it names the asked one and another: which one the sentence speaks of is unsaid
    result = fill(question, sentence, context="此次的青云MX4能否重现青云MX1的惊艳，就变得至关重要了。")
    assert not result.ok and "another version" in result.reason, result.reason


def test_a_qualifier_is_inherited_from_the_text_before(fill):
    question = "2019年中国经济增长了多少？"
    # the year said in the sentence before: bound
    assert fill(question, "全年国内生产总值增长6.1%。", context="2019年国民经济运行总体平稳。").ok
    # no year anywhere before: the sentence does not say it is about 2019
    assert "2019" in fill(question, "全年国内生产总值增长6.1%。").reason
    # a page's English date says when it was written, not what year it is about
    assert not fill(question, "Jan 18, 2020 ... 中国经济增长连续18个季度保持在6%—7%之间。").ok


def test_a_role_fills_a_question_for_who_is_responsible(fill):
    question = "政治监督谈话由谁主持？"
    sentence = "谈话由省委主要负责人主持，省纪委监委协助组织实施。"
    # the passage's heading says what the sentence's 谈话 is
    result = fill(question, sentence, context="江淮省党内政治监督谈话情况\n")
    assert result.ok and result.filler.text == "省委主要负责人", result.reason
    assert not fill(question, sentence).ok  # nothing says which 谈话


def test_a_sentence_pointing_back_takes_its_subject_from_the_passage(fill):
    question = "《长河》的导演是谁？"
    sentence = "该片由李青山执导。"
    assert not fill(question, sentence).ok
    assert fill(question, sentence, about="《长河》是2019年上映的剧情片。该片由李青山执导。").filler.text == "李青山"


def test_relative_times_fill_a_vague_when(fill):
    question = "党内政治监督谈话一般安排在什么时候开展？"
    result = fill(question, "党内政治监督谈话每年一般不少于1次，时间安排在领导班子民主生活会前。")
    assert result.ok and "民主生活会前" in result.filler.text
