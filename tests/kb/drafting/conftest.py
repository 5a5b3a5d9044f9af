"""Fixtures for the drafting tests: a small knowledge base (a report in the style of the seeds)
and the seed documents, each under its own KB_HOME."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from kb.container import build_services
from kb.models import Draft, DraftQuestion
from tests.conftest import SHARED_DIR, make_settings

SEEDS = SHARED_DIR / "corpus" / "seeds"
DEV_DRAFTS = SHARED_DIR / "eval" / "domain_drafts_dev.jsonl"
# held-out-style requests we wrote (other targets, dimensions and focus words than the dev set;
# expected topics copied from the seeds): the check that drafting was not fitted to the dev items
OWN_REQUESTS = Path(__file__).resolve().parent / "data" / "heldout_requests.jsonl"
OWN_REQUESTS_2 = Path(__file__).resolve().parent / "data" / "heldout_requests_2.jsonl"
OWN_REQUESTS_3 = Path(__file__).resolve().parent / "data" / "heldout_requests_3.jsonl"

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


def questions_of(draft: Draft) -> list[DraftQuestion]:
    return [q for s in draft.sections for q in s.questions]


def norm_topic(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "、": ",", "。": ".", "，": ","}))
    return re.sub(r"\s+", "", text)


def check_invariants(services, draft: Draft, requested: list[str]) -> None:
    """What every draft must satisfy: cited with verbatim quotes, no near duplicates, distinct
    follow-ups, talk outlines with 3–4 questions and an opening."""
    from kb.drafting import jaccard

    questions = questions_of(draft)
    assert questions, draft.warnings
    for q in questions:
        assert q.text.endswith("？"), q.text
        assert 1 <= len(q.follow_ups) <= 3
        assert all(f.endswith("？") for f in q.follow_ups)
        assert q.purpose
        verified = [c for c in q.citations if c.verified]
        assert verified, q.text
        for c in verified:
            assert c.quote in services.store.get_document_text(c.doc_id)
        assert not q.to_check, q.text  # a fresh draft has nothing 待核实
        # drafting and re-checking agree: an unedited question keeps every citation
        assert services.drafts.recheck(q, draft.target).to_check == [], (q.text, [c.quote for c in q.citations])
    texts = [q.text for q in questions]
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            assert jaccard(a, b) < services.settings.draft.near_duplicate_jaccard, (a, b)
    follow_ups = [f for q in questions for f in q.follow_ups]
    assert len(set(follow_ups)) >= 0.9 * len(follow_ups), follow_ups
    names = [s.dimension for s in draft.sections]
    for dim in requested:
        assert dim in names or any(dim in w for w in draft.warnings), dim
    if draft.kind == "talk":
        assert 3 <= len(questions) <= 4
        assert draft.opening and draft.target in draft.opening


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    home = tmp_path_factory.mktemp("draft_small")
    services = build_services(make_settings(home))
    services.ingest.ensure_framework()
    services.ingest.ingest_texts([("考察/某县考察报告", None, REPORT)], doc_type="report")
    yield services
    services.close()


@pytest.fixture(scope="module")
def seeds_kb(tmp_path_factory):
    if not SEEDS.is_dir() or not DEV_DRAFTS.is_file():
        pytest.skip(f"shared data not found at {SHARED_DIR} (../shared next to the repository)")
    home = tmp_path_factory.mktemp("draft_seeds")
    services = build_services(make_settings(home))
    summary = services.ingest.ingest_paths([SEEDS])
    assert not summary["failed"], summary
    yield services
    services.close()
