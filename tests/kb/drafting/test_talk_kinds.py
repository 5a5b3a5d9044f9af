"""Kinds of 谈话/访谈 (kb/data/talk_kinds.yaml), the site's own outlines as a question bank, and no
placeholder text in a draft (#26)."""
from __future__ import annotations

import json
import re
import unicodedata
import zipfile

import pytest

from kb.container import build_services
from kb.drafting.export import draft_to_docx, draft_to_markdown
from kb.drafting.talk_kinds import TalkKinds
from kb.drafting.talk_outline import RECTIFICATION_SECTION
from kb.models import DraftRequest
from tests.conftest import make_settings
from tests.kb.drafting.conftest import DEV_DRAFTS, SEEDS, check_invariants, questions_of

KINDS = TalkKinds.load()

# A form's example post (某市委书记), a source's blanked-out name (以xxx同志为核心, xx书记), a template slot.
PLACEHOLDER = re.compile(r"某[省市县区乡镇]委?(?:书记|县长|市长|区长|镇长|乡长)|[xX×]{2,}|某某|\{\w+\}")


def _plain(text: str) -> str:
    return re.sub(r"[\s“”\"'‘’,，、。:：;；()（）]", "", unicodedata.normalize("NFKC", text))


def test_every_kind_states_its_purpose_roles_and_cited_parts():
    assert {"heart_to_heart", "reminder", "admonition", "pre_appointment", "inquiry", "supervision",
            "self_assessment", "individual", "interview"} <= {k.key for k in KINDS.kinds}
    for kind in KINDS.kinds:
        assert kind.cues and kind.names and kind.purpose and kind.parts, kind.key
        assert kind.outline in ("talk", "interview")
        assert kind.purpose_source is not None, kind.key
        for part in kind.parts:
            assert part.text and part.count and part.source is not None, (kind.key, part.name)
        for q in kind.questions:
            assert q.text and q.seek and 1 <= len(q.follow_ups) <= 3 and q.purpose


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared not found")
def test_every_part_cites_a_verbatim_span_of_the_seeds():
    texts = {p.stem: _plain(p.read_text(encoding="utf-8")) for p in SEEDS.glob("*.txt")}
    for kind in KINDS.kinds:
        for source in [kind.purpose_source] + [p.source for p in kind.parts]:
            assert source.doc in texts, (kind.key, source.doc)
            assert _plain(source.quote) in texts[source.doc], (kind.key, source.quote)


@pytest.mark.parametrize("text, key", [
    # wordings the cue lists were not written from
    ("生活会召开之前，书记想和分管副书记交交心，帮忙想几个问题", "heart_to_heart"),
    ("就群众来信反映的问题，准备向该局长发函询问，请列出要他说明的事项", "inquiry"),
    ("这位同志上任前组织上要跟他谈一次，讲讲政治要求", "pre_appointment"),
    ("经研究决定对该副县长予以诫勉，请准备谈话要点", "admonition"),
    ("请考察对象先作个自我评价，帮他列一个提纲", "self_assessment"),
    ("考察期间要与几位局长个别交流，请准备问题", "individual"),
    ("纪委书记准备找他提个醒，请拟提纲", "reminder"),
    ("为县委书记起草一份深度访谈提纲", "interview"),
])
def test_the_kind_is_read_from_free_text(text, key):
    kind = KINDS.detect(text)
    assert kind is not None and kind.key == key, (text, kind and kind.key)


def test_an_interview_kind_takes_an_interview_outline(small_kb):
    filled, _ = small_kb.drafts.reader.fill(DraftRequest(request="考察期间与县人大常委会主任个别谈话，了解县委书记的政治担当"))
    assert filled.kind == "interview"
    filled, _ = small_kb.drafts.reader.fill(DraftRequest(request="请为被考察的县委书记准备自评提纲"))
    assert filled.kind == "interview" and filled.interviewee == "考察对象本人"


def _part_names_present(draft, kind) -> None:
    closing = "\n".join(draft.closing)
    for part in kind.parts:
        assert part.name in closing, (part.name, draft.closing)


def test_a_heart_to_heart_talk_has_its_parts(seeds_kb):
    kind = KINDS.get("heart_to_heart")
    draft = seeds_kb.drafts.draft(DraftRequest(
        kind="talk", request="民主生活会前，区委书记准备和常务副区长谈一次心，请起草提纲", dimensions=["政治自律"]))
    check_invariants(seeds_kb, draft, ["政治自律"])
    assert "谈心谈话" in draft.title and "谈心谈话" in draft.opening
    own = next(s for s in draft.sections if s.dimension == kind.question_part)
    assert len(own.questions) >= 2
    for q in own.questions:
        # each of the kind's own questions rests on what the knowledge base says of 谈心谈话
        chunk_texts = [seeds_kb.store.get_document_text(c.doc_id) for c in q.citations if c.verified]
        assert chunk_texts and q.purpose.startswith("谈心谈话")
    _part_names_present(draft, kind)
    assert any("〔依据：" in line for line in draft.closing)  # the seeds state these parts
    assert "常务副区长" in draft.target


def test_a_reminder_talk_has_its_parts_and_what_follows(seeds_kb):
    kind = KINDS.get("reminder")
    draft = seeds_kb.drafts.draft(DraftRequest(
        kind="talk", request="县委班子政治建设抓得不紧，市委书记要找县委书记提醒谈话，请拟提纲"))
    check_invariants(seeds_kb, draft, [])
    assert "提醒谈话" in draft.title
    names = [s.dimension for s in draft.sections]
    assert kind.question_part in names and names[-1] == RECTIFICATION_SECTION
    _part_names_present(draft, kind)
    assert any("组织调整" in line for line in draft.closing)  # 整改不力 → … → 组织调整


