"""深度访谈提纲 on a small knowledge base: bank questions, evidence attached as 依据."""
import json
import re
import time

import pytest

from kb.container import build_services
from kb.drafting import DraftError, jaccard
from kb.drafting.question_bank import QuestionBank
from kb.models import Draft, DraftRequest
from tests.conftest import make_settings
from tests.kb.drafting.conftest import REPORT, check_invariants, questions_of


def _bank_texts(group: str, target: str) -> set[str]:
    bank = QuestionBank.load()
    out = {e.render(group, target).rstrip("？") for e in bank.interview}
    return out


def test_interview_draft_is_grounded_and_fast(small_kb):
    req = DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当", "民主集中制"], count=2)
    small_kb.drafts.draft(req)  # warm the retriever
    started = time.perf_counter()
    draft = small_kb.drafts.draft(req)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"a draft took {elapsed:.2f}s"
    check_invariants(small_kb, draft, ["政治担当", "民主集中制"])
    assert [s.dimension for s in draft.sections] == ["政治担当", "民主集中制"]
    assert draft.coverage["政治担当"]["questions"] == len(draft.sections[0].questions)
    assert "考察/某县考察报告" in draft.coverage["政治担当"]["sources"]
    data = draft.to_dict()
    assert Draft.from_dict(json.loads(json.dumps(data, ensure_ascii=False))).to_dict() == data


def test_evidence_is_attached_not_woven_into_the_question(small_kb):
    draft = small_kb.drafts.draft(DraftRequest(kind="interview", target="县委书记", interviewee="其他干部群众",
                                               dimensions=["政治担当"], count=3))
    bank = _bank_texts("其他干部群众", "县委书记")
    for q in questions_of(draft):
        for c in q.citations:
            if c.doc_id == "内置/五个政治评价框架":
                continue  # the shipped framework (our own words) may name the same angle
            quote = re.sub(r"[\W_]+", "", c.quote)
            text = re.sub(r"[\W_]+", "", q.text)
            # no run of 12 characters of the cited sentence pasted into the question
            assert not any(quote[i : i + 12] in text for i in range(max(0, len(quote) - 12))), (q.text, c.quote)
        assert q.text.rstrip("？") in bank or q.text.startswith(("请您谈谈在", "就", "您认为", "据您", "在")), q.text


def test_request_focus_words_order_the_questions(small_kb):
    # "问责" and "嘴严手软" in the request put the accountability question first
    draft = small_kb.drafts.draft(DraftRequest(
        kind="interview", target="县委书记", interviewee="其他干部群众", dimensions=["政治担当"], count=2,
        request="考察中发现某县问责存在“嘴严手软”线索，请起草补充访谈提纲"))
    first = draft.sections[0].questions[0]
    assert "问责" in first.text
    assert any("嘴严手软" in c.quote for c in first.citations)


def test_interviewee_phrasing_differs(small_kb):
    base = dict(kind="interview", target="县委书记", dimensions=["政治担当"], count=2)
    member = small_kb.drafts.draft(DraftRequest(interviewee="班子成员", **base))
    self_ = small_kb.drafts.draft(DraftRequest(interviewee="考察对象本人", **base))
    member_texts = [q.text for q in questions_of(member)]
    self_texts = [q.text for q in questions_of(self_)]
    # a team member is asked about the secretary; the secretary is asked about himself
    assert all("县委书记" in t for t in member_texts), member_texts
    assert not any("县委书记" in t for t in self_texts), self_texts
    assert all("您" in t for t in self_texts)
    assert member.interviewee == "班子成员" and self_.interviewee == "考察对象本人"


def test_fields_inferred_from_one_sentence_request(small_kb):
    draft = small_kb.drafts.draft(
        DraftRequest(request="请为县委书记起草一份面向班子成员的深度访谈提纲，重点了解民主集中制执行情况")
    )
    assert draft.kind == "interview"
    assert draft.target == "县委书记"
    assert draft.interviewee == "班子成员"
    assert [s.dimension for s in draft.sections] == ["民主集中制"]
    assert "班子成员" in draft.opening and "县委书记" in draft.opening  # who is interviewed about whom


def test_dimension_without_evidence_is_warned_not_dropped(small_kb):
    draft = small_kb.drafts.draft(
        DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当", "网络安全工作"])
    )
    names = [s.dimension for s in draft.sections]
    assert names == ["政治担当", "网络安全工作"]
    assert draft.sections[1].questions == []
    assert draft.coverage["网络安全工作"] == {"questions": 0, "sources": []}
    assert any("网络安全工作" in w and "没有找到" in w for w in draft.warnings)


def test_framework_only_dimension_is_flagged(small_kb):
    draft = small_kb.drafts.draft(
        DraftRequest(kind="interview", target="县委书记", interviewee="考察对象本人", dimensions=["激励保障"], count=2)
    )
    assert questions_of(draft), "the framework alone counts as evidence"
    assert draft.coverage["激励保障"]["sources"] == ["内置/五个政治评价框架"]
    assert any("激励保障" in w and "内置评价框架" in w for w in draft.warnings)


def test_unknown_kind_is_an_error(small_kb):
    with pytest.raises(DraftError):
        small_kb.drafts.draft(DraftRequest(kind="memo", target="县委书记", dimensions=["政治担当"]))


def test_duplicated_evidence_gives_no_near_duplicate_questions(tmp_path):
    services = build_services(make_settings(tmp_path / "kb"))
    try:
        services.ingest.ingest_texts(
            [("甲/报告", None, REPORT), ("乙/报告副本", None, REPORT)], doc_type="report"
        )
        draft = services.drafts.draft(
            DraftRequest(kind="interview", target="县委书记", interviewee="其他干部群众", dimensions=["政治担当"], count=4)
        )
        texts = [q.text for q in questions_of(draft)]
        assert texts
        quotes = [c.quote for q in questions_of(draft) for c in q.citations]
        assert len(set(quotes)) == len(quotes)
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                assert jaccard(a, b) < 0.6
        follow_ups = [f for q in questions_of(draft) for f in q.follow_ups]
        assert len(set(follow_ups)) == len(follow_ups)
        # no framework document in this knowledge base: nothing claims it as a source
        assert all("内置/五个政治评价框架" not in v["sources"] for v in draft.coverage.values())
    finally:
        services.close()
