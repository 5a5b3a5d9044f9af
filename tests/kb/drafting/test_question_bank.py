"""The question bank: well formed, complete per standard and interviewee, written in our own words."""
from pathlib import Path

import pytest

from kb.drafting.criteria import CriteriaFramework
from kb.drafting.question_bank import GROUPS, QuestionBank, QuestionBankError
from tests.kb.drafting.conftest import SEEDS

FIVE_AND_CONDUCT = ("政治忠诚", "政治定力", "政治担当", "政治能力", "政治自律", "作风建设")
SEED_IDS = {
    "政治建设考察深度访谈提纲与考察实录", "以党的政治建设为统领提高领导班子整体功能", "区委书记在市县党政正职座谈会上的访谈提纲",
    "安徽探索实行党内政治监督谈话制度", "山西省市县党委班子专题民主生活会情况通报",
}


@pytest.fixture(scope="module")
def bank():
    return QuestionBank.load()


def test_every_standard_has_questions_for_every_interviewee_and_for_talks(bank):
    framework = CriteriaFramework.load()
    for dim in FIVE_AND_CONDUCT:
        interview = bank.entries("interview", dim, lambda n: framework.dimension(n).name)
        assert len(interview) >= 2, dim
        for entry in interview:
            assert set(GROUPS) <= set(entry.texts), (entry.id, sorted(entry.texts))
        assert bank.entries("talk", dim, lambda n: framework.dimension(n).name), dim
    assert bank.rectification is not None and bank.feedback is not None
    assert [i.text for i in bank.escalation][-1].endswith("组织调整")


def test_entries_name_known_standards_and_their_seed_sources(bank):
    framework = CriteriaFramework.load()
    for entry in bank.interview + bank.talk:
        assert framework.dimension(entry.dimension) is not None, entry.id
        assert entry.source and set(entry.source) <= SEED_IDS, entry.id
        assert 2 <= len(entry.follow_ups) <= 3, entry.id
        assert entry.purpose


def test_follow_ups_are_specific_to_their_question(bank):
    follow_ups = [f for e in bank.interview + bank.talk for f in e.follow_ups]
    assert len(set(follow_ups)) == len(follow_ups), "a 追问 is shared by two bank questions"


def test_wording_fits_the_interviewee(bank):
    for entry in bank.interview:
        own = entry.render("考察对象本人", "县委书记")
        assert "县委书记" not in own, entry.id  # the person inspected is asked about himself
        for group in ("班子成员", "市级领导", "其他干部群众"):
            other = entry.render(group, "县委书记")
            assert "{" not in other, entry.id
    for entry in bank.talk:
        text = entry.render("", "乡镇党委书记")
        assert "你作为乡镇党委书记" in text, entry.id  # one to one, addressed to the person talked to
        assert "{finding}" in entry.finding


def test_written_in_our_own_words_not_copied_from_the_seeds(bank):
    if not SEEDS.is_dir():
        pytest.skip("seed documents not available")
    import re
    import unicodedata

    def plain(t):
        return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", t))

    seeds = "".join(plain(p.read_text(encoding="utf-8")) for p in Path(SEEDS).glob("*.txt"))
    for entry in bank.interview + bank.talk:
        for text in [*entry.texts.values(), entry.text, entry.purpose, *entry.follow_ups]:
            # the standard a talk question rests on is named as the practice names it
            p = plain(text.replace(entry.standard, "") if entry.standard else text)
            # no run of 24 characters taken over from a seed document
            for i in range(0, max(0, len(p) - 24)):
                assert p[i : i + 24] not in seeds, (entry.id, text)


def test_a_broken_bank_is_reported(tmp_path):
    path = tmp_path / "bank.yaml"
    path.write_text("interview:\n  - id: x\n    dimension: 政治忠诚\n", encoding="utf-8")
    with pytest.raises(QuestionBankError, match="lacks"):
        QuestionBank.load(path)
    with pytest.raises(QuestionBankError, match="not found"):
        QuestionBank.load(tmp_path / "missing.yaml")
