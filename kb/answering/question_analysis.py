"""Question analysis: what a question asks for, about what, and in which words.

From the question alone (plus the index's vocabulary and the thesaurus) this stage finds:
  * the answer type — a quantity (with the unit family and scale asked: "几个月"), a list, a definition,
    a reason, a person/role, a time, a place, or plain facts;
  * the anchors — places, organisations (with their administrative level: 县委 is not 省委), persons,
    quoted terms, titles in 《》 and years — that an answering sentence must be about (see binding.py);
  * the facet asked of the topic — a time limit, a share, a budget, a head count, a responsible body… —
    that an answering sentence must state (kb/data/answer_lexicon.yaml, `facets`);
  * the clause holding "多少/几": what the number must be a number of;
  * content words, words the knowledge base never uses, colloquial words the thesaurus maps to
    official ones, and the documents the question names by (shortened) title.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.answering.lexicon import AnswerLexicon, Facet
from kb.answering.numbers import answer_units, quantities

# Names that look like places by their suffix but name none ("各市", "城市", "哪个县").
_NOT_A_PLACE = re.compile(r"^(各|全|本|该|此|某|其中|其|我|市县|县市|地市|省市|城市|省辖|下辖|所辖)|哪|什么|些|多少|几")
# a place name holds no particle: "督谈话的省委" is "…谈话的" + 省委, not a province
_FUNCTION_CHARS = re.compile(r"[的了和与及在是对为把被从向着过]")
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,24})[”\"」』]")
_TITLED = re.compile(r"《([^》]{2,60})》")


@dataclass(frozen=True)
class Anchor:
    kind: str  # place | org | person | quote | title | year | day | ordinal | number
    text: str
    level: str = ""  # org: 中央 | 省 | 市 | 县 | 乡 | 村; place: province | local; ordinal: its classifier (届); number: its unit


def word_groups(text: str, terms) -> list[tuple[int, int, list[str]]]:
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
    anchors: list[Anchor] = field(default_factory=list)
    facet: Facet | None = None
    facet_word: str = ""  # the question's word for the facet ("期限")
    answer_type: str = "fact"  # quantity | list | definition | reason | who | when | where | fact
    definition_subject: str = ""  # "政治担当" in "什么算政治担当"
    wants_name: bool = False  # "…是谁", "叫什么名字": a person's name, not a role
    who_verb: str = ""  # "主持" in "谈话由谁主持": what the person asked for does

    def unknown_words(self) -> list[str]:
        """The unknown terms as the question writes them: search-mode tokens overlap ("知情人",
        "知情", "情人"), so overlapping occurrences merge into one word before they are counted."""
        return [self.question[s:e] for s, e, _ in word_groups(self.question, self.unknown_terms)]

    def predicate_words(self, tokenizer, lex: AnswerLexicon) -> list[str]:
        """The verbs of the quantity clause — what the number must be a number of ("重写" in "共有多少份
        对照检查材料因不合格被打回重写"). Nouns are left out: "体长多少" is answered by "可长到30公分",
        the unit says the dimension. Hedges ("共有", "不少于") qualify the number, not the event."""
        clause = self.quantity_clause
        if not clause:
            return []
        # A clause in words the knowledge base never uses ("书面稿最多反复改写了多少遍") is a paraphrase:
        # its predicate cannot be checked word for word, the other checks decide.
        if any(w in clause and w not in lex.quantity_hedges for w in self.unknown_words()):
            return []
        clause = lex.quantity_question.sub(" ", clause)
        return [w for w in tokenizer.verbs(clause) if w not in lex.quantity_hedges and not any(p in w for p in self.places)]

    def named_text(self) -> str:
        """Titles and file names of the documents the question names (what naming them matched)."""
        return " ".join(f"{t} {d.rsplit('/', 1)[-1]}" for d, t in self.named_docs.items())

    def covers(self, token: str, tokens: set[str]) -> bool:
        if token in tokens:
            return True
        alias = self.aliases.get(token)
        return bool(alias and alias & tokens)

    def is_bigram_only(self, token: str) -> bool:
        """A character bigram that is not a word of the question (a matching aid, not meaning)."""
        return len(token) == 2 and token not in self.content_terms


def analyse_question(question: str, tokenizer, lex: AnswerLexicon, known=None, thesaurus=None, titles=None) -> QuestionAnalysis:
    m = lex.quantity_question.search(question)
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
            unit_class = lex.unit_family.get(asked_unit)
        elif lex.duration_question.search(m.group(0)) or (m.group(0) == "多长" and re.search(r"时间|时长|多久", question)):
            unit_class = "duration"  # "谈话时间不少于多长" asks for a duration
    facet, facet_word = _facet(question, lex)
    if quantity and unit_class is None and facet is not None and facet.unit:
        unit_class = facet.unit  # "整改期限是多少" asks for a duration, "比例是多少" for a share
    places = _places(question, lex, tokenizer)
    who_focus = ""
    w = lex.who_focus.search(question)
    if w:
        words = tokenizer.content_terms(w.group(1)[-8:])
        who_focus = words[-1] if words else ""
    content_terms = tokenizer.content_terms(question)
    unknown = _unknown_terms(question, content_terms, known, thesaurus)
    aliases: dict[str, set[str]] = {}
    if thesaurus is not None:
        for form, terms in thesaurus.matches(question):
            official = set(tokenizer.tokenize(" ".join(terms)))
            for tok in tokenizer.tokenize(form):
                aliases.setdefault(tok, set()).update(official)
    named = name_documents(question, titles or {}, tokenizer)
    # "A和B各指出了什么": two documents named in one question are to be answered from each
    # (versions of one law share a title: that is one document named, not two)
    multi_source = bool(lex.cue("multi").search(question)) or len(set(places)) >= 2 or len(set(named.values())) >= 2
    wants_list = bool(lex.cue("list").search(question)) and not quantity
    wants_reason = bool(lex.cue("reason").search(question))
    answer_type, subject = _answer_type(question, lex, quantity, wants_list, wants_reason, who_focus)
    return QuestionAnalysis(
        question=question,
        content_terms=content_terms,
        wants_list=wants_list,
        wants_reason=wants_reason,
        quantity=quantity,
        unit_class=unit_class,
        answer_units=answer_units(lex, unit_class, asked_unit),
        places=places,
        who_focus=who_focus,
        unknown_terms=unknown,
        aliases=aliases,
        multi_source=multi_source,
        quantity_clause=quantity_clause,
        named_docs=named,
        anchors=_anchors(question, tokenizer, lex, places),
        facet=facet,
        facet_word=facet_word,
        answer_type=answer_type,
        definition_subject=subject,
        wants_name=answer_type == "who" and bool(lex.cue("who_name").search(question)),
        who_verb=(v.group(1) if (v := re.search(r"(?:由谁|谁来?)(担任|负责|主持|牵头|兼任|组织|领导|带队|召集|审核|批准)", question)) else ""),
    )


_PLACE_SUFFIX = re.compile(r"(省|自治区|市|自治州|县|区|州)$")
# tags of a word that may be the name before 省委/市委 ("江淮"+"省委"): nouns and names, not verbs,
# particles or pronouns ("谈话由省委…", "召开市委常委会", "其中省委…")
_NAME_TAGS = ("n", "j", "x", "eng", "s")


def place_names(text: str, lex: AnswerLexicon, tokenizer) -> list[str]:
    """Place names as a text writes them, without the suffix: a word ending in 省/市/县/区/州
    ("长沙县", "太原市"), a name before 省委/市委/县委… ("江淮"+"省委", "合肥"+"市委"), or a province.
    Words are the segmenter's, so a phrase ending before 省委 ("谈话由"+"省委", "其中"+"省委") is no
    place, and scopes ("全省", "各市") or demonstratives ("该省") are none either."""
    out: list[str] = []

    def add(name: str) -> None:
        if len(name) >= 2 and not _NOT_A_PLACE.search(name) and not _FUNCTION_CHARS.search(name) and name not in out:
            out.append(name)

    tagged = tokenizer.segmenter.tag(text)
    for i, (word, flag) in enumerate(tagged):
        if len(word) >= 3 and _PLACE_SUFFIX.search(word) and re.fullmatch(r"[\u4e00-\u9fff]+", word):
            add(_PLACE_SUFFIX.sub("", word))
        elif word[:1] in "省市县区州" and i > 0:
            prev, prev_flag = tagged[i - 1]
            if 2 <= len(prev) <= 4 and re.fullmatch(r"[\u4e00-\u9fff]+", prev) and prev_flag.startswith(_NAME_TAGS):
                add(prev)
    for province in lex.provinces:
        if province in text:
            add(province)
    return out


def _places(question: str, lex: AnswerLexicon, tokenizer) -> list[str]:
    """A province, a name ending in 省/市/县…, or a word the tagger calls a place name (济南市 in
    "济南市大气污染防治条例"). A question about 江苏 is not answered by a document about 安徽, however
    similar the rest of the wording."""
    names = place_names(question, lex, tokenizer)
    names += [_PLACE_SUFFIX.sub("", w) for w, flag in tokenizer.segmenter.tag(question) if flag.startswith("ns") and len(w) >= 2]
    places: list[str] = []
    for name in names:
        if len(name) >= 2 and not _NOT_A_PLACE.search(name) and not _FUNCTION_CHARS.search(name) and not any(name in p or p in name for p in places):
            places.append(name)
    return places


def _anchors(question: str, tokenizer, lex: AnswerLexicon, places: list[str]) -> list[Anchor]:
    anchors: list[Anchor] = []
    for p in places:
        level = "province" if p in lex.provinces or question.find(p + "省") >= 0 else "local"
        anchors.append(Anchor("place", p, level))
    seen_levels: set[str] = set()
    for m in lex.org_level_word.finditer(question):
        level = lex.level_of[m.group(0)]
        # "市县党政正职", "省市县三级": a scope spanning levels names no one body
        if level in seen_levels or lex.scope_word.search(question, max(0, m.start() - 1), m.end() + 2):
            continue
        seen_levels.add(level)
        anchors.append(Anchor("org", m.group(0), level))
    for m in _QUOTED.finditer(question):
        # “多少个谈透” quotes the term around the asked number: the words asked for are no anchor
        if not re.search(r"多少|几|什么|哪", m.group(1)):
            anchors.append(Anchor("quote", m.group(1)))
    # a title in a clause question ("《X》第N条") is checked by the clause lookup, which knows the title
    # of every document; elsewhere the answer must come from the document named
    if not re.search(r"第[一二三四五六七八九十百零〇\d]+条", question):
        for m in _TITLED.finditer(question):
            anchors.append(Anchor("title", m.group(1)))
    for m in lex.year.finditer(question):
        anchors.append(Anchor("year", m.group(0)))
    for m in lex.day.finditer(question):
        anchors.append(Anchor("day", m.group(0)))
    for m in lex.ordinal.finditer(question):
        if not re.search(r"多少|几", m.group(0)):
            anchors.append(Anchor("ordinal", m.group(0), m.group(2)))
    # a figure the question states ("总投资近500亿元的项目…") is a premise the evidence must share
    for q in quantities(lex, question):
        digits = re.match(r"\d+(?:\.\d+)?", q.text)
        if digits and q.unit and not lex.year.fullmatch(digits.group(0)):
            anchors.append(Anchor("number", digits.group(0), q.unit))
    taken = " ".join(a.text for a in anchors)
    for word, flag in tokenizer.segmenter.tag(question):
        # persons: the tagger's person names (nr…) of two characters or more, not already a place
        if flag.startswith("nr") and len(word) >= 2 and word not in taken and not any(word in p or p in word for p in lex.provinces):
            anchors.append(Anchor("person", word))
    return anchors


_INTERROGATIVE = re.compile(r"多少|几|什么|哪|谁|何|怎么|如何|是否|吗")


def _gap(start: int, end: int, at: int) -> int:
    """Characters between the span [start, end) and position `at` (0 when inside)."""
    return start - at if at < start else (at - end if at >= end else 0)


def _facet(question: str, lex: AnswerLexicon) -> tuple[Facet | None, str]:
    """The facet asked: of the facets' cue words in the question, the one nearest the question word
    (then the longest). "主要负责人……导致发生较大事故的，处多少罚款？" asks for the 罚款, not who the
    负责人 is: the subject's words are far from 多少."""
    asks = [m.start() for m in _INTERROGATIVE.finditer(question)] or [len(question)]
    best: tuple[int, int, Facet | None, str] = (10**6, 0, None, "")
    for facet in lex.facets:
        for word in facet.ask:
            for m in re.finditer(re.escape(word), question):
                distance = min(_gap(m.start(), m.end(), a) for a in asks)
                if (distance, -len(word)) < (best[0], -best[1]):
                    best = (distance, len(word), facet, word)
    return best[2], best[3]


def _answer_type(question, lex, quantity, wants_list, wants_reason, who_focus) -> tuple[str, str]:
    if quantity:
        return "quantity", ""
    if wants_list:
        return "list", ""
    if wants_reason:
        return "reason", ""
    if who_focus or lex.cue("who").search(question):
        return "who", ""
    if lex.cue("when").search(question):
        return "when", ""
    if lex.cue("where").search(question):
        return "where", ""
    m = lex.cue("definition").search(question)
    if m:
        # "什么算政治担当" / "政治担当是什么" / "“以事察人”是什么意思": the subject is the words around the cue
        before = re.sub(r"[的是所讲说中里]+$", "", re.split(r"[，,。；;：:]", question[: m.start()])[-1])
        after = re.split(r"[？?，,。]", question[m.end() :])[0]
        # the cue opens the question ("什么算…", "如何理解…") or closes it ("…是什么意思")
        leading = m.group(0) in ("什么叫", "什么是", "什么算", "怎么理解", "如何理解")
        subject = (after if leading else before) or after or before
        subject = re.sub(r"^[“\"「]|[”\"」]$", "", subject.strip())
        return "definition", subject[-12:]
    return "fact", ""


def _unknown_terms(question: str, content_terms: list[str], known, thesaurus) -> list[str]:
    if known is None:
        return []
    unknown: list[str] = []
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
    return [t for t in unknown if not all(known(t[i : i + 2]) for i in range(len(t) - 1)) or len(t) <= 2]


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
        merged = word_groups(question, matched)
        chars = sum(e - s_ for s_, e, _ in merged)
        if len(merged) >= 2 and chars >= 5:
            found.append((chars, doc_id, title))
    found.sort(key=lambda x: -x[0])
    return {doc_id: original[doc_id] for _, doc_id, _title in found[:limit]}
