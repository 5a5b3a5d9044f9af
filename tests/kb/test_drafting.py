"""DraftService: grounded interview / talk outlines, extractive and with a (fake) language model."""
from __future__ import annotations

import json
import re
import time
import unicodedata
from pathlib import Path

import pytest

from kb.container import build_services
from kb.drafting import (
    DraftError,
    infer_kind,
    infer_target,
    jaccard,
    remove_near_duplicates,
)
from kb.models import Draft, DraftQuestion, DraftRequest
from kb.settings import load_settings

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SEEDS = SHARED / "corpus" / "seeds"
DEV_DRAFTS = SHARED / "eval" / "domain_drafts_dev.jsonl"

# A small report in the style of the seed documents, so most tests run without ../shared.
REPORT = """# 某县政治建设考察情况报告

## 一、发现的问题

考察组发现该县整治不担当不作为，问责副职多、正职少，“嘴严手软”。
有的班子成员履行“一岗双责”不够有力，对分管部门干部的教育管理监督不到位。
县委常委会没有听过有关农业工作的汇报，对农业现代化没有研究出明确的规划纲要和具体的部署措施。

## 二、民主集中制执行情况

部分常委会会议记录特别是“三重一大”决策记录过于简单，看不出研究讨论过程特别是发表不同意见的情况。
县委认真执行民主集中制，落实集体领导与个人分工负责制，明确每名班子成员的责任清单、权力清单和负面清单。
"""


def _questions(draft: Draft) -> list[DraftQuestion]:
    return [q for s in draft.sections for q in s.questions]


def _norm_topic(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "、": ",", "。": ".", "，": ","}))
    return re.sub(r"\s+", "", text)


def _check_draft_invariants(services, draft: Draft, requested: list[str]) -> None:
    questions = _questions(draft)
    assert questions, draft.warnings
    for q in questions:
        assert q.text.endswith("？"), q.text
        assert 1 <= len(q.follow_ups) <= 2
        assert all(f.endswith("？") for f in q.follow_ups)
        assert q.purpose
        verified = [c for c in q.citations if c.verified]
        assert verified, q.text
        for c in verified:
            assert c.quote in services.store.get_document_text(c.doc_id)
    texts = [q.text for q in questions]
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            assert jaccard(a, b) < services.settings.draft.near_duplicate_jaccard, (a, b)
    names = [s.dimension for s in draft.sections]
    for dim in requested:
        assert dim in names or any(dim in w for w in draft.warnings), dim
    if draft.kind == "talk":
        assert 3 <= len(questions) <= 4
        assert draft.opening


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    home = tmp_path_factory.mktemp("draft_small")
    services = build_services(load_settings(home=str(home), env={}))
    services.ingest.ensure_framework()
    services.ingest.ingest_texts([("考察/某县考察报告", None, REPORT)], doc_type="report")
    yield services
    services.close()


@pytest.fixture(scope="module")
def seeds_kb(tmp_path_factory):
    if not SEEDS.is_dir() or not DEV_DRAFTS.is_file():
        pytest.skip(f"shared data not found at {SHARED} (../shared next to the repository)")
    home = tmp_path_factory.mktemp("draft_seeds")
    services = build_services(load_settings(home=str(home), env={}))
    summary = services.ingest.ingest_paths([SEEDS])
    assert not summary["failed"], summary
    yield services
    services.close()


# --------------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------------
def test_infer_kind_and_target_from_one_sentence():
    assert infer_kind("为省委主要负责人与某市委书记开展党内政治监督谈话起草一份谈话提纲") == "talk"
    assert infer_kind("起草一份面向班子成员的深度访谈提纲") == "interview"
    assert infer_kind("政治担当") == ""
    assert infer_target("为省委主要负责人与某市委书记开展党内政治监督谈话起草一份谈话提纲") == "市委书记"
    assert infer_target("请起草一份向考察对象（县委书记）通报反馈考察结果的谈话提纲") == "县委书记"
    assert infer_target("对县纪委副书记等其他干部的补充访谈，核实县委主要负责人的担当") == "县委主要负责人"


def test_remove_near_duplicates_keeps_first_of_each_group():
    a = DraftQuestion(text="请您谈谈在整治不担当不作为中是如何压实正职责任的，能否举一个具体事例？")
    b = DraftQuestion(text="请您谈谈在整治不担当不作为中是怎样压实正职责任的，能否举一个具体事例？")
    c = DraftQuestion(text="“三重一大”事项是怎样集体研究决定的？")
    kept, dropped = remove_near_duplicates([a, b, c], 0.6)
    assert kept == [a, c] and dropped == 1
    assert jaccard(a.text, b.text) >= 0.6 > jaccard(a.text, c.text)


# --------------------------------------------------------------------------------------------
# extractive drafting on a small knowledge base
# --------------------------------------------------------------------------------------------
def test_interview_draft_is_grounded_and_fast(small_kb):
    req = DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当", "民主集中制"], count=2)
    small_kb.drafts.draft(req)  # warm the retriever
    started = time.perf_counter()
    draft = small_kb.drafts.draft(req)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"a draft took {elapsed:.2f}s"
    _check_draft_invariants(small_kb, draft, ["政治担当", "民主集中制"])
    assert [s.dimension for s in draft.sections] == ["政治担当", "民主集中制"]
    assert draft.coverage["政治担当"]["questions"] == len(draft.sections[0].questions)
    assert "考察/某县考察报告" in draft.coverage["政治担当"]["sources"]
    # the question about 政治担当 weaves in a phrase of the cited sentence
    first = draft.sections[0].questions[0]
    quote = first.citations[0].quote
    assert any(part in _norm_topic(first.text) for part in re.split(r"[,，。“”]", _norm_topic(quote)) if len(part) >= 4)
    data = draft.to_dict()
    assert Draft.from_dict(json.loads(json.dumps(data, ensure_ascii=False))).to_dict() == data


