"""Text helpers: near duplicates, findings vs disposal measures, question punctuation."""
from kb.drafting import finding_score, jaccard, remove_near_duplicates
from kb.drafting.text import fill, is_disposal, is_near_duplicate, question_mark
from kb.models import DraftQuestion


def test_remove_near_duplicates_keeps_first_of_each_group():
    a = DraftQuestion(text="请您谈谈在整治不担当不作为中是如何压实正职责任的，能否举一个具体事例？")
    b = DraftQuestion(text="请您谈谈在整治不担当不作为中是怎样压实正职责任的，能否举一个具体事例？")
    c = DraftQuestion(text="“三重一大”事项是怎样集体研究决定的？")
    kept, dropped = remove_near_duplicates([a, b, c], 0.6)
    assert kept == [a, c] and dropped == 1
    assert jaccard(a.text, b.text) >= 0.6 > jaccard(a.text, c.text)


def test_near_duplicates_are_also_judged_with_punctuation_kept():
    # two template questions that differ only in a short phrase: punctuation makes them alike
    a = "据您了解，市委书记在支持民营企业发展壮大方面具体是怎样做的，能否讲一件您亲历或亲见的事情？"
    b = "据您了解，市委书记在与企业交往中守住纪律底线方面具体是怎样做的，能否讲一件您亲历或亲见的事情？"
    assert is_near_duplicate(a, [b], 0.6)


def test_a_disposal_measure_is_not_a_finding():
    measure = "对政治建设不力、政治能力薄弱的班子，及时对一把手和班子集体谈话提醒，责令召开专题民主生活会剖析整改。"
    assert is_disposal(measure) and finding_score(measure) < 0
    assert finding_score("考察组发现该县整治不担当不作为，问责副职多、正职少。") > 0


def test_question_mark_and_fill():
    assert question_mark("怎样看待。") == "怎样看待？"
    assert question_mark("怎样看待?") == "怎样看待？"
    assert fill("{target}是怎样做的，{unknown}", target="县委书记") == "县委书记是怎样做的，{unknown}"
