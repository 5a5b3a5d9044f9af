"""Each metric on tiny hand-made cases: where it must be 0, where it must be 1, and a middle value."""
from __future__ import annotations

import math

import pytest

from eval import metrics as m


def docs(texts: dict[str, str]):
    return texts.get


# -- normalisation ------------------------------------------------------------------------------


def test_normalize_text_unifies_width_punctuation_and_whitespace():
    assert m.normalize_text("7 个步骤（准备、建组）：１２３？") == m.normalize_text("7个步骤(准备、建组):123?")
    assert m.normalize_text("“嘴严手软”。") == m.normalize_text('"嘴严手软".')
    assert m.normalize_text(" a\u3000b\n\tc ") == "abc"
    assert m.normalize_text(None) == ""
    assert m.normalize_text("甲，乙") != m.normalize_text("甲乙")


# -- retrieval ----------------------------------------------------------------------------------

QUOTE = "考察分为准备与建组、通报与动员、自评与访谈、查阅与核实等7 个步骤"
GOLD_TEXT = "前言。考察分为准备与建组、通报与动员、自评与访谈,查阅"  # holds the first 20 normalised chars


def qa_ranked(*docs_and_texts):
    return list(docs_and_texts)


def test_qa_target_uses_first_20_normalised_quote_characters():
    (target,) = m.qa_targets([{"doc": "d1", "quote": QUOTE}])
    assert target.needles == (m.normalize_text(QUOTE)[:20],)
    assert target.matches("d1", GOLD_TEXT)
    assert not target.matches("d2", GOLD_TEXT)  # right text, wrong document
    assert not target.matches("d1", "考察分为准备")  # quote start cut short


def test_source_hit_mrr_ndcg_zero_one_and_middle():
    targets = m.qa_targets([{"doc": "d1", "quote": QUOTE}])
    miss = ("d2", "无关内容")
    hit = ("d1", GOLD_TEXT)
    # 1: relevant chunk at rank 1
    assert m.source_hit_at_k([hit, miss], targets, 1) == 1.0
    assert m.mrr_at_k([hit, miss], targets) == 1.0
    assert m.ndcg_at_k([hit, miss], targets) == pytest.approx(1.0)
    # 0: nothing relevant
    assert m.source_hit_at_k([miss] * 10, targets, 5) == 0.0
    assert m.mrr_at_k([miss] * 10, targets) == 0.0
    assert m.ndcg_at_k([miss] * 10, targets) == 0.0
    # middle: relevant at rank 3
    ranked = [miss, miss, hit]
    assert m.source_hit_at_k(ranked, targets, 1) == 0.0
    assert m.source_hit_at_k(ranked, targets, 5) == 1.0
    assert m.mrr_at_k(ranked, targets) == pytest.approx(1 / 3)
    assert m.ndcg_at_k(ranked, targets) == pytest.approx(1 / math.log2(4))
    # beyond k it does not count
    assert m.mrr_at_k([miss] * 10 + [hit], targets, 10) == 0.0
    # no gold source: not applicable
    assert m.source_hit_at_k(ranked, [], 5) is None
    assert m.mrr_at_k(ranked, []) is None
    assert m.ndcg_at_k(ranked, []) is None


def test_ndcg_credits_each_gold_source_once():
    targets = m.qa_targets([{"doc": "a", "quote": "甲乙丙丁戊己庚辛"}, {"doc": "b", "quote": "子丑寅卯辰巳"}])
    a, b, miss = ("a", "…甲乙丙丁戊己庚辛…"), ("b", "子丑寅卯辰巳。"), ("c", "无关")
    assert m.ndcg_at_k([a, b], targets) == pytest.approx(1.0)
    # the same source twice does not fill the second ideal slot
    only_a = m.ndcg_at_k([a, a], targets)
    assert only_a == pytest.approx(1.0 / (1.0 + 1 / math.log2(3)))
    assert 0 < m.ndcg_at_k([miss, a, b], targets) < 1


