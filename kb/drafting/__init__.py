"""Drafting interview outlines (深度访谈提纲) and talk outlines (谈话提纲).

Where things are:
  service.py            DraftService — the entry point (draft, regenerate, recheck)
  parts.py              DraftParts — bank, evidence finder, request reader, framework, subject words;
                        what the builders below draft with (DraftService is one)
  request.py            reading a request: kind, target, who talks to whom, interviewee, dimensions
  talk_kinds.py         the kinds of 谈话/访谈 (kb/data/talk_kinds.yaml): purpose, roles, required parts citing
                        where the knowledge base states them; a kind's own questions from what the KB says of it
  outline_bank.py       the site's own outlines (doc type outline): their numbered questions, cited to themselves
  standard_questions.py questions in a 五个政治 standard's own words (its 内涵's quoted formulations)
  question_bank.py      the question bank (kb/data/question_bank.yaml)
  evidence.py           evidence (依据) from the knowledge base and the framework; support scores
  interview_outline.py  assembling a 深度访谈提纲
  talk_outline.py       assembling a 谈话提纲 (opening, 3–4 questions, 整改要求, 谈后安排)
  llm_drafting.py       the language-model path (prompts/draft.yaml)
  recheck.py            re-checking edited questions (待核实)
  criteria.py           the shipped criteria framework (五个政治 and focus areas, kb/data/criteria.yaml)
  export.py             a drafted outline to Markdown or Word (.docx)
  citations.py          numbering citations; another place's case narrative marked 参考事例
  text.py               small helpers (placeholders such as "xxx" are never quoted)
"""
from kb.drafting.evidence import FRAMEWORK_DOC_ID, Evidence, EvidenceFinder, support
from kb.drafting.question_bank import BankQuestion, QuestionBank, QuestionBankError
from kb.drafting.request import (
    DEFAULT_INTERVIEWEE,
    DEFAULT_TARGET,
    KIND_LABELS,
    KINDS,
    DraftError,
    infer_kind,
    infer_roles,
    infer_speaker,
    infer_target,
)
from kb.drafting.service import DraftService
from kb.drafting.talk_outline import RECTIFICATION_SECTION, TALK_MAX, TALK_MIN
from kb.drafting.text import finding_score, is_near_duplicate, jaccard, remove_near_duplicates

__all__ = [
    "BankQuestion", "DEFAULT_INTERVIEWEE", "DEFAULT_TARGET", "DraftError", "DraftService", "Evidence",
    "EvidenceFinder", "FRAMEWORK_DOC_ID", "KINDS", "KIND_LABELS", "QuestionBank", "QuestionBankError",
    "RECTIFICATION_SECTION", "TALK_MAX", "TALK_MIN", "finding_score", "infer_kind", "infer_roles",
    "infer_speaker", "infer_target", "is_near_duplicate", "jaccard", "remove_near_duplicates", "support",
]