OUTLINE = """# 本单位干部考察个别谈话提纲（2023年）

一、基本情况
1、您认为县委书记在落实“一岗双责”、督促班子成员管好分管领域方面做得怎么样？
2、县委书记对遗留问题是主动破解还是绕着走，请举一个例子？
3、您对全县政治生态有什么评价？
"""


def test_a_sites_own_outline_contributes_questions_until_it_is_removed(tmp_path):
    services = build_services(make_settings(tmp_path / "home"))
    try:
        services.ingest.ensure_framework()
        result = services.ingest.ingest_texts([("提纲/2023个别谈话提纲", None, OUTLINE)], doc_type="outline")
        assert not result.get("failed"), result
        doc_id = next(r.doc_id for r in services.store.list_documents() if r.doc_type == "outline")
        request = DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当"],
                               request="了解县委书记落实一岗双责、督促班子成员管好分管领域的情况")
        draft = services.drafts.draft(request)
        mine = [q for q in questions_of(draft) if "督促班子成员管好分管领域方面做得怎么样" in q.text]
        assert mine, [q.text for q in questions_of(draft)]
        cited = mine[0].citations[0]
        assert cited.verified and cited.doc_id == doc_id and "一岗双责" in cited.quote
        services.ingest.remove(doc_id)
        again = services.drafts.draft(request)
        assert not any("督促班子成员管好分管领域方面做得怎么样" in q.text for q in questions_of(again))
    finally:
        services.close()


def _all_text(draft) -> list[str]:
    out = [draft.title, draft.target, draft.opening, draft.speaker, *draft.closing]
    for q in questions_of(draft):
        out += [q.text, q.purpose, *q.follow_ups, *(c.quote for c in q.citations)]
    return out


def _requests():
    items = [json.loads(line) for line in DEV_DRAFTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    reqs = [DraftRequest(kind=i["kind"], target=i["target"], interviewee=i["interviewee"], dimensions=i["dimensions"],
                         request=i["request"]) for i in items]
    # what the web form's placeholder and the seeds' blanked-out names used to leak into
    reqs += [
        DraftRequest(kind="talk", target="某市委书记", request="为省委主要负责人与某市委书记谈话起草提纲，3至4个问题"),
        DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治忠诚", "政治定力"],
                     request="了解县委书记维护党中央权威和集中统一领导的情况"),
        DraftRequest(kind="talk", request="民主生活会前县委书记与县长谈心谈话，请起草提纲"),
        DraftRequest(kind="interview", request="请为被考察的区委书记准备自评提纲，对照五个政治"),
    ]
    return reqs


@pytest.mark.skipif(not DEV_DRAFTS.is_file(), reason="../shared not found")
def test_no_placeholder_anywhere_in_a_draft_or_its_docx(seeds_kb, tmp_path):
    for i, request in enumerate(_requests()):
        draft = seeds_kb.drafts.draft(request)
        leaks = [t for t in _all_text(draft) if PLACEHOLDER.search(t or "")]
        assert not leaks, (request.request, leaks)
        assert not PLACEHOLDER.search(draft_to_markdown(draft))
        path = draft_to_docx(draft, tmp_path / f"d{i}.docx")
        with zipfile.ZipFile(path) as z:
            xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
        body = re.sub(r"<[^>]+>", "", xml)
        assert not PLACEHOLDER.search(body), PLACEHOLDER.search(body).group(0)


@pytest.mark.skipif(not DEV_DRAFTS.is_file(), reason="../shared not found")
def test_other_places_cases_are_labelled_reference_examples_not_standards(seeds_kb):
    from kb.drafting.evidence import FRAMEWORK_DOC_ID
    from kb.drafting.text import finding_score

    outlines = {r.doc_id for r in seeds_kb.store.list_documents() if r.doc_type == "outline"}
    labelled = 0
    for request in _requests():
        draft = seeds_kb.drafts.draft(request)
        for q in questions_of(draft):
            for i, c in enumerate(q.citations):
                case = c.doc_id != FRAMEWORK_DOC_ID and c.doc_id not in outlines and finding_score(c.quote) >= 1.0
                assert (i in q.examples) == case, (q.text, c.quote)
            labelled += len(q.examples)
            assert q.to_dict().get("examples", []) == q.examples
        markdown = draft_to_markdown(draft)
        assert markdown.count("参考事例：") >= sum(1 for q in questions_of(draft) if q.examples)
    assert labelled  # the seeds narrate other counties' cases: some are cited, and labelled


def test_materials_are_picked_from_a_list_and_named_by_title(small_kb):
    choices = small_kb.drafts.material_choices()
    labels = [label for label, _ in choices]
    assert any(label.startswith("集合：") for label in labels)
    record = next(r for r in small_kb.store.list_documents() if r.doc_type == "report")
    assert (f"文档：《{record.title}》", record.doc_id) in choices
    assert not any("五个政治评价框架" in label for label in labels)  # the shipped framework is no one's material
    by_title = small_kb.drafts.finder.materials_filter([record.title])
    by_id = small_kb.drafts.finder.materials_filter([record.doc_id])
    assert by_title is not None and by_title.doc_ids == by_id.doc_ids == [record.doc_id]


def test_an_interview_asking_about_a_talk_stays_an_interview(small_kb):
    filled, _ = small_kb.drafts.reader.fill(DraftRequest(request="起草一份深度访谈提纲，了解县委书记对班子成员开展提醒谈话的情况"))
    assert filled.kind == "interview"
    plan = small_kb.drafts.reader.plan(filled, 6, 3)
    assert plan.talk_kind is not None and plan.talk_kind.key == "interview"
