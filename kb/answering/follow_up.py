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
        self.attribute_nouns = frozenset(data["attribute_nouns"])
        self.attribute_endings = tuple(data["attribute_endings"])
        self.modifiers = frozenset(data["modifiers"])

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
        """Does the question lean on the one before? It opens with 那/其中/他/这个…, ends with 呢, or has no
        subject of its own: every word before its question word is an attribute of something unnamed
        (时间, 原因, 满意率), a modifier (一般, 需要) or a bare verb.
        "考察分为哪几个步骤" has one (考察) and is never rewritten, whatever it shares with the question before."""
        q = _END.sub("", question.strip())
        if self.leaning.match(q) or q.endswith("呢"):
            return True
        if self.lex.org_level_word.search(q) or re.search(r"[“\"《]", q):
            return False
        return not self.has_own_subject(q)

    def leans_on(self, question: str, previous: str) -> bool:
        """Is `question` a follow-up of `previous`? Elliptical by itself, or its only subject is a shortened
        form of the previous question's ("谈话前要做什么？" after "党内政治监督谈话……": the 谈话 is that
        one). "考察分为哪几个步骤？" after a question about 考察组谈话 names a subject of its own."""
        if self.is_elliptical(question):
            return True
        subject = self.subject(previous)
        nouns = self.own_nouns(_END.sub("", question.strip()))
        return bool(subject and nouns) and all(n != subject and subject.endswith(n) for n in nouns)

    def own_nouns(self, question: str) -> list[str]:
        """The question's nouns that are no attribute of something unnamed."""
        out = []
        for word, flag in self.tokenizer.segmenter.tag(question):
            flag = flag or "n"
            if len(word) >= 2 and word not in self.modifiers and (flag[:1] in ("n", "j") or flag in ("vn", "eng")) and not self._attribute(word):
                out.append(word)
        return out

    def _attribute(self, word: str) -> bool:
        return word in self.attribute_nouns or (len(word) >= 3 and word.endswith(self.attribute_endings))

    def has_own_subject(self, question: str) -> bool:
        asked = re.search(r"什么|怎么|怎样|如何|哪|谁|多少|几|多久|多长|为什么|是否|吗", question)
        cut = asked.start() if asked else len(question)
        words: list[tuple[int, str, str]] = []
        at = 0
        for word, flag in self.tokenizer.segmenter.tag(question):
            start = question.find(word, at)
            at = start + len(word) if start >= 0 else at
            if start >= 0 and len(word) >= 2 and word not in self.modifiers and re.search(r"[\u4e00-\u9fffA-Za-z]", word):
                words.append((start, word, flag or "n"))  # a domain term (政治担当) carries no tag: a noun
        def noun(w: str, f: str) -> bool:
            return (f[:1] in ("n", "j") or f in ("vn", "eng")) and not self._attribute(w)

        # a noun of its own anywhere ("对照检查材料", "什么算政治担当", "领导干部…的合格分数线")
        if any(noun(w, f) for _, w, f in words):
            return True
        # or a verb standing as the subject of another ("考察分为哪几个步骤")
        before = [w for w in words if w[0] < cut]
        return len(before) >= 2 and not self._attribute(before[0][1]) and before[0][2].startswith("v") and before[1][2].startswith("v")

    def resolve(self, question: str, history: list[str] | None) -> str:
        """The standalone form of `question` given the earlier questions (oldest first)."""
        question = (question or "").strip()
        previous = [h.strip() for h in (history or []) if h and h.strip()]
        if not question or not previous or not self.leans_on(question, previous[-1]):
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
    from kb.generation.llm import LLMError

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
