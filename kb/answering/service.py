"""AnswerService: retrieve → analyse → score evidence → bind → select → decide → render → verify.

    question_analysis.py  what is asked, about what (anchors), which facet, which answer type
    ask.py                the ask made explicit: the slot (date, quantity, person, place, name …), the
                          relation that links it to the target, the target and every qualifier
    evidence.py           the retrieved chunks' readable sentences, scored against the question
    binding.py            may a sentence answer: anchors named, facet stated, the number in a bound clause
    fillers.py            for a typed slot: the span of the sentence that fills it, bound to the relation,
                          the target and every qualifier — `answered` needs one
    composition.py        which sentences, in which order, rendered with [n] marks
    answerability.py      answered | related | refused, by calibrated models over general features
    llm_answer.py         the optional LLM phrasing, verified, never overturning a refusal or a binding

Every quote is a verbatim span of a chunk and is checked against the stored document at answer time.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from pathlib import Path
from typing import Iterator

from kb.answering.answerability import AnswerabilityModel, AnswerabilityPolicy, FeatureExtractor
from kb.answering.ask import POST, Ask, SlotData, read_ask
from kb.answering.binding import Binder, Binding
from kb.answering.composition import AnswerComposer
from kb.answering.evidence import Candidate, EvidenceScorer, TermRarity
from kb.answering.fillers import Filler, FillerFinder, SlotFill, is_table_row
from kb.answering.follow_up import FollowUpResolver, condense_with_model
from kb.answering.lexicon import AnswerLexicon
from kb.answering.numbers import has_quantity
from kb.answering.llm_answer import LLMAnswerer, pieces
from kb.answering.question_analysis import QuestionAnalysis, analyse_question
from kb.answering.question_parts import split_question
from kb.answering.table_questions import TableAnswerer
from kb.citations.verify import CITATION_MARK
from kb.models import REFUSAL_TEXT, Answer, Citation, Filters, Hit

log = logging.getLogger(__name__)
# an item of an enumeration: （一）, 1., 一是, ① …
_ITEM = re.compile(r"\s*(?:[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．]|[一二三四五六七八九十]+[、是]|[①②③④⑤⑥⑦⑧⑨⑩])")
# candidates whose binding is checked (the rest rank too low to be chosen)
BIND_TOP = 40
# a sentence matching the question's distinguishing words this well is what the question is about;
# a facet stated only by sentences matching them under this share of it answers about something else
FOCUS_LEAD_MIN = 0.5
FOCUS_LEAD_SHARE = 0.35
# the title of an act a clause question names: "请给出预算法第七十九条" → 预算法
_NAMED_ACT = re.compile(
    r"([\u4e00-\u9fff《》（）()、]{2,80}?(?:法|条例|办法|规定|细则|决定|解释|规则|章程|准则|纲要)》?)(?:中|里|的)?\s*第[一二三四五六七八九十百零〇\d]+条"
)


def _verb_in(analysis: QuestionAnalysis, verb: str, sentence: str, tokenizer) -> bool:
    """The sentence says the verb, a thesaurus equivalent of it, or a compound with the same head
    character ("打入" for "进入", "下辖" for "管辖")."""
    if verb in sentence:
        return True
    tokens = set(tokenizer.tokenize(sentence))
    if analysis.covers(verb, tokens):
        return True
    return any(len(t) <= 2 and t[-1] == verb[-1] for t in tokens)


def _defined_term(analysis: QuestionAnalysis) -> str:
    """The term a question asks to have defined — "什么是X", "X是什么意思", "如何理解X", "X的含义" — or ""
    when the question asks for an attribute of something ("X的分子式是什么", "X的俗名是什么"): only a
    bare term has a definition to find."""
    subject = analysis.definition_subject
    if analysis.answer_type != "definition" or not subject:
        return ""
    if "指的是" in analysis.question:
        subject = re.sub(r"指$", "", subject)  # "X指的是什么"
    core = subject.strip("“”\"「」《》 ")
    if not core or "的" in core or len(core) > 10 or re.search(r"[在与和对从把被]", core[1:]) or re.match(r"[这那该本其此]", core):
        return ""
    q = re.sub(r"[\s？?。！!]+$", "", analysis.question)
    # the cue opens the question or closes it: "X是什么样子的", "X是什么的简称" ask for something else
    if not (re.match(r"\s*(?:请问)?(?:什么是|什么叫|什么算|如何理解|怎么理解|怎样理解)", q)
            or re.search(r"(?:是什么|是什么意思|什么意思|指什么|是指什么|指的是什么|的含义|的定义|的内涵|的含义是什么|的定义是什么|的内涵是什么)$", q)):
        return ""
    if any(w in core for w in ("主要内容", "症状", "特点", "特征", "作用", "用途", "原因", "目的")):
        return ""  # an attribute asked ("《X》主要内容是什么"), not the term
    return subject


def _continues(first, then) -> bool:
    """Whether the sentence `then` comes right after `first` in the same paragraph of the same chunk
    (nothing but spaces between them)."""
    if first.hit.chunk.chunk_id != then.hit.chunk.chunk_id or first.start < 0 or then.start < 0:
        return False
    end = first.start + len(first.text)
    if then.start < end:
        return False
    gap = first.hit.chunk.text[end:then.start]
    return "\n" not in gap and not gap.strip()


class AnswerService:
    def __init__(self, services, model: AnswerabilityModel | None = None):
        self.services = services
        self.settings = services.settings
        self.lex = AnswerLexicon.load()
        tokenizer = services.tokenizer
        self.scorer = EvidenceScorer(tokenizer, services.settings, self.lex)
        self.composer = AnswerComposer(services.settings, self.lex)
        self.wordvectors = self._wordvectors()
        self.binder = Binder(self.lex, tokenizer, services.verifier.document_text, self.wordvectors)
        self.slots = SlotData.load()
        self.fillers = FillerFinder(self.lex, self.slots, tokenizer, self._entity_tagger(), self._thesaurus(), self.wordvectors)
        self.features = FeatureExtractor(
            tokenizer, self.lex, self.wordvectors, services.verifier.document_text, lambda: services.lexical.snapshot
        )
        self._fixed_model = model is not None
        self._model_stamp = self._stamp()
        self.model = model or AnswerabilityModel.load(self.model_path(services.settings))
        self.policy = AnswerabilityPolicy(self.model)
        self.llm_answerer = LLMAnswerer(services)
        self.follow_up = FollowUpResolver(self.lex, tokenizer)
        self.tables = TableAnswerer(services)

    @staticmethod
    def model_path(settings):
        """The site's own model (`kb calibrate` writes it under KB_HOME) before the shipped one."""
        if settings.answer.model_path:
            return Path(settings.answer.model_path)
        own = settings.home / "answerability.json"
        return own if own.is_file() else None

    def _stamp(self):
        path = self.model_path(self.settings)
        try:
            return (str(path), path.stat().st_mtime_ns) if path is not None else None
        except OSError:
            return None

    def _refresh_model(self) -> None:
        """A running server picks up the model `kb calibrate` has just written."""
        if self._fixed_model:
            return
        stamp = self._stamp()
        if stamp != self._model_stamp:
            self._model_stamp = stamp
            self.model = AnswerabilityModel.load(self.model_path(self.settings))
            self.policy = AnswerabilityPolicy(self.model)

    def _entity_tagger(self):
        try:
            return getattr(self.services, "entities", None)
        except ImportError as exc:
            log.warning("entity tagger unavailable, answering with rule-based recognisers only: %s", exc)
            return None

    def ask_of(self, analysis: QuestionAnalysis) -> Ask:
        """The question's ask (kb/answering/ask.py)."""
        return read_ask(analysis.question, analysis, self.services.tokenizer, self.slots, self.fillers.tagger)

    def context_of(self, cand: Candidate) -> str:
        """What a sentence may inherit its subject and qualifiers from: its document's opening lines (a
        dateline), its passage's title and heading, and the text of its paragraph before it (at most 300
        characters) — nearest last."""
        chunk = cand.hit.chunk
        at_doc = chunk.start + max(0, cand.start if cand.start >= 0 else chunk.text.find(cand.text))
        head = (self.services.verifier.document_text(chunk.doc_id) or "")[: min(200, at_doc)]
        text = chunk.text
        at = cand.start if cand.start >= 0 else text.find(cand.text)
        before = text[max(0, at - 300) : max(0, at)] if at > 0 else ""
        if "\n" in before:
            line_start = before.rfind("\n", 0, len(before) - 1) + 1 if before.rstrip("\n").count("\n") else 0
            # an item of a list ("（二）发生较大事故的，处……") takes its lead ("……依照下列规定处以罚款：") too
            lead = before.rfind("：", 0, line_start) if _ITEM.match(cand.text) else -1
            if lead < 0:
                lead = before.rfind(":", 0, line_start) if _ITEM.match(cand.text) else -1
            start = before.rfind("\n", 0, lead) + 1 if lead >= 0 else line_start
            before = before[start:]
        return f"{head}\n{chunk.title}\n{chunk.section}\n{before}"

    _ANAPHOR = re.compile(r"^\s*(?:该|此|本|其|这部|这本|这款|这个|它|他|她)")

    @classmethod
    def about_of(cls, cand: Candidate) -> str:
        """Where a sentence that does not name its subject may find it: its whole passage when the
        sentence opens with 该片/此书/它… (it points at what the passage is about)."""
        if cls._ANAPHOR.match(cand.text):
            return cand.hit.chunk.text
        return ""

    def _aliases(self, ask: Ask, candidates: list[Candidate]) -> tuple[str, ...]:
        """The person the question's target describes, when one sentence says who it is: "分管工业和安全生产
        的副县长" is 令狐德昌 in "令狐德昌同志，副县长，分管工业和安全生产", so a table row about 令狐德昌
        is about the target. Only the sentence that says most of the target (70 % of its words) counts."""
        words = [w for w in ask.target if len(w) >= 2]
        if len(words) < 3 or ask.slot not in ("quantity", "date", "year", "name", "place"):
            return ()
        # only a question that describes a person by post ("分管工业和安全生产的副县长")
        posts = [w for w in words if POST.search(w)]
        if not posts:
            return ()
        from kb.language.person_names import person_mentions

        best: tuple[float, list[str]] = (0.0, [])
        for cand in candidates[:BIND_TOP]:
            share = sum(1 for w in words if w in cand.text) / len(words)
            if share < 0.7 or share <= best[0] or not any(p in cand.text for p in posts):
                continue
            tagger = self.fillers.tagger
            names = [e.text for e in tagger.entities(cand.text) if e.kind == "person"] if tagger is not None else []
            names += person_mentions(cand.text)
            if names:
                best = (share, names)
        return tuple(dict.fromkeys(n for n in best[1] if len(n) >= 2))

    def _extreme(self, ask: Ask, candidates: list[Candidate]) -> tuple[list[tuple[Candidate, SlotFill]], str]:
        """"谁的优秀率最低": the row holding the least (most) of the column, over every row of its table in
        the document — not the rows that happened to be retrieved — named by its first cell."""
        column = ask.head
        rows = [c for c in candidates[:BIND_TOP] if is_table_row(c.text) and re.search(re.escape(column) + r"[^，：:]{0,4}[：:]", c.text)]
        if not rows:
            return [], f"no table in the evidence has a column {column}"
        top = rows[0]
        # the caption a row opens with ("民主测评主要结果，姓名：…"), after a lead the quote may carry
        opening = re.search(r"(?:^|\s)([^，。：:\s]{2,30})，[^，：:]{1,12}[：:]", top.text)
        caption = opening.group(1) if opening else top.text.split("，", 1)[0]
        text = self.services.verifier.document_text(top.hit.chunk.doc_id) or top.hit.chunk.text
        values: list[tuple[float, str]] = []
        for line in re.split(r"(?<=[。\n])", text):
            line = line.strip()
            if not line.startswith(caption + "，"):
                continue
            cell = re.search(re.escape(column) + r"[^，：:]{0,4}[：:]\s*(-?\d+(?:\.\d+)?)", line)
            if cell:
                values.append((float(cell.group(1)), line))
        if len(values) < 2:
            return [], f"the table has no {column} to compare"
        value, line = (max if ask.extreme == "max" else min)(values, key=lambda v: v[0])
        if sum(1 for v, _ in values if v == value) > 1:
            return [], f"more than one row holds that {column}"
        hit = next((c.hit for c in candidates if line in c.hit.chunk.text), None)
        if hit is None:
            found = self.services.retriever.search(line, k=3, filters=Filters(doc_ids=[top.hit.chunk.doc_id]))
            hit = next((h for h in found if line in h.chunk.text), None)
        if hit is None:
            return [], "the row is not in the evidence"
        # named by its first cell that is not a row number (序号：9 names no one)
        name = next((m for m in re.finditer(r"，([^，：:]{1,8})[：:]([^，。]+)", line)
                     if not m.group(1).startswith(tuple(self.tables.words["number_columns"]))), None)
        label = name.group(2) if name else line.split("，")[1]
        at = line.find(label)
        cand = Candidate(hit, line, top.score, top.coverage, 0, hit.chunk.text.find(line), top.focus)
        fill = SlotFill(Filler(label, at, at + len(label), "row"), "", 0)
        return [(cand, fill)], ""

    def _fill(self, ask: Ask, analysis: QuestionAnalysis, eligible: list[Candidate], weights=None,
              candidates: list[Candidate] | None = None) -> tuple[list[tuple[Candidate, SlotFill]], str | None]:
        """The eligible sentences that fill the ask's slot, best first, and why none does (None: the slot
        is not to be demanded of this evidence)."""
        if ask.slot == "extreme":
            return self._extreme(ask, candidates or eligible)
        filled: list[tuple[Candidate, SlotFill]] = []
        reason, soft = "", True
        aliases = self._aliases(ask, candidates or eligible)
        for rank, cand in enumerate(eligible[:BIND_TOP]):
            fill = self.fillers.fill(ask, analysis, cand.text, self.context_of(cand), self.about_of(cand), weights, aliases)
            if fill.ok:
                filled.append((cand, fill))
            else:
                # a wrong list far down the evidence says nothing of the list the best sentences hold
                soft = soft and (fill.soft or rank >= 3)
                reason = reason or fill.reason
        if not filled and soft and ask.slot == "list":
            # no sentence lists anything of the kind asked: no typed span to demand, the untyped answerer decides
            return filled, None
        return filled, reason

    def _wordvectors(self):
        try:
            return getattr(self.services, "wordvectors", None)
        except ImportError as exc:
            # the semantic layer is an upgrade of the features, never a reason not to answer
            log.warning("word vectors unavailable, answering without them: %s", exc)
            return None

    # -- public API ----------------------------------------------------------------------------
    def ask(self, question: str, filters: Filters | None = None, k: int | None = None, history: list[str] | None = None) -> Answer:
        answer = None
        for piece in self.stream(question, filters, k, history=history):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(
        self, question: str, filters: Filters | None = None, k: int | None = None, history: list[str] | None = None
    ) -> Iterator[str | Answer]:
        """`history`: the earlier questions of the conversation, oldest first; a follow-up ("那政治定力
        呢？") is answered as the standalone question it stands for (Answer.resolved_question)."""
        question = (question or "").strip()
        if not question:
            answer = Answer(question="", answer="问题为空，请输入问题。", refused=True, mode="extractive", notes=["empty question"])
            yield answer.answer
            yield answer
            return
        asked = question
        question = self.resolve(question, history)
        for piece in self._stream(question, filters, k):
            if isinstance(piece, Answer):
                piece.resolved_question = question
                piece.question = asked
                piece.answer_id = uuid.uuid4().hex[:16]
            yield piece

    def resolve(self, question: str, history: list[str] | None) -> str:
        """The standalone question a follow-up stands for: by the model when one is configured and
        gives a usable rewrite, by the rules otherwise; a standalone question is returned as is."""
        history = [h for h in (history or []) if h and h.strip()]
        if not history or not self.follow_up.leans_on(question, history[-1]):
            return question
        llm = self.services.llm
        if llm is not None:
            rewritten = condense_with_model(llm, self.services.prompts, question, history, self.services.tokenizer)
            if rewritten:
                return rewritten
        return self.follow_up.resolve(question, history)

    def _stream(self, question: str, filters: Filters | None, k: int | None) -> Iterator[str | Answer]:
        # a pasted document is not a question: search with its beginning, say so
        question_used = question[:2000]
        parts = split_question(question_used)
        # a maximum, sum or count over a table is computed over all its rows, not read from the top-k
        # passages (kb/answering/table_questions.py); None when no one table and column fit
        table = self.tables.answer(question_used, filters) if len(parts) == 1 else None
        if table is not None:
            yield from pieces(table.answer)
            yield table
            return
        if len(parts) > 1:
            # "…组长是谁？他提出了什么要求？": each part is answered (or not) on its own; the LLM, if any,
            # reads the whole question over every part's contexts
            analysis = self.analyse(question_used)
            answers = [self._part_answer(part, filters, k) for part in parts]
            extractive, decision_reason = self._combine(question, parts, answers)
        else:
            analysis, hits = self.evidence(question_used, filters, k)
            extractive, decision_reason = self._extractive(question, analysis, hits, filters)
        if len(question) > 2000:
            extractive.notes.append("question truncated to 2000 characters for retrieval")
        llm = self.services.llm
        # the model only phrases what the evidence supports: a refusal, or an answer the binding
        # rules blocked, is never overturned
        if llm is None or extractive.status == "refused" or (extractive.status == "related" and decision_reason == "blocked"):
            yield from pieces(extractive.answer)
            yield extractive
            return
        yield from self.llm_answerer.stream(analysis, extractive.contexts, extractive)

    def _part_answer(self, part: str, filters: Filters | None, k: int | None) -> tuple[Answer, str]:
        table = self.tables.answer(part, filters)
        return (table, "model") if table is not None else self._extractive(part, *self.evidence(part, filters, k), filters)

    @staticmethod
    def _combine(question: str, parts: list[str], answers: list[tuple[Answer, str]]) -> tuple[Answer, str]:
        """One answer of the parts' answers: a paragraph per part, citations numbered through."""
        states = [a.status for a, _ in answers]
        status = "answered" if all(s == "answered" for s in states) else ("refused" if all(s == "refused" for s in states) else "related")
        kind = "blocked" if status != "answered" and any(k == "blocked" for _, k in answers) else "model"
        offset, paragraphs, citations, contexts, notes = 0, [], [], [], []
        seen: set[str] = set()
        for i, (part, (answer, _)) in enumerate(zip(parts, answers), 1):
            shift = offset
            text = CITATION_MARK.sub(lambda m: f"[{int(m.group(1)) + shift}]", answer.answer)
            paragraphs.append(f"（{i}）{part}\n{text}")
            citations += [dataclasses.replace(c, n=c.n + shift) for c in answer.citations]
            offset += len(answer.citations)
            for h in answer.contexts:
                if h.chunk.chunk_id not in seen:
                    seen.add(h.chunk.chunk_id)
                    contexts.append(Hit(rank=len(contexts) + 1, chunk=h.chunk, score=h.score))
            notes += [f"part {i} ({answer.status}): {n}" for n in answer.notes]
        return Answer(question=question, answer="\n".join(paragraphs), refused=status == "refused", mode="extractive",
                      citations=citations, contexts=contexts, notes=notes, status=status), kind

    def analyse(self, question: str) -> QuestionAnalysis:
        snap = self.services.lexical.snapshot
        titles = snap.titles() if snap is not None else {}
        analysis = analyse_question(question, self.services.tokenizer, self.lex, self._known_term(), self._thesaurus(), titles)
        if analysis.named_docs and re.search(r"第[一二三四五六七八九十百零〇\d]+条", question):
            # "《中华人民共和国宪法》第三十四条": the clause lookup knows which one document is named; titles
            # sharing its words (上海市实施《中华人民共和国义务教育法》办法) are not named too
            query, exact = self.services.retriever.clause_query(question)
            if query is not None and exact:
                analysis.named_docs = {d: titles.get(d, d) for d in exact[:1]}
                analysis.multi_source = bool(self.lex.cue("multi").search(question))
        return analysis

    def evidence(self, question: str, filters: Filters | None = None, k: int | None = None) -> tuple[QuestionAnalysis, list[Hit]]:
        """The question's analysis and the retrieved contexts an answer is composed from."""
        hits = self.services.retriever.search(question, k=k or self.settings.answer.context_k, filters=filters)
        analysis = self.analyse(question)
        if analysis.answer_type == "definition" and analysis.definition_subject and not (filters and not filters.is_empty()):
            # "什么算政治担当": the shipped framework defines its terms (its 内涵 sections); they are
            # evidence even when the user's documents outrank them (composition puts them first)
            seen = {h.chunk.chunk_id for h in hits}
            for h in self.services.retriever.search(analysis.definition_subject + " 内涵", k=2, filters=Filters(doc_types=["criteria"])):
                if h.chunk.chunk_id not in seen and analysis.definition_subject in (h.chunk.section or ""):
                    seen.add(h.chunk.chunk_id)
                    hits.append(Hit(rank=len(hits) + 1, chunk=h.chunk, score=h.score))
        elif not (filters and not filters.is_empty()):
            # "政治自律主要考察什么": an evaluation standard's section on the term the question is about
            # (its heading names the term) is evidence even when other documents outrank it — they
            # mention the term, the standard's section is about it
            subjects = [t for t in analysis.content_terms if len(t) >= 3]
            seen = {h.chunk.chunk_id for h in hits}
            added = 0
            for h in self.services.retriever.search(question, k=4, filters=Filters(doc_types=["criteria"])) if subjects else []:
                heading = (h.chunk.section or "").split(" > ")[0]
                if added < 2 and h.chunk.chunk_id not in seen and any(t in heading for t in subjects):
                    seen.add(h.chunk.chunk_id)
                    hits.append(Hit(rank=len(hits) + 1, chunk=h.chunk, score=h.score))
                    added += 1
        if analysis.multi_source and analysis.named_docs and not (filters and filters.doc_ids):
            # each document the question names contributes its own best passages, not only those
            # that made the overall top k
            seen = {h.chunk.chunk_id for h in hits}
            # inside a document its title words are everywhere: search with what is asked about
            content = question
            for t in sorted(self.services.tokenizer.content_terms(question), key=len, reverse=True):
                if len(t) >= 2 and t in analysis.named_text():
                    content = content.replace(t, " ")
            if len(self.services.tokenizer.content_terms(content)) == 0:
                content = question
            for doc_id in analysis.named_docs:
                for h in self.services.retriever.search(content, k=3, filters=Filters(doc_ids=[doc_id])):
                    if h.chunk.chunk_id not in seen:
                        seen.add(h.chunk.chunk_id)
                        hits.append(Hit(rank=len(hits) + 1, chunk=h.chunk, score=h.score))
        return analysis, hits

    def evidence_pool(self, analysis: QuestionAnalysis, hits: list[Hit]) -> list[Hit]:
        """The hits, their neighbouring chunks, and — for a question naming a place — only the
        documents that speak of that place when some do."""
        pool = hits + self.services.retriever.neighbours(hits)
        if analysis.places:
            verifier = self.services.verifier

            def names_place(hit: Hit) -> bool:
                text = (verifier.document_text(hit.chunk.doc_id) or "") + hit.chunk.title
                return any(p in text for p in analysis.places)

            # a document the question names by title is evidence whatever place it speaks of
            local = [h for h in pool if h.chunk.doc_id in analysis.named_docs or names_place(h)]
            if local:
                pool = local
        return pool

    # -- the extractive answer -------------------------------------------------------------------
    def _known_term(self):
        snap = self.services.lexical.snapshot
        bm25 = getattr(snap, "bm25", None) if snap is not None else None
        if bm25 is None:
            return None
        vocab = bm25.vocab_dict
        return lambda term: term in vocab

    def _thesaurus(self):
        return getattr(self.services, "thesaurus", None)

    def idf_source(self) -> TermRarity:
        snap = self.services.lexical.snapshot
        bm25 = getattr(snap, "bm25", None) if snap is not None else None
        if bm25 is None:
            return TermRarity(None, None, 1)
        return TermRarity(bm25.vocab_dict, bm25.scores["indptr"], len(snap))

    def _blocked_reason(self, analysis: QuestionAnalysis, candidates: list[Candidate], typed: bool = False) -> tuple[list[Candidate], str, Binding | None]:
        """The candidates that may carry an answer (binding), why none may when none may, and the
        binding the features describe."""
        eligible: list[Candidate] = []
        bindings = []
        reasons: list[str] = []
        bound = analysis
        if typed:
            # a typed slot's filler checks the titles a question names itself, in the sentence, the text
            # before it or a short passage ("该片于2019年2月5日上映" in a passage about 《流浪地球》)
            bound = dataclasses.replace(analysis, anchors=[a for a in analysis.anchors if a.kind != "title"])
        for cand in candidates[:BIND_TOP]:
            b = self.binder.bind(bound, cand.text, cand.hit)
            if typed:
                # a typed slot's filler (fillers.py) states the facet and names the person asked for
                b.facet = None
                b.name = None
            bindings.append(b)
            if b.ok:
                eligible.append(cand)
            elif not reasons:
                if b.anchors == 0:
                    reasons.append("the evidence is not about " + "、".join(a.text for a in b.unbound))
                elif b.quantity == 0:
                    reasons.append(f"no {analysis.unit_class or 'number'} quantity about what is asked in the evidence")
                elif b.facet == 0:
                    reasons.append(f"the evidence does not state the {analysis.facet.name if analysis.facet else 'facet'} asked for")
                elif b.name == 0:
                    reasons.append("the evidence names no one")
        # the binding the features describe: the first eligible candidate's, else the best candidate's
        binding = next((b for b in bindings if b.ok), bindings[0] if bindings else None)
        return eligible, ("" if eligible else (reasons[0] if reasons else "no evidence sentence")), binding

    def _predicate_share(self, analysis: QuestionAnalysis, chosen: list[Candidate]) -> tuple[float, list[str]]:
        """The best share of the quantity clause's verbs said by a sentence giving the number: the
        number must be a number of what is asked ("抽查了142份对照检查材料" does not answer "多少份
        对照检查材料被打回重写"). Verbs the document's title already says are its subject."""
        if not analysis.quantity:
            return 1.0, []
        tokenizer = self.services.tokenizer
        verbs = analysis.predicate_words(tokenizer, self.lex)
        if not verbs:
            return 1.0, []
        numbered = [c for c in chosen if has_quantity(self.lex, c.text, analysis.unit_class, analysis.answer_units)]
        best_share, missing = 0.0, verbs
        for c in numbered:
            title = set(tokenizer.tokenize(c.hit.chunk.title + " " + c.hit.chunk.section))
            asked = [v for v in verbs if not analysis.covers(v, title)]
            lacking = [v for v in asked if not _verb_in(analysis, v, c.text, tokenizer)]
            share = 1 - len(lacking) / len(asked) if asked else 1.0
            if share > best_share:
                best_share, missing = share, lacking
        return best_share, missing

    def _facetless_focus(self, analysis: QuestionAnalysis, candidates: list[Candidate], eligible: list[Candidate],
                         chosen: list[Candidate]) -> str:
        """A sentence that says the facet asked about something else is no answer. When the sentence
        that holds the question's distinguishing words (its focus) cannot state the facet, and the
        sentences that can are about other things (their focus a fraction of its), the evidence
        speaks of what is asked without saying it: "…培训计划由哪些单位负责" was answered with a 领导
        小组 sentence that merely says 负责, the row naming the 培训计划 left unbound."""
        if analysis.facet is None or not chosen or not candidates:
            return ""
        top = max(candidates[:BIND_TOP], key=lambda c: c.focus)
        if any(c is top for c in eligible) or top.focus < FOCUS_LEAD_MIN:
            return ""
        if max(c.focus for c in chosen) >= FOCUS_LEAD_SHARE * top.focus:
            return ""
        # A sentence that goes straight on from the top one in its paragraph speaks of the same thing:
        # "…第二考核组…对某某区住房城乡建设局领导班子…进行了年度考核。考核组组长由…担任，副组长为…"
        # — the second sentence names the 副组长 of the 考核组 the first one introduced, without
        # repeating the words that make the first one the focus.
        if any(_continues(top, c) for c in chosen):
            return ""
        return f"the evidence about what is asked does not state the {analysis.facet.name}"

    def _clause_reason(self, question: str) -> str:
        """A question for 第N条 of a named document that the knowledge base does not hold."""
        query, exact = self.services.retriever.clause_query(question)
        if query is None or query.article is None:
            return ""
        if not query.title_text:
            # "请给出预算法第七十九条的原文" with no document of that title at all
            named = _NAMED_ACT.search(question)
            return f"the knowledge base holds no document titled {re.sub(r'^(请给出|请问|根据|按照|依照|依据)', '', named.group(1))}" if named else ""
        if not exact:
            near = f" (nearest: {query.doc_ids[0]})" if query.doc_ids else ""
            return f"the knowledge base holds no document titled {query.title_text.strip()}{near}"
        return ""

    def decide(self, question: str, analysis: QuestionAnalysis, hits: list[Hit], filters: Filters | None = None):
        """Everything the answer's state rests on: (decision, the sentences an answer is made of, all
        candidates, the sentences the best selection would show whether bound or not)."""
        self._refresh_model()
        idf = self.idf_source()
        pool = self.evidence_pool(analysis, hits)
        weights = self.scorer.weights(analysis, idf)
        candidates = self.scorer.candidates(analysis, pool, idf, weights)
        ask = self.ask_of(analysis)
        eligible, blocked, binding = self._blocked_reason(analysis, candidates, typed=ask.typed and ask.slot != "quantity")
        filled: list[tuple[Candidate, SlotFill]] = []
        if ask.typed and eligible:
            # a typed slot is answered only by a sentence holding a span that fills it (fillers.py)
            filled, why = self._fill(ask, analysis, eligible, weights, candidates)
            if not filled and why is not None:
                blocked = why or blocked
                eligible = []
        if filled and ask.slot == "list":
            chosen = self.composer.select_list(analysis, filled, candidates)
        elif filled:
            chosen = self.composer.select_filled(analysis, filled)
        else:
            chosen = self.composer.select(analysis, eligible) if eligible else []
        share, missing = self._predicate_share(analysis, chosen)
        if filled and any(f.via for c, f in filled if chosen and c is chosen[0]):
            share = 1.0  # the row names the person the question describes: the number is theirs
        if chosen and share < self.settings.answer.min_predicate_share:
            blocked = f"the number in the evidence is not about {'、'.join(missing)}"
        if not filled:
            if chosen and analysis.who_focus and not any(analysis.who_focus in c.text for c in chosen[:2]):
                blocked = f"the evidence does not say who the {analysis.who_focus} is"
            blocked = blocked or self._facetless_focus(analysis, candidates, eligible, chosen)
            term = _defined_term(analysis)
            defines = lambda c: self.lex.defines(term, c.text, f"{c.hit.chunk.title} {c.hit.chunk.section}")  # noqa: E731
            if not blocked and chosen and term and not any(defines(c) for c in chosen[:3]):
                # "什么是X" is answered by the sentence that says what X is, when the selection missed it
                # for sentences that name X inside something else ("X的衍生物是…"); without one, it is not
                definition = next((c for c in eligible[:BIND_TOP] if defines(c)), None)
                if definition is not None:
                    chosen = [definition] + [c for c in chosen if c is not definition][: max(0, len(chosen) - 1)]
                else:
                    blocked = f"the evidence does not say what {term} is"
        blocked = blocked or self._clause_reason(question)
        shown = chosen or self.composer.select(analysis, candidates)
        lexical = self.services.retriever.lexical_scores(analysis.question, 10, filters)
        idf_mass = idf.mass(self.services.retriever.query_tokens(analysis.question))
        focus = max((c.focus for c in shown[:1]), default=0.0)
        plain = self.scorer.weights(analysis, idf, for_selection=False) if analysis.named_docs else weights
        features = self.features.extract(analysis, plain, hits, lexical, idf_mass, shown, binding, share, focus, sentence_weights=weights)
        decision = self.policy.decide(features, blocked=blocked, no_evidence=not hits or not candidates,
                                      filled=bool(filled) and not blocked)
        decision.ask = ask
        decision.fill = next((f for c, f in filled if chosen and c is chosen[0]), None) if filled else None
        return decision, chosen, candidates, shown

    def _extractive(self, question: str, analysis: QuestionAnalysis, hits: list[Hit], filters=None) -> tuple[Answer, str]:
        decision, chosen, candidates, best = self.decide(question, analysis, hits, filters)
        notes = [decision.reason] if decision.reason else []
        notes.append(f"relevance {decision.p_relevant:.2f}, answer {decision.p_answer:.2f}")
        kind = "blocked" if decision.blocked else "model"
        if decision.status == "refused":
            notes.append("contexts are the closest sources (possibly related)")
            return Answer(question=question, answer=REFUSAL_TEXT, refused=True, mode="extractive", contexts=hits,
                          notes=notes, status="refused"), kind
        if decision.status == "answered":
            shown = chosen
        else:
            # the passages closest to an answer: what the best selection would have said, then the
            # best sentences of other passages
            shown = self.composer.related(best + candidates, limit=5)
        if not (analysis.wants_list and decision.status == "answered"):
            # a numbered list keeps one item per line
            shown = self.composer.merge_adjacent(self.composer.complete_sentences(shown))
        # neighbour chunks that supplied a sentence become contexts too: every citation must
        # resolve to a chunk listed in the answer's contexts
        listed = {h.chunk.chunk_id for h in hits}
        for cand in shown:
            if cand.hit.chunk.chunk_id not in listed:
                listed.add(cand.hit.chunk.chunk_id)
                hits = hits + [Hit(rank=len(hits) + 1, chunk=cand.hit.chunk, score=cand.hit.score)]
        verifier = self.services.verifier
        citations: list[Citation] = [verifier.cite(i, cand.hit, cand.text, at=cand.start) for i, cand in enumerate(shown, 1)]
        filler = self._filler_record(decision, chosen, shown) if decision.status == "answered" else None
        text = self.composer.render(analysis, shown, decision.status, (filler["text"], filler["citation"]) if filler else None)
        ask = decision.ask
        return Answer(
            question=question,
            answer=text,
            refused=False,
            mode="extractive",
            citations=citations,
            unsupported=[],
            contexts=hits,
            notes=notes,
            status=decision.status,
            slot=(ask.slot or "") if ask is not None else "",
            filler=filler,
        ), kind

    @staticmethod
    def _filler_record(decision, chosen: list[Candidate], shown: list[Candidate]) -> dict | None:
        """Where the filler of an answered typed slot stands: the citation whose quote holds it, its
        offsets in that quote and in the document."""
        fill = decision.fill
        if fill is None or not chosen:
            return None
        top = chosen[0]
        for n, quote in enumerate(shown, 1):
            if quote.hit.chunk.chunk_id != top.hit.chunk.chunk_id:
                continue
            at = quote.text.find(top.text)
            if at < 0:
                continue
            start = at + fill.filler.start
            record = {"text": fill.filler.text, "kind": fill.filler.kind, "citation": n,
                      "quote_start": start, "quote_end": start + len(fill.filler.text)}
            if quote.start >= 0:
                record["doc_start"] = quote.hit.chunk.start + quote.start + start
                record["doc_end"] = record["doc_start"] + len(fill.filler.text)
            return record
        return None
