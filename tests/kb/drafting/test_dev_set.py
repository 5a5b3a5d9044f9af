"""The development drafting set and our own held-out-style requests over the seed documents."""
import json

import pytest

from eval import metrics as m
from kb.models import DraftRequest
from tests.kb.drafting.conftest import DEV_DRAFTS, OWN_REQUESTS, OWN_REQUESTS_2, OWN_REQUESTS_3, check_invariants


def _tasks(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("path", [DEV_DRAFTS, OWN_REQUESTS, OWN_REQUESTS_2, OWN_REQUESTS_3], ids=["dev", "own", "own2", "own3"])
def test_coverage_and_invariants(seeds_kb, path):
    coverages = []
    for task in _tasks(path):
        req = DraftRequest(
            kind=task["kind"], target=task["target"], interviewee=task["interviewee"],
            dimensions=task["dimensions"], request=task["request"], id=task["id"],
        )
        draft = seeds_kb.drafts.draft(req)
        assert draft.id == task["id"]
        check_invariants(seeds_kb, draft, task["dimensions"])
        data = draft.to_dict()
        coverages.append(m.topic_coverage(data, task["expected_topics"]))
        assert m.distinct_follow_up_rate(data) >= 0.9, task["id"]
        assert m.near_duplicate_rate(data) == 0, task["id"]
        assert draft.target in m.draft_text(data), task["id"]  # the request's roles appear in the text
        if draft.kind == "talk":
            assert 3 <= len(m.draft_questions(data)) <= 4
    mean = sum(coverages) / len(coverages)
    print(f"\nexpected-topic coverage on {path.name}: {mean:.3f}")
    assert mean >= 0.80, coverages