def test_law_and_cmrc_targets():
    (law,) = m.law_targets([{"doc": "law/x", "article": "第四条", "quote": "市人民政府应当编制12345热线工作发展规划"}])
    assert law.matches("law/x", "第四条 市人民政府应当编制12345热线工作发展规划，推进…")
    assert not law.matches("law/x", "第四条 市人民政府应当编制")  # whole quote required
    assert not law.matches("law/y", "市人民政府应当编制12345热线工作发展规划")
    (cmrc,) = m.cmrc_targets(["踢爆", "一踢爆"])
    assert cmrc.matches("any-passage", "生命数耗完即算为踢爆。")
    assert not cmrc.matches("any", "泡泡堂")
    assert m.cmrc_targets(["", " "]) == []


# -- answers ------------------------------------------------------------------------------------


def test_key_point_recall():
    points = ["准备与建组", "通报与动员", "自评与访谈", "运用与反馈"]
    assert m.key_point_recall("分为准备与建组、通报与动员、自评与访谈、运用与反馈[1]。", points) == 1.0
    assert m.key_point_recall("分为准备与建组、通报与动员[1]。", points) == 0.5
    assert m.key_point_recall("知识库中没有找到能回答该问题的依据。", points) == 0.0
    # width / spaces normalised on both sides
    assert m.key_point_recall("7 个步骤(准备)", ["7个步骤（准备）"]) == 1.0
    assert m.key_point_recall("任何回答", []) is None
    assert m.missing_key_points("准备与建组", points[:2]) == ["通报与动员"]


def test_citation_markers_and_answer_span():
    assert m.strip_citation_markers("甲[1]乙[2,3]丙［4］丁【5】。") == "甲乙丙丁。"
    assert m.answer_span("  踢爆[1]。 ") == "踢爆。"


def test_answer_contains_gold():
    assert m.answer_contains_gold("生命数耗完即算为踢爆[1]。", ["踢爆"]) == 1.0
    assert m.answer_contains_gold("生命数耗完即算为失败。", ["踢爆", "一踢爆"]) == 0.0
    assert m.answer_contains_gold("", ["踢爆"]) == 0.0


@pytest.mark.parametrize(
    "prediction, golds, em, f1",
    [
        # exact after official punctuation removal
        ("踢爆", ["踢爆"], 1.0, 1.0),
        ("“踢爆”。", ["踢爆"], 1.0, 1.0),
        # sentence containing the answer: 5 tokens (。 removed), LCS 2 → P 2/5, R 1 → F1 4/7
        ("即算为踢爆。", ["踢爆"], 0.0, 4 / 7),
        # partial overlap: gold 韩国Nexon = 韩 国 nexon (3 tokens); pred Nexon开发 = nexon 开 发; LCS 1
        ("Nexon开发", ["韩国Nexon"], 0.0, 2 * (1 / 3) * (1 / 3) / (2 / 3)),
        # max over gold answers
        ("盛大游戏", ["腾讯", "盛大游戏"], 1.0, 1.0),
        ("毫不相干", ["踢爆"], 0.0, 0.0),
        ("", ["踢爆"], 0.0, 0.0),
    ],
)
def test_cmrc_em_f1_worked_examples(prediction, golds, em, f1):
    assert m.cmrc_em(prediction, golds) == em
    assert m.cmrc_f1(prediction, golds) == pytest.approx(f1)


def test_cmrc_f1_uses_contiguous_lcs_not_bag_of_characters():
    # 乙甲 shares both characters with 甲乙 but only one contiguous run of length 1
    assert m.cmrc_f1("乙甲", ["甲乙"]) == pytest.approx(0.5)


def test_mixed_segmentation_matches_official_behaviour():
    assert m.mixed_segmentation("2V2、4V4随机") == ["2v2", "、", "4v4", "随", "机"]
    # official quirk kept: a removed punctuation mark does not end a non-CJK run
    assert m.mixed_segmentation("2V2、4V4随机", remove_punctuation=True) == ["2v24v4", "随", "机"]
    assert m.mixed_segmentation("于1998年", remove_punctuation=False) == ["于", "1998", "年"]


