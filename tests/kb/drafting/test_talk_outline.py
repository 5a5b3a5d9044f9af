"""谈话提纲: opening (who talks to whom, one to one), 3–4 questions, 整改要求, 谈后安排; problems
of this target stated only from the user's own materials."""
from kb.container import build_services
from kb.drafting.talk_outline import RECTIFICATION_SECTION
from kb.models import DraftRequest
from tests.conftest import make_settings
from tests.kb.drafting.conftest import REPORT, check_invariants, questions_of

OWN_FINDINGS = """# 关于某县委书记的日常监督情况

## 一、存在的问题

县委常委会近两年没有专题研究过规范政府举债融资的问题，债务风险等级较高。
个别班子成员履行“一岗双责”不够有力，对分管部门的问题失之于宽。
"""


def test_who_talks_to_whom_is_taken_from_the_request(small_kb):
    draft = small_kb.drafts.draft(DraftRequest(
        kind="talk", interviewee="班子成员",  # left over from the interview form: ignored for a talk
        request="县委书记与乡镇党委书记开展党内政治监督谈话，请起草谈话提纲，重点谈政治担当和民主集中制"))
    assert draft.target == "乡镇党委书记" and draft.speaker == "县委书记"
    assert draft.interviewee == ""
    assert "县委书记与乡镇党委书记" in draft.opening and "一对一" in draft.opening
    texts = [q.text for q in questions_of(draft)]
    assert all("你作为乡镇党委书记" in t for t in texts), texts
    assert not any("您作为县委书记" in t for t in texts)
    check_invariants(small_kb, draft, [])


def test_without_own_materials_other_places_findings_are_evidence_not_accusations(small_kb):
    draft = small_kb.drafts.draft(DraftRequest(
        request="参照安徽做法，为与某县委书记开展党内政治监督谈话起草一份谈话提纲，并写明整改要求"))
    assert draft.kind == "talk" and draft.target == "县委书记"
    check_invariants(small_kb, draft, [])
    assert draft.sections[-1].dimension == RECTIFICATION_SECTION
    for q in questions_of(draft):
        assert not q.text.startswith(("有关材料反映", "考察中发现")), q.text
    issues = [q for s in draft.sections if s.dimension != RECTIFICATION_SECTION for q in s.questions]
    assert all(q.text.startswith("对照") for q in issues)  # phrased against the standard it rests on
    assert draft.closing, "整改要求 asked for: the arrangements after the talk are written"


def test_escalation_ladder_when_the_request_asks(small_kb):
    draft = small_kb.drafts.draft(DraftRequest(
        request="市委书记与某县委书记谈话，重点谈政治担当，写明整改要求和整改不力时的后续措施"))
    ladder = [c for c in draft.closing if "组织调整" in c]
    assert ladder and "谈话提醒" in ladder[0] and "专题民主生活会" in ladder[0] and "专项整治" in ladder[0]
    assert ladder[0].index("谈话提醒") < ladder[0].index("专题民主生活会") < ladder[0].index("专项整治") < ladder[0].index("组织调整")


def test_own_materials_state_the_problem_quoted_whole(tmp_path):
    services = build_services(make_settings(tmp_path / "kb"))
    try:
        services.ingest.ensure_framework()
        services.ingest.ingest_texts([("考察/某县考察报告", None, REPORT)], doc_type="report")
        services.ingest.ingest_texts([("监督/某县委书记日常监督", None, OWN_FINDINGS)], doc_type="report", collection="本人材料")
        req = DraftRequest(kind="talk", target="县委书记", dimensions=["政治定力", "政治担当"],
                           request="与某县委书记开展政治监督谈话", materials=["本人材料"])
        draft = services.drafts.draft(req)
        check_invariants(services, draft, ["政治定力", "政治担当"])
        stated = [q for q in questions_of(draft) if q.text.startswith(("有关材料反映", "考察中发现"))]
        assert stated, [q.text for q in questions_of(draft)]
        for q in stated:
            finding = q.citations[0]
            assert finding.doc_id == "监督/某县委书记日常监督" and finding.verified
            body = finding.quote.rstrip("。")
            assert f"“{body}。”" in q.text  # quoted whole and marked as a quotation
        # without the materials, the same request states nothing about this person
        plain = services.drafts.draft(DraftRequest(kind="talk", target="县委书记", dimensions=["政治定力", "政治担当"],
                                                   request="与某县委书记开展政治监督谈话"))
        assert not any(q.text.startswith(("有关材料反映", "考察中发现")) for q in questions_of(plain))
    finally:
        services.close()


def test_the_web_form_passes_materials_through():
    from kb.web.service import make_draft_request

    req = make_draft_request({"kind": "talk", "target": "县委书记", "materials": "本人材料，监督/某县委书记日常监督"})
    assert req.materials == ["本人材料", "监督/某县委书记日常监督"]
