"""Composition: which candidate sentences make the answer, in which order, and how it reads.

Selection is maximal marginal relevance over the scored candidates, then:
  * enumerations (一是…四是, 第一轮…) are completed — across a chunk boundary too, and whenever two
    items of a series are already in the answer;
  * a "为什么" answer carries the sentence that follows its premise in the same passage;
  * documents the question names by title ("A和B各指出了什么") answer one by one, each in its own
    labelled paragraph (《title》：…);
  * a definition question about a term the shipped framework defines (什么算政治担当) is answered by
    the framework's 内涵 section first.
Rendering: an answered question gets its sentences with [n] marks (a numbered list for list questions);
a related one the fixed line of the lexicon and the best passages; a refused one the refusal text.
"""
from __future__ import annotations

import re

from kb.answering.evidence import Candidate
from kb.answering.lexicon import AnswerLexicon
from kb.answering.question_analysis import QuestionAnalysis
from kb.models import Hit
from kb.citations.verify import bigrams, plain, sentence_spans


def _same_value(text: str) -> str:
    """A filler's value for comparing two sources: "一个小时" and "一小时" say the same."""
    return plain(text).replace("个", "")


def jaccard(a: str, b: str) -> float:
    ga, gb = bigrams(a), bigrams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


class AnswerComposer:
    def __init__(self, settings, lexicon: AnswerLexicon):
        self.settings = settings
        self.lex = lexicon

    def select(self, analysis: QuestionAnalysis, candidates: list[Candidate]) -> list[Candidate]:
        cfg = self.settings.answer
        limit = cfg.max_list_items if analysis.wants_list else cfg.max_sentences
        if not candidates:
            return []
        record = self._record_lines(analysis, candidates)
        if record:
            return record
        named = [d for d in analysis.named_docs if any(c.hit.chunk.doc_id == d for c in candidates)]
        if analysis.multi_source and len(named) >= 2:
            return self._select_per_document(candidates, named, limit)
        candidates = self._definition_first(analysis, candidates)
        best = candidates[0].score
        chosen: list[Candidate] = []
        chars = 0
        pool = list(candidates[:40])
        floor = 0.45 if analysis.wants_list else 0.6  # a list question wants the other items too
        while pool and len(chosen) < limit:
            # maximal marginal relevance: relevance minus similarity to what is already chosen
            def mmr(c: Candidate) -> float:
                return c.score - 0.7 * max((jaccard(c.text, o.text) for o in chosen), default=0.0)

            pick = max(pool, key=mmr)
            pool.remove(pick)
            if chosen and (pick.score < best * floor or mmr(pick) < best * (floor - 0.15)):
                break
            if any(pick.text in o.text or o.text in pick.text for o in chosen):
                continue
            if chosen and _other_record(pick, chosen[0]):
                continue
            if chosen and chars + len(pick.text) > cfg.max_chars:
                continue
            chosen.append(pick)
            chars += len(pick.text)
        if analysis.wants_list or analysis.wants_reason or len(chosen) == 1:
            chosen = self._complete_enumeration(chosen, candidates, limit)
        else:
            chosen = self._complete_enumeration(chosen, candidates, limit, anchor_any=False)
        if analysis.wants_reason and chosen:
            chosen = self._with_explanation(chosen, candidates)
        elif len(chosen) == 1:
            chosen = self._with_neighbour(chosen, candidates)
        if analysis.multi_source:
            chosen = self._one_per_source(chosen, candidates, named=tuple(analysis.named_docs))
        # read in document order within the answer: the same chunk's sentences keep their order —
        # except rows of one table, which answer side by side: the row asked about comes first
        first_of_chunk: dict[str, int] = {}
        for i, c in enumerate(chosen):
            first_of_chunk.setdefault(c.hit.chunk.chunk_id, i)
        rows = {id(c) for c in _table_rows(chosen)}
        return sorted(chosen, key=lambda c: (first_of_chunk[c.hit.chunk.chunk_id], -c.score if id(c) in rows else 0, c.position))

    def select_filled(self, analysis: QuestionAnalysis, filled: list) -> list[Candidate]:
        """A typed slot's answer (fillers.py): the best sentence that fills it, and one more from another
        document that fills it with the same value (a second source). Sentences that do not state the
        filler are not part of the answer."""
        habitual = bool(re.search(r"一般|通常|往往|每年|每次|一贯|惯例", analysis.question))
        weights = self.settings.retrieval.collection_weights

        def rank(cf):
            cand, fill = cf
            # "一般安排在什么时候": a time told as a rule ("安排在民主生活会前") before one occasion's date;
            # the user's own documents before the shipped framework (collection weights, as retrieval)
            return (habitual and fill.filler.kind != "relative-time", -cand.score * weights.get(cand.hit.chunk.collection, 1.0), fill.distance)

        ranked = sorted(filled, key=rank)
        top, fill = ranked[0]
        value = _same_value(fill.filler.text)
        chosen = [top]
        for cand, other in ranked[1:]:
            if len(chosen) >= 2:
                break
            if cand.hit.chunk.doc_id != top.hit.chunk.doc_id and _same_value(other.filler.text) == value and cand.text not in top.text:
                chosen.append(cand)
        return chosen

    def select_list(self, analysis: QuestionAnalysis, filled: list, candidates: list[Candidate]) -> list[Candidate]:
        """A list's answer: for each document that lists it (the first two), its best enumeration — a
        series (一是…四是) completed with its items — never a merge of different documents' lists."""
        limit = self.settings.answer.max_list_items
        weights = self.settings.retrieval.collection_weights
        ranked = sorted(filled, key=lambda cf: (cf[1].filler.kind != "list", -cf[0].score * weights.get(cf[0].hit.chunk.collection, 1.0)))
        chosen: list[Candidate] = []
        docs: list[str] = []
        for cand, fill in ranked:
            doc = cand.hit.chunk.doc_id
            if doc in docs or len(docs) >= 2:
                continue
            docs.append(doc)
            # an item of a numbered series ("（四）有其他玩忽职守……行为") is one of the list's items: all of them
            item = any(cand.text.lstrip().startswith(m) for series in self.lex.enumerations for m in series)
            if fill.filler.kind == "series" or item:
                chosen += self._complete_enumeration([cand], candidates, limit)
            else:
                chosen.append(cand)
        return chosen

    # -- document fields -----------------------------------------------------------------------------
    def _record_lines(self, analysis: QuestionAnalysis, candidates: list[Candidate]) -> list[Candidate]:
        """"这份通知是哪个机关印发的": when the question asks for fields a 公文's 文件信息 record states
        and the record is among the best evidence (within the selection's own floor of the best
        score), the answer is the record's lines for those fields and nothing else (record_fields in
        answer_lexicon.yaml). Empty when that is not the case."""
        asked = [f for f, words in self.lex.record_fields.items() if any(w in analysis.question for w in words)]
        if not asked:
            return []
        best = candidates[0].score
        lines = [
            c for c in candidates
            if (c.hit.chunk.section or "").split(" > ")[0] == self.lex.record_section
            and any(f"的{f}：" in c.text for f in asked) and c.score >= 0.6 * best
        ]
        if not lines or not all(any(f"的{f}：" in c.text for c in lines) for f in asked):
            return []  # a field the record does not state: the body may say it
        lines = [c for c in lines if c.hit.chunk.chunk_id == lines[0].hit.chunk.chunk_id]  # one document's
        unique: list[Candidate] = []
        for c in sorted(lines, key=lambda c: c.position):
            if not any(c.text in o.text or o.text in c.text for o in unique):
                unique.append(c)
        return unique

    # -- definitions ---------------------------------------------------------------------------------
    @staticmethod
    def _definition_first(analysis: QuestionAnalysis, candidates: list[Candidate]) -> list[Candidate]:
        """"什么算政治担当": the shipped framework defines each of its terms in a 内涵 section. When the
        question's subject is such a term and the user's own documents offer no sentence that defines
        it better, the framework's definition leads the answer."""
        subject = analysis.definition_subject
        if analysis.answer_type != "definition" or not subject:
            return candidates
        defining = [
            c for c in candidates
            if c.hit.chunk.doc_type == "criteria" and "内涵" in (c.hit.chunk.section or "") and subject in (c.hit.chunk.section or "")
        ]
        if not defining:
            return candidates
        top = max(c.score for c in candidates)
        lead = defining[0]
        lead = Candidate(lead.hit, lead.text, max(lead.score, top + 1e-6), lead.coverage, lead.position, lead.start)
        return [lead] + [c for c in candidates if c is not defining[0]]

    # -- reasons -------------------------------------------------------------------------------------
    @staticmethod
    def _with_explanation(chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
        """A "为什么" answer: the sentence that best restates the question is usually the premise, and
        the reason is given by the sentence that follows it in the same passage
        ("……还要仔细查看会议记录等资料。考察要求……善于从原始材料、白纸黑字中发现问题"). Add that one."""
        premise = max(chosen, key=lambda c: c.coverage)
        text = premise.hit.chunk.text
        at = text.find(premise.text)
        if at < 0:
            return chosen
        end = at + len(premise.text)
        rest = text[end:]
        next_start = end + len(rest) - len(rest.lstrip())
        following = [
            c
            for c in candidates
            if c.hit.chunk.chunk_id == premise.hit.chunk.chunk_id and c.coverage > 0 and text.startswith(c.text, next_start)
        ]
        if not following or any(following[0].text in o.text or o.text in following[0].text for o in chosen):
            return chosen
        return chosen + [following[0]]

    @staticmethod
    def _with_neighbour(chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
        """A one-sentence answer also carries the sentence before or after it in the same passage when
        that one matches the question nearly as well: a fact is often said across two sentences
        ("纽西兰鸡毛松…的特有种。其叶螺旋状排列…")."""
        top = chosen[0]
        near = [
            c for c in candidates
            if c.hit.chunk.chunk_id == top.hit.chunk.chunk_id and abs(c.position - top.position) == 1
            and c.score >= 0.45 * top.score and c.text not in top.text and top.text not in c.text
            and not _other_record(c, top)
        ]
        return chosen + [max(near, key=lambda c: c.score)] if near else chosen

    # -- several documents -----------------------------------------------------------------------------
    def _select_per_document(self, candidates: list[Candidate], named: list[str], limit: int) -> list[Candidate]:
        """"A和B各指出了什么": each named document answers for itself — its own best sentences, in
        turn, judged against that document's best (one document may match the wording far better)."""
        per_doc = {d: [c for c in candidates if c.hit.chunk.doc_id == d][:20] for d in named}
        quota = max(1, -(-limit // len(named)))
        chosen: list[Candidate] = []
        chars = 0
        for _ in range(quota):
            for d in named:
                pool = per_doc[d]
                if not pool:
                    continue
                mine = [c for c in chosen if c.hit.chunk.doc_id == d]
                best = pool[0].score if not mine else max(c.score for c in mine)

                def mmr(c: Candidate) -> float:
                    return c.score - 0.7 * max((jaccard(c.text, o.text) for o in chosen), default=0.0)

                pick = max(pool, key=mmr)
                pool.remove(pick)
                if mine and pick.score < best * 0.6:
                    per_doc[d] = []
                    continue
                if any(pick.text in o.text or o.text in pick.text for o in chosen):
                    continue
                if chosen and chars + len(pick.text) > self.settings.answer.max_chars * 1.5:
                    continue
                chosen.append(pick)
                chars += len(pick.text)
        order = {d: i for i, d in enumerate(named)}
        return sorted(chosen, key=lambda c: (order[c.hit.chunk.doc_id], c.hit.chunk.start, c.position))

    @staticmethod
    def _one_per_source(
        chosen: list[Candidate], candidates: list[Candidate], sources: int = 2, named: tuple[str, ...] = ()
    ) -> list[Candidate]:
        """A question comparing sources gets the best sentence of each of the best documents."""
        docs_present = {c.hit.chunk.doc_id for c in chosen}
        best_per_doc: dict[str, Candidate] = {}
        for c in candidates:
            best_per_doc.setdefault(c.hit.chunk.doc_id, c)
        if named:
            ranked = [best_per_doc[d] for d in named if d in best_per_doc]
        else:
            ranked = sorted(best_per_doc.values(), key=lambda c: -c.score)[:sources]
        extra = [c for c in ranked if c.hit.chunk.doc_id not in docs_present and c.coverage > 0]
        return chosen + extra

    # -- enumerations ------------------------------------------------------------------------------------
    def _complete_enumeration(
        self, chosen: list[Candidate], candidates: list[Candidate], limit: int, anchor_any: bool = True
    ) -> list[Candidate]:
        """If the best evidence opens or belongs to an enumeration (一是…二是…, 第一轮…第二轮…, 首先…其次…),
        the answer is the whole enumeration: add the sibling items, one sentence each — from the same
        chunk and, when the series runs on past the chunk's end, from the chunk that follows it.

        anchor_any=False (a question that did not ask for a list): act only when the answer already
        holds two items of one series — "第一轮…第三轮…" without "第二轮" is visibly incomplete."""
        if not chosen:
            return chosen
        for series in self.lex.enumerations:
            if anchor_any:
                top = chosen[0]
            else:
                holders = [c for c in chosen if any(c.text.lstrip().startswith(m) for m in series)]
                if len({c.hit.chunk.doc_id for c in holders}) != 1 or len(holders) < 2:
                    continue
                top = holders[0]
            text = top.hit.chunk.text
            present = sorted((text.find(marker), i) for i, marker in enumerate(series) if marker in text)
            if len(present) < 2:
                continue
            start_top = text.find(top.text)
            # the top sentence must sit inside the enumeration or right before it
            first_pos = present[0][0]
            if start_top < 0 or start_top > first_pos + 400 or first_pos - (start_top + len(top.text)) > 120:
                continue
            items = [(top.hit, pos) for pos, _ in present]
            # the series may run on into the next chunk of the document (一是…三是 here, 四是 there)
            nxt = self._next_chunk(top.hit, candidates)
            last = max(i for _, i in present)
            while nxt is not None and last + 1 < len(series):
                pos = nxt.chunk.text.find(series[last + 1])
                if pos < 0:
                    break
                items.append((nxt, pos))
                last += 1
            extra: list[Candidate] = []
            for hit, pos in items:
                ctext = hit.chunk.text
                spans = sentence_spans(ctext)
                span = next(((s, e) for s, e in spans if s <= pos < e), None)
                if span is None:
                    continue
                # an item sentence that starts mid-sentence keeps only the item's own words
                item = ctext[max(span[0], pos) : span[1]]
                if any(item in c.text or c.text in item for c in chosen + extra):
                    continue
                extra.append(Candidate(hit, item, top.score * 0.9, top.coverage, spans.index(span), max(span[0], pos)))
            if extra:
                room = max(0, limit + 2 - len(chosen))
                return chosen + extra[:room]
        return chosen

    @staticmethod
    def _next_chunk(hit: Hit, candidates: list[Candidate]) -> Hit | None:
        """The chunk that follows `hit` in its document, if it is among the evidence."""
        after = [
            c.hit
            for c in candidates
            if c.hit.chunk.doc_id == hit.chunk.doc_id and hit.chunk.start < c.hit.chunk.start <= hit.chunk.end
        ]
        return min(after, key=lambda h: h.chunk.start, default=None)

    # -- related passages ------------------------------------------------------------------------------
    def related(self, candidates: list[Candidate], limit: int = 3) -> list[Candidate]:
        """The best passages for a question the knowledge base speaks about without answering, in the
        order given, never the same sentence twice."""
        out: list[Candidate] = []
        for c in candidates:
            if any(c.text in o.text or o.text in c.text for o in out):
                continue
            out.append(c)
            if len(out) >= limit:
                break
        # passages in order of relevance, the sentences of one chunk in document order
        first: dict[str, int] = {}
        for i, c in enumerate(out):
            first.setdefault(c.hit.chunk.chunk_id, i)
        return sorted(out, key=lambda c: (first[c.hit.chunk.chunk_id], c.start))

    def complete_sentences(self, chosen: list[Candidate], limit: int = 220) -> list[Candidate]:
        """A quote that ends at "；" is a clause of a longer sentence: it runs on to the sentence's "。"
        ("此树的用途广泛，包括…作为上品；木材可制成…；心材…可作为颜料。"), unless what follows opens an
        item of a series (一是…；二是…) or the whole would be too long to read as one quote."""
        markers = tuple(m for series in self.lex.enumerations for m in series)
        out: list[Candidate] = []
        for c in chosen:
            text = c.hit.chunk.text
            if c.start < 0 or not c.text.rstrip().endswith(("；", ";")):
                out.append(c)
                continue
            end = c.start + len(c.text)
            stop = min((i for i in (text.find(ch, end) for ch in "。！？!?\n") if i >= 0), default=-1)
            rest = text[end:stop + 1] if stop >= 0 else ""
            if not rest or text[stop] == "\n" or rest.lstrip().startswith(markers) or len(c.text) + len(rest) > limit:
                out.append(c)
                continue
            out.append(Candidate(c.hit, text[c.start : stop + 1], c.score, c.coverage, c.position, c.start, c.focus))
        return out

    @staticmethod
    def merge_adjacent(chosen: list[Candidate]) -> list[Candidate]:
        """Sentences that follow each other in one chunk become one quote with one [n]: a passage read
        as it stands, and a citation mark never cuts a sentence pair the reader needs together."""
        out: list[Candidate] = []
        for c in chosen:
            prev = out[-1] if out else None
            if prev is not None and prev.hit.chunk.chunk_id == c.hit.chunk.chunk_id and prev.start >= 0 and c.start >= 0:
                text = prev.hit.chunk.text
                end = prev.start + len(prev.text)
                if end <= c.start and not text[end : c.start].strip():
                    merged = text[prev.start : c.start + len(c.text)]
                    out[-1] = Candidate(prev.hit, merged, max(prev.score, c.score), max(prev.coverage, c.coverage), prev.position, prev.start, max(prev.focus, c.focus))
                    continue
            out.append(c)
        return out

    # -- rendering -------------------------------------------------------------------------------------
    def render(self, analysis: QuestionAnalysis, chosen: list[Candidate], status: str, filler: tuple[str, int] | None = None) -> str:
        """The answer text with a [n] after each sentence (n = position in `chosen`, from 1). `filler`:
        (the span that fills the question's slot, the citation it stands in) — said first, on its own
        line, then the quotes that state it."""
        lines = [(c, i) for i, c in enumerate(chosen, 1)]
        if status == "answered" and filler is not None:
            text, n = filler
            return f"{text}[{n}]\n" + "".join(f"{c.text}[{i}]" for c, i in lines)
        if status == "related":
            body = "\n".join(f"{i}. {c.text}[{i}]" for c, i in lines)
            return f"{self.lex.related_line}\n{body}"
        docs = list(dict.fromkeys(c.hit.chunk.doc_id for c in chosen))
        if analysis.multi_source and len(docs) >= 2:
            # one labelled paragraph per document: 《title》：…[1]…[2]
            paragraphs = []
            for d in docs:
                mine = [(c, i) for c, i in lines if c.hit.chunk.doc_id == d]
                title = mine[0][0].hit.chunk.title or d
                paragraphs.append(f"《{title}》：" + "".join(f"{c.text}[{i}]" for c, i in mine))
            return "\n".join(paragraphs)
        if analysis.wants_list and len(lines) > 1:
            return "\n".join(f"{i}. {c.text}[{i}]" for c, i in lines)
        return "".join(f"{c.text}[{i}]" for c, i in lines)


def _row_caption(c: Candidate) -> str | None:
    """The caption a table row opens with ("表名，列：值，列：值。"), None for a sentence of prose."""
    head, sep, rest = c.text.partition("，")
    return head if sep and rest.count("：") >= 2 and "：" not in head else None


# what joins an answer led by a table row must match the question's distinguishing words at least this
# share as well as the row does
SIBLING_ROW_FOCUS = 0.5


def _other_record(pick: Candidate, top: Candidate) -> bool:
    """Is `pick` about another record than the table row `top` that leads the answer? A row is one
    whole record (one task, its 责任单位, its figures), and a sentence's score inherits its chunk's
    match with the question: the rows next to the row asked about, and prose near the table, score
    close to it without naming what is asked ("基层干部学历提升…培训计划由哪些单位负责" put the 责任单位
    of four other tasks, and the 领导小组 that 负责s 日常协调, into the answer). A sentence is kept
    when it, too, holds the words that distinguish the question ("哪些任务由县委组织部负责" wants every
    such row)."""
    if not _is_table_row(top):
        return False
    return pick.focus < SIBLING_ROW_FOCUS * top.focus


# a cell of a row sentence: "，列：值" with a short column label (no punctuation, no book-title marks)
_ROW_CELL = re.compile(r"(?:^|，)[^，：；。《》“”（）]{1,12}：(?=[^，])")


def _is_table_row(c: Candidate) -> bool:
    """A row as ingest/tables.py writes it: two cells or more "列：值", after its table's caption if it
    has one. A sentence of prose with two colons ("…作如下修改：将第十二条修改为：“…") is none."""
    return len(_ROW_CELL.findall(c.text)) >= 2


def _table_rows(chosen: list[Candidate]) -> list[Candidate]:
    """Chosen sentences that are rows of one table (ingest/tables.py writes a row as "表名，列：值，列：值。"):
    two or more sentences of one chunk that open with the same caption and name two columns each.
    They are read in order of score (they sort before the chunk's other sentences, which keep theirs)."""
    lead = _row_caption
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in chosen:
        key = lead(c)
        if key:
            groups.setdefault((c.hit.chunk.chunk_id, key), []).append(c)
    return [c for group in groups.values() if len(group) >= 2 for c in group]