def test_refusal_rates():
    outcomes = [(True, False), (True, True), (False, True), (False, False)]
    assert m.refusal_rate(outcomes) == 0.5
    assert m.false_refusal_rate(outcomes) == 0.5
    assert m.refusal_rate([(False, True)]) == 1.0
    assert m.refusal_rate([(False, False)]) == 0.0
    assert m.false_refusal_rate([(True, False)]) == 0.0
    assert m.false_refusal_rate([(True, True)]) == 1.0
    assert m.refusal_rate([(True, True)]) is None


def test_answered_precision_counts_what_the_green_badge_claims():
    outcomes = [
        (True, "answered", True),  # answered, holds the key points
        (True, "answered", False),  # answered, misses one
        (False, "answered", None),  # an unanswerable item given as answered
        (True, "related", False),  # not answered: not counted
        (False, "refused", None),
    ]
    assert m.answered_precision(outcomes) == pytest.approx(1 / 3)
    assert m.answered_precision([(True, "related", True)]) is None
    assert m.answered_precision([(True, "answered", None)]) is None  # nothing says what it asks


def test_citation_verbatim_rate_ignores_verified_flag():
    lookup = docs({"d1": "第一条 坚持执规必严、失责必问、问责必严。"})
    good = {"doc_id": "d1", "quote": "失责必问", "verified": False}
    bad = {"doc_id": "d1", "quote": "失责必究", "verified": True}
    ghost = {"doc_id": "nope", "quote": "失责必问", "verified": True}
    empty = {"doc_id": "d1", "quote": "", "verified": True}
    assert m.citation_verbatim_rate([good], lookup) == 1.0
    assert m.citation_verbatim_rate([bad, ghost, empty], lookup) == 0.0
    assert m.citation_verbatim_rate([good, bad], lookup) == 0.5
    assert m.citation_verbatim_rate([], lookup) is None


def test_citation_verbatim_is_exact_not_normalised():
    lookup = docs({"d1": "等7 个步骤"})
    assert m.quote_is_verbatim("等7 个步骤", lookup("d1"))
    assert not m.quote_is_verbatim("等7个步骤", lookup("d1"))


def test_unsupported_sentence_rate_and_sentences():
    answer = "第一句[1]。第二句[2]！第三句？第四句；"
    assert m.split_sentences(answer) == ["第一句", "第二句", "第三句", "第四句"]
    assert m.split_sentences("结论[1]。[2]") == ["结论"]
    assert m.unsupported_sentence_rate(answer, []) == 0.0
    assert m.unsupported_sentence_rate(answer, ["第三句", "第四句"]) == 0.5
    assert m.unsupported_sentence_rate(answer, ["a", "b", "c", "d", "e"]) == 1.0
    assert m.unsupported_sentence_rate("", []) is None


# -- drafts -------------------------------------------------------------------------------------


def q(text, follow_ups=(), purpose="", quotes=(), doc="d1"):
    return {
        "text": text,
        "follow_ups": list(follow_ups),
        "purpose": purpose,
        "citations": [{"n": i + 1, "doc_id": doc, "quote": quote} for i, quote in enumerate(quotes)],
    }


def draft(*sections, warnings=()):
    return {"sections": [{"dimension": d, "questions": qs} for d, qs in sections], "warnings": list(warnings)}


def test_dimension_coverage():
    d = draft(("政治担当", [q("您如何看待他的担当？")]), warnings=["知识库中未找到“政治自律”相关依据"])
    assert m.dimension_coverage(d, ["政治担当", "政治自律"]) == 1.0
    assert m.dimension_coverage(d, ["政治担当", "作风建设"]) == 0.5
    assert m.dimension_coverage(d, ["作风建设"]) == 0.0
    assert m.dimension_coverage(d, []) is None