def test_interviewee_phrasing_differs(small_kb):
    base = dict(kind="interview", target="县委书记", dimensions=["政治担当"], count=2)
    member = small_kb.drafts.draft(DraftRequest(interviewee="班子成员", **base))
    self_ = small_kb.drafts.draft(DraftRequest(interviewee="考察对象本人", **base))
    member_texts = [q.text for q in _questions(member)]
    self_texts = [q.text for q in _questions(self_)]
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
    talk = small_kb.drafts.draft(
        DraftRequest(request="参照安徽做法，为与某县委书记开展党内政治监督谈话起草一份谈话提纲，并写明整改要求")
    )
    assert talk.kind == "talk" and talk.target == "县委书记"
    assert talk.opening and 3 <= len(_questions(talk)) <= 4
    assert talk.sections[-1].dimension == "整改要求"


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
    assert _questions(draft), "the framework alone counts as evidence"
    assert draft.coverage["激励保障"]["sources"] == ["内置/五个政治评价框架"]
    assert any("激励保障" in w and "内置评价框架" in w for w in draft.warnings)


def test_unknown_kind_is_an_error(small_kb):
    with pytest.raises(DraftError):
        small_kb.drafts.draft(DraftRequest(kind="memo", target="县委书记", dimensions=["政治担当"]))


def test_duplicated_evidence_gives_no_near_duplicate_questions(tmp_path):
    services = build_services(load_settings(home=str(tmp_path / "kb"), env={}))
    try:
        services.ingest.ingest_texts(
            [("甲/报告", None, REPORT), ("乙/报告副本", None, REPORT)], doc_type="report"
        )
        draft = services.drafts.draft(
            DraftRequest(kind="interview", target="县委书记", interviewee="其他干部群众", dimensions=["政治担当"], count=4)
        )
        texts = [q.text for q in _questions(draft)]
        assert texts
        quotes = [q.citations[0].quote for q in _questions(draft)]
        assert len(set(quotes)) == len(quotes)
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                assert jaccard(a, b) < 0.6
        # no framework document in this knowledge base: nothing claims it as a source
        assert all("内置/五个政治评价框架" not in v["sources"] for v in draft.coverage.values())
    finally:
        services.close()


# --------------------------------------------------------------------------------------------
# language-model drafting against the fake OpenAI-compatible server
# --------------------------------------------------------------------------------------------
def test_llm_draft_verified_replaced_and_fallback(small_kb, tmp_path):
    from tests.fakes.openai_server import FakeOpenAIServer

    good = [
        {"text": "请您谈谈县委书记在整治不担当不作为中处理正职和副职的情况", "follow_ups": ["能否举一个具体事例？"],
         "purpose": "核实问责是否触及正职", "cite": [1]},
        {"text": "请谈谈这件根本不在资料里的事", "follow_ups": [], "purpose": "无", "cite": [9]},
    ]
    req = DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当"], count=2)
    with FakeOpenAIServer([{"content": json.dumps(good, ensure_ascii=False)}], workdir=tmp_path) as server:
        settings = load_settings(
            home=str(small_kb.settings.home), env={}, llm__mode="openai", llm__base_url=server.base_url, llm__timeout=2
        )
        services = build_services(settings)
        try:
            draft = services.drafts.draft(req)
            questions = _questions(draft)
            assert len(questions) == 2
            assert questions[0].origin == "llm" and questions[0].text.endswith("？")
            assert questions[0].citations and all(c.verified for c in questions[0].citations)
            assert questions[1].origin == "extractive"  # the one citing [9] was replaced
            assert any("[9]" in w for w in draft.warnings)
            prompt = server.requests()[0]["messages"][-1]["content"]
            assert "政治担当" in prompt and "<资料>" in prompt

            server.set_script([{"status": 500, "message": "boom"}])
            failed = services.drafts.draft(req)
            assert [q.origin for q in _questions(failed)] == ["extractive", "extractive"]
            assert any("语言模型调用失败" in w for w in failed.warnings)
            _check_draft_invariants(services, failed, ["政治担当"])

            server.set_script([{"content": "这不是 JSON"}])
            garbled = services.drafts.draft(req)
            assert all(q.origin == "extractive" for q in _questions(garbled))
            assert any("无法解析" in w for w in garbled.warnings)
        finally:
            services.close()


# --------------------------------------------------------------------------------------------
# the development set over the seed documents
# --------------------------------------------------------------------------------------------
def test_dev_set_coverage_and_invariants(seeds_kb):
    tasks = [json.loads(line) for line in DEV_DRAFTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    found = total = 0
    for task in tasks:
        req = DraftRequest(
            kind=task["kind"], target=task["target"], interviewee=task["interviewee"],
            dimensions=task["dimensions"], request=task["request"], id=task["id"],
        )
        draft = seeds_kb.drafts.draft(req)
        assert draft.id == task["id"]
        _check_draft_invariants(seeds_kb, draft, task["dimensions"])
        blobs = [
            _norm_topic(" ".join([q.text, *q.follow_ups, q.purpose, *[c.quote for c in q.citations]]))
            for q in _questions(draft)
        ]
        for topic in task["expected_topics"]:
            total += 1
            found += any(_norm_topic(topic) in b for b in blobs)
    print(f"\nexpected-topic coverage on {DEV_DRAFTS.name}: {found}/{total} = {found / total:.3f}")
    assert found / total >= 0.70, f"expected-topic coverage {found}/{total}"
