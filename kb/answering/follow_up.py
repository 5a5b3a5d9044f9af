"""Follow-up questions: "那政治定力呢？" after "什么算政治担当？" is asked as a standalone question.

Without a model, by rules over the question and the previous turn:
  * a question that leans on the one before — it opens with 那/那么/还有/其中/其他/另外/此外/它/他/其/这…,
    or ends with 呢 — or one too short to name any subject of its own ("时间一般安排在什么时候？",
    "谈不下去怎么办？") is elliptical;
  * it is completed with the subject of the previous question (its opening noun phrase: "党内政治监督
    谈话"), and a question that names only a new item ("其他班子成员呢？") takes the previous question's
    frame whole ("其他班子成员，山西各市县委书记的对照检查材料一般修改了多少稿？").
A question naming its own subject is left exactly as it is. The words lists are in
kb/data/answer_lexicon.yaml (`follow_up`).

With an LLM configured, an elliptical question is rewritten by the model (prompts/condense.yaml); the
rewrite is kept only when it is one short question that still holds the follow-up's own words — a model
that answers instead of rewriting, fails, or drifts falls back to the rules.
"""
from __future__ import annotations

import re

from kb.answering.lexicon import AnswerLexicon

_CJK = re.compile(r"[\u4e00-\u9fff]")
_END = re.compile(r"[？?。！!\s]+$")


def _cjk_len(text: str) -> int:
    return len(_CJK.findall(text))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class FollowUpResolver:
    def __init__(self, lexicon: AnswerLexicon, tokenizer):
        self.lex = lexicon
        self.tokenizer = tokenizer
        data = lexicon.follow_up
        self.leaning = re.compile("^(?:" + "|".join(map(re.escape, sorted(data["leaning_starts"], key=len, reverse=True))) + ")")
        self.subject_ends = frozenset(data["subject_ends"])
        self.max_short = int(data["max_short_chars"])

    def subject(self, question: str) -> str:
        """The opening noun phrase of a question: up to its first comma, or to the first word that
        starts its predicate ("一般", "每年", "要", "多少"…)."""
        head = re.split(r"[，,；;？?]", question.strip())[0]
        # whole words only: "对" ends a subject as a preposition, not inside "对象"
        taken = ""
        for word, _flag in self.tokenizer.segmenter.tag(head):
            if word in self.subject_ends and _cjk_len(taken) >= 2:
                break
            taken += word
        head = re.sub(r"(中|里|上|时|的|前后)$", "", taken.strip())
        return head if _cjk_len(head) >= 2 else ""

    def _counterpart(self, item: str, question: str) -> str:
        """The word of `question` that `item` stands in for: one of the same shape (sharing two
        characters at its start or its end: 政治担当 / 政治定力, 县委书记 / 市委书记)."""
        best, score = "", 0
        for word in self.tokenizer.content_terms(question):
            if len(word) < 2 or word == item or word in item:
                continue
            shared = max(_common_prefix(word, item), _common_prefix(word[::-1], item[::-1]))
            if shared >= 2 and shared < min(len(word), len(item)) and shared > score:
                best, score = word, shared
        return best

    def is_elliptical(self, question: str) -> bool:
        q = _END.sub("", question.strip())
        if self.leaning.match(q) or q.endswith("呢"):
            return True
        if _cjk_len(q) > self.max_short:
            return False
        # short, and no subject of its own: no place, body, person, term or long word
        words = [w for w in self.tokenizer.content_terms(q) if len(w) >= 3]
        named = self.lex.org_level_word.search(q) or re.search(r"[“\"《]", q)
        return not words and not named

    def resolve(self, question: str, history: list[str] | None) -> str:
        """The standalone form of `question` given the earlier questions (oldest first)."""
        question = (question or "").strip()
        previous = [h.strip() for h in (history or []) if h and h.strip()]
        if not question or not previous or not self.is_elliptical(question):
            return question
        last = previous[-1]
        core = _END.sub("", question)
        stripped = self.leaning.sub("", core) if not core.startswith(("其中", "其他", "另外", "此外")) else core
        if stripped.endswith("呢"):
            # "那政治定力呢？": a new item for the same frame — in place of its counterpart when the
            # previous question has one ("什么算政治担当" → "什么算政治定力"), else before the frame
            item = stripped[:-1].strip("，, ")
            if not item:
                return last
            counterpart = self._counterpart(item, last)
            if counterpart:
                return last.replace(counterpart, item, 1)
            return f"{item}，{_END.sub('', last)}？"
        subject = self.subject(last)
        if not subject or subject in stripped:
            return question
        return f"{subject}，{stripped}？"


def condense_with_model(llm, prompts, question: str, history: list[str], tokenizer) -> str | None:
    """The model's standalone form of an elliptical question, or None when it cannot be trusted."""
    from kb.llm import LLMError

    template = prompts.get("condense")
    values = {"history": "\n".join(f"{i}. {h}" for i, h in enumerate(history, 1)), "question": question}
    try:
        text = llm.complete(template.render(**values), system=template.render_system(**values))
    except LLMError:
        return None
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) != 1 or len(lines[0]) > 200 or "[" in lines[0]:
        return None
    rewritten = lines[0]
    own = [w for w in tokenizer.content_terms(question) if len(w) >= 2]
    if own and not any(w in rewritten for w in own):
        return None  # it no longer asks what the follow-up asked
    return rewritten if rewritten.endswith(("？", "?")) else rewritten + "？"
