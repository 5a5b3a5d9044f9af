"""Evidence units: the sentences of the retrieved chunks, each scored against the question.

A unit is a verbatim span of a chunk — one sentence, extended forward when it is a question or a lead
("分为四个阶段：") that the next sentence answers, or backward to the quotation a news sentence
attributes. Scraped page furniture and fragments are never units: a sentence that starts or ends
mid-word at a page marker ("11、就带过。", "9、,") says nothing by itself.

Scores: idf-weighted coverage of the question's terms (a compound and its search-mode parts weigh
about one word), coverage of what distinguishes this sentence from the others, the chunk's own
match (a sentence inherits, at half weight, the subject its chunk is about), answer-type cues.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from kb.answering.lexicon import AnswerLexicon
from kb.answering.numbers import has_quantity
from kb.answering.question_analysis import QuestionAnalysis, word_groups
from kb.models import Hit
from kb.citations.verify import sentence_spans

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Candidate:
    hit: Hit
    text: str  # verbatim sentence of the chunk
    score: float
    coverage: float
    position: int
    start: int = -1  # offset of the text in its chunk
    focus: float = 0.0  # coverage of the question words that distinguish this sentence from the others


class TermRarity:
    """idf of a token in the lexical index (BM25's), and whether the index has the token at all."""

    def __init__(self, vocab, indptr, n_docs: int):
        self.vocab = vocab
        self.indptr = indptr
        self.n_docs = n_docs

    def known(self, token: str) -> bool:
        return self.vocab is None or token in self.vocab

    def __call__(self, token: str) -> float:
        if self.vocab is None:
            return 1.0
        tid = self.vocab.get(token)
        if tid is None:
            return math.log(1 + self.n_docs)  # unseen anywhere: as rare as it gets
        df = int(self.indptr[tid + 1] - self.indptr[tid])
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def mass(self, tokens) -> float:
        return sum(self(t) for t in set(tokens))


def is_question(sentence: str) -> bool:
    return sentence.rstrip("”’」』\"')） ").endswith(("?", "？"))


def is_heading(sentence: str) -> bool:
    """A title or heading line: short and without any sentence punctuation."""
    return len(sentence) <= 40 and not re.search(r"[。！？；!?;，,：:]", sentence)


def is_lead(text: str, span: tuple[int, int]) -> bool:
    """A sentence that announces what follows: ends with a colon, or is a short title sentence
    ("开展政治素质考察。") standing at the start of a line."""
    s, e = span
    sentence = text[s:e].rstrip()
    if sentence.endswith(("：", ":")):
        return True
    at_line_start = s == 0 or text[s - 1] == "\n"
    return (
        at_line_start
        and 4 <= len(sentence) <= 20
        and sentence.endswith("。")
        and not re.match(r"^(?:[0-9０-９]+|[一二三四五六七八九十]+)[、.．]|^[（(][一二三四五六七八九十0-9]+[)）]", sentence)
        and not re.search(r"[”“\"」]", sentence)
    )


def is_fragment(lex: AnswerLexicon, text: str, span: tuple[int, int]) -> bool:
    """A piece of a sentence cut by page furniture or a line break, not a sentence a person can read:
    too few words, only markers and punctuation, or the remains of a line that a page number broke
    ("11、就带过。" — the line before it ends mid-sentence)."""
    s, e = span
    sentence = text[s:e]
    core = sentence
    for marker in lex.page_markers:
        core = marker.sub("", core)
    if len(_CJK.findall(core)) < 5:
        return True
    # the head of a broken line: no closing punctuation, and a page-numbered line follows
    if e < len(text) and text[e] == "\n" and sentence.rstrip()[-1] not in "。！？；：:;!?”」』）)…":
        if lex.page_markers[-1].match(text[e + 1 : e + 6]):
            return True
    if s > 0 and text[s - 1] == "\n" and lex.page_markers[-1].match(sentence):
        before = text[:s].rstrip()
        # the line before ends without closing punctuation: this line continues a broken sentence
        if before and before[-1] not in "。！？；：:;!?”」』）)":
            return True
    return False


# A run of three or more short peers joined by 、 ("政治忠诚、政治定力、政治担当、政治能力、政治自律"). A
# sentence that names the asked term only as one item of such a run is about the set, not about the
# term: "五个政治是考察的具体标准" does not say what 政治自律 is examined for.
_PEER_RUN = re.compile(r"(?:[\u4e00-\u9fff“”\"]{2,10}、){2,}[\u4e00-\u9fff“”\"]{2,10}")
PEER_ITEM_WEIGHT = 0.35


def listed_only(quote: str, terms, question: str) -> set[str]:
    """The terms (of two or more characters) that occur in `quote` only inside runs of peers, where
    the question names at most one of the run's items (a question naming several asks about the set)."""
    runs = []
    for m in _PEER_RUN.finditer(quote):
        items = m.group(0).split("、")
        # the pattern cannot tell where the first item starts or the last ends ("对象主要是市级领导、…"):
        # peers are about as long as the middle ones
        limit = max(len(i) for i in items[1:-1]) + 1
        start = m.start() + max(0, len(items[0]) - limit)
        end = m.end() - max(0, len(items[-1]) - limit)
        named = [i.strip("“”\"") for i in quote[start:end].split("、")]
        if sum(1 for i in named if len(i) >= 2 and i in question) < 2:
            runs.append((start, end))
    if not runs:
        return set()
    out = set()
    for t in terms:
        if len(t) < 2:
            continue
        at = [m.start() for m in re.finditer(re.escape(t), quote)]
        if at and all(any(s <= i and i + len(t) <= e for s, e in runs) for i in at):
            out.add(t)
    return out


class EvidenceScorer:
    """Turns retrieved chunks into scored candidate sentences for one question."""

    def __init__(self, tokenizer, settings, lexicon: AnswerLexicon):
        self.tokenizer = tokenizer
        self.settings = settings
        self.lex = lexicon

    def weights(self, analysis: QuestionAnalysis, idf_source, for_selection: bool = True) -> dict[str, float]:
        """Weight of each question token: words weigh more than the bigrams that overlap them; rare
        terms weigh more (idf); a compound and its search-mode parts weigh about one word; the words
        that frame the question ("各自", "分别", "哪些") weigh little — they say how to answer, not
        what about. `for_selection`: also weigh down the title words of documents the question
        names (they say where to look, not which sentence answers)."""
        terms = self.tokenizer.tokenize(analysis.question)
        weights: dict[str, float] = {}
        known = getattr(idf_source, "known", lambda t: True)
        for t in terms:
            # cross-word bigrams ("铭担" in "罗保铭担任") are matching aids, not meaning: one the
            # index has never seen can match nothing and would only dilute the coverage
            if analysis.is_bigram_only(t) and not known(t):
                continue
            base = 2.0 if len(t) >= 2 and not analysis.is_bigram_only(t) else (0.4 if len(t) == 2 else 1.0)
            weights[t] = max(weights.get(t, 0.0), base * idf_source(t))
        # Search-mode segmentation yields a compound and its parts ("对照检查材料", "对照", "检查",
        # "材料"): one word of the question must not weigh three times. The words of one span share
        # about the weight of its heaviest word.
        words = [t for t in weights if len(t) >= 2 and not analysis.is_bigram_only(t)]
        for _, _, group in word_groups(analysis.question, words):
            if len(group) > 1:
                total = sum(weights[t] for t in group)
                target = max(weights[t] for t in group) * (1 + 0.25 * (len(group) - 1))
                for t in group:
                    weights[t] *= target / total
        frame = self.lex.frame_words
        q = analysis.question
        spans = [m.span() for m in self.lex.cue("definition").finditer(q)]
        for t in weights:
            at = [m.start() for m in re.finditer(re.escape(t), q)]
            # a token that is a cue word, or occurs only inside a definition cue ("算" of "什么算")
            if t in frame or (at and all(any(s <= i and i + len(t) <= e for s, e in spans) for i in at)):
                weights[t] *= 0.2
        if for_selection and analysis.multi_source and analysis.named_docs:
            # "市县党政正职座谈访谈提纲和山西专题民主生活会通报各指出了什么": the title words say where
            # to look, the rest says what to find
            named_titles = analysis.named_text()
            for t in weights:
                if t in named_titles:
                    weights[t] *= 0.3
        return weights

    def units(self, hits: list[Hit]) -> list[tuple[Hit, int, int, str, set[str], set[str]]]:
        """(hit, position, start, quote, own tokens, quote tokens) for every readable sentence."""
        out = []
        max_chars = self.settings.answer.max_chars
        for hit in hits:
            if (hit.chunk.section or "").endswith(self.lex.non_evidence_sections):
                continue  # a keyword list for search says nothing an answer could quote
            text = hit.chunk.text
            spans = sentence_spans(text)
            for pos, (s, e) in enumerate(spans):
                if e - s < 4 or is_fragment(self.lex, text, (s, e)):
                    continue
                # A question in the source (Q&A documents) or a short lead sentence is not the
                # answer itself: the answer is what follows it, so the quote extends forward.
                end = e
                j = pos
                while j + 1 < len(spans) and (is_question(text[spans[j][0] : spans[j][1]]) or is_lead(text, spans[j])):
                    j += 1
                    end = spans[j][1]
                    if end - s > max_chars:
                        break
                # news style: “既要用耳朵听,也要用眼睛看。”一位组长说,…… — the quotation belongs to the
                # sentence that attributes it
                if pos > 0 and self.lex.attribution.match(text[s:e]):
                    ps, pe = spans[pos - 1]
                    if text[ps] in "“\"" and text[pe - 1] in "”\"":
                        s = ps
                quote = text[s:end]
                if is_question(quote) or is_heading(quote):
                    continue
                if end == e and quote.rstrip().endswith(("：", ":")):
                    continue  # "分为四个阶段：" with the list in another chunk says nothing by itself
                own = set(self.tokenizer.tokenize(text[s:e]))
                whole = own if end == e else set(self.tokenizer.tokenize(quote))
                out.append((hit, pos, s, quote, own, whole))
        return out

    def candidates(self, analysis: QuestionAnalysis, hits: list[Hit], idf_source, weights=None) -> list[Candidate]:
        weights = weights if weights is not None else self.weights(analysis, idf_source)
        total = sum(weights.values()) or 1.0
        units = self.units(hits)
        chunk_cov: dict[str, float] = {}
        chunk_toks: dict[str, set[str]] = {}
        for hit in hits:
            toks = set(self.tokenizer.tokenize(hit.chunk.text + " " + hit.chunk.title))
            chunk_toks[hit.chunk.chunk_id] = toks
            chunk_cov[hit.chunk.chunk_id] = sum(w for t, w in weights.items() if analysis.covers(t, toks)) / total
        # A term found in most candidate sentences (the subject everyone talks about) tells less about
        # which sentence answers than the aspect asked for.
        n_units = len(units) or 1
        local: dict[str, float] = {}
        for t in weights:
            frac = sum(1 for u in units if analysis.covers(t, u[5])) / n_units
            local[t] = weights[t] * (0.3 + 0.7 * (1.0 - frac))
        local_total = sum(local.values()) or 1.0
        lex = self.lex
        out: list[Candidate] = []
        for hit, pos, start, quote, own, whole in units:
            peers = listed_only(quote, weights, analysis.question)
            coverage = sum(w * (PEER_ITEM_WEIGHT if t in peers else 1.0) for t, w in weights.items() if analysis.covers(t, whole)) / total
            # a sentence inherits, at half weight, the subject its chunk is about ("树高可达55米"
            # answers "纽西兰鸡毛松有多高" without repeating the name)
            ctoks = chunk_toks[hit.chunk.chunk_id]
            inherited = sum(0.5 * w for t, w in weights.items() if not analysis.covers(t, whole) and analysis.covers(t, ctoks)) / total
            focus = sum(w * (PEER_ITEM_WEIGHT if t in peers else 1.0) for t, w in local.items() if analysis.covers(t, whole)) / local_total
            # the sentence's own match, its match on what distinguishes it, and its chunk's match
            score = 0.35 * (coverage + inherited) + 0.35 * focus + 0.3 * chunk_cov[hit.chunk.chunk_id] + 0.1 / (hit.rank + 1)
            if analysis.quantity and has_quantity(lex, quote, analysis.unit_class, analysis.answer_units):
                score += 0.15
            if analysis.wants_list and quote.count("、") + quote.count("；") + quote.count(";") >= 2:
                score += 0.1
            if analysis.wants_reason and lex.reason_marker.search(quote):
                score += 0.05
            if analysis.answer_type == "definition" and lex.definition_marker.search(quote):
                score += 0.05
            if hit.via_clause:
                score += 0.3  # the article the question names ("第十一条"), found by the clause lookup
            if analysis.who_verb and analysis.who_verb in quote:
                score += 0.15  # "谈话由谁主持" is answered where someone 主持s
            if len(quote) > 260:
                score -= 0.05
            out.append(Candidate(hit, quote, score, coverage, pos, start, focus))
        out.sort(key=lambda c: -c.score)
        return out
