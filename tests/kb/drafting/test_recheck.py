"""Edits are re-checked: an edited question's citations are re-verified against its new text
(待核实 when they no longer back it, in the model, the table, the Markdown and the .docx);
replaced by re-retrieved evidence on request; regenerate never returns a question already held."""
from dataclasses import replace

from docx import Document

from kb.drafting import jaccard
from kb.drafting.export import PENDING_MARK, PENDING_QUESTION_MARK, draft_to_docx, draft_to_markdown
from kb.models import DraftRequest
from kb.web.service import PENDING_LABEL, draft_to_table, table_to_draft
from tests.kb.drafting.conftest import questions_of

REQ = DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当", "民主集中制"], count=2)


def test_an_unedited_question_stays_supported(small_kb):
    draft = small_kb.drafts.draft(REQ)
    for q in questions_of(draft):
        checked = small_kb.drafts.recheck(q, draft.target)
        assert checked.to_check == [] and checked.citations == q.citations


def test_an_edit_that_leaves_the_evidence_behind_is_marked(small_kb):
    draft = small_kb.drafts.draft(REQ)
    q = questions_of(draft)[0]
    edited = replace(q, text="请谈谈县委书记抓网络安全和信息化工作的情况？")
    checked = small_kb.drafts.recheck(edited, draft.target)
    assert checked.to_check == list(range(len(q.citations)))
    assert checked.pending
    # the mark survives the model's round trip
    data = checked.to_dict()
    assert data["to_check"] == checked.to_check


def test_a_small_rewording_keeps_its_evidence(small_kb):
    draft = small_kb.drafts.draft(REQ)
    q = next(q for q in questions_of(draft) if "问责" in q.text)
    edited = replace(q, text=q.text.replace("怎样", "如何"))
    assert small_kb.drafts.recheck(edited, draft.target).to_check == []


def test_replace_re_retrieves_evidence_for_the_new_text(small_kb):
    draft = small_kb.drafts.draft(REQ)
    q = next(q for q in questions_of(draft) if "三重一大" not in q.text)
    edited = replace(q, text="“三重一大”事项决策时，会议记录能否看出研究讨论过程和不同意见？")
    marked = small_kb.drafts.recheck(edited, draft.target)
    assert marked.to_check
    fixed = small_kb.drafts.recheck(edited, draft.target, replace=True)
    assert fixed.to_check == [] and fixed.citations
    assert all(c.verified for c in fixed.citations)
    assert any("三重一大" in c.quote for c in fixed.citations)
    for c in fixed.citations:
        assert c.quote in small_kb.store.get_document_text(c.doc_id)


def test_nothing_backs_the_edit_the_mark_stays(small_kb):
    draft = small_kb.drafts.draft(REQ)
    edited = replace(questions_of(draft)[0], text="请谈谈县委书记抓网络安全和信息化工作的情况？")
    still = small_kb.drafts.recheck(edited, draft.target, replace=True)
    assert still.to_check  # no wrong citation is put in place of a missing one


def test_the_table_the_markdown_and_the_docx_carry_the_mark(small_kb, tmp_path):
    from kb.web.service import WebAppService as WebApp

    webapp = WebApp(small_kb)
    draft = small_kb.drafts.draft(REQ)
    rows, sources = draft_to_table(draft)
    assert not any(PENDING_LABEL in r[4] for r in rows)
    rows[0][1] = "请谈谈县委书记抓网络安全和信息化工作的情况？"
    checked, sources = webapp.recheck_rows(None, draft.to_dict(), rows, sources)
    assert PENDING_LABEL in checked[0][4]
    assert not any(PENDING_LABEL in r[4] for r in checked[1:])
    edited = table_to_draft(checked, draft.to_dict(), sources)
    pending = [q for q in questions_of(edited) if q.to_check]
    assert [q.text for q in pending] == ["请谈谈县委书记抓网络安全和信息化工作的情况？"]
    md = draft_to_markdown(edited)
    assert PENDING_QUESTION_MARK in md and PENDING_MARK in md
    document = Document(str(draft_to_docx(edited, tmp_path / "edited.docx")))
    assert any(PENDING_QUESTION_MARK in p.text for p in document.paragraphs)
    # re-verified on request: the row gets supported evidence, or keeps the mark
    rows2 = [list(r) for r in checked]
    rows2[0][1] = "“三重一大”事项决策时，会议记录能否看出研究讨论过程和不同意见？"
    fixed, sources = webapp.recheck_rows(None, draft.to_dict(), rows2, sources, row_index=0)
    assert PENDING_LABEL not in fixed[0][4] and fixed[0][4]


def test_regenerate_never_returns_a_question_already_in_the_draft(small_kb):
    draft = small_kb.drafts.draft(REQ)
    held = [q.text for q in questions_of(draft)]
    for _ in range(3):
        fresh = small_kb.drafts.regenerate(REQ, "政治担当", exclude=held)
        assert fresh, "the bank holds more questions for 政治担当"
        new = fresh[0]
        assert new.text not in held
        assert all(jaccard(new.text, h) < small_kb.settings.draft.near_duplicate_jaccard for h in held)
        assert new.citations and all(c.verified for c in new.citations)
        held.append(new.text)


def test_webapp_regenerate_replaces_the_row_with_a_new_question(small_kb):
    from kb.web.service import WebAppService as WebApp

    webapp = WebApp(small_kb)
    draft = small_kb.drafts.draft(REQ)
    rows, sources = draft_to_table(draft)
    before = [r[1] for r in rows]
    new_rows, _ = webapp.regenerate_question(None, REQ, rows, sources, 0)
    assert new_rows[0][1] not in before
    assert new_rows[0][0] == rows[0][0]


def test_regenerate_in_a_talk_outline_stays_in_its_dimension(small_kb):
    req = DraftRequest(request="市委书记与某县委书记谈话，重点谈政治担当，写明整改要求")
    draft = small_kb.drafts.draft(req)
    held = [q.text for q in questions_of(draft)]
    fresh = small_kb.drafts.regenerate(req, "政治担当", exclude=held)
    assert fresh and all(q.text not in held for q in fresh)
    assert not any("三清单" in q.text for q in fresh)  # the 整改要求 question is not offered for 政治担当
