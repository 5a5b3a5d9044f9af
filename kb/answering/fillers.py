"""Fillers: the span of an evidence sentence that fills the slot a question asks for (kb/answering/ask.py).

A sentence fills a typed slot only when
  * it holds a span of the slot's type — a date for a time slot (one the question does not already state),
    a number of the asked unit, a person / place / organisation (kb/language/ner.py, plus rules for names written
    with "·", Latin names, 《titles》, models and names after 更名为/原名) — that is not a word of the
    question;
  * it states the relation the question asks about (导演 or 执导, 举办 or 举行, 上映 …; slots.yaml
    `relations`, the thesaurus, a verb sharing a character with it);
  * the span is not said as a forecast, plan or target (预计, 有望, 将于 …) when an outcome is asked;
  * it binds the question's target — the named things (《头号玩家》, MIX3, 世界杯) named in the sentence or
    in the text just before it, with no other version named instead (MIX2 for MIX3, 《流浪地球2》) — and
    most of the target's words;
  * it binds every qualifier: a year, a season, 男/女, a region of release, a national scope — named in
    the sentence or in the text just before it, never contradicted by another value in the sentence;
  * it is not a page that only repeats the question ("您在查找“…什么时候上映的”吗").
The filler chosen is the span of the type nearest the words that state the relation.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kb.answering.ask import Ask, SlotData, version_of
from kb.answering.lexicon import AnswerLexicon
from kb.answering.numbers import quantities
from kb.answering.question_analysis import QuestionAnalysis, place_names

_CN = "一二三四五六七八九十"
_PAIRS = ("「」", "『』", "“”", "《》", "（）", "()", "【】", "‘’")


def _unbalanced(text: str) -> bool:
    """A span that opens a quotation or bracket it does not close (or the other way round), or holds an
    odd number of straight quotes: a piece cut out of a longer string."""
    if text.count('"') % 2 or text.count("'") % 2:
        return True
    return any(text.count(a) != text.count(b) for a, b in _PAIRS)
_CN_DIGITS = "零〇一二三四五六七八九"
# a year: four digits (1000–2099), four Chinese digits, or any year with its era ("公元前25年", "公元8年")
_YEAR = rf"(?:公元前?\s*\d{{1,4}}|(?:1[0-9]|20)\d{{2}}|[{_CN_DIGITS}]{{4}})\s*年"
_MONTH = rf"(?:1[0-2]|0?[1-9]|[{_CN}]{{1,2}})\s*月(?:份)?"
_DAY = rf"(?:3[01]|[12][0-9]|0?[1-9]|[{_CN}]{{1,3}})\s*[日号]"
_PART = r"(?:上旬|中旬|下旬|初|底|末|中)"
_CLOCK = r"(?:\s*(?:凌晨|早上|上午|中午|下午|晚上|傍晚|夜间|夜)?\s*\d{1,2}\s*[时点](?:\s*\d{1,2}\s*分)?(?:\s*\d{1,2}\s*秒)?)?"
DATE = re.compile(
    rf"(?:{_YEAR}\s*(?:{_MONTH}\s*(?:{_DAY}|{_PART})?)?|{_MONTH}\s*(?:{_DAY}|{_PART})?|(?:19|20)\d{{2}}\s*[-/.]\s*\d{{1,2}}\s*[-/.]\s*\d{{1,2}}|(?:1[0-9]|20)\d{{2}}年代|\d{{1,2}}世纪(?:\d0年代)?){_CLOCK}"
)
_YEAR_RE = re.compile(rf"(公元前?\s*\d{{1,4}}|(?:1[0-9]|20)\d{{2}}|[{_CN_DIGITS}]{{4}})\s*年|^((?:19|20)\d{{2}})\s*[-/.]")
_MONTH_RE = re.compile(rf"({_MONTH})")
_DAY_RE = re.compile(rf"({_DAY})")
# a foreign name written with a middle dot (史蒂文·斯皮尔伯格, 李•哈维•奥斯瓦尔德), or a Latin one ("Steve Conrad")
# ("弗兰克.德拉邦特" too, but not a full stop between two names: "加布里尔·穆奇诺. 编剧")
_DOTTED_NAME = re.compile(r"[\u4e00-\u9fff]{1,5}(?:\s*[·•・．]\s*|\.)(?:[\u4e00-\u9fff]{1,6}|[A-Za-z]\.?)(?:(?:\s*[·•・．]\s*|\.)(?:[\u4e00-\u9fff]{1,6}|[A-Za-z]\.?))*")
# characters after which a dotted name may start inside a run of Chinese ("由史蒂文·斯皮尔伯格执导")
_NAME_BEFORE = "的是由为和与及被让向给对称叫名"
_LATIN_NAME = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+(?:\s+[A-Z][a-z.]+){1,3}(?![A-Za-z])")
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:[\s\-+.][A-Za-z0-9]+)*")
_TITLE = re.compile(r"《([^》]{1,40})》")
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{1,20})[”\"」』]")
_TEAM = re.compile(r"[\u4e00-\u9fff]{2,8}队")
# posts and bodies that answer "由谁担任/负责" ("由省委书记主持", "县委组织部牵头")
_ROLE = re.compile(
    r"[^\W由在的和与及是为对把被将从向经请让]{0,10}(?:书记|副书记|部长|副部长|主任|组长|副组长|局长|厅长|处长|科长|主席|委员会|负责人|负责同志|领导|常委|常委会|"
    r"纪委|监委|组织部|宣传部|党委|党组|政府|部门|单位|机关|办公室|工作组|小组|督导组|考察组)"
)
# a comma between digit groups ("6,476名") cuts no clause
_CLAUSE_CUT = re.compile(r"[，；;。！？!?：:|｜\n]|,(?!\d{3}(?!\d))|(?<!\d),")
_BOUNDARY = re.compile(r"[，；;。！？!?．\n]|,(?!\d{3}(?!\d))|(?<!\d),|\.(?!\d)|(?<!\d)\.")
_INTERROGATIVE = re.compile(r"谁|什么|哪|多少|几|吗|？|\?")


# a cell of a table row as ingest/tables.py writes it ("表名，列：值，列：值。"): its column label
_ROW_CELL = re.compile(r"(?:^|[，,])\s*[^，,：:；;。《》“”]{1,12}[：:](?=\S)")


def row_cells(sentence: str) -> list[tuple[str, int, int]]:
    """(label, value start, value end) of each cell of a table row ("序号：8，风险隐患类别：交通设施，
    牵头责任单位：市交通运输局、市公安局交通管理支队，…"): a value runs to the next cell's label."""
    marks = list(_ROW_CELL.finditer(sentence))
    out = []
    for i, m in enumerate(marks):
        label = re.sub(r"^[，,\s]+", "", m.group(0))[:-1]
        end = marks[i + 1].start() if i + 1 < len(marks) else len(sentence.rstrip("。；; \n"))
        out.append((label, m.end(), end))
    return out


def is_table_row(sentence: str) -> bool:
    """A row of a table is one record: every cell is about the row's key (its name, its task)."""
    return len(_ROW_CELL.findall(sentence)) >= 2


def plain(text: str) -> str:
    return re.sub(r"[\s\-‐–—_.·•・．:：，,、“”\"'《》()（）]", "", unicodedata.normalize("NFKC", text or "")).lower()


@dataclass(frozen=True)
class Filler:
    text: str
    start: int  # offset in the sentence
    end: int
    kind: str  # year | date | quantity | person | org | place | name | role | team


@dataclass
class SlotFill:
    filler: Filler | None
    reason: str = ""  # why the sentence fills nothing
    distance: int = 0  # of the filler from the words stating the relation (smaller is nearer)
    via: str = ""  # the person the target was bound through (a table row about 令狐德昌 for 分管工业的副县长)
    # the sentence holds no list of the asked kind at all (rather than a wrong one): a list question whose
    # evidence only ever misses this way is left to the untyped answerer (a table cell, a series of 情形)
    soft: bool = False

    @property
    def ok(self) -> bool:
        return self.filler is not None


# what opens the items of an enumeration in its clause: "对象主要是…", "包括…", "通过…", "抵制…"
_LIST_LEAD = re.compile(r".*(?:是|为|有|包括|包含|分为|涵盖|聚焦|即|：|:|通过|结合|抵制|反对|明确|建立健全|健全|坚持|在|把|对|（|\()")
_SERIES = re.compile(r"^\s*(?:一是|（一）|\(一\)|1[.、．]|第一[，,、]|首先)|一是.{2,}二是")


def list_spans(sentence: str) -> list[Filler]:
    """Enumerations in a sentence: the items a clause joins with 、 (and 和/及/以及 before the last), and a
    series the sentence opens (一是…, （一）…)."""
    out: list[Filler] = []
    # a group in brackets is a clause of its own ("“五个政治”标准（政治忠诚、…、政治自律）及相关重点领域、…")
    groups = [(m.start(1), m.group(1)) for m in re.finditer(r"[（(]([^（）()]{4,120})[）)]", sentence)]
    outer = re.sub(r"[（(][^（）()]{4,120}[）)]", lambda m: " " * len(m.group(0)), sentence)
    # a short group is part of its item: "各区（市、县）" is one item, its 、 no separator
    outer = re.sub(r"[（(][^（）()]{1,3}[）)]", lambda m: "〔" + "·" * (len(m.group(0)) - 2) + "〕", outer)
    clauses = [(m.start(), m.group(0)) for m in re.finditer(r"[^，,；;。！？!?]+", outer)]
    for start, text in groups + clauses:
        m_start = start
        first = text.find("、")
        if first < 0 or not (text.count("、") >= 2 or re.search(r"以及|[和及与]", text[first:])):
            continue
        lead = _LIST_LEAD.match(text[:first])
        s0 = lead.end() if lead else 0
        last = text.rfind("、")
        tail = re.search(r"等(?!级|于|同|待)|[。；）)]", text[last:])
        e0 = last + tail.start() if tail else len(text)
        items = text[s0:e0].strip(" “”\"（）()")
        parts = [p for p in items.split("、") if p.strip()]
        if len(parts) >= 2:
            # the last item is about as long as the others: "…、市都采取了不少措施" is no item
            longest = max(len(p) for p in parts[:-1])
            last = re.split(r"[^\u4e00-\u9fffA-Za-z0-9“”\"〔〕·]", parts[-1])[0]
            keep = last[: max(2 * longest + 4, 8)]
            items = items[: len(items) - len(parts[-1])] + keep
            parts[-1] = keep
        # "中央、省、市" names places in passing: a list's items are words or phrases
        if count_items(items)[0] >= 2 and len(items) >= 4 and sum(map(len, parts[:-1])) >= 2 * (len(parts) - 1):
            at = outer.find(items, m_start) if "〔" in items else -1
            if at >= 0:
                items = sentence[at : at + len(items)]
            at = sentence.find(items, m_start)
            if at >= 0:  # (a clause with a bracketed group blanked out is no one span of the sentence)
                out.append(Filler(items, at, at + len(items), "list"))
    if _SERIES.search(sentence):
        out.append(Filler(sentence, 0, len(sentence), "series"))
    return out


_ORDINAL = re.compile(r"第([一二三四五六七八九十百零〇\d]{1,4})([\u4e00-\u9fff]{1,4}?(?:组|队|批|轮|届|期|站|片))")


# "第一部诗集", "第三届比赛": an ordinal with its classifier and the noun it counts (not 条/款/章: a law cites
# other articles all the time)
_ORDINAL_COUNTED = re.compile(r"第([一二三四五六七八九十百零〇\d]{1,4})((?:部|张|届|次|位|批|轮|季|集|任|代|本|首|场)[\u4e00-\u9fff]{2})")


def _other_ordinal(question: str, sentence: str) -> str:
    """"第一督查组" in a sentence for a question about 第四督查组 (and not 第四督查组 too): the sentence's
    record is another one of the numbered kind."""
    for m in list(_ORDINAL.finditer(question)) + list(_ORDINAL_COUNTED.finditer(question)):
        kind = m.group(2)
        named = [x for x in re.finditer("第([一二三四五六七八九十百零〇\\d]{1,4})" + re.escape(kind), sentence)]
        if named and not any(x.group(1) == m.group(1) for x in named):
            return named[0].group(0)
    return ""


def count_items(text: str) -> tuple[int, int]:
    """How many items an enumeration names, at least and at most: "责任、权力和负面" is three; "…督导组与
    班子成员" may be one item or two (与 joins the last item, or is inside it)."""
    parts = [p for p in text.split("、") if p.strip()]
    if not parts:
        return 0, 0
    tail = [t for t in re.split(r"以及|[和及与]", parts[-1]) if t.strip()]
    low = len(parts) if len(tail) > 1 and "以及" not in parts[-1] else len(parts) - 1 + len(tail)
    return low, len(parts) - 1 + len(tail)


def _date_parts(text: str) -> tuple[str | None, str | None, str | None]:
    y = _YEAR_RE.search(text)
    m = _MONTH_RE.search(text)
    d = _DAY_RE.search(text[m.end():]) if m else None
    year = (y.group(1) or y.group(2)) if y else None
    month = re.sub(r"\s|份", "", m.group(1)) if m else None
    day = re.sub(r"\s", "", d.group(1)) if d else None
    return year, month, day


class FillerFinder:
    def __init__(self, lexicon: AnswerLexicon, data: SlotData, tokenizer, tagger, thesaurus=None, wordvectors=None):
        self.lex = lexicon
        self.data = data
        self.tokenizer = tokenizer
        self.tagger = tagger  # kb/language/ner.py EntityTagger
        self.thesaurus = thesaurus
        self.wv = wordvectors

    # -- typed spans -----------------------------------------------------------------------------
    def spans(self, ask: Ask, analysis: QuestionAnalysis, sentence: str) -> list[Filler]:
        """Every span of the sentence of the slot's type (before binding)."""
        slot = ask.slot
        if slot in ("year", "date"):
            out = [Filler(m.group(0).strip(), m.start(), m.end(), "date") for m in DATE.finditer(sentence)]
            out += [Filler(e.text, e.start, e.end, "date") for e in self._entities(sentence, "time")
                    if re.search(r"\d|[" + _CN + r"]", e.text) and not any(o.start <= e.start < o.end for o in out)
                    and DATE.search(e.text)]
            for w in self.data.holidays:
                for m in re.finditer(re.escape(w), sentence):
                    # a holiday dates something when the sentence says so ("于大年初一上映", "春节档"), not
                    # in "带有春节相关元素"; a date right before it is the same day ("2月5日大年初一")
                    right_after_date = any(0 <= m.start() - o.end <= 1 and o.kind == "date" for o in out)
                    if not (right_after_date or re.search(r"(?:于|在|定档|是|为|起)\s*$", sentence[max(0, m.start() - 3) : m.start()])
                            or re.match(r"\s*(?:档|当天|起|上映|上线|开幕|举行|开播|播出)", sentence[m.end():])):
                        continue
                    before = [o for o in out if 0 <= m.start() - o.end <= 1 and o.kind == "date"]
                    if before:
                        o = before[-1]
                        out.remove(o)
                        out.append(Filler(sentence[o.start : m.end()], o.start, m.end(), "date"))
                    else:
                        out.append(Filler(w, m.start(), m.end(), "date"))
            # "于2020年8月31日到9月13日…举行": a span of dates is one answer, its start and end together
            out.sort(key=lambda f: f.start)
            merged: list[Filler] = []
            for f in out:
                if merged and re.fullmatch(r"\s*(?:到|至|—|-|–|~|～)\s*", sentence[merged[-1].end : f.start]):
                    merged[-1] = Filler(sentence[merged[-1].start : f.end], merged[-1].start, f.end, "date")
                else:
                    merged.append(f)
            out = merged
            if ask.vague_time:
                for w in self.data.relative_times + tuple(analysis.facet.say if analysis.facet and analysis.facet.name == "date" else ()):
                    for m in re.finditer(re.escape(w), sentence):
                        # "安排在民主生活会前": the event the time is told by belongs to the span
                        start = max([c.end() for c in _CLAUSE_CUT.finditer(sentence, 0, m.start())] + [max(0, m.start() - 12)])
                        if w in self.data.anaphoric_adverbs:
                            continue  # "随后", "同时": a time said before, not one this sentence states
                        if w in self.data.anaphoric_times:
                            event = sentence[start : m.start()]
                            for t in ask.target:  # "星河三号之后" is no event: the thing asked about
                                event = event.replace(t, "")
                            if len(re.sub(r"[^\u4e00-\u9fff]", "", event)) < 2:
                                continue
                        out.append(Filler(sentence[start:m.end()].strip(), start, m.end(), "relative-time"))
            if slot == "year":
                out = [f for f in out if _date_parts(f.text)[0]]
            return out
        if slot == "quantity":
            units = self._units(ask, analysis)
            out = [Filler(q.text, q.start, q.end, "quantity") for q in quantities(self.lex, sentence, units)]
            if "级" in (units or ()):
                out += [Filler(m.group(0), m.start(), m.end(), "quantity")
                        for m in re.finditer(r"(?<![A-Za-z])[MmＭ][SsWwLl]?\s*\d+(?:\.\d+)?|\d+(?:\.\d+)?\s*级", sentence)
                        if not any(o.start <= m.start() < o.end for o in out)]
            return out
        out: list[Filler] = []
        if slot == "list":
            return list_spans(sentence)
        if slot == "category":
            classes = "|".join(map(re.escape, sorted({w for _, ws in ask.relations for w in ws}, key=len, reverse=True)))
            clf = "|".join(map(re.escape, sorted(self.data.classifiers, key=len, reverse=True)))
            for m in re.finditer(rf"(?:是|为|属于|作为)(?:{clf})?(?P<kind>[^，,。；;、\s“”\"（）()]{{1,10}}?)(?:{classes})", sentence):
                if not re.search(r"[该此这本其那]$", m.group("kind")):  # "伦敦奥运会该项目": that event, named elsewhere
                    out.append(Filler(m.group("kind"), m.start("kind"), m.end("kind"), "category"))
            return out
        if slot in ("person", "agent", "role", "name"):
            rel_words = sorted({w for _, ws in ask.relations for w in ws if len(w) >= 2}, key=len, reverse=True)
            for e in self._entities(sentence, "person"):
                # "由袁丽嫦原唱": the tagger's name may swallow the first character of the relation word
                cut = min([e.start + i for w in rel_words for i in [sentence.find(w, e.start + 2, e.end + len(w)) - e.start]
                           if 2 <= i < e.end - e.start] or [e.end])
                out.append(Filler(sentence[e.start:cut], e.start, cut, "person"))
            words = self._words(sentence) + self._words(sentence, segmenter=True)
            ends = sorted({e for _, e, _ in words})
            for m in _DOTTED_NAME.finditer(sentence):
                first_dot = min(i for i in (m.group(0).find(c) for c in "·•・．.") if i >= 0) + m.start()
                # "总统约翰·F·肯尼迪": the name starts at the word holding the character before its first dot
                start = max([s for s, e, _ in words if s < first_dot <= e and s >= m.start()] or [m.start()])
                # "安德鲁•约翰逊随即就任": it ends at a word boundary after its last dot
                last_dot = max(m.group(0).rfind(c) for c in "·•・．.") + m.start()
                end = max([e for e in ends if last_dot + 1 < e <= m.end()] or [m.end()])
                while end - 1 > last_dot + 1 and sentence[end - 1] in "在的是和与及了将已曾被把对从向为于说":
                    end -= 1
                out.append(Filler(sentence[start:end], start, end, "person"))
            out += [Filler(m.group(0), m.start(), m.end(), "person") for m in _LATIN_NAME.finditer(sentence)
                    if not re.search(r"\b(?:Inc|Ltd|Co|Corp|Company|Group|LLC|University|Press)\b", m.group(0))]
            if self.tagger is None or self.tagger.mode != "lac":
                # jieba's person tags (nr) are noisy ("多义词"); used only without the LAC model
                for w, flag in self.tokenizer.segmenter.tag(sentence):
                    if flag.startswith("nr") and len(w) >= 2:
                        for m in re.finditer(re.escape(w), sentence):
                            out.append(Filler(w, m.start(), m.end(), "person"))
            from kb.language.person_names import person_mentions

            for name in person_mentions(sentence):
                for m in re.finditer(re.escape(name), sentence):
                    out.append(Filler(name, m.start(), m.end(), "person"))
            # a person span inside a longer name holding a question word is part of that name
            # ("约翰" of "约翰·F·肯尼迪")
        if slot in ("agent", "role"):
            out += [Filler(e.text, e.start, e.end, "org") for e in self._entities(sentence, "org")]
            out += [Filler(m.group(0), m.start(), m.end(), "team") for m in _TEAM.finditer(sentence)]
        if slot == "place" and any(w in ask.question for w in self.data.addressee_verbs):
            # "应当向哪里报告": the addressee is a body ("海上搜救中心")
            out += [Filler(e.text, e.start, e.end, "org") for e in self._entities(sentence, "org")]
            out += [Filler(m.group(0), m.start(), m.end(), "role") for m in _ROLE.finditer(sentence)]
            for verb in self.data.addressee_verbs:
                for m in re.finditer(re.escape(verb) + r"(?:给|至|到)?([^，,。；;、]{2,16}?)(?=[，,。；;]|$)", sentence):
                    out.append(Filler(m.group(1), m.start(1), m.end(1), "org"))
        if slot in ("agent", "place"):
            out += [Filler(e.text, e.start, e.end, "place") for e in self._entities(sentence, "place")]
            # the segmenter's place names too: LAC sometimes cuts a name apart ("主席国巴西" → 国巴/西)
            at = 0
            for w, flag in self.tokenizer.segmenter.tag(sentence):
                i = sentence.find(w, at)
                if i < 0:
                    continue
                at = i + len(w)
                if flag == "ns" and len(w) >= 2:
                    out.append(Filler(w, i, at, "place"))
            for name in place_names(sentence, self.lex, self.tokenizer):
                for m in re.finditer(re.escape(name), sentence):
                    out.append(Filler(name, m.start(), m.end(), "place"))
        if slot == "role":
            out += [Filler(m.group(0), m.start(), m.end(), "role") for m in _ROLE.finditer(sentence)]
            # a table's cell under a responsibility column: the whole value ("责任单位：县委党校、县教育局")
            for label in {w for _, ws in ask.relations for w in ws if len(w) >= 3}:
                for m in re.finditer(re.escape(label) + r"[：:]\s*([^，,。；;]{2,40})", sentence):
                    out.append(Filler(m.group(1), m.start(1), m.end(1), "role"))
            # "由燃气企业、政府和用户合理共担", "由局党委书记赫连志刚同志负责": who, between 由 and the verb
            verbs = sorted({w for _, ws in ask.relations for w in ws if len(w) >= 2 or w == "任"}, key=len, reverse=True)
            if verbs:
                for m in re.finditer(r"由([^，,。；;由]{2,30}?)(?:合理|具体|统一|共同|分别|负责)?(?:" + "|".join(map(re.escape, verbs)) + ")", sentence):
                    out.append(Filler(m.group(1), m.start(1), m.end(1), "role"))
        if slot == "name":
            out += [Filler(e.text, e.start, e.end, "name") for e in self._entities(sentence, "name", "work")]
            out += [Filler(m.group(1), m.start(1), m.end(1), "name") for m in _TITLE.finditer(sentence)]
            out += [Filler(m.group(1), m.start(1), m.end(1), "name") for m in _QUOTED.finditer(sentence)]
            out += [Filler(m.group(0).strip(), m.start(), m.end(), "name") for m in _LATIN_WORD.finditer(sentence)
                    if len(m.group(0).strip()) >= 2]
            taken: list[tuple[int, int]] = []
            for verb in sorted(self.data.naming_verbs, key=len, reverse=True):
                for m in re.finditer(re.escape(verb), sentence):
                    if any(s_ <= m.start() < e_ for s_, e_ in taken):
                        continue  # "更名" inside "更名为"
                    taken.append((m.start(), m.end()))
                    rest = sentence[m.end():]
                    cut = _CLAUSE_CUT.search(rest)
                    value = rest[: cut.start() if cut else len(rest)].strip(" “”\"《》")
                    if 1 <= len(value) <= 16:
                        at = sentence.find(value, m.end())
                        out.append(Filler(value, at, at + len(value), "name"))
        return out

    def _entities(self, sentence: str, *kinds: str):
        if self.tagger is None:
            return []
        return [e for e in self.tagger.entities(sentence) if e.kind in kinds]

    def _units(self, ask: Ask, analysis: QuestionAnalysis) -> tuple[str, ...] | None:
        if ask.units:
            out: list[str] = []
            for u in ask.units:
                if u.startswith("family:"):
                    out += self.lex.units.get(u[7:], ())
                else:
                    out.append(u)
            return tuple(out)
        if analysis.answer_units:
            return analysis.answer_units
        if analysis.unit_class:
            return self.lex.units[analysis.unit_class]
        return None

    # -- binding ----------------------------------------------------------------------------------
    def fill(self, ask: Ask, analysis: QuestionAnalysis, sentence: str, context: str = "", about: str = "",
             weights: dict[str, float] | None = None, aliases: tuple[str, ...] = ()) -> SlotFill:
        """The filler of the ask's slot in `sentence`, or why there is none. `context`: the text just
        before the sentence in its passage, with the passage's title and heading (what the sentence
        may inherit its subject and qualifiers from); `about`: more text the sentence's subject may be
        named in (its whole passage, when the sentence opens with 该片/此书… or the passage is short);
        `weights`: how much each question word tells (idf, evidence.py), for the target's coverage;
        `aliases`: names of the person the target describes, found in other evidence (service.py)."""
        if not ask.typed:
            return SlotFill(None, "no typed slot")
        other = _other_ordinal(ask.question, sentence)
        if other:
            return SlotFill(None, f"the evidence is about {other}")
        first = re.search(r"首届|首次|第一届|第1届|首场|第一次", ask.question)
        if first and not re.search(r"首届|首次|第一届|第1届|首场|第一次|首度|第一场|创办|创立|始于|起源", sentence + context + about):
            return SlotFill(None, f"the evidence does not say which is the {first.group(0)}")  # "首届比赛在哪里举行"
        if ask.slot == "list":
            return self._fill_list(ask, analysis, sentence, context, about, weights)
        words = self._words(sentence)
        spans = self._own(ask, analysis, sentence, self.spans(ask, analysis, sentence), words)
        echo = self.echo_span(ask, sentence)
        if echo is not None:
            # a page that repeats the question ("您在查找“…什么时候上映的”吗", a page title) says nothing
            # there; what it says after the repetition may still answer
            spans = [f for f in spans if f.start >= echo[1]]
            if not spans:
                return SlotFill(None, "the evidence only repeats the question")
        if not spans:
            return SlotFill(None, "the evidence names no one" if ask.slot == "person" else f"the evidence states no {_SLOT_WORDS.get(ask.slot, ask.slot)}")
        reason = self._target_unbound(ask, analysis, sentence, context + "\n" + about, weights, aliases)
        if reason:
            return SlotFill(None, reason)
        if ask.slot == "place":
            # "2012年伦敦奥运会": a place right before the event asked about, the year asked right before
            # it, says where that event was held
            years = [a.text for a in analysis.anchors if a.kind == "year"] + [q.value for q in ask.qualifiers if q.kind == "year"]
            for f in spans:
                rest = sentence[f.end:]
                if years and any(rest.startswith(w) for w in list(ask.target) + list(ask.entities)) and \
                        any(re.search(rf"{y}\s*年?\s*(?:的)?\s*$", sentence[max(0, f.start - 8) : f.start]) for y in years):
                    return SlotFill(f, "", 0)
        # the relation the question asks about, stated in the sentence (each one the question names)
        positions: list[tuple[int, int]] = []
        for word, alternatives in ask.relations:
            if ask.slot == "quantity" and ask.units and not ask.units[0].startswith("family:"):
                # "震级" is stated by a number of its own unit ("7.0级")
                continue
            found = self._relation_at(ask, word, alternatives, sentence, words)
            if not found and ask.vague_time and re.search(r"时间|安排|一般|通常|定在|放在", ask.question):
                # "时间安排在领导班子民主生活会前": the arrangement states when, whatever verb the question used
                found = [(m.start(), m.end()) for m in re.finditer(r"安排在|定在|放在|时间为|时间是|一般在|通常在", sentence)]
            if not found:
                return SlotFill(None, f"the evidence does not say {word}")
            positions += found
        if not ask.relations and ask.slot in ("date", "year"):
            # "汶川地震的时间": the date of the event the question names, said where it happened
            positions = [(m.start(), m.end()) for w in self.data.event_relations for m in re.finditer(re.escape(w), sentence)]
        if not positions and ask.slot == "name":
            # "…被称为什么": a name is told by 称为/叫做/名为… when the question names no attribute
            positions = [(m.start(), m.end()) for w in self.data.naming_verbs for m in re.finditer(re.escape(w), sentence)]
            if not positions:
                return SlotFill(None, "the evidence does not say what it is called")
        if not positions and ask.slot == "place":
            # "白宫在哪个城市": a place is told by 位于/地处/设在…
            positions = [(m.start(), m.end()) for m in re.finditer(r"位于|地处|坐落|设在|座落", sentence)]
            if not positions:
                return SlotFill(None, "the evidence does not say where it is")
        anchors = positions or self._target_spans(ask, sentence)
        if not anchors and self._target_named(ask, sentence):
            anchors = [(0, 0)]
        # the span nearest the relation is what the sentence says of it; a forecast there is no outcome
        if ask.slot == "quantity" and not positions:
            # with no relation word, the number whose clause says most of what is asked
            # ("该省省市县三级党委共谈话4861人次", not the "中管干部49人次" of a later clause)
            cover = {id(f): -self._clause_cover(ask, analysis, sentence, f) for f in spans}
            ranked = sorted(((self._distance(sentence, f, anchors), f) for f in spans), key=lambda x: (cover[id(x[1])], x[0][0]))
        else:
            ranked = sorted(((self._distance(sentence, f, anchors), f) for f in spans), key=lambda x: (x[0][0], -len(x[1].text)))
        limit = self._limit(ask) if not is_table_row(sentence) else (40, 0)
        candidates = []
        for (d, boundaries), f in ranked:
            initial = ask.slot in ("year", "date", "quantity") and self._initial_adverbial(sentence, f)
            dropped = boundaries == 1 and d <= 40 and positions and self._subject_of_next_clause(sentence, f, spans, positions)
            usable = d < 10**6
            if (d > limit[0] or boundaries > limit[1]) and not (initial and positions and usable) and not (dropped and usable):
                continue
            candidates.append((d, f))
        if not candidates:
            return SlotFill(None, f"no {_SLOT_WORDS.get(ask.slot, ask.slot)} in the evidence is said of {ask.relations[0][0] if ask.relations else 'what is asked'}")
        if ask.wants_outcome and self._forecast(sentence, candidates[0][1]):
            return SlotFill(None, "the evidence states a forecast or a plan, not what happened")
        candidates = [(d, f) for d, f in candidates if not (ask.wants_outcome and self._forecast(sentence, f))]
        if ask.slot == "quantity" and "其中" not in ask.question:
            # "一共有发射基地，其中5处是新建造": a part of the whole, not the number asked
            whole = [(d, f) for d, f in candidates if "其中" not in sentence[max([c.end() for c in _CLAUSE_CUT.finditer(sentence, 0, f.start)] + [0]) : f.start]]
            if not whole:
                return SlotFill(None, "the evidence counts a part (其中…), not the whole")
            candidates = whole
        if ask.slot in ("year", "date"):
            kept, reason = self._dates_beyond_question(ask, analysis, [f for _, f in candidates])
            if not kept:
                return SlotFill(None, reason)
            candidates = [(d, f) for d, f in candidates if f in kept]
        reason = ""
        for d, f in candidates:
            reason = (self._qualifier_unbound(ask, analysis, sentence, context, f, anchors)
                      or self._modifies_other(ask, sentence, f, positions, words)
                      or self._counts_other(ask, sentence, f)
                      or self._other_dimension(ask, sentence, f)
                      or self._said_of_other(ask, analysis, sentence, f, positions))
            if not reason:
                via = next((a for a in aliases if a in sentence or a in context[-300:]), "") if aliases else ""
                return SlotFill(f, "", d, via)
        return SlotFill(None, reason)

    def _fill_list(self, ask: Ask, analysis: QuestionAnalysis, sentence: str, context: str, about: str,
                   weights: dict[str, float] | None) -> SlotFill:
        """The items of the list the question names: an enumeration in the sentence ("对象主要是市级领导、
        考察对象本人、县市区班子成员及其他人") or a series it opens (一是…二是…), said of the list's noun
        (对象, 步骤, “五个政治”) here or just before, with as many items as the question says."""
        if is_table_row(sentence):
            row = self._row_list(ask, sentence)
            if row is not None:
                return row
        # a sentence about something else holds no wrong list of the thing asked: it leaves the question to
        # the untyped answerer as one listing nothing does
        reason = self._target_unbound(ask, analysis, sentence, context + "\n" + about, weights)
        if reason:
            return SlotFill(None, reason, soft=True)
        spans = list_spans(sentence)
        echo = self.echo_span(ask, sentence)
        if echo is not None:
            spans = [f for f in spans if f.start >= echo[1] and f.kind == "list"]  # "……存在哪些突出问题?答:"
        if not spans:
            return SlotFill(None, "the evidence lists nothing", soft=True)
        # a one-character noun ("人") is in too many words: the words that name its list stand for it
        heads = ((ask.head,) if len(ask.head) >= 2 else ()) + tuple(self.data.list_heads.get(ask.head, ()))
        # the context names the list when its last sentence announces it ("……还存在一些急需解决的问题。",
        # "对象主要有：")
        last = [x for x in re.split(r"(?<=[。！？!?])", context.rstrip()) if x.strip()]
        lead = last[-1] if last else ""
        if not any(re.search(r"(?:[：:]\s*$)|(?:存在|以下|如下|主要有|主要是|包括|分为|有)[^。，]{0,10}" + re.escape(h), lead) for h in heads):
            lead = ""
        target_here = [w for w in ask.target if len(w) >= 2 and w in sentence]
        reason = f"the evidence does not say its list is the {ask.head}"
        soft = True
        best = None
        for f in spans:
            if f.kind == "list" and any(re.search(r"(?:下列|以下|如下)[^，。；]{0,4}" + re.escape(h), sentence[f.end:]) for h in heads):
                continue  # "……违反本法规定，有下列行为之一的": the list asked for follows, item by item
            if f.kind == "list":
                low, high = count_items(f.text)
                if ask.items and not low <= ask.items <= high:
                    reason, soft = f"the evidence lists {low} items, not the {ask.items} of {ask.head}", False
                    continue
                # the list's noun in the enumeration's clause or the one before it, or just before the sentence
                cuts = [m.start() for m in re.finditer(r"[，,；;。！？!?]", sentence)]
                lo = max([c + 1 for c in cuts if c < f.start][-2:-1] or [0])
                hi = min([c for c in cuts if c >= f.end] + [len(sentence)])
                near = sentence[lo : hi + 6]
                # "……等多个方面入手": the list names its own noun after 等; a list of 方面 is no list of 问题
                own = re.match(r"\s*等[^、，。；]{0,4}?(?:个|项|类|种|条)?\s*([\u4e00-\u9fff]{2})", sentence[f.end:])
                if own and not any(h in sentence[f.end : f.end + 12] for h in heads) and own.group(1) not in ("内容", "工作", "方式", "问题"):
                    reason, soft = f"the evidence lists {own.group(1)}, not {ask.head}", False
                    continue
                if any(re.search(r"的" + re.escape(h), f.text) for h in heads):
                    # "对工作不力、隐患整改不到位的乡镇和部门": the items say what the 乡镇 are like
                    reason, soft = f"the evidence lists what the {ask.head} are like, not which", False
                    continue
            else:
                near = sentence
            verbs = [w for _, ws in ask.relations[1:] for w in ws]
            if f.kind == "list" and is_table_row(sentence):
                # a cell's label names its list ("督查范围：北岭乡、…" for 督查哪些乡镇)
                label = re.search(r"([^，,；;：:]{1,12})[：:]\s*$", sentence[: f.start])
                if label and any(w in label.group(1) for w in heads + tuple(verbs)):
                    near = label.group(1) + ask.head
            # the list's own noun right after its items ("……巡视巡察等工作中") says what it is a list of,
            # whatever verb the question used ("可以结合哪些工作")
            named_after = f.kind == "list" and any(h in sentence[f.end : f.end + 12] for h in heads)
            if verbs and not named_after and not any(v in near or v in lead for v in verbs):
                reason = f"the evidence does not list what is {verbs[0]}"
                continue
            if not any(h in near or h in lead for h in heads):
                # "“政治忠诚、…、政治自律,是考察的具体标准”": as many items as the question says, in a
                # sentence that says what the question calls them
                if not (f.kind == "list" and ask.items and target_here):
                    continue
            if best is None or (f.kind == "list" and (best.kind != "list" or len(f.text) > len(best.text))):
                best = f
        return SlotFill(best, "" if best else reason, soft=best is None and soft)

    def _row_list(self, ask: Ask, sentence: str) -> SlotFill | None:
        """A table row answers a list question by the cell its column names ("牵头责任单位：…" for 牵头
        责任单位是哪些, "督查范围：…" for 督查哪些乡镇) — when another of its cells names what the question
        is about (the row's task, its group: "交通设施", "第四督查组"). None: no column of the kind asked."""
        heads = ((ask.head,) if len(ask.head) >= 2 else ()) + tuple(self.data.list_heads.get(ask.head, ()))
        verbs = tuple(w for _, ws in ask.relations[1:] for w in ws if len(w) >= 2)
        cells = row_cells(sentence)
        q = plain(ask.question)
        # the cell the question names is the row's key, not its answer; a date column lists no items
        asked = [c for c in cells if any(w in c[0] for w in heads + verbs) and plain(sentence[c[1]:c[2]]) not in q
                 and not re.search(r"时间|日期|时限|期限", c[0])]
        if not asked:
            return None
        label, start, end = max(asked, key=lambda c: (sum(len(w) for w in heads if w in c[0]), -cells.index(c)))
        value = sentence[start:end].strip()
        keys = [sentence[a:b].strip() for lab, a, b in cells if lab != label]
        if not any(len(plain(k)) >= 2 and plain(k) in q for k in keys):
            return SlotFill(None, f"the row is about {keys[1] if len(keys) > 1 else (keys or [''])[0]}, not what the question names")
        at = sentence.find(value, start)
        return SlotFill(Filler(value, at, at + len(value), "list"), "")

    def _words(self, sentence: str, segmenter: bool = False) -> list[tuple[int, int, str]]:
        """(start, end, tag) of the sentence's words (the entity tagger's, else — or with `segmenter` —
        the segmenter's)."""
        out, at = [], 0
        use_tagger = self.tagger is not None and self.tagger.mode != "none" and not segmenter
        pairs = self.tagger.tagged(sentence) if use_tagger else self.tokenizer.segmenter.tag(sentence)
        for w, tag in pairs:
            i = sentence.find(w, at)
            if i < 0:
                continue
            at = i + len(w)
            out.append((i, at, tag))
        return out

    @staticmethod
    def _limit(ask: Ask) -> tuple[int, int]:
        """How far (characters, clause boundaries) a filler may stand from the words stating the relation."""
        if ask.slot in ("year", "date", "quantity"):
            return 24, 1
        return 20, 0

    def _clause_cover(self, ask: Ask, analysis: QuestionAnalysis, sentence: str, f: Filler) -> float:
        """How much of the question the filler's clause says, each word weighed by how few clauses of
        the sentence say it ("三级" tells the 4861人次 clause from the 中管干部 one; "谈话" is in all)."""
        cuts = [m.start() for m in _CLAUSE_CUT.finditer(sentence)]
        bounds = list(zip([0] + [c + 1 for c in cuts], cuts + [len(sentence)]))
        clauses = [sentence[a:b] for a, b in bounds]
        lo, hi = next(((a, b) for a, b in bounds if a <= f.start < b), (0, len(sentence)))
        clause = sentence[lo:hi]
        words = set(self.tokenizer.content_terms(ask.question)) | {a.text for a in analysis.anchors} | {q.text for q in ask.qualifiers}
        score = 0.0
        for w in words:
            if len(w) >= 2 and w in clause:
                score += 1.0 / sum(1 for c in clauses if w in c)
        return score

    @staticmethod
    def _subject_of_next_clause(sentence: str, f: Filler, spans: list[Filler], positions) -> bool:
        """"梁振英获得689张有效票，当选为香港特区第四任行政长官": the clause after the filler's has no subject
        of its own — the filler opens its clause and no other span of its type stands before the
        relation."""
        cuts = [m.start() for m in _BOUNDARY.finditer(sentence)]
        lo = max([c + 1 for c in cuts if c < f.start] + [0])
        if len(re.sub(r"\s", "", sentence[lo : f.start])) > 8:
            return False
        following = [s for s, _ in positions if s >= f.end]
        if not following:
            return False
        rel = min(following)
        return not any(f.end <= o.start < rel for o in spans if o is not f)

    @staticmethod
    def _initial_adverbial(sentence: str, f: Filler) -> bool:
        """A time that opens the sentence ("北京时间10月17日7时49分，……发射升空"): it dates the sentence's
        main event wherever its verb stands."""
        head = sentence[: f.start]
        if not re.match(r"\s*(?:[凌晨早上午中下傍夜间晚]{1,2}\s*)?\d{0,2}[时点]?\d{0,2}分?\s*[，,]", sentence[f.end:]):
            return False  # "北京时间10月17日7时49分，……": set off by a comma
        # only a clock's name, a byline or a page's furniture (an English date, "...") may stand before it
        return len(re.findall(r"[\u4e00-\u9fff]", re.sub(r"北京时间|当地时间|格林尼治时间|据.{0,8}报道", "", head))) <= 2

    def echo_span(self, ask: Ask, sentence: str) -> tuple[int, int] | None:
        """Where the sentence repeats the question (a search page, a 'did you mean', a page titled with
        the question): a long run of the question's own characters that includes its question word.
        (start, end) in the sentence, or None."""
        q = plain(ask.question)
        if len(q) < 4:
            return None
        kept = [(i, ch) for i, ch in enumerate(sentence) if plain(ch)]
        s = "".join(plain(ch) for _, ch in kept)
        best, where = _longest_common_run(q, s)
        if best < self.data.echo_min_share * len(q) or not _INTERROGATIVE.search(q[where : where + best]):
            return None
        at = s.find(q[where : where + best])
        return kept[at][0], kept[at + best - 1][0] + 1

    def _own(self, ask: Ask, analysis: QuestionAnalysis, sentence: str, spans: list[Filler], words) -> list[Filler]:
        """Spans that say something of their own: not a word of the question, holding none of the
        question's named things or relation words, not a title's words (a name inside 《》 is the work,
        not its author), not a time word standing in for a person, not the target's own other name, and
        a whole word of the sentence."""
        q = plain(ask.question)
        titles = [(m.start(), m.end()) for m in _TITLE.finditer(sentence)]
        asked = [plain(w) for w in list(ask.entities) + list(ask.target) + [a.text for a in analysis.anchors]
                 + [r for r, _ in ask.relations if len(r) >= 2]]
        asked = [a for a in asked if len(a) >= 2]
        time_words = [(s, e) for s, e, tag in words if tag in ("TIME", "t")]
        # word boundaries of both segmentations: either may cut a name the other keeps whole
        both = list(words) + self._words(sentence, segmenter=True)
        starts = {s for s, _, _ in both}
        ends = {e for _, e, _ in both}
        heads = sorted({w for r, alts in ask.relations for w in (r,) + alts if len(w) >= 2}, key=len, reverse=True)
        trimmed = []
        for f in spans:
            # "高通骁龙835处理器" names the 处理器: the name is what stands before the word asked about
            cut = next((h for h in heads if f.text.endswith(h) and len(f.text) - len(h) >= 2), None)
            trimmed.append(Filler(f.text[: -len(cut)], f.start, f.end - len(cut), f.kind) if cut else f)
        spans = trimmed
        if ask.slot == "name":
            stems = [plain(v[0]) for v in map(version_of, ask.entities) if v and len(plain(v[0])) >= 2]
            # "MIX Fold2" for MIX1: a name holding the target's stem, or right after it, is another model's
            # and a name right after the target's brand is a sibling model ("小米Note 3" for 小米MIX2)
            brands = [plain(w[: w.find(e)]) for w in ask.target for e in ask.entities if e in w and w.find(e) >= 2]
            spans = [f for f in spans if not any(st in plain(f.text) or plain(sentence[max(0, f.start - len(st) - 2) : f.start]).endswith(st)
                                                 for st in stems + brands)]
        # a name holding a question word ("约翰·F·肯尼迪") is the question's own: none of its parts fills
        tainted = [(f.start, f.end) for f in spans if any(a in plain(f.text) for a in asked)] if ask.slot not in ("year", "date", "quantity") else []
        out: list[Filler] = []
        seen: set[tuple[int, int]] = set()
        for f in sorted(spans, key=lambda f: (f.start, -(f.end - f.start))):
            p = plain(f.text)
            if not p or (f.start, f.end) in seen:
                continue
            if f.kind in ("person", "place", "org", "team") and re.fullmatch(r"[\u4e00-\u9fff]", f.text):
                continue  # one character names nobody and nowhere
            if not re.search(r"[\u4e00-\u9fffA-Za-z0-9]", f.text) or _unbalanced(f.text):
                continue  # "「」", '是"雨森初': an empty or broken quotation names nothing
            if f.kind == "person" and re.match(r"\s*[·•・．]\s*(?:\.{2,}|…|$)", sentence[f.end:]):
                continue  # "詹姆斯· ...": the page cut the name off; what is left names nobody in full
            if f.kind == "place" and (f.text in self.data.not_places or re.match(r"(?:公司|集团|企业|大学|银行|联|协会|委员会|组织)", sentence[f.end:])
                                      or re.search(r"(?:联|协会|委员会|组织)$", f.text)):
                continue  # "城市" is no place; "洛马公司", "亚足联" are bodies
            if f.kind == "quantity" and (re.match(r"[A-Za-z]", sentence[f.start - 1 : f.start] or " ")
                                         or (f.end not in ends and re.match(r"[\u4e00-\u9fff]", sentence[f.end : f.end + 1] or " ")
                                             and not re.match(r"[内外以上下左右多余前后起来的之间]", sentence[f.end : f.end + 1]))):
                continue  # "POWER6处理器": a digit of a name, a unit that is part of a word (处理器)
            if ask.slot not in ("year", "date", "quantity", "category"):
                if p in q or (ask.slot == "person" and any(s < f.end and f.start < e for s, e in tainted)):
                    continue
                holds = [a for a in asked if a in p]
                # a person holding an asked name is that person; a body may carry the topic in its name
                # ("医疗废物集中处置单位") as long as it says more than the question
                if holds and (ask.slot == "person" or len(p) - max(map(len, holds)) < 3):
                    continue
                if f.kind == "role" and (len(f.text) <= 2 or re.match(r"各|每|有关|相关|其他|其它|所有|上述|本", f.text)):
                    continue  # "单位" alone, "各牵头责任单位": nobody in particular
                if re.match(r"\s*[：:]", sentence[f.end:]):
                    continue  # "责任单位：" is a column's label, its value follows it
                if any(s <= f.start and f.end <= e for s, e in time_words) or DATE.fullmatch(f.text) or f.text.endswith("赛季"):
                    continue
                if ask.slot != "name" and any(s < f.start and f.end <= e for s, e in titles):
                    continue
                if ask.slot in ("person", "agent", "name") and self._appositive(ask, sentence, f):
                    continue
                # a name of Chinese characters is a whole word of the sentence ("港远" of "上港远未到" is none)
                if words and re.fullmatch(r"[\u4e00-\u9fff]+", f.text) and (f.start not in starts or f.end not in ends):
                    continue
            seen.add((f.start, f.end))
            out.append(f)
        return out

    def _modifies_other(self, ask: Ask, sentence: str, f: Filler, positions, words) -> str:
        """A name that only modifies another noun fills nothing: "亚冠联赛冠军" names a competition, not
        its champion; "北京冬奥会" names another event, not where the asked one was held."""
        if ask.slot not in ("agent", "place", "person", "name"):
            return ""
        tags = {e: tag for _, e, tag in words}
        for s, e in positions if ask.slot == "agent" else ():
            # a noun ("中超冠军", "亚冠联赛冠军"), not a verb ("黄渤执导", "在日本举行")
            if s >= f.end and not tags.get(e, "n").startswith("v") and re.fullmatch(r"[联赛杯的\s]{0,3}", sentence[f.end : s]):
                return f"{f.text} only qualifies {sentence[s:e]}"
        nxt = next(((s, e, tag) for s, e, tag in words if s >= f.end), None)
        if nxt is not None and nxt[0] == f.end and nxt[2] in ("nz", "nw"):
            name = sentence[nxt[0] : nxt[1]]
            if not any(plain(name) in plain(x) or plain(x) in plain(name) for x in list(ask.entities) + list(ask.target)):
                return f"{f.text} qualifies {name}, not what is asked"
        return ""

    @staticmethod
    def _other_dimension(ask: Ask, sentence: str, f: Filler) -> str:
        """"峡谷有多长" is not answered by "深80米": a length, width, height, depth or weight asked, the
        number must not be introduced by the word of another one (metres measure all of them)."""
        if ask.slot != "quantity":
            return ""
        asked = re.search(r"多(长|宽|高|深|厚|重)|(长|宽|高|深|厚)度|(身高|体重|海拔)", ask.question)
        if not asked:
            return ""
        want = next(g for g in asked.groups() if g)
        want = {"身高": "高", "体重": "重", "海拔": "高"}.get(want, want)
        said = re.search(r"(长|宽|高|深|厚|重)(?:度)?(?:约|达|为|是|有|近|逾|仅|只有|超过|大约)?\s*$", sentence[max(0, f.start - 5) : f.start])
        if said and said.group(1) != want:
            return f"the number in the evidence is a {said.group(1)}, not the {want} asked"
        return ""

    @staticmethod
    def _counts_other(ask: Ask, sentence: str, f: Filler) -> str:
        """"东盟有多少个成员国" is not answered by "50个州": the noun counted must be said in the clause."""
        if ask.slot != "quantity" or not ask.counted:
            return ""
        cuts = [m.start() for m in _BOUNDARY.finditer(sentence)]
        lo = max([c + 1 for c in cuts if c < f.start] + [0])
        hi = min([c for c in cuts if c >= f.end] + [len(sentence)])
        clause = sentence[lo:hi]
        noun = ask.counted
        after = sentence[f.end:hi]
        at = after.find(noun)
        if at < 0 and len(noun) >= 3:
            at = after.find(noun[:2])
        if at >= 0:
            # "5个创始成员国" counts founding members, not members: the noun follows the number directly
            if re.fullmatch(r"[的多余\s]{0,2}", after[:at]):
                return ""
            return f"the number in the evidence counts {after[:at + len(noun)]}, not {noun}"
        if noun in sentence[lo:f.start] or (len(noun) >= 3 and noun[:2] in sentence[lo:f.start]):
            return ""  # "成员国共有10个"
        if noun[-1] == clause[f.end - lo : f.end - lo + 1]:
            return ""
        return f"the number in the evidence does not count {noun}"

    def _said_of_other(self, ask: Ask, analysis: QuestionAnalysis, sentence: str, f: Filler, positions=()) -> str:
        """The filler is said of the target, not of a neighbour: the mention nearest to it — of another
        work (《》), another version of the thing (GPT-2 for GPT-3, MIX Fold2 for MIX1), or, for an
        attribute (a date, a number, a name), another place or person than the one asked (汶川's
        magnitude in a table that goes on to 玉树) — must not be another's; no other named event, work
        or body stands in the filler's own clause ("2020年澳大利亚网球公开赛于2月2日…" is not when 美网
        began); and a target named in the sentence stands within two clauses of the filler."""
        mentions: list[tuple[int, int, bool]] = []  # (start, end, is the target)
        titles = [a.text for a in analysis.anchors if a.kind == "title"]
        for m in _TITLE.finditer(sentence):
            if titles:
                mentions.append((m.start(), m.end(), any(plain(m.group(1)) == plain(t) or plain(m.group(1)).startswith(plain(t) + "：") for t in titles)))
        kept = [(i, ch) for i, ch in enumerate(sentence) if plain(ch)]
        flat = "".join(plain(ch) for _, ch in kept)
        for name in ask.entities:
            v = version_of(name)
            own = plain(name)
            stem = plain(v[0]) if v else (own if re.search(r"[a-z]", own) else "")
            if len(stem) < 2:
                continue
            for m in re.finditer(re.escape(stem), flat):
                tail = re.match(r"[a-z0-9]+|[一二三四五六七八九十百]+[号代]?", flat[m.end():])
                label = stem + (tail.group(0) if tail else "")
                start, end = kept[m.start()][0], kept[min(len(kept), m.start() + len(label)) - 1][0] + 1
                mentions.append((start, end, label == own or (not tail and own == stem)))
            # another line of the same maker ("小米Max" for 小米MIX1): the brand with other Latin letters
            full = next((plain(t) for t in ask.target if own in plain(t)), own)
            brand = re.match(r"([\u4e00-\u9fff]{2,})([a-z]+)", full)
            if brand:
                for m in re.finditer(re.escape(brand.group(1)) + r"([a-z]+)[0-9]*", flat):
                    if m.group(1) != brand.group(2) and not any(k[0] <= kept[m.start()][0] < k[1] for k in mentions):
                        start, end = kept[m.start()][0], kept[m.end() - 1][0] + 1
                        mentions.append((start, end, False))
        if ask.slot in ("year", "date", "quantity", "name"):
            places = [a.text for a in analysis.anchors if a.kind == "place"]
            persons = [a.text for a in analysis.anchors if a.kind == "person"]
            clauses = [sentence[m.start():m.end()] for m in re.finditer(r"[^，,；;。！？!?.．\n]+", sentence)]
            # an asked place or person named before the filler is its subject: other places and persons
            # after it are partners ("黄山市委…与杭州市累计交流互访1800余次")
            named_before = any(sentence.find(n, 0, f.start) >= 0 for n in places + persons)
            for e in self._entities(sentence, "place", "person") if not named_before else ():
                names = places if e.kind == "place" else persons
                if not names or re.match(r"\s*时间", sentence[e.end:]):
                    continue  # "北京时间" tells a clock, not a place
                if e.start >= f.end:
                    continue  # a place or person is the subject of what follows it, not of what precedes
                mine = any(n in e.text or e.text in n for n in names)
                shares_clause = any(e.text in c and any(n in c for n in names) for c in clauses)
                mentions.append((e.start, e.end, mine or shares_clause))
        others = [m for m in mentions if m[1] <= f.start or m[0] >= f.end]
        if others:
            # the mention in the filler's own clause, else the one before it (a subject precedes what is
            # said of it): "小米MIX 2将采用……，搭载骁龙835处理器，尺寸比小米MIX 1小" is MIX 2's
            cuts_ = [m.start() for m in _BOUNDARY.finditer(sentence)]
            clo = max([c + 1 for c in cuts_ if c < f.start] + [0])
            chi = min([c for c in cuts_ if c >= f.end] + [len(sentence)])
            pool = [m for m in others if clo <= m[0] and m[1] <= chi] or [m for m in others if m[1] <= f.start] or others
            nearest = min(pool, key=lambda m: (f.start - m[1]) if m[1] <= f.start else (m[0] - f.end))
            if not nearest[2]:
                return f"the evidence says {f.text} of {sentence[nearest[0]:nearest[1]]}, not of what is asked"
        # another named thing in the filler's own clause is what the filler is said of
        cuts = [m.start() for m in _BOUNDARY.finditer(sentence)]
        lo = max([c + 1 for c in cuts if c < f.start] + [0])
        hi = min([c for c in cuts if c >= f.end] + [len(sentence)])
        asked = [plain(w) for w in list(ask.entities) + list(ask.target) + [a.text for a in analysis.anchors] + [q.text for q in ask.qualifiers]]
        asked = [a for a in asked if a]
        kinds = ("name", "work") + (("person",) if ask.slot in ("year", "date", "quantity") else ())
        # the subject of the relation: what stands before the relation word in its own clause
        rel_spans = []
        for s_, e_ in positions:
            rlo = max([c + 1 for c in cuts if c < s_] + [0])
            if rlo > f.end or e_ <= f.start:
                rel_spans.append((rlo, s_))
        # a filler right at the words stating the relation is theirs ("1991年苏联解体后")
        attached = any(0 <= s_ - f.end <= 4 or 0 <= f.start - e_ <= 4 for s_, e_ in positions)
        for e in self._entities(sentence, *kinds) if ask.slot != "name" and not attached else ():
            # an event, work or product (a person, for a date or a number) before the filler in its clause,
            # or before the relation in the relation's clause
            in_filler_clause = lo <= e.start and e.end <= f.start
            in_relation_clause = any(a <= e.start and e.end <= b for a, b in rel_spans)
            if not (in_filler_clause or in_relation_clause) or (e.start < f.end and f.start < e.end):
                continue
            if re.search(r"(?:简称|又称|英语|英文|外文名|别称)\s*[：:]?\s*$", sentence[max(0, e.start - 5) : e.start]):
                continue  # the target's other name ("PlayStation 4（简称PS4）")
            pe = plain(e.text)
            if len(pe) < 2 or any(a in pe or pe in a for a in asked) or any(self._abbreviates(w, e.text) for w in ask.target):
                continue
            if any(pe in plain(w) for w, _ in ask.relations):
                continue
            return f"the evidence says {f.text} of {e.text}, not of what is asked"
        # a target named in the sentence is near the filler (a table row is one record: any cell)
        spans = self._target_spans(ask, sentence) if not is_table_row(sentence) else []
        if spans:
            nearest = min(len(_BOUNDARY.findall(sentence[min(e, f.start) : max(s, f.end)])) for s, e in spans)
            if nearest > 2:
                return f"{f.text} is said too far from what is asked"
        return ""

    @staticmethod
    def _appositive(ask: Ask, sentence: str, f: Filler) -> bool:
        """The target's own other name right beside it ("苹果公司Apple Inc.", "《头号玩家》（英语：Ready
        Player One"): it names the target, it does not fill the slot."""
        for name in list(ask.entities) + list(ask.target):
            for m in re.finditer(re.escape(name), sentence):
                gap = sentence[m.end() : f.start] if f.start >= m.end() else sentence[f.end : m.start()] if f.end <= m.start() else "x" * 9
                if re.fullmatch(r"[\s》”\"（(：:英语文名称公司]*", gap):
                    return True
        return False

    def _relation_at(self, ask: Ask, word: str, alternatives: tuple[str, ...], sentence: str, words) -> list[tuple[int, int]]:
        """Where the sentence states the relation: the word or a listed way of saying it as a word of the
        sentence, a thesaurus equivalent, or a verb sharing a character with it — never inside a title
        (《…发射时间》 names a work), never asked about ("冠军谁属"), never another work's ("《曾经》的导演")."""
        starts = {s for s, _, _ in words}
        ends = {e for _, e, _ in words}
        titles = [(m.start(), m.end()) for m in _TITLE.finditer(sentence)]
        own = [plain(e) for e in ask.entities]
        found: list[tuple[int, int]] = []

        def usable(s: int, e: int) -> bool:
            if any(ts <= s < te for ts, te in titles):
                return False
            if words and e not in ends and not re.match(r"(?:城市|国家|国|地|方|者)", sentence[e:]):
                return False  # "首都区", "欧洲冠军联赛": the word inside another word is not said ("主办城市" is)
            if re.match(r"\s*(?:是谁|谁属|为谁|是什么|花落谁家|归属|何时|什么时候|在哪|是哪)", sentence[e:]):
                return False
            if re.match(r"(?:联赛|杯|奖杯|奖金|戒指|争夺|之争|候选|资格|热门|相)", sentence[e:]):
                return False  # "冠军联赛", "冠军奖金": a compound, not who the 冠军 is

            clause_start = max([m.end() for m in _BOUNDARY.finditer(sentence, 0, s)] + [0])
            before = list(_TITLE.finditer(sentence, clause_start, s))
            if before and own and plain(before[-1].group(1)) not in own:
                return False  # "《罗马》是阿方索·卡隆导演": the 导演 of another work
            after = re.match(r"\s*(?:执导|导演|编剧|主演|创作|出品)?\s*的\s*《([^》]{1,40})》", sentence[e:])
            if after and own and plain(after.group(1)) not in own:
                return False  # "周星驰导演执导的《美人鱼》"
            return True

        for w in alternatives or (word,):
            for m in re.finditer(re.escape(w), sentence):
                if usable(m.start(), m.end()):
                    found.append((m.start(), m.end()))
        if found:
            return found
        if self.thesaurus is not None:
            for eq in self.thesaurus.equivalents(word) or ():
                for m in re.finditer(re.escape(eq), sentence):
                    if usable(m.start(), m.end()):
                        found.append((m.start(), m.end()))
            if found:
                return found
        for s, e, tag in words:
            w = sentence[s:e]
            if len(w) < 2 or w == word or not tag.startswith("v") or len(word) < 2:
                continue
            if w[0] == word[0] and usable(s, e):  # 举行 for 举办, 创办 for 创立, 发表 for 发布
                found.append((s, e))
        return found

    @staticmethod
    def _after_event(sentence: str, e: int) -> bool:
        """"开幕式前", "解体后": what follows tells a time before or after the event, not the event's own
        (a date before the words is the event's: "1991年苏联解体后")."""
        return bool(re.match(r"(?:式)?(?:之|以)?[前后]", sentence[e:]))

    def _forecast(self, sentence: str, f: Filler) -> bool:
        start = max([m.end() for m in _CLAUSE_CUT.finditer(sentence, 0, f.start)] + [0])
        nxt = _CLAUSE_CUT.search(sentence, f.end)
        clause = sentence[start : nxt.start() if nxt else len(sentence)]
        for m in self.data.forecast.finditer(clause):
            # "实现预期目标", "超过预期": a target met is an outcome
            if not re.search(r"(?:实现|完成|达到|超过|超出|好于|高于|低于|符合|达成)\S{0,2}$", clause[: m.start()]):
                return True
        return False

    # the target: named things and content words
    def _target_unbound(self, ask: Ask, analysis: QuestionAnalysis, sentence: str, context: str,
                        weights: dict[str, float] | None = None, aliases: tuple[str, ...] = ()) -> str:
        s, c = plain(sentence), plain(context)
        for name in ask.entities:
            n = plain(name)
            if not n:
                continue
            in_sentence = self._names(name, sentence)
            if in_sentence is None:
                return f"the evidence is about another {name}"
            if not in_sentence and not self._names(name, context) and not self._abbreviates(name, sentence + context):
                return f"the evidence is not about {name}"
            if not in_sentence and version_of(name) and self._other_version(name, context):
                # the sentence inherits its subject from text that names this version and another
                # ("此次的星河4号能否重现星河1号的成绩…" then "首发的X处理器…"): which one it speaks of is unsaid
                return f"the evidence does not say whether it is about {name} or another version"
        # the person the target is (named in the question, or by the sentence that describes the target:
        # "令狐德昌同志，副县长，分管工业和安全生产") stands for its description in a table row about them
        # (not a "person" read inside a longer name the question asks about: 黄蝉 in 软枝黄蝉)
        persons = [a.text for a in analysis.anchors if a.kind == "person"
                   and not any(a.text in w and a.text != w for w in ask.target)] + list(aliases)
        if any(p and p in sentence for p in persons):
            return ""
        if aliases:
            # who the target is, is known: the sentence, or the last person named before it, must be them
            from kb.language.person_names import person_mentions

            def named(text: str) -> list[str]:
                found = [(e.start, e.text) for e in self._entities(text, "person")]
                found += [(text.rfind(n), n) for n in person_mentions(text)]
                return [n for _, n in sorted(found)]

            here = named(sentence)
            before = named(context[-300:])
            last = here[-1] if here else (before[-1] if before else "")
            if not any(a in last or last in a for a in aliases if last):
                return f"the evidence is about {last or 'someone else'}, not {aliases[0]}"
            return ""
        words = [w for w in ask.target if not any(plain(w) in plain(e) or plain(e) in plain(w) for e in ask.entities)]
        got = [w for w in words if plain(w) in s or plain(w) in c or self._abbreviates(w, sentence + context)
               or self._said_in_parts(w, s + c)]
        # every name of the target is bound ("东岭", "中超"); of its common words half the weight at least,
        # when it has several — one common word ("经济") may go unsaid ("我国GDP…增长6.1%")
        missing = [w for w in ask.named if w in words and w not in got]
        for w in [x for x in words if x in ask.named or len(x) >= 3]:
            if w in got and plain(w) not in s:
                # a name bound only through the passage, in a sentence opening with a name of its own that is
                # part of it ("黄蝉（学名…）别称为…" for 软枝黄蝉): the sentence speaks of that other thing
                opening = re.match(r"\s*([\u4e00-\u9fffA-Za-z0-9]{2,12}?)(?:（|\(|是|为|，)", sentence)
                if opening and opening.group(1) != w and plain(opening.group(1)) in plain(w):
                    return f"the evidence is about {opening.group(1)}, not {w}"
        common = [w for w in words if w not in ask.named]
        if not missing and len(common) == 1 and len(common[0]) >= 3 and common[0] not in got \
                and not self.lex.org_level_word.search(common[0]) and not re.search(r"[省市县区乡镇村](?:党)?(?:委|政府)", common[0]):
            missing = common  # "里约奥运会" is no generic word that may go unsaid
        if not missing and len(common) >= 2:
            def weight(w: str) -> float:
                if not weights:
                    return 1.0
                # a word the index never saw ("烃基") is as telling as the rarest one it did
                return weights.get(w) or max((v for t, v in weights.items() if len(t) >= 2 and t in w),
                                             default=max(weights.values(), default=1.0))

            total = sum(weight(w) for w in common)
            said = sum(weight(w) for w in common if w in got)
            if said < 0.5 * total:  # "心理健康评估" unsaid is not made up for by "访谈", "党政正职"
                missing = sorted((w for w in common if w not in got), key=weight, reverse=True)
        if missing:
            return "the evidence is not about " + "、".join(missing[:3])
        return ""

    def _names(self, name: str, text: str) -> bool | None:
        """Does `text` name the thing? True / False, or None when it names another version of it
        instead (MIX2 for MIX3, 《三体秘密》 or 《流浪地球2》 for 《流浪地球》)."""
        n = plain(name)
        titles = [plain(t) for t in _TITLE.findall(text)]
        if titles and n not in titles and any(n in t for t in titles) and not _outside_titles(n, text):
            return None
        hay = plain(text)
        if _named(n, hay):
            return True
        return None if self._other_version(name, text) else False

    def _said_in_parts(self, word: str, text: str) -> bool:
        """A compound the tagger read as one name ("江淮省市县", "青石乡和县交通运输局") is said when each of
        its words is."""
        if re.search(r"[和与及、]", word):
            pieces = [p for p in re.split(r"[和与及、]", word) if p]
            return len(pieces) >= 2 and all(plain(p) in text or self._said_in_parts(p, text) for p in pieces)
        if len(word) < 4:
            return False
        parts = [p for p in self.tokenizer.segmenter.cut(word) if len(p) >= 2 and not any(p != o and p in o for o in self.tokenizer.segmenter.cut(word))]
        if len(parts) < 2 or sum(map(len, parts)) < len(word) - 1:
            return False
        # the parts together, in order, within a few characters ("江淮省…省市县三级"), not scattered
        pattern = ".{0,8}?".join(map(re.escape, (plain(p) for p in parts)))
        return bool(re.search(pattern, text))

    @staticmethod
    def _abbreviates(short: str, text: str) -> bool:
        """A short form the text writes in full: 美网 → 美国网球公开赛, 中组部 → 中央组织部, 中超 → 中国足球
        超级联赛 — the short form's characters in order in one run of the text, the first one first."""
        if not 2 <= len(short) <= 4 or not re.fullmatch(r"[\u4e00-\u9fff]+", short):
            return False
        pattern = re.escape(short[0]) + "".join(rf"[\u4e00-\u9fff]{{0,4}}{re.escape(ch)}" for ch in short[1:])
        return any(len(m.group(0)) > len(short) for m in re.finditer(pattern, text))

    @staticmethod
    def _other_version(name: str, sentence: str) -> bool:
        """The sentence names another version of the thing: MIX2 for MIX3, 神舟十六号 for 神舟十一号,
        《流浪地球2》 for 《流浪地球》."""
        v = version_of(name)
        stem, number = (v if v else (name, ""))
        ps = plain(stem)
        if len(ps) < 2:
            return False
        text = plain(sentence)
        for m in re.finditer(re.escape(ps), text):
            rest = text[m.end():]
            other = re.match(rf"(\d+|[{_CN}]+(?=[号代]))", rest)
            if other and other.group(1) != number:
                return True
        return False

    def _qualifier_unbound(self, ask: Ask, analysis: QuestionAnalysis, sentence: str, context: str, f: Filler,
                           anchors: list[tuple[int, int]]) -> str:
        """Years, seasons, days, ordinals, 男/女, release regions, scopes, for the filler `f`: the year
        that governs it — one in its own clause, else the last one before it in the sentence, else the
        passage's — is the year asked; in the clauses around the filler and the relation no other
        gender, region or scope is named instead of the asked one."""
        asked_years = [a.text for a in analysis.anchors if a.kind == "year"] + [q.value for q in ask.qualifiers if q.kind == "year"]
        if asked_years and not (ask.slot in ("year", "date") and _date_parts(f.text)[0]):
            governing = self._governing_year(sentence, f, context)
            if governing is None:
                return f"the evidence does not say it is about {asked_years[0]}"
            if governing not in asked_years:
                return f"the evidence is about another year ({governing}, not {asked_years[0]})"
        near = min(anchors, key=lambda a: self._distance(sentence, f, [a])[::-1], default=None) if anchors else None
        lo = min(f.start, near[0]) if near and (near[0] or near[1]) else f.start
        hi = max(f.end, near[1]) if near else f.end
        cuts = [m.start() for m in _CLAUSE_CUT.finditer(sentence)]
        lo = max([c + 1 for c in cuts if c < lo] + [0])
        hi = min([c for c in cuts if c >= hi] + [len(sentence)])
        local = sentence[lo:hi]
        for q in ask.qualifiers:
            if q.kind == "season":
                first, last = q.value.split("-")
                seasons = [(m.group(1), m.group(2)) for m in _SEASON_IN_TEXT.finditer(sentence)]
                if any(a == first and last.endswith(b[-2:]) for a, b in seasons):
                    continue
                if seasons or (set(_years(sentence)) - {first, last}):
                    return f"the evidence is about another season, not {q.text}"
                if not re.search(rf"{first}\s*[-‐–—/至~]\s*(?:{last}|{last[-2:]})", context):
                    return f"the evidence does not say it is about {q.text}"
            elif q.kind == "kind":
                # "较大事故" asked: named here or just before; "（一）发生一般事故的" is another kind
                noun = q.text[len(q.value):]
                wide = sentence[max([c + 1 for c in cuts if c < lo - 1] + [0]) : hi]
                if q.text not in wide:
                    other = re.search(r"(" + "|".join(map(re.escape, sorted(self.data.kind_words, key=len, reverse=True))) + ")" + re.escape(noun), sentence)
                    if other and other.group(1) != q.value:
                        return f"the evidence is about {other.group(0)}, not {q.text}"
                    if q.text not in sentence and q.text not in context:
                        return f"the evidence does not say it is about {q.text}"
            elif q.kind in ("gender", "region", "scope"):
                table = {"gender": self.data.genders, "region": self.data.regions, "scope": self.data.scopes}[q.kind]
                mine = table[q.value]
                others = [w for k, ws in table.items() if k != q.value for w in ws]
                # a scope holds for the whole statement ("2018年，全省…城镇新增就业136.8万人"); a gender or a
                # region for the clauses of the filler and its relation
                where = sentence if q.kind == "scope" else local
                if q.kind == "scope":
                    # "中国" also names things ("中国特色"): only 全国/我国 confirm the national scope
                    mine = [w for w in mine if w != "中国"]
                    if not any(w in sentence for ws in table.values() for w in ws if w != "中国"):
                        where = context[-200:]  # "2018年，全省……" said just before the sentence
                if any(w in where for w in others) and not any(w in where for w in mine):
                    return f"the evidence is about another {q.kind} than {q.text}"
                if q.kind == "region" and q.text not in self.data.generic_regions and q.text not in where:
                    # "在台湾播出的时间": a place of the same class named instead (日本) is another region
                    rival = next((w for w in mine if w not in self.data.generic_regions and w not in q.text and q.text not in w and w in where), None)
                    if rival:
                        return f"the evidence is about {rival}, not {q.text}"
        places = [a.text for a in analysis.anchors if a.kind == "place"]
        if places and not any(p in sentence for p in places):
            # "东京奥运会开幕式正式拉开帷幕" is not about 里约奥运会: another place names the target here
            for e in self._entities(sentence, "place"):
                if any(sentence.startswith(w, e.end) for w in list(ask.target) + list(ask.entities) if len(w) >= 2):
                    return f"the evidence is about {e.text}, not {places[0]}"
        for a in analysis.anchors:
            if a.kind in ("day", "ordinal") and a.text not in sentence:
                if a.kind == "ordinal" and any(m.group(2) == a.level and m.group(0) != a.text for m in self.lex.ordinal.finditer(sentence)):
                    return f"the evidence is about another {a.level}, not {a.text}"
                if a.text not in context:
                    return f"the evidence does not say it is about {a.text}"
        return ""

    @staticmethod
    def _governing_year(sentence: str, f: Filler, context: str) -> str | None:
        cuts = [m.start() for m in _CLAUSE_CUT.finditer(sentence)]
        lo = max([c + 1 for c in cuts if c < f.start] + [0])
        hi = min([c for c in cuts if c >= f.end] + [len(sentence)])
        clause_years = [(abs(at - f.start), y) for at, y in _year_positions(sentence) if lo <= at < hi]
        if clause_years:
            return min(clause_years)[1]
        before = [y for at, y in _year_positions(sentence) if at < f.start]
        if before:
            return before[-1]
        prior = [y for _, y in _year_positions(context)]
        if prior:
            return prior[-1]
        # "本赛季", "今年": the year of the page itself, even when it is written in English ("Nov 16, 2020")
        if _RELATIVE_YEAR.search(sentence):
            dated = _ENGLISH_DATE.findall(context + "\n" + sentence[: f.start])
            if dated:
                return dated[-1]
        return None

    def _dates_beyond_question(self, ask: Ask, analysis: QuestionAnalysis, spans: list[Filler]) -> tuple[list[Filler], str]:
        """Dates that say more than the question: "2020年美网开始时间" is not answered by "2020年", a date
        of another year is another event's, and a question for a day (日期, 哪天) wants a month or a day."""
        asked_years = {a.text for a in analysis.anchors if a.kind == "year"} | {q.value for q in ask.qualifiers if q.kind == "year"}
        wants_day = bool(re.search(r"日期|哪天|哪一天|几号|几月几|哪个月|几月", ask.question))
        out, reason = [], "the evidence states no date beyond what the question says"
        for f in spans:
            y, m, d = _date_parts(f.text)
            if y and asked_years and y not in asked_years:
                reason = f"the evidence dates another year ({y})"
                continue
            if ask.slot == "year":
                if y and y not in asked_years:
                    out.append(f)
                continue
            if wants_day and not (m or d) and f.text not in self.data.holidays:
                reason = "the evidence gives no day or month"
                continue
            if (y and y not in asked_years) or m or d or not (y or m or d):
                out.append(f)
        return out, reason

    def _target_spans(self, ask: Ask, sentence: str) -> list[tuple[int, int]]:
        at = []
        for w in list(ask.entities) + list(ask.target):
            for m in re.finditer(re.escape(w), sentence):
                at.append((m.start(), m.end()))
            if 2 <= len(w) <= 4 and re.fullmatch(r"[\u4e00-\u9fff]+", w):
                # "美网" written in full ("美国网球公开赛")
                pattern = re.escape(w[0]) + "".join(rf"[\u4e00-\u9fff]{{0,4}}{re.escape(ch)}" for ch in w[1:])
                at += [(m.start(), m.end()) for m in re.finditer(pattern, sentence) if len(m.group(0)) > len(w)]
        return at

    def _target_named(self, ask: Ask, sentence: str) -> bool:
        return not ask.entities and not ask.target

    def _distance(self, sentence: str, f: Filler, anchors: list[tuple[int, int]]) -> tuple[int, int]:
        """(characters, clause boundaries) between the filler and the nearest anchor span ("导演: 加布里尔·
        穆奇诺. 编剧: Steve Conrad" — the 编剧 is Steve Conrad, the "." is a boundary)."""
        best = (10**6, 10**6)
        for s, e in anchors:
            if e > s and self._after_event(sentence, e) and (e <= f.start or _BOUNDARY.search(sentence, f.end, s)):
                continue  # "1991年苏联解体后": the date before the words in their clause is the event's
            if f.start >= e and re.match(r"的(?!是|为|名字|姓名|名称|真名|全名|本名)", sentence[e:]):
                continue  # "作者的保姆（長媽媽）": what follows 作者的 is the author's, not the author
            passive = sentence.rfind("被", max(0, s - 6), s)
            if passive >= 0 and f.kind not in ("date", "time", "relative-time", "quantity") and not _BOUNDARY.search(sentence, passive, s) \
                    and not (passive < f.start and f.end <= s):
                continue  # "林肯被刺杀": the one before 被 is who it was done to (a date before 被 is still when)
            if e <= f.start:
                gap = sentence[e : f.start]
            elif f.end <= s:
                gap = sentence[f.end : s]
            else:
                gap = ""
            d = (len(gap.strip()), len(_BOUNDARY.findall(gap)))
            if (d[1], d[0]) < (best[1], best[0]):
                best = d
        return best


_SEASON_IN_TEXT = re.compile(r"((?:19|20)\d{2})\s*[-‐–—/至~]\s*((?:19|20)?\d{2})(?!\d)")
# a year as text states one: before 年, 赛季, 届 or a name ("2018世界杯"), not a page's English date
_YEAR_IN_TEXT = re.compile(
    r"(?<![\d,.])((?:1[5-9]|20)\d{2})(?!\d)(?=\s*(?:年|赛季|届|[-‐–—/至~]\s*\d|(?![万亿千百人个元名米吨次件项家所位户条份分公里斤克])[\u4e00-\u9fff]))"
)


# words that tell a year by the page's own date
_RELATIVE_YEAR = re.compile(r"本赛季|今年|本年度|本届|当年|这一年|年内|本年")
_ENGLISH_DATE = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},\s+((?:19|20)\d{2})\b")


