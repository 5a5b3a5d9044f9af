"""AnswerService: retrieve → compose → verify → render, with honest refusal.

Extractive mode (the default, no LLM): the answer is made of source sentences, verbatim, each with
its [n]. LLM mode: an OpenAI-compatible model writes the answer from numbered contexts; its output
is verified (every [n] must name a given context, every claim must be supported by a verbatim span
of that context); if it is not, the extractive answer is returned and the answer says it fell back.

Refusal (both modes): the evidence must cover the question. The checks, all general:
  1. coverage — the share (idf-weighted) of the question's content words found in the evidence;
  2. named places/organisations in the question must occur in the cited document;
  3. a question for a quantity ("多少天", "几次", "多久") needs a number with a unit of the same
     kind and scale in the evidence sentence ("几个月" is not answered by "一个小时"), and that
     sentence must say the clause's verbs ("多少份材料被打回重写" is not answered by "抽查了142份");
  4. "由谁担任" needs the role named in the evidence; many words the index never saw mean the
     knowledge base is about something else.

Composition: sentences are scored against the question (a compound and its search-mode parts weigh
about one word); enumerations (一是…四是, 第一轮…) are completed, across a chunk boundary too; a
"为什么" answer carries the sentence after its premise; documents the question names by title
("A和B各指出了什么") are searched and answered one by one.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Iterator

from kb.models import REFUSAL_TEXT, Answer, Citation, Filters, Hit
from kb.verify import CITATION_MARK, bigram_precision, bigrams, sentence_spans, split_claims

log = logging.getLogger(__name__)

LIST_CUES = re.compile(r"有哪些|哪几|哪些|分为|包括|包含|几个方面|几项|几类|几种|哪几个|列举|都有什么|分别")
REASON_CUES = re.compile(r"为什么|为何|原因|何以|怎么会")
_CN_NUM = "零〇一二两三四五六七八九十百千万亿"
_NUMBER = rf"(?:\d+(?:\.\d+)?|[{_CN_NUM}]+|几|数|多|半)"

# Unit families: a question for "多少天" is answered by "15天" or "两周", not by "3次".
UNIT_CLASSES: dict[str, tuple[str, ...]] = {
    "duration": ("分钟", "小时", "钟头", "工作日", "天", "日", "周", "星期", "个月", "年", "季度"),
    "times": ("次", "遍", "稿", "轮", "回", "趟", "批"),
    "people": ("人次", "人", "名", "位", "户"),
    "items": ("个", "份", "项", "件", "条", "家", "所", "处", "类", "种", "篇", "本", "部"),
    "score": ("分",),
    "money": ("元", "万元", "亿元", "亿"),
    "percent": ("%", "％", "百分点", "成"),
    "size": ("平方米", "亩", "公里", "千米", "米", "公顷", "吨"),
}
_UNIT_TO_CLASS = {u: c for c, units in UNIT_CLASSES.items() for u in units}
# "几个月" is not answered by "一个小时": a duration asked in hours/minutes wants the short scale,
# one asked in days…years the long one ("多久" without a unit takes either).
_DURATION_SCALES = (("分钟", "小时", "钟头"), ("工作日", "天", "日", "周", "星期", "个月", "年", "季度"))
_ALL_UNITS = sorted(_UNIT_TO_CLASS, key=len, reverse=True)
_QUANTITY_Q = re.compile(r"(?:多少|(?<!哪)几)(" + "|".join(map(re.escape, _ALL_UNITS)) + r")?|多久|多长时间|多长|多大|多高")
_DURATION_Q = re.compile(r"多久|多长时间")
_WHO_Q = re.compile(r"由谁|是谁|哪位|谁来|谁担任|什么人")
# "审核小组的组长由谁担任？" — the role asked about must be named in the evidence
_WHO_FOCUS = re.compile(r"([\u4e00-\u9fff]{2,})(?:由谁|是谁|为谁)(?:担任|负责|主持|牵头|兼任)?[？?]?\s*$")
_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|"
    "云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_PLACE = re.compile(rf"(?:{_PROVINCES})|[\u4e00-\u9fff]{{2,4}}?(?:省|自治区|市|自治州|县)(?=省委|市委|县委|党委|政府|的|开展|[^\u4e00-\u9fff]|$)")
_YEAR = re.compile(r"(?:19|20)\d{2}\s*年|[0-9一二三四五六七八九十]{1,3}月[0-9一二三四五六七八九十]{0,3}[日号]?|[上中下]旬")


def _word_groups(text: str, terms) -> list[tuple[int, int, list[str]]]:
    """Terms grouped by overlapping (first) occurrences in `text`: search-mode segmentation yields a
    word and its parts ("知情人", "知情", "情人"), which are one word of the text. (start, end, terms)."""
    spans = sorted((i, i + len(t), t) for t in terms if (i := text.find(t)) >= 0)
    groups: list[tuple[int, int, list[str]]] = []
    for s, e, t in spans:
        if groups and s < groups[-1][1]:
            start, end, members = groups[-1]
            groups[-1] = (start, max(end, e), members + [t])
        else:
            groups.append((s, e, [t]))
    return groups


def _answer_units(unit_class: str | None, asked: str | None) -> tuple[str, ...]:
    if unit_class is None:
        return ()
    if unit_class == "duration" and asked:
        for scale in _DURATION_SCALES:
            if asked in scale:
                return scale
    return UNIT_CLASSES[unit_class]


def _has_quantity(sentence: str, unit_class: str | None, units: tuple[str, ...] = ()) -> bool:
    text = _YEAR.sub("", sentence)  # "2020年" is a date, not a duration
    if unit_class is None:
        return bool(re.search(rf"\d|[{_CN_NUM}]", text))
    units = units or UNIT_CLASSES[unit_class]
    # "一个小时", "半个月", "3个多小时": the classifier 个 may stand between number and unit
    pattern = rf"{_NUMBER}\s*(?:多|余|来)?\s*个?\s*(?:多|余)?(?:{'|'.join(map(re.escape, sorted(units, key=len, reverse=True)))})"
    for m in re.finditer(pattern, text):
        tail = text[m.end() : m.end() + 1]
        if unit_class == "score" and tail in ("钟", "之", "别", "析", "管", "类", "工"):
            continue
        return True
    return False


@dataclass
class QuestionAnalysis:
    question: str
    content_terms: list[str]
    wants_list: bool
    wants_reason: bool
    quantity: bool
    unit_class: str | None
    answer_units: tuple[str, ...] = ()  # the units a number answering the question may carry
    places: list[str] = field(default_factory=list)
    who_focus: str = ""  # "组长" in "审核小组的组长由谁担任"
    unknown_terms: list[str] = field(default_factory=list)  # content words the knowledge base never uses
    aliases: dict[str, set[str]] = field(default_factory=dict)  # colloquial token → official tokens
    multi_source: bool = False  # "A和B各自怎么做" — the answer needs each source's own sentence
    quantity_clause: str = ""  # the clause holding "多少/几/多久": what the number must be a number of
    named_docs: dict[str, str] = field(default_factory=dict)  # doc_id → title of documents the question names

    def unknown_words(self) -> list[str]:
        """The unknown terms as the question writes them: search-mode tokens overlap ("知情人",
        "知情", "情人"), so overlapping occurrences merge into one word before they are counted."""
        return [self.question[s:e] for s, e, _ in _word_groups(self.question, self.unknown_terms)]

    def predicate_words(self, tokenizer) -> list[str]:
        """The verbs of the quantity clause — what the number must be a number of ("重写" in "共有多少份
        对照检查材料因不合格被打回重写"). Nouns are left out: "体长多少" is answered by "可长到30公分",
        the unit says the dimension. Hedges ("共有", "不少于") qualify the number, not the event."""
        clause = self.quantity_clause
        if not clause:
            return []
        # A clause in words the knowledge base never uses ("书面稿最多反复改写了多少遍") is a paraphrase:
        # its predicate cannot be checked word for word, the other checks decide.
        if any(w in clause and w not in _QUANTITY_HEDGES for w in self.unknown_words()):
            return []
        clause = _QUANTITY_Q.sub(" ", clause)
        return [w for w in tokenizer.verbs(clause) if w not in _QUANTITY_HEDGES and not any(p in w for p in self.places)]

    def named_text(self) -> str:
        """Titles and file names of the documents the question names (what naming them matched)."""
        return " ".join(f"{t} {d.rsplit('/', 1)[-1]}" for d, t in self.named_docs.items())

    def covers(self, token: str, tokens: set[str]) -> bool:
        if token in tokens:
            return True
        alias = self.aliases.get(token)
        return bool(alias and alias & tokens)

    @classmethod
    def of(cls, question: str, tokenizer, known=None, thesaurus=None, titles=None) -> "QuestionAnalysis":
        m = _QUANTITY_Q.search(question)
        unit_class = None
        asked_unit = None
        quantity = False
        quantity_clause = ""
        if m:
            quantity = True
            cut = re.split(r"[，,；;。？?！!：:]", question[: m.start()])[-1]
            rest = re.split(r"[，,；;。？?！!]", question[m.start() :])[0]
            quantity_clause = cut + rest
            if m.group(1):
                asked_unit = m.group(1)
                unit_class = _UNIT_TO_CLASS.get(asked_unit)
            elif _DURATION_Q.search(m.group(0)):
                unit_class = "duration"
        # Named places: a province, or a name ending in 省/市/县/区… A question about 江苏 is not
        # answered by a document about 安徽, however similar the rest of the wording.
        places = []
        for m in _PLACE.finditer(question):
            name = re.sub(r"(省|自治区|市|自治州|县|区)$", "", m.group(0))
            if len(name) >= 2 and not re.search(r"^(各|全|本|该|此|某|市县|县市|地市|省市|城市)|哪|什么|些|多少|几", name):
                places.append(name)
        who_focus = ""
        w = _WHO_FOCUS.search(question)
        if w:
            words = tokenizer.content_terms(w.group(1)[-8:])
            who_focus = words[-1] if words else ""
        content_terms = tokenizer.content_terms(question)
        unknown: list[str] = []
        if known is not None:
            for term in content_terms:
                if len(term) < 2 or known(term):
                    continue
                if thesaurus is not None and (
                    thesaurus.equivalents(term) or any(term in form for form, _ in thesaurus.matches(question))
                ):
                    continue  # a colloquial word the thesaurus maps to official vocabulary
                if any(term in other and term != other for other in content_terms if known(other)):
                    continue
                unknown.append(term)
            # words made only of parts the index knows are paraphrase-level, not unknown facts
            unknown = [t for t in unknown if not all(known(t[i : i + 2]) for i in range(len(t) - 1)) or len(t) <= 2]
        aliases: dict[str, set[str]] = {}
        if thesaurus is not None:
            for form, terms in thesaurus.matches(question):
                official = set(tokenizer.tokenize(" ".join(terms)))
                for tok in tokenizer.tokenize(form):
                    aliases.setdefault(tok, set()).update(official)
        named = name_documents(question, titles or {}, tokenizer)
        # "A和B各指出了什么": two documents named in one question are to be answered from each
        # (versions of one law share a title: that is one document named, not two)
        multi_source = bool(_MULTI_Q.search(question)) or len(set(places)) >= 2 or len(set(named.values())) >= 2
        return cls(
            named_docs=named,
            question=question,
            quantity_clause=quantity_clause,
            multi_source=multi_source,
            aliases=aliases,
            who_focus=who_focus,
            unknown_terms=unknown,
            content_terms=content_terms,
            wants_list=bool(LIST_CUES.search(question)) and not quantity,
            wants_reason=bool(REASON_CUES.search(question)),
            quantity=quantity,
            unit_class=unit_class,
            answer_units=_answer_units(unit_class, asked_unit),
            places=[p for p in places if len(p) >= 2],
        )


@dataclass
class Candidate:
    hit: Hit
    text: str  # verbatim sentence of the chunk
    score: float
    coverage: float
    position: int


class ExtractiveComposer:
    """Scores the sentences of the top chunks against the question and picks a short, diverse answer."""

    def __init__(self, tokenizer, settings):
        self.tokenizer = tokenizer
        self.settings = settings

    def _weights(self, analysis: QuestionAnalysis, hits: list[Hit], idf_source) -> dict[str, float]:
        terms = self.tokenizer.tokenize(analysis.question)
        weights: dict[str, float] = {}
        known = getattr(idf_source, "known", lambda t: True)
        for t in terms:
            # words weigh more than the bigrams that overlap them; rare terms weigh more (idf)
            # cross-word bigrams ("铭担" in "罗保铭担任") are matching aids, not meaning: one the
            # index has never seen can match nothing and would only dilute the coverage
            if _is_bigram_only(t, analysis) and not known(t):
                continue
            base = 2.0 if len(t) >= 2 and not _is_bigram_only(t, analysis) else (0.4 if len(t) == 2 else 1.0)
            weights[t] = max(weights.get(t, 0.0), base * idf_source(t))
        # Search-mode segmentation yields a compound and its parts ("对照检查材料", "对照", "检查",
        # "材料"): one word of the question must not weigh three times. The words of one span share
        # about the weight of its heaviest word.
        words = [t for t in weights if len(t) >= 2 and not _is_bigram_only(t, analysis)]
        groups = [members for _, _, members in _word_groups(analysis.question, words)]
        for group in groups:
            if len(group) > 1:
                total = sum(weights[t] for t in group)
                target = max(weights[t] for t in group) * (1 + 0.25 * (len(group) - 1))
                for t in group:
                    weights[t] *= target / total
        if analysis.multi_source and analysis.named_docs:
            # "市县党政正职座谈访谈提纲和山西专题民主生活会通报各指出了什么": the title words say where
            # to look, the rest says what to find
            named_titles = analysis.named_text()
            for t in weights:
                if t in named_titles:
                    weights[t] *= 0.3
        return weights

    def candidates(self, analysis: QuestionAnalysis, hits: list[Hit], idf_source) -> list[Candidate]:
        weights = self._weights(analysis, hits, idf_source)
        total = sum(weights.values()) or 1.0
        # Sentence units first, then scores: a term found in most candidate sentences (the subject
        # everyone talks about) tells less about which sentence answers than the aspect asked for.
        units: list[tuple[Hit, int, str, set[str], set[str]]] = []
        for hit in hits:
            text = hit.chunk.text
            spans = sentence_spans(text)
            for pos, (s, e) in enumerate(spans):
                if e - s < 4:
                    continue
                # A question in the source (Q&A documents) or a short lead sentence is not the
                # answer itself: the answer is what follows it, so the quote extends forward.
                end = e
                j = pos
                while j + 1 < len(spans) and (
                    _is_question(text[spans[j][0] : spans[j][1]]) or _is_lead(text, spans[j])
                ):
                    j += 1
                    end = spans[j][1]
                    if end - s > self.settings.answer.max_chars:
                        break
                # news style: “既要用耳朵听,也要用眼睛看。”一位组长说,…… — the quotation belongs to the
                # sentence that attributes it
                if pos > 0 and _ATTRIBUTION.match(text[s:e]):
                    ps, pe = spans[pos - 1]
                    if text[ps] in "“\"" and text[pe - 1] in "”\"":
                        s = ps
                quote = text[s:end]
                if _is_question(quote) or _is_heading(quote):
                    continue
                if end == e and quote.rstrip().endswith(("：", ":")):
                    continue  # "分为四个阶段：" with the list in another chunk says nothing by itself
                own = set(self.tokenizer.tokenize(text[s:e]))
                whole = own if end == e else set(self.tokenizer.tokenize(quote))
                units.append((hit, pos, quote, own, whole))
        chunk_cov: dict[str, float] = {}
        chunk_toks: dict[str, set[str]] = {}
        for hit in hits:
            toks = set(self.tokenizer.tokenize(hit.chunk.text + " " + hit.chunk.title))
            chunk_toks[hit.chunk.chunk_id] = toks
            chunk_cov[hit.chunk.chunk_id] = sum(w for t, w in weights.items() if analysis.covers(t, toks)) / total
        n_units = len(units) or 1
        local: dict[str, float] = {}
        for t in weights:
            frac = sum(1 for u in units if analysis.covers(t, u[4])) / n_units
            local[t] = weights[t] * (0.3 + 0.7 * (1.0 - frac))
        local_total = sum(local.values()) or 1.0
        out: list[Candidate] = []
        for hit, pos, quote, own, whole in units:
            coverage = sum(w for t, w in weights.items() if analysis.covers(t, whole)) / total
            # a sentence inherits, at half weight, the subject its chunk is about ("树高可达55米"
            # answers "纽西兰鸡毛松有多高" without repeating the name)
            ctoks = chunk_toks[hit.chunk.chunk_id]
            inherited = sum(
                0.5 * w for t, w in weights.items() if not analysis.covers(t, whole) and analysis.covers(t, ctoks)
            ) / total
            focus = sum(w for t, w in local.items() if analysis.covers(t, whole)) / local_total
            # the sentence's own match, its match on what distinguishes it, and its chunk's match
            # (the sentence "1992年4月，任…" answers a question about 罗保铭 because its chunk is about him)
            score = 0.35 * (coverage + inherited) + 0.35 * focus + 0.3 * chunk_cov[hit.chunk.chunk_id] + 0.1 / (hit.rank + 1)
            if analysis.quantity and _has_quantity(quote, analysis.unit_class, analysis.answer_units):
                score += 0.15
            if analysis.wants_list and quote.count("、") + quote.count("；") + quote.count(";") >= 2:
                score += 0.1
            if analysis.wants_reason and re.search(r"因为|由于|为了|于是|因此|所以|原因|导致", quote):
                score += 0.05
            if len(quote) > 260:
                score -= 0.05
            out.append(Candidate(hit, quote, score, coverage, pos))
        out.sort(key=lambda c: -c.score)
        return out

    def select(self, analysis: QuestionAnalysis, candidates: list[Candidate]) -> list[Candidate]:
        cfg = self.settings.answer
        limit = cfg.max_list_items if analysis.wants_list else cfg.max_sentences
        if not candidates:
            return []
        named = [d for d in analysis.named_docs if any(c.hit.chunk.doc_id == d for c in candidates)]
        if analysis.multi_source and len(named) >= 2:
            return self._select_per_document(analysis, candidates, named, limit)
        best = candidates[0].score
        chosen: list[Candidate] = []
        chars = 0
        pool = list(candidates[:40])
        while pool and len(chosen) < limit:
            # maximal marginal relevance: relevance minus similarity to what is already chosen
            def mmr(c: Candidate) -> float:
                sim = max((_jaccard(c.text, o.text) for o in chosen), default=0.0)
                return c.score - 0.7 * sim

            pick = max(pool, key=mmr)
            pool.remove(pick)
            floor = 0.45 if analysis.wants_list else 0.6  # a list question wants the other items too
            if chosen and (pick.score < best * floor or mmr(pick) < best * (floor - 0.15)):
                break
            if any(pick.text in o.text or o.text in pick.text for o in chosen):
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
        if analysis.multi_source:
            chosen = self._one_per_source(chosen, candidates, named=tuple(analysis.named_docs))
        # read in document order within the answer: the same chunk's sentences keep their order
        first_of_chunk: dict[str, int] = {}
        for i, c in enumerate(chosen):
            first_of_chunk.setdefault(c.hit.chunk.chunk_id, i)
        return sorted(chosen, key=lambda c: (first_of_chunk[c.hit.chunk.chunk_id], c.position))


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

    def _select_per_document(
        self, analysis: QuestionAnalysis, candidates: list[Candidate], named: list[str], limit: int
    ) -> list[Candidate]:
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
                best = pool[0].score if not any(c.hit.chunk.doc_id == d for c in chosen) else max(
                    c.score for c in chosen if c.hit.chunk.doc_id == d
                )

                def mmr(c: Candidate) -> float:
                    return c.score - 0.7 * max((_jaccard(c.text, o.text) for o in chosen), default=0.0)

                pick = max(pool, key=mmr)
                pool.remove(pick)
                mine = [c for c in chosen if c.hit.chunk.doc_id == d]
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

    def _one_per_source(
        self, chosen: list[Candidate], candidates: list[Candidate], sources: int = 2, named: tuple[str, ...] = ()
    ) -> list[Candidate]:
        """A question comparing sources gets the best sentence of each of the best documents."""
        docs_present = {c.hit.chunk.doc_id for c in chosen}
        best_per_doc: dict[str, Candidate] = {}
        for c in candidates:
            best_per_doc.setdefault(c.hit.chunk.doc_id, c)
        if named:
            # the documents the question names, when it names them
            ranked = [best_per_doc[d] for d in named if d in best_per_doc]
        else:
            ranked = sorted(best_per_doc.values(), key=lambda c: -c.score)[:sources]
        extra = [c for c in ranked if c.hit.chunk.doc_id not in docs_present and c.coverage > 0]
        return chosen + extra

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
        for series in ENUMERATIONS:
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
                extra.append(Candidate(hit, item, top.score * 0.9, top.coverage, spans.index(span)))
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


ENUMERATIONS: tuple[tuple[str, ...], ...] = (
    ("一是", "二是", "三是", "四是", "五是", "六是", "七是", "八是"),
    ("第一轮", "第二轮", "第三轮", "第四轮", "第五轮"),
    ("首先", "其次", "再次", "最后"),
    ("（一）", "（二）", "（三）", "（四）", "（五）", "（六）"),
    ("第一，", "第二，", "第三，", "第四，", "第五，"),
    ("一要", "二要", "三要", "四要", "五要"),
)


# Words that qualify the number asked for rather than say what it counts.
_QUANTITY_HEDGES = frozenset(
    "一般 通常 大概 大约 大致 总共 一共 共有 共计 合计 累计 至少 最多 最少 平均 大都 普遍 分别 具体 实际 一次 每次 "
    "不少 不少于 少于 不得 不超过 超过 以上 以下 多于 高于 低于 达到 共有 有是 占有 拥有 需要 要求 规定".split()
)
_MULTI_Q = re.compile(r"各自|分别|共同|两者|二者|异同|对比|相比|有何不同|有什么不同")
_ATTRIBUTION = re.compile(r"^[^，,。“”\"]{1,24}(?:说|表示|指出|介绍|认为|强调|坦言|感慨)[,，:：]")


def _is_question(sentence: str) -> bool:
    return sentence.rstrip("”’」』\"')） ").endswith(("?", "？"))


def _is_heading(sentence: str) -> bool:
    """A title or heading line: short and without any sentence punctuation."""
    return len(sentence) <= 40 and not re.search(r"[。！？；!?;，,：:]", sentence)


def _is_lead(text: str, span: tuple[int, int]) -> bool:
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


def _is_bigram_only(token: str, analysis: QuestionAnalysis) -> bool:
    return len(token) == 2 and token not in analysis.content_terms


def _jaccard(a: str, b: str) -> float:
    ga, gb = bigrams(a), bigrams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def _verb_in(analysis: QuestionAnalysis, verb: str, sentence: str, tokenizer) -> bool:
    """The sentence says the verb, a thesaurus equivalent of it, or a compound with the same head
    character ("打入" for "进入", "下辖" for "管辖")."""
    if verb in sentence:
        return True
    tokens = set(tokenizer.tokenize(sentence))
    if analysis.covers(verb, tokens):
        return True
    return any(len(t) <= 2 and t[-1] == verb[-1] for t in tokens)


def name_documents(question: str, titles: dict[str, str], tokenizer, limit: int = 4) -> dict[str, str]:
    """Documents the question refers to by (a shortening of) their title: "山西专题民主生活会通报"
    names 《山西省市县党委班子专题民主生活会情况通报》. A title counts as named when two separate
    words of the question occur in it, one of them rare among titles (so "政治" or "建设" shared by
    every title never name one)."""
    if not titles:
        return {}
    words = [w for w in tokenizer.content_terms(question) if len(w) >= 2]
    if not words:
        return {}
    # the file name is often the real title when the first line of a scraped page is not
    original = titles
    titles = {d: f"{t} {d.rsplit('/', 1)[-1]}" for d, t in titles.items()}
    n = len(titles)
    df = {w: 0 for w in words}
    for title in titles.values():
        for w in words:
            if w in title:
                df[w] += 1
    rare = {w for w, d in df.items() if 0 < d <= max(1, n // 3)}
    if not rare:
        return {}
    found: list[tuple[int, str, str]] = []
    for doc_id, title in titles.items():
        matched = [w for w in words if df[w] and w in title]
        # whole words only: "政治" inside a matched "政治建设考察" is not a second reference
        matched = [w for w in matched if not any(w != o and w in o for o in matched)]
        if not matched or not any(w in rare for w in matched):
            continue
        merged = _word_groups(question, matched)
        chars = sum(e - s_ for s_, e, _ in merged)
        if len(merged) >= 2 and chars >= 5:
            found.append((chars, doc_id, title))
    found.sort(key=lambda x: -x[0])
    return {doc_id: original[doc_id] for _, doc_id, _title in found[:limit]}


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


@dataclass
class RefusalDecision:
    refuse: bool
    reason: str = ""


class RefusalPolicy:
    """Decides whether the evidence answers the question (see module docstring)."""

    def __init__(self, settings, verifier, tokenizer):
        self.settings = settings
        self.verifier = verifier
        self.tokenizer = tokenizer

    def decide(
        self,
        analysis: QuestionAnalysis,
        chosen: list[Candidate],
        hits: list[Hit],
        weights: dict[str, float] | None = None,
    ) -> RefusalDecision:
        if not hits or not chosen:
            return RefusalDecision(True, "no evidence retrieved")
        top = chosen[0]
        coverage = top.coverage
        if weights:
            # several sentences may answer together (multi-document questions): their union counts
            pool: set[str] = set()
            for c in chosen:
                pool |= set(self.tokenizer.tokenize(c.text))
            total = sum(weights.values()) or 1.0
            coverage = max(coverage, sum(w for t, w in weights.items() if analysis.covers(t, pool)) / total)
        if coverage < self.settings.answer.min_coverage:
            return RefusalDecision(True, f"evidence covers {coverage:.2f} of the question")
        if analysis.places:
            docs = {c.hit.chunk.doc_id: c.hit.chunk.title for c in chosen}
            texts = [(self.verifier.document_text(d) or "") + t for d, t in docs.items()]
            missing = [p for p in analysis.places if not any(p in text for text in texts)]
            # a question comparing several places is answered when the evidence covers one of them
            if missing and len(missing) == len(analysis.places) or (missing and len(analysis.places) == 1):
                return RefusalDecision(True, f"the sources do not mention {', '.join(missing)}")
        if analysis.quantity:
            numbered = [c for c in chosen if _has_quantity(c.text, analysis.unit_class, analysis.answer_units)]
            if not any(c in numbered for c in chosen[:2]):
                unit = analysis.unit_class or "number"
                return RefusalDecision(True, f"no {unit} quantity in the evidence")
            # the number must be a number of what is asked: "抽查了142份对照检查材料" does not answer
            # "多少份对照检查材料被打回重写". Verbs the document's title already says are its subject.
            verbs = analysis.predicate_words(self.tokenizer)
            if verbs:
                best_share, missing = -1.0, verbs
                for c in numbered:
                    title = set(self.tokenizer.tokenize(c.hit.chunk.title + " " + c.hit.chunk.section))
                    asked = [v for v in verbs if not analysis.covers(v, title)]
                    lacking = [v for v in asked if not _verb_in(analysis, v, c.text, self.tokenizer)]
                    share = 1 - len(lacking) / len(asked) if asked else 1.0
                    if share > best_share:
                        best_share, missing = share, lacking
                if best_share < self.settings.answer.min_predicate_share:
                    return RefusalDecision(True, f"the number in the evidence is not about {'、'.join(missing)}")
        if analysis.who_focus:
            if not any(analysis.who_focus in c.text for c in chosen[:2]):
                return RefusalDecision(True, f"the evidence does not say who the {analysis.who_focus} is")
        unknown = analysis.unknown_words()
        if unknown and len(unknown) >= self.settings.answer.max_unknown_terms:
            return RefusalDecision(True, f"the knowledge base never mentions {', '.join(unknown)}")
        return RefusalDecision(False)


class AnswerService:
    def __init__(self, services):
        self.services = services
        self.settings = services.settings
        self.composer = ExtractiveComposer(services.tokenizer, services.settings)
        self.refusal = RefusalPolicy(services.settings, services.verifier, services.tokenizer)

    # -- public API ----------------------------------------------------------------------------
    def ask(self, question: str, filters: Filters | None = None, k: int | None = None) -> Answer:
        answer = None
        for piece in self.stream(question, filters, k):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(self, question: str, filters: Filters | None = None, k: int | None = None) -> Iterator[str | Answer]:
        question = (question or "").strip()
        if not question:
            answer = Answer(question="", answer="问题为空，请输入问题。", refused=True, mode="extractive", notes=["empty question"])
            yield answer.answer
            yield answer
            return
        if len(question) > 2000:
            # a pasted document is not a question: search with its beginning, say so
            question_used = question[:2000]
        else:
            question_used = question
        analysis, hits = self.evidence(question_used, filters, k)
        extractive = self._extractive(question, analysis, hits)
        if len(question) > 2000:
            extractive.notes.append("question truncated to 2000 characters for retrieval")
        llm = self.services.llm
        # the model only phrases an answer the evidence supports: a refusal is never overturned
        if llm is None or extractive.refused:
            for piece in _pieces(extractive.answer):
                yield piece
            yield extractive
            return
        yield from self._llm_stream(question, analysis, hits, extractive)

    def evidence(self, question: str, filters: Filters | None = None, k: int | None = None) -> tuple[QuestionAnalysis, list[Hit]]:
        """The question's analysis and the retrieved contexts an answer is composed from."""
        hits = self.services.retriever.search(question, k=k or self.settings.answer.context_k, filters=filters)
        snap = self.services.lexical.snapshot
        titles = snap.titles() if snap is not None else {}
        analysis = QuestionAnalysis.of(question, self.services.tokenizer, self._known_term(), self._thesaurus(), titles)
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

    # -- extractive ------------------------------------------------------------------------------
    def _known_term(self):
        snap = self.services.lexical.snapshot
        bm25 = getattr(snap, "bm25", None) if snap is not None else None
        if bm25 is None:
            return None
        vocab = bm25.vocab_dict
        return lambda term: term in vocab

    def _thesaurus(self):
        return getattr(self.services, "thesaurus", None)

    def _idf_source(self, hits: list[Hit]) -> "TermRarity":
        snap = self.services.lexical.snapshot
        bm25 = getattr(snap, "bm25", None) if snap is not None else None
        if bm25 is None:
            return TermRarity(None, None, 1)
        return TermRarity(bm25.vocab_dict, bm25.scores["indptr"], len(snap))

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

    def _extractive(self, question: str, analysis: QuestionAnalysis, hits: list[Hit]) -> Answer:
        idf = self._idf_source(hits)
        pool = self.evidence_pool(analysis, hits)
        candidates = self.composer.candidates(analysis, pool, idf)
        chosen = self.composer.select(analysis, candidates)
        decision = self.refusal.decide(analysis, chosen, hits, self.composer._weights(analysis, hits, idf))
        if decision.refuse:
            return Answer(
                question=question,
                answer=REFUSAL_TEXT,
                refused=True,
                mode="extractive",
                contexts=hits,
                notes=[decision.reason, "contexts are the closest sources (possibly related)"],
            )
        # neighbour chunks that supplied a sentence become contexts too: every citation must
        # resolve to a chunk listed in the answer's contexts
        listed = {h.chunk.chunk_id for h in hits}
        for cand in chosen:
            if cand.hit.chunk.chunk_id not in listed:
                listed.add(cand.hit.chunk.chunk_id)
                hits = hits + [Hit(rank=len(hits) + 1, chunk=cand.hit.chunk, score=cand.hit.score)]
        verifier = self.services.verifier
        citations: list[Citation] = []
        lines = []
        for i, cand in enumerate(chosen, 1):
            citations.append(verifier.cite(i, cand.hit, cand.text))
            lines.append((cand.text, i))
        if analysis.wants_list and len(lines) > 1:
            text = "\n".join(f"{i}. {s}[{n}]" for i, (s, n) in enumerate(lines, 1))
        else:
            text = "".join(f"{s}[{n}]" for s, n in lines)
        return Answer(
            question=question,
            answer=text,
            refused=False,
            mode="extractive",
            citations=citations,
            unsupported=[],
            contexts=hits,
        )

    # -- LLM -------------------------------------------------------------------------------------
    def _contexts_block(self, hits: list[Hit]) -> str:
        blocks = []
        for i, h in enumerate(hits, 1):
            c = h.chunk
            where = " > ".join(p for p in (c.section, c.article) if p)
            blocks.append(f"[{i}] 《{c.title}》{(' ' + where) if where else ''}\n{c.text}")
        return "\n\n".join(blocks)

    def _llm_stream(self, question: str, analysis, hits: list[Hit], extractive: Answer) -> Iterator[str | Answer]:
        from kb.llm import LLMError

        template = self.services.prompts.get("answer")
        # the prompt gets the question as searched (a pasted document is cut to 2000 characters),
        # so an oversized question cannot push the contexts out of the model's window
        values = {"question": analysis.question, "contexts": self._contexts_block(hits), "refusal": REFUSAL_TEXT}
        prompt = template.render(**values)
        system = template.render_system(**values) if hasattr(template, "render_system") else None
        llm = self.services.llm
        text = ""
        try:
            try:
                for piece in llm.stream(prompt, system=system):
                    text += piece
                    yield piece
            except LLMError as exc:
                # Some OpenAI-compatible servers ignore "stream": true and send one JSON completion,
                # which reads as an empty event stream: ask once more without streaming.
                if text or getattr(exc, "kind", None) != "malformed":
                    raise
                text = llm.complete(prompt, system=system)
                if text:
                    yield text
        except LLMError as exc:
            if text:
                yield "\n\n"  # the UI replaces the streamed text with the final answer
            answer = self._fallback(extractive, f"LLM unavailable: {exc}", unavailable=True)
            if not text:
                yield from _pieces(answer.answer)
            yield answer
            return
        answer = self._verify_llm(question, text, hits, extractive)
        if answer.mode == "llm-fallback":
            yield "\n\n"  # the UI replaces the streamed text with the final answer
        yield answer

    def _fallback(self, extractive: Answer, reason: str, unavailable: bool = False) -> Answer:
        extractive.mode = "llm-fallback"
        extractive.notes.insert(0, f"fell back to the extractive answer: {reason}")
        if not extractive.refused:
            why = "模型暂时不可用" if unavailable else "模型回答未通过引用核验"
            extractive.answer = f"（{why}，以下为原文摘录）\n" + extractive.answer
        return extractive

    def _verify_llm(self, question: str, text: str, hits: list[Hit], extractive: Answer) -> Answer:
        text = text.strip()
        if not text:
            return self._fallback(extractive, "empty model output")
        marks = [int(n) for n in CITATION_MARK.findall(text)]
        if REFUSAL_TEXT in text and not marks:
            return Answer(question=question, answer=REFUSAL_TEXT, refused=True, mode="llm", contexts=hits,
                          notes=["the model found no answer in the contexts"])
        if not marks:
            return self._fallback(extractive, "the model gave no citation")
        bad = sorted({n for n in marks if n < 1 or n > len(hits)})
        if bad:
            return self._fallback(extractive, f"the model cited contexts that were not given: {bad}")
        verifier = self.services.verifier
        citations: dict[int, Citation] = {}
        unsupported: list[str] = []
        # "……。[1]" and "……[1]。" both tie [1] to the sentence before it
        sentences = split_claims(text)
        threshold = self.settings.answer.support_threshold
        claim_count = 0
        for sentence in sentences:
            ns = list(dict.fromkeys(int(n) for n in CITATION_MARK.findall(sentence)))
            claim = CITATION_MARK.sub("", sentence).strip()
            if not claim or not re.search(r"\w", claim):
                continue
            claim_count += 1
            quotes = []
            for n in ns:
                hit = hits[n - 1]
                quote = verifier.best_span(claim, hit.chunk.text)
                if n not in citations:
                    citations[n] = verifier.cite(n, hit, quote)
                quotes.append(quote)
            if not ns or bigram_precision(claim, quotes) < threshold:
                unsupported.append(sentence)
        if not citations:
            return self._fallback(extractive, "no sentence of the model's answer carries a citation")
        if any(not c.verified for c in citations.values()):
            return self._fallback(extractive, "a cited quote was not found verbatim in its document")
        if claim_count and len(unsupported) / claim_count > 0.5:
            return self._fallback(extractive, "most sentences are not supported by their sources")
        return Answer(
            question=question,
            answer=text,
            refused=False,
            mode="llm",
            citations=[citations[n] for n in sorted(citations)],
            unsupported=unsupported,
            contexts=hits,
        )


def _pieces(text: str, size: int = 12) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]
