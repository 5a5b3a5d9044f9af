"""Binding: is an evidence sentence about what the question names, and does it state what is asked?

A sentence may carry an answer only if
  * it names each of the question's anchors (places, organisations, persons, quoted terms, titles,
    years) — or its passage does and the sentence names no competing one: "该省…共谈话4861人次"
    inherits 安徽 from its article, but a sentence about 全省 does not answer a question about one
    city, and one about the 省委 does not answer one about the 县委;
  * for a quantity question, the number of the asked unit sits in a clause bound to those anchors
    ("县(市、区)党委开展谈话4067人次" for 县委, not the province total two clauses away);
  * it states the facet asked for (a time limit, a share, a budget…) in an accepted word or as a
    number of the facet's unit family.
Levels: 2 = named in the sentence (or clause), 1 = inherited from the passage, 0 = unbound.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from kb.answering.lexicon import AnswerLexicon
from kb.answering.numbers import quantities
from kb.answering.question_analysis import Anchor, QuestionAnalysis, place_names

_CLAUSE_END = re.compile(r"[，,；;。！？!?：:]")
# a cell of a table row as ingest/tables.py writes it ("表名，列：值，列：值。"): the column label
_CELL_LABEL = re.compile(r"(?:^|[，,])\s*([^，,：:；;。]{1,12})[：:](?=\S)")


def _norm(text: str) -> str:
    return re.sub(r"[\s“”\"'《》()（）]", "", unicodedata.normalize("NFKC", text or "")).lower()


def _title_key(title: str) -> str:
    """A title as documents and questions both write it: no brackets, version date or 中华人民共和国."""
    title = re.sub(r"[(（]\d{4}-\d{2}-\d{2}[)）]$", "", (title or "").strip())
    return _norm(title).replace("中华人民共和国", "")


@dataclass
class Binding:
    anchors: float = 1.0  # min over anchors: 1 named, 0.5 inherited, 0 unbound (1 when none)
    unbound: list[Anchor] = field(default_factory=list)
    facet: float | None = None  # 1 stated, 0 not; None when no facet is asked
    quantity: float | None = None  # 1 a number of the asked unit in a bound clause; None: no quantity asked
    name: float | None = None  # 1 the sentence names a person; None: no name asked

    @property
    def ok(self) -> bool:
        return self.anchors > 0 and self.facet != 0 and self.quantity != 0 and self.name != 0


class Binder:
    def __init__(self, lexicon: AnswerLexicon, tokenizer, document_text, wordvectors=None):
        self.lex = lexicon
        self.tokenizer = tokenizer
        self.document_text = document_text  # doc_id → stored text (None when unknown)
        self.wordvectors = wordvectors

    # -- anchors ---------------------------------------------------------------------------------
    def _competing(self, anchor: Anchor, text: str, asked: tuple[Anchor, ...] = ()) -> bool:
        """Does `text` name another entity of the anchor's kind (so it is about that one)? The other
        anchors of the question (`asked`) are no competitors: "黄山市…和杭州市交流互访" names both."""
        lex = self.lex
        if anchor.kind == "place":
            others = [a.text for a in asked if a.kind == "place"]
            for name in place_names(text, lex, self.tokenizer):
                if anchor.text not in name and name not in anchor.text and not any(o in name or name in o for o in others):
                    return True
            # a statement about a whole province does not answer one about a city of it
            return anchor.level == "local" and bool(lex.scope_word.search(text))
        if anchor.kind == "org":
            from kb.language.person_names import without_affiliations

            # "市委组织部副部长林振华同志任组长": the 市委 of a person's title is no competing subject
            levels = {lex.level_of[m.group(0)] for m in lex.org_level_word.finditer(without_affiliations(text))}
            levels -= {a.level for a in asked if a.kind == "org" and a is not anchor}
            if anchor.level in levels:
                return False
            # "省市县三级党委共谈话3200人次" is the sum over levels, not the 县委's figure
            return bool(levels) or bool(lex.scope_word.search(text))
        if anchor.kind == "year":
            return any(y != anchor.text for y in lex.year.findall(text))
        if anchor.kind == "number":
            # another figure of the same unit: the sentence speaks of another amount
            return any(q.unit == anchor.level and not q.text.startswith(anchor.text) for q in quantities(lex, text, (anchor.level,)))
        if anchor.kind == "day":
            return any(d != anchor.text for d in lex.day.findall(text))
        if anchor.kind == "ordinal":
            return any(m.group(2) == anchor.level and m.group(0) != anchor.text for m in lex.ordinal.finditer(text))
        if anchor.kind == "person":
            return any(
                flag.startswith("nr") and len(w) >= 2 and w != anchor.text and w not in anchor.text and anchor.text not in w
                for w, flag in self.tokenizer.segmenter.tag(text)
            )
        return False

    def _named(self, anchor: Anchor, text: str) -> bool:
        if anchor.kind == "org":
            lex = self.lex
            return anchor.text in text or any(lex.level_of[m.group(0)] == anchor.level for m in lex.org_level_word.finditer(text))
        if anchor.kind in ("quote", "title"):
            return _norm(anchor.text) in _norm(text)
        if anchor.kind == "number":
            return any(re.match(re.escape(anchor.text) + r"(?!\d)", q.text) for q in quantities(self.lex, text, (anchor.level,)))
        return anchor.text in text

    def anchor_level(self, anchor: Anchor, sentence: str, hit, quantity: bool = False, asked: tuple[Anchor, ...] = ()) -> int:
        chunk = hit.chunk
        if anchor.kind == "title":
            # a title names a document: the evidence comes from the document of that title (not from
            # 《X实施条例》 for 《X》), or the sentence itself speaks of it
            asked = _title_key(anchor.text)
            if asked and asked in (_title_key(chunk.title), _title_key(chunk.doc_id.rsplit("/", 1)[-1])):
                return 2
            return 2 if self._named(anchor, sentence) else 0
        if self._named(anchor, sentence):
            return 2
        if anchor.kind == "quote" and not self._named(anchor, self.document_text(chunk.doc_id) or chunk.text):
            # “开炮” in quotation marks is the asker's own word, not a term of the document: it is
            # matched (or not) as wording, like any other word of the question
            return 2
        if self._competing(anchor, sentence, asked):
            return 0
        if anchor.kind == "place" and self._competing(anchor, chunk.title, asked) and not self._named(anchor, chunk.title):
            return 0  # a passage of 《临沂市…条例》 is about 临沂, not the 济南 asked for
        if anchor.kind == "place" and anchor.level == "local" and quantity:
            # a count for one city or county is stated where that place is named, or in a passage
            # about that place (its title or heading): a province's figures in an article that also
            # mentions the city are not the city's
            return 1 if self._named(anchor, f"{chunk.title} {chunk.section}") else 0
        context = f"{chunk.title} {chunk.section} {chunk.text}"
        if self._named(anchor, context):
            return 1
        if anchor.kind in ("place", "org", "year"):
            # places, bodies and years are often said once, at the top of an article
            doc = self.document_text(chunk.doc_id) or ""
            if self._named(anchor, doc[:4000]) or self._named(anchor, doc):
                return 1
        return 0

    # -- quantities --------------------------------------------------------------------------------
    def _clauses_with_quantity(self, analysis: QuestionAnalysis, sentence: str) -> list[str]:
        units = analysis.answer_units or (self.lex.units[analysis.unit_class] if analysis.unit_class else None)
        found = quantities(self.lex, sentence, units)
        clauses = []
        for q in found:
            start = max((m.end() for m in _CLAUSE_END.finditer(sentence, 0, q.start)), default=0)
            nxt = _CLAUSE_END.search(sentence, q.end)
            clauses.append(sentence[start : nxt.start() if nxt else len(sentence)])
        return clauses

    def _quantity_level(self, analysis: QuestionAnalysis, sentence: str) -> float:
        clauses = self._clauses_with_quantity(analysis, sentence)
        if not clauses:
            return 0.0
        scoped = [a for a in analysis.anchors if a.kind in ("place", "org", "year")]
        if not scoped:
            return 1.0
        for clause in clauses:
            # each anchor named in the clause, or (named elsewhere) not contradicted by the clause
            if all(self._named(a, clause) or not self._competing(a, clause, tuple(analysis.anchors)) for a in scoped):
                return 1.0
        return 0.0

    # -- facets ------------------------------------------------------------------------------------
    def facet_level(self, analysis: QuestionAnalysis, text: str) -> float | None:
        facet = analysis.facet
        if facet is None:
            return None
        if analysis.facet_word and analysis.facet_word in text:
            return 1.0
        if any(w in text for w in facet.say):
            return 1.0
        if self._labelled_cell(facet, text):
            return 1.0
        if facet.unit and quantities(self.lex, text, self.lex.units[facet.unit]):
            return 1.0
        if facet.name == "date" and self.lex.date.search(text):
            return 1.0
        if facet.name == "place" and place_names(text, self.lex, self.tokenizer):
            return 1.0
        wv = self.wordvectors
        if wv is not None and analysis.facet_word and analysis.facet_word in wv:
            words = [w for w in self.tokenizer.content_terms(text) if len(w) >= 2]
            if words and wv.best_match(analysis.facet_word, words)[1] >= 0.75:
                return 1.0
        return 0.0

    @staticmethod
    def _labelled_cell(facet, text: str) -> bool:
        """A table row states a facet in the column labelled with the facet's own noun: "责任单位：县委
        党校、县教育局" says who is responsible without the verb 负责. Without this, a row naming the
        question's task word for word stayed unbound for "…由哪些单位负责", and a prose sentence
        elsewhere that merely says 负责 (about another body) answered instead — a wrong answer given
        as answered. Only a column label counts: the noun inside running text is no statement."""
        labels = [m.group(1) for m in _CELL_LABEL.finditer(text)]
        if len(labels) < 2:  # one "X：" is a colon in prose, a row has two cells or more
            return False
        return any(w in label for label in labels for w in facet.ask + facet.say)

    # -- all together ------------------------------------------------------------------------------
    def bind(self, analysis: QuestionAnalysis, sentence: str, hit) -> Binding:
        b = Binding()
        levels = []
        for anchor in analysis.anchors:
            level = self.anchor_level(anchor, sentence, hit, quantity=analysis.quantity, asked=tuple(analysis.anchors))
            levels.append(level)
            if level == 0:
                b.unbound.append(anchor)
        if levels:
            b.anchors = min(levels) / 2
        b.facet = self.facet_level(analysis, sentence)
        if analysis.quantity:
            b.quantity = self._quantity_level(analysis, sentence)
        if analysis.wants_name:
            # "…是谁": the role asked about, named again, says nobody's name
            b.name = float(self._names_someone(analysis, sentence))
        return b

    def _names_someone(self, analysis: QuestionAnalysis, sentence: str) -> bool:
        if any(flag.startswith("nr") and len(w) >= 2 and w not in analysis.question
               for w, flag in self.tokenizer.segmenter.tag(sentence)):
            return True
        # a name jieba does not tag (郑浩然, or 万里 — a dictionary word): a person by the sentence's
        # structure, before 同志 or as the value of a 联系人/带队领导 cell
        from kb.language.person_names import person_mentions

        return any(name not in analysis.question for name in person_mentions(sentence))