def _year_positions(text: str) -> list[tuple[int, str]]:
    # a page's English date ("Nov 16, 2020 ...") is when it was written, not what it is about
    return [(m.start(), m.group(1)) for m in _YEAR_IN_TEXT.finditer(text)]


def _years(text: str) -> list[str]:
    return [y for _, y in _year_positions(text)]


def _outside_titles(needle: str, text: str) -> bool:
    """Does `needle` (plain) occur in `text` outside any 《》 title?"""
    return bool(re.search(re.escape(needle), plain(_TITLE.sub(" ", text))))


_SLOT_WORDS = {"year": "year", "date": "date", "quantity": "number of the unit asked", "person": "person's name",
               "agent": "name of who did it", "role": "person or body responsible", "place": "place", "name": "name"}


def _named(needle: str, hay: str) -> bool:
    """`needle` occurs in `hay` (both plain) not followed by a digit ("mix3" is not in "mix35", 毒液 not
    in 毒液2)."""
    for m in re.finditer(re.escape(needle), hay):
        if not hay[m.end() : m.end() + 1].isdigit():
            return True
    return False


def _longest_common_run(a: str, b: str) -> tuple[int, int]:
    """(length, start in a) of the longest common substring of a and b."""
    best, where = 0, 0
    prev = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(b) + 1)
        ai = a[i - 1]
        for j in range(1, len(b) + 1):
            if ai == b[j - 1]:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best, where = cur[j], i - cur[j]
        prev = cur
    return best, where