def test_topic_coverage_looks_in_text_follow_ups_purpose_and_quotes():
    d = draft(
        (
            "政治担当",
            [
                q("他在整治不担当不作为中表现如何？", follow_ups=["问责副职多、正职少的原因？"]),
                q("班子运行情况如何？", purpose="核实一岗双责落实", quotes=["坚持执规必严、失责必问"]),
            ],
        )
    )
    topics = ["不担当不作为", "问责副职多、正职少", "一岗双责", "失责必问"]
    assert m.topic_coverage(d, topics) == 1.0
    assert m.topic_coverage(d, topics + ["嘴严手软", "三清单", "民主生活会", "深度访谈"]) == 0.5
    assert m.topic_coverage(d, ["嘴严手软"]) == 0.0
    assert m.topic_coverage(draft(), ["嘴严手软"]) == 0.0
    assert m.topic_coverage(d, []) is None


def test_cited_question_rate():
    lookup = docs({"d1": "坚持执规必严、失责必问、问责必严"})
    cited = q("问题一是什么样的？", quotes=["失责必问"])
    wrong = q("问题二是什么样的？", quotes=["失责必究"])
    none = q("问题三是什么样的？")
    assert m.cited_question_rate(draft(("x", [cited])), lookup) == 1.0
    assert m.cited_question_rate(draft(("x", [wrong, none])), lookup) == 0.0
    assert m.cited_question_rate(draft(("x", [cited, wrong]), ("y", [none, cited])), lookup) == 0.5
    assert m.cited_question_rate(draft(), lookup) is None


def test_near_duplicate_rate():
    a = "请谈谈该同志在落实全面从严治党主体责任方面的表现？"
    a2 = "请谈谈该同志在落实全面从严治党主体责任方面的情况？"
    b = "班子成员之间的团结协作情况怎样？"
    c = "对本地营商环境有什么意见和建议？"
    assert m.bigram_jaccard(a, a2) >= 0.6
    assert m.bigram_jaccard(a, b) < 0.6
    assert m.near_duplicate_rate(draft(("x", [q(a), q(b), q(c)]))) == 0.0
    assert m.near_duplicate_rate(draft(("x", [q(a)]), ("y", [q(a2)]))) == 0.5  # 1 pair / 2 questions
    assert m.near_duplicate_rate(draft(("x", [q(a), q(a2), q(b), q(c)]))) == 0.25
    assert m.near_duplicate_rate(draft()) is None


def test_format_ok_rate():
    good = [q("请谈谈班子团结协作的情况？"), q("您如何评价他的政治担当?"), q("在作风建设方面还有哪些不足？")]
    assert m.format_ok_rate(draft(("x", good)), "interview_outline") == 1.0
    assert m.format_ok_rate(draft(("x", good)), "talk_outline") == 1.0
    bad = [q("太短？"), q("这句话没有问号结尾而且足够长。"), q("问" * 200 + "？")]
    assert m.format_ok_rate(draft(("x", bad)), "interview_outline") == 0.0
    assert m.format_ok_rate(draft(("x", good[:2] + bad[:2])), "interview_outline") == 0.5
    # talk outlines must have 3–4 questions: two well-formed questions still fail
    assert m.format_ok_rate(draft(("x", good[:2])), "talk_outline") == 0.0
    assert m.format_ok_rate(draft(("x", good[:2])), "interview_outline") == 1.0
    assert m.format_problems(draft(("x", good * 2)), "talk") == ["talk outline has 6 questions (want 3–4)"]
    assert m.format_ok_rate(draft(), "talk_outline") is None


# -- definitions --------------------------------------------------------------------------------


def test_every_reported_metric_has_a_definition():
    from eval.runner import JUDGE_METRICS, KIND_METRICS

    for names in KIND_METRICS.values():
        for name in names:
            assert name in m.METRIC_DEFINITIONS
    for name in JUDGE_METRICS:
        assert name in m.METRIC_DEFINITIONS
    text = m.definitions_markdown(["mrr@10"])
    assert "**mrr@10**" in text and "**ndcg@10**" not in text and "NFKC" in text


def test_mean_and_ratio_skip_missing():
    assert m.mean([None, 1.0, 0.0]) == 0.5
    assert m.mean([None]) is None
    assert m.ratio(1, 0) is None
