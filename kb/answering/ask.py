"""The ask: what a question asks for, made explicit — its slot, the relation that links the slot to what
the question is about, the target, and every qualifier that tells the target from its neighbours.

    "电影《头号玩家》的导演是谁"      slot person · relation 导演 (执导, 导) · target 《头号玩家》 电影
    "2020年美网开始时间"             slot date · relation 开始 (开赛, 开幕, 举行…) · qualifier year 2020 · target 美网
    "CBA2019-2020赛季总冠军"         slot agent · relation 总冠军 · qualifier season 2019-2020 · target CBA
    "《流浪地球》国内上映日期"        slot date · relation 上映 · qualifier region domestic · target 《流浪地球》
    "2019年中国经济增长了多少"        slot quantity (percent) · relation 增长 · qualifiers year 2019, scope national
    "什么算政治担当"                  no typed slot (a definition: composition decides)

A typed slot is filled only by a span of its type (kb/answering/fillers.py) in a sentence that states the
relation and binds the target and every qualifier; that is what `answered` means for such a question.
The phrasings, attribute nouns, relation words and qualifier lists are data: kb/data/slots.yaml.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from kb.answering.lexicon import AnswerLexicon
from kb.answering.question_analysis import QuestionAnalysis

SLOTS_FILE = Path(__file__).resolve().parent.parent / "data" / "slots.yaml"
TYPED_SLOTS = ("year", "date", "quantity", "person", "agent", "role", "place", "name", "category", "list", "extreme")

# a term in Latin letters or digits that names a thing ("GPT-3", "MIX3", "F-35", "PlayStation 4",
# "CBA2019-2020"): letters, digits and the marks that join them
LATIN_TERM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[\s\-‐–_.·+]?[A-Za-z0-9]+)*")
# years written without 年 before a name ("2020奥运会", "2018俄罗斯世界杯") and seasons ("2019-2020赛季")
# a post a person holds ("副县长", "组长", "局党委书记"): what a who-question may ask about
POST = re.compile(r"(?:[县市省区乡镇局处科院校所厅部]长|书记|主任|组长|委员|主席|部长|经理|负责人|干事|秘书长)$")
_SEASON = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*[-‐–—/至~]\s*((?:19|20)?\d{2})(?!\d)\s*(?:赛季|年度|学年)?")
_BARE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)(?=\s*(?:年|赛季|届|[\u4e00-\u9fffA-Za-z]))")


@dataclass(frozen=True)
class Qualifier:
    kind: str  # year | season | gender | region | scope | version (and the analysis anchors' kinds)
    text: str  # as the question writes it
    value: str = ""  # normalised: the year's digits, the gender or region key, a version's number


@dataclass
class Ask:
    question: str
    slot: str | None  # one of TYPED_SLOTS, or None: no typed slot
    cue: str = ""  # the question word or attribute noun that set the slot
    head: str = ""  # the attribute noun the slot belongs to ("导演", "首都", "震级"), "" when none
    # each relation the sentence must state: the question's word and the words that state it
    relations: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    qualifiers: list[Qualifier] = field(default_factory=list)
    target: list[str] = field(default_factory=list)  # content words of what the question is about
    entities: list[str] = field(default_factory=list)  # named things of the target: must be named or inherited
    named: list[str] = field(default_factory=list)  # target words the tagger calls a name (ORG, LOC, nz…): each must be bound
    units: tuple[str, ...] = ()  # quantity: units a number filling the slot may carry (() = the analysis's)
    counted: str = ""  # quantity: the noun counted ("多少个成员国" → 成员国); a number of something else is no filler
    items: int = 0  # list: how many items the question says the list has ("五个政治" → 5), 0 when it does not
    extreme: str = ""  # extreme: "max" or "min" — "谁的优秀率最低" asks for the row with the least 优秀率
    vague_time: bool = False  # "什么时候" with no date noun: a time told by an event fills it too
    wants_outcome: bool = True  # a forecast or plan does not fill it

    @property
    def typed(self) -> bool:
        return self.slot is not None

    def to_dict(self) -> dict:
        return {
            "slot": self.slot,
            "cue": self.cue,
            "head": self.head,
            "relations": [w for w, _ in self.relations],
            "qualifiers": [{"kind": q.kind, "text": q.text} for q in self.qualifiers],
            "target": list(self.target),
            "entities": list(self.entities),
        }


class SlotData:
    """kb/data/slots.yaml, loaded once and compiled."""

    _cache: dict[Path, "SlotData"] = {}
    _lock = threading.Lock()

    def __init__(self, data: dict, source: Path):
        self.source = source
        try:
            self.asks: list[tuple[str, tuple[str, ...]]] = [(a["slot"], tuple(a["words"])) for a in data["asks"]]
            self.heads: dict[str, str] = {w: slot for slot, words in data["heads"].items() for w in words}
            self.quantity_heads: dict[str, tuple[str, tuple[str, ...]]] = {}
            for family, spec in data["quantity_heads"].items():
                if isinstance(spec, dict):
                    for w in spec["words"]:
                        self.quantity_heads[w] = (family, tuple(spec["units"]))
                else:
                    for w in spec:
                        self.quantity_heads[w] = (family, ())
            self.change_words = tuple(data["change_words"])
            self.relations: dict[str, tuple[str, ...]] = {k: tuple(v or ()) for k, v in data["relations"].items()}
            self.forecast_words = tuple(data["forecast_words"])
            self.forecast_question_words = tuple(data["forecast_question_words"])
            self.genders: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["genders"].items()}
            self.regions: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["regions"].items()}
            self.scopes: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["scopes"].items()}
            self.relative_times = tuple(data["relative_times"])
            self.anaphoric_times = frozenset(data.get("anaphoric_times", ()))
            self.anaphoric_adverbs = frozenset(data.get("anaphoric_adverbs", ()))
            self.place_verbs = frozenset(data.get("place_verbs", ()))
            self.generic_regions = frozenset(data.get("generic_regions", ()))
            self.event_relations = tuple(data["event_relations"])
            self.count_classifiers = frozenset(data["count_classifiers"])
            self.addressee_verbs = tuple(data["addressee_verbs"])
            self.kind_words = frozenset(data["kind_words"])
            self.holidays = tuple(data["holidays"])
            self.naming_verbs = tuple(data["naming_verbs"])
            self.echo_min_share = float(data["echo_min_share"])
            cat = data["categories"]
            self.category_ask = re.compile(cat["ask"])
            self.category_nouns: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in cat["nouns"].items()}
            self.classifiers = tuple(cat["classifiers"])
            self.not_places = frozenset(data["not_places"])
            self.list_heads: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["list_heads"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{source}: slot data is missing or misshaping {exc}") from None
        unknown = {slot for slot, _ in self.asks} | set(self.heads.values())
        unknown -= set(TYPED_SLOTS)
        if unknown:
            raise ValueError(f"{source}: unknown slot types {sorted(unknown)} (known: {', '.join(TYPED_SLOTS)})")

    @classmethod
    def load(cls, path: Path | None = None) -> "SlotData":
        key = Path(path or SLOTS_FILE).resolve()
        with cls._lock:
            data = cls._cache.get(key)
            if data is None:
                try:
                    raw = yaml.safe_load(key.read_text(encoding="utf-8"))
                except FileNotFoundError:
                    raise FileNotFoundError(f"{key}: slot data not found") from None
                except yaml.YAMLError as exc:
                    raise ValueError(f"{key}: not valid YAML ({exc})") from None
                if not isinstance(raw, dict):
                    raise ValueError(f"{key}: slot data must be a mapping")
                data = cls._cache[key] = cls(raw, key)
            return data

    @cached_property
    def head_words(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.heads) | set(self.quantity_heads), key=len, reverse=True))

    @cached_property
    def forecast(self) -> re.Pattern[str]:
        return re.compile("|".join(map(re.escape, sorted(self.forecast_words, key=len, reverse=True))))


@dataclass(frozen=True)
class Token:
    word: str
    tag: str
    start: int
    end: int


def tokens_of(question: str, tagger=None, segmenter=None) -> list[Token]:
    """The question's words with their tags and offsets: LAC's when an entity tagger is given (whole
    words, entities tagged), else the segmenter's."""
    pairs = tagger.tagged(question) if tagger is not None and tagger.mode != "none" else (segmenter.tag(question) if segmenter else [])
    out, at = [], 0
    for word, tag in pairs:
        start = question.find(word, at)
        if start < 0:
            continue
        at = start + len(word)
        out.append(Token(word, tag, start, at))
    return out


def _aligned(tokens: list[Token], start: int, end: int) -> bool:
    """Does [start, end) begin and end at word boundaries? ("在哪" is no question word in "存在哪些")"""
    starts = {t.start for t in tokens}
    ends = {t.end for t in tokens}
    return (not tokens) or (start in starts and end in ends)


# what may stand between an attribute noun and the end of its clause when the noun is what is asked
_TAIL = re.compile(r"^(?:[\s的是为呢吗啊？?！!。，,、：:]|什么|啥)*$")
_CLAUSE = re.compile(r"[，,；;。？?！!]")


def _find_cue(question: str, data: SlotData, tokens: list[Token]) -> tuple[str | None, str, int]:
    """(slot, cue word, position) of the first phrasing of `asks` the question uses as words."""
    for slot, words in data.asks:
        for w in sorted(words, key=len, reverse=True):
            for m in re.finditer(re.escape(w), question):
                if not _aligned(tokens, m.start(), m.end()) and not (slot == "person" and w == "谁"):
                    continue
                # "在哪几个", "哪些" ask for a list; "谁的" asks whose (a possession, not a person's name)
                if question[m.end() : m.end() + 1] in ("几", "些") or (w.endswith("谁") and question[m.end() : m.end() + 1] == "的"):
                    continue
                if w.endswith("谁") and re.match(r"[和与跟同]谁", question[m.end():]):
                    continue  # "谁和谁谈" asks for pairs of roles, a list
                return slot, w, m.start()
    return None, "", -1


def _find_head(question: str, data: SlotData, tokens: list[Token], cue: str, cue_at: int) -> tuple[str, int]:
    """The attribute noun the question asks for ("导演", "首都", "上映日期"): it ends its noun phrase —
    only function words, "是" or the question word follow it in its clause — and it is not part of the
    question word itself. The longest such noun, then the nearest to the question word."""
    found: list[tuple[int, int, str, int]] = []
    cue_end = cue_at + len(cue) if cue_at >= 0 else -1
    for w in data.head_words:
        for m in re.finditer(re.escape(w), question):
            if cue_at >= 0 and cue_at <= m.start() < cue_end:
                continue  # "时候" inside "什么时候"
            if not _aligned(tokens, m.start(), m.end()):
                continue
            clause_end = _CLAUSE.search(question, m.end())
            tail = question[m.end() : clause_end.start() if clause_end else len(question)]
            if cue_at >= m.end():
                tail = question[m.end() : cue_at]
            if not _TAIL.match(tail):
                continue
            if any(s <= m.start() and m.end() <= s + len(o) and o != w for _, _, o, s in found):
                continue
            distance = abs(m.start() - cue_at) if cue_at >= 0 else len(question) - m.end()
            found.append((-len(w), distance, w, m.start()))
    if not found:
        return "", -1
    found.sort(key=lambda f: (f[0], f[1]))
    return found[0][2], found[0][3]


_NUMERALS = "一二三四五六七八九十"


def _qualifiers(question: str, analysis: QuestionAnalysis, data: SlotData, tokens: list[Token]) -> list[Qualifier]:
    out: list[Qualifier] = []
    seasons = list(_SEASON.finditer(question))
    for m in seasons:
        end = m.group(2) if len(m.group(2)) == 4 else m.group(1)[:2] + m.group(2)
        out.append(Qualifier("season", m.group(0).strip(), f"{m.group(1)}-{end}"))
    years = {a.text for a in analysis.anchors if a.kind == "year"}
    for m in _BARE_YEAR.finditer(question):
        if m.group(1) in years or any(s.start() <= m.start() < s.end() for s in seasons):
            continue
        years.add(m.group(1))
        out.append(Qualifier("year", m.group(1), m.group(1)))
    for key, words in data.genders.items():
        for w in words:
            if w in question:
                out.append(Qualifier("gender", w, key))
                break
    for key, words in data.regions.items():
        for w in sorted(words, key=len, reverse=True):
            # a region qualifies a release or launch ("国内上映"), not a name ("中国经济")
            if re.search(re.escape(w) + r"\S{0,2}?(?:上映|公映|首映|发售|上市|发行|播出|开播|票房)", question):
                out.append(Qualifier("region", w, key))
                break
    for key, words in data.scopes.items():
        if key == "national" and any(q.kind == "region" for q in out):
            continue
        for w in sorted(words, key=len, reverse=True):
            if w in question:
                out.append(Qualifier("scope", w, key))
                break
    for name in _names(question, analysis, tokens):
        v = version_of(name)
        if v is not None:
            out.append(Qualifier("version", name, f"{v[0]}|{v[1]}"))
    return out


_VERSION_TAIL = re.compile(
    rf"^(?P<stem>.*?[\u4e00-\u9fffA-Za-z])\s*[-‐–]?\s*(?P<num>\d{{1,4}}|[{_NUMERALS}]{{1,3}}(?=[号代]))(?P<tail>[号代]?)$"
)


def version_of(name: str) -> tuple[str, str] | None:
    """(stem, number) of a name that ends in a version number ("小米MIX3" → ("小米MIX", "3"),
    "神舟十一号" → ("神舟", "十一"), "速度与激情8"); None for other names or a year ("东京2020")."""
    m = _VERSION_TAIL.match(name.strip())
    if not m or len(re.sub(r"\W", "", m.group("stem"))) < 2:
        return None
    if re.fullmatch(r"(?:19|20)\d{2}", m.group("num")):
        return None
    return m.group("stem").strip(), m.group("num")


def _names(question: str, analysis: QuestionAnalysis, tokens: list[Token]) -> list[str]:
    """Named things the question speaks of: titles in 《》, terms in Latin letters or digits, and the
    tagger's entities and proper nouns (世界杯, 神舟十一号)."""
    out: list[str] = []

    def add(name: str) -> None:
        name = name.strip()
        if len(name) >= 2 and not any(name in o for o in out):
            out[:] = [o for o in out if o not in name]
            out.append(name)

    for a in analysis.anchors:
        if a.kind == "title":
            add(a.text)
    latin = []
    for m in LATIN_TERM.finditer(question):
        term = _SEASON.sub("", m.group(0))
        term = re.sub(r"(?<![A-Za-z0-9])(?:19|20)\d{2}(?!\d)|(?<=[A-Za-z])(?:19|20)\d{2}(?!\d)", "", term).strip(" -")
        if len(term) >= 2:
            latin.append(term)
            add(term)
    for a, b in zip(tokens, tokens[1:]):
        # "维多利亚女王", "英王乔治五世": a name and the title it is known by name one person
        if a.tag in ("LOC", "PER") and b.start == a.end and b.word in _TITLES:
            add(a.word + b.word)
    for t in tokens:
        # an entity holding a Latin term is named by that term ("F-35战斗机" by F-35); other entities
        # are target words, matched by coverage — only a versioned name must be named as it is
        if not any(x in t.word for x in latin) and t.tag not in ("m", "TIME", "w") and version_of(t.word) \
                and len(version_of(t.word)[0]) >= 2:
            add(t.word)  # "速度与激情8", "神舟十一号": a numbered name is named as it is
    return out


_TITLES = frozenset("女王 国王 王后 皇帝 皇后 公主 王子 总统 主席 首相 总理 亲王 大帝 女皇".split())


def _relation_words(word: str, data: SlotData) -> tuple[str, ...]:
    listed = data.relations.get(word)
    if listed is not None:
        return tuple(dict.fromkeys((word,) + listed)) if listed else ()
    return (word,)


_DATE_NOUNS = ("时间", "日期", "时候", "年份", "日子")


def read_ask(question: str, analysis: QuestionAnalysis, tokenizer, data: SlotData | None = None, tagger=None) -> Ask:
    """The ask of one question (see the module docstring). `tagger`: the entity tagger (kb/language/ner.py) whose
    words and tags the question is read in; the segmenter's when None."""
    data = data or SlotData.load()
    q = question.strip()
    tokens = tokens_of(q, tagger, tokenizer.segmenter)
    slot, cue, cue_at = _find_cue(q, data, tokens)
    units: tuple[str, ...] = ()
    # "几月几日" is a date, "几个月" a duration: a date phrasing wins over a quantity
    if slot not in ("year", "date") and analysis.quantity:
        slot = "quantity"
        m = re.search(r"多少|几|多久|多长|多大|多高|多重|多远", q)
        cue, cue_at = (m.group(0), m.start()) if m else ("", -1)
    extreme = _EXTREME.search(q) or _EXTREME_AFTER.search(q)
    if extreme:
        # "谁的优秀率最低", "优秀率最高的是谁": who holds the highest or lowest value of a column
        column = extreme.group("column")
        direction = "max" if extreme.group("way") in ("最高", "最多", "最大", "最长", "最快") else "min"
        return Ask(q, "extreme", extreme.group(0), column, [(column, (column,))], _qualifiers(q, analysis, data, tokens),
                   extreme=direction)
    category = data.category_ask.search(q) if slot is None else None
    if category and (category.group("noun") in data.category_nouns or category.group("type")):
        # "Minecraft是什么类型的游戏": the class noun is what a sentence must name the kind with
        noun = category.group("noun")
        words = data.category_nouns.get(noun, (noun,))
        qualifiers = _qualifiers(q, analysis, data, tokens)
        target = [t.word for t in tokens if t.end <= category.start() and len(t.word) >= 2 and t.tag not in ("r", "u", "w", "p", "c", "d", "m", "q")]
        return Ask(q, "category", category.group(0), noun, [(noun, tuple(dict.fromkeys((noun,) + words)))], qualifiers, target,
                   _names(q[: category.start()], analysis, tokens))
    head, head_at = _find_head(q, data, tokens, cue, cue_at)
    if head and cue_at < 0 and re.match(r"\s*[，,；;：:]", q[head_at + len(head):]) and re.search(r"[\u4e00-\u9fff]", q[head_at + len(head):]):
        # "在后辽内讧的时候，…得到谁的支援": a noun closing a clause the question goes on after sets the
        # scene; it is not what is asked
        head, head_at = "", -1
    if slot == "quantity" and head not in data.quantity_heads and cue_at >= 0:
        # "体重大约是多少": the attribute a number is asked of may stand a few words before the question word
        lo = max([m.end() for m in _CLAUSE.finditer(q, 0, cue_at)] + [0])
        near = [t for t in tokens if lo <= t.start and t.end <= cue_at and t.word in data.quantity_heads]
        if near:
            head, head_at = near[-1].word, near[-1].start
    if head in data.quantity_heads and slot in (None, "quantity", "name"):
        family, own_units = data.quantity_heads[head]
        slot = "quantity"
        units = own_units
        if not own_units and not analysis.unit_class:
            units = ("family:" + family,)
    elif head in data.heads:
        kind = data.heads[head]
        if slot is None or (slot == "person" and kind in ("agent", "place")):
            # "冠军是谁" asks for a team or a country as often as a person
            slot = kind
        elif slot == "name" and kind == "person":
            slot = "person"  # "原名叫什么" asks for a person's name
        cue = cue or head
    elif slot == "person" and cue_at > 0 and q[cue_at - 1] == "被":
        # "播映权被谁买下": who does it — a body as often as a person; the noun before 被 is what is done to
        slot = "agent"
    elif slot in ("person", "name", "agent") and cue_at >= 0 and not head:
        # "此剧的制作人是谁", "J Storm公司的社长是谁", "X的第一部诗集叫什么": the noun right before the
        # question word is the attribute asked, whether or not slots.yaml lists it
        before = [t for t in tokens if t.end <= cue_at]
        while before and before[-1].word in ("是", "的", "为", "叫", "叫做", " "):
            before.pop()
        if before and before[-1].tag in ("n", "nz", "vn") and len(before[-1].word) >= 2 and before[-1].end >= cue_at - 3:
            head, head_at = before[-1].word, before[-1].start
    if slot == "place" and cue in ("在哪", "在哪里", "在哪儿", "哪里", "哪儿") and not head:
        # "…潦草在哪" asks in what respect: a bare "在哪" asks for a place only of what happens somewhere
        # ("在哪举办", "在哪举行"), or with a place noun ("首都在哪")
        # "出生于哪里", "位于哪儿", "发源于哪里": a verb of being somewhere, or of coming from
        # somewhere, right before the question word asks for a place too
        before = [t for t in tokens if t.end <= cue_at]
        while before and before[-1].word in ("于", "在", "自", "到"):
            before.pop()
        located = bool(before) and before[-1].end >= cue_at - 1 and before[-1].word in data.place_verbs
        if not located and not any(t.tag.startswith("v") and t.start >= cue_at + len(cue) for t in tokens):
            slot = None
    if slot == "quantity" and not units and not analysis.unit_class and re.search(r"多长(?!时间)|多高|多远|多深|多宽|多重|多大面积|多大", q) \
            and not re.search(r"时间|时长|多久|年龄|岁", q):
        units = ("family:size",)  # "峡谷有多长" asks for a length, not a duration
    if slot == "quantity" and not units and not analysis.unit_class:
        m = re.search(r"(?:多少|几)([\u4e00-\u9fff])", q)
        if m and m.group(1) in data.count_classifiers and m.group(1) not in AnswerLexicon.load().unit_family:
            units = (m.group(1),)  # "一共需要多少票": a count of 票
    if slot == "quantity" and not units and not analysis.unit_class and any(w in q for w in data.change_words):
        units = ("family:percent",)  # "经济增长了多少" asks for the change, a share
    qualifiers = _qualifiers(q, analysis, data, tokens)
    if slot in ("person", "agent", "name", "place") and analysis.wants_list:
        slot = None  # "都包括哪些人": the items of a list, composed as a list
    if slot is None and analysis.wants_list and not analysis.multi_source:
        listed = _list_ask(q, analysis, tokens, data, qualifiers, tokenizer)
        if listed is not None:
            return listed
    if slot is None:
        return Ask(question=q, slot=None, qualifiers=qualifiers)
    # the relation: the attribute noun (a sentence must state it: 导演, 首都), or the predicate the
    # question states next to the question word or before a date noun ("上映日期" → 上映, "在哪举办" →
    # 举办, "是谁创立的" → 创立)
    relations: list[tuple[str, tuple[str, ...]]] = []
    if head and slot != "quantity" and not head.endswith(_DATE_NOUNS) and _relation_words(head, data):
        relations.append((head, _relation_words(head, data)))
    elif head in data.quantity_heads:
        relations.append((head, _relation_words(head, data)))
    predicate = ""
    if slot != "quantity" and (not head or head.endswith(_DATE_NOUNS) or slot in ("person", "role") and head in ("", )):
        predicate = _predicate(q, tokens, data, cue, cue_at, head, head_at)
    elif slot == "quantity" and any(w in q for w in data.change_words):
        predicate = next(w for w in data.change_words if w in q)
    elif slot == "person" and head and data.heads.get(head) == "person":
        # "2018年谁当选台北市市长": the verb next to 谁 is asked too
        verb = _predicate(q, tokens, data, cue, cue_at, head, head_at, adjacent=True)
        predicate = verb
    inner = re.sub(r"^(?:由|是)?谁", "", cue) if cue.startswith(("谁", "由谁", "是谁")) else ""
    if inner:
        predicate = inner  # "谁主持": the verb is part of the question word
    if predicate and not any(predicate == w for w, _ in relations):
        words = _relation_words(predicate, data)
        if slot == "role":
            # who does it is said as who is responsible for it ("…进行提醒谈话，由局党委书记赫连志刚同志负责")
            words = tuple(dict.fromkeys(words + _relation_words("负责", data)))
        relations.append((predicate, words))
    if slot in ("role", "person") and POST.search(analysis.who_focus) and not any(analysis.who_focus in w for w, _ in relations):
        # "领导小组的组长由谁担任": the post asked about is stated with the one who holds it
        relations.append((analysis.who_focus, (analysis.who_focus,)))
    # "导致发生较大事故": a kind word before a noun tells this case from its siblings (一般事故, 重大事故)
    kinds = [(a.word, b.word) for a, b in zip(tokens, tokens[1:]) if b.start == a.end and a.word in data.kind_words
             and b.tag.startswith("n") and len(b.word) >= 2]
    qualifiers += [Qualifier("kind", k + n, k) for k, n in kinds]
    taken = {w for w, _ in relations} | {head}
    target, named = _target_words(tokens, analysis, tokenizer, data, taken, qualifiers, cue)
    qualifier_text = " ".join([x.text for x in qualifiers] + [a.text for a in analysis.anchors if a.kind != "title"])
    titles = {a.text for a in analysis.anchors if a.kind == "title"}
    names = [n for n in _names(q, analysis, tokens) if n in titles or n not in qualifier_text or version_of(n)]
    vague = slot == "date" and cue in ("什么时候", "啥时候", "何时", "多会儿") and not head.endswith(_DATE_NOUNS)
    outcome = not any(w in q for w in data.forecast_question_words)
    counted = ""
    if slot == "quantity":
        m = re.search(r"(?:多少|几)\s*(?:个|名|位|条|项|家|所|份|件|种|类|篇|部|本|处|座|只|支|批|届)?", q)
        after = [t for t in tokens if m and t.start >= m.end()]
        if after and after[0].start == m.end() and (after[0].tag.startswith("n") or after[0].tag in ("ORG", "LOC")) and len(after[0].word) >= 2 \
                and after[0].word not in AnswerLexicon.load().unit_family:  # "多少人次": 人次 is the unit
            counted = after[0].word
    # a word holding a place, body or person the question names ("江淮省市县", "江淮省委") is an anchor
    # binding.py checks with its level and its competitors
    target = [t for t in target if t != counted]
    named = [t for t in named if t in target]
    return Ask(q, slot, cue, head, relations, qualifiers, target, names, named, units, counted,
               vague_time=vague, wants_outcome=outcome)


def _target_words(tokens: list[Token], analysis: QuestionAnalysis, tokenizer, data: SlotData, taken: set[str],
                  qualifiers, cue: str, before: int | None = None, whole_names: bool = False) -> tuple[list[str], list[str]]:
    """The content words of what the question is about (its target) and those of them the tagger calls a
    name (each must be bound) — from the tokens before `before` when given."""
    qualifier_text = " ".join([x.text for x in qualifiers] + [a.text for a in analysis.anchors if a.kind != "title"])
    ask_words = {w for _, words in data.asks for w in words} | {cue}
    lex = AnswerLexicon.load()
    target: list[str] = []
    named: list[str] = []
    toks = [t for t in tokens if before is None or t.end <= before]
    # a name the tagger split ("五月|艾", "长柄|艾纳香": a plant read as a time and a person) is one name
    joined: list[Token] = []
    for t in toks:
        # (not a post before a person's name: "县长公孙明哲", "总工程师虞海涛")
        if joined and t.tag == "PER" and joined[-1].end == t.start and joined[-1].tag in ("TIME", "n", "nz") \
                and re.fullmatch(r"[\u4e00-\u9fff]+", joined[-1].word) \
                and not (POST.search(joined[-1].word) or re.search(r"[长师员记任理官]$", joined[-1].word)):
            prev = joined.pop()
            t = Token(prev.word + t.word, "nz", prev.start, t.end)
        joined.append(t)
    for t in joined:
        w = t.word.strip()
        # a one-character noun is a target too ("蓍的别名"), but not a verb or a particle
        # "蓍的别名": a one-character word opening the question before 的 is its subject, whatever its tag
        subject = len(w) == 1 and t.start == 0 and re.fullmatch(r"[\u4e00-\u9fff]", w) and toks[1:2] and toks[1].word == "的"
        if subject:
            t = Token(w, "nz", t.start, t.end)
        if (len(w) < 2 and not (t.tag in ("n", "nz", "nw") and re.fullmatch(r"[\u4e00-\u9fff]", w))) or not re.search(r"[\u4e00-\u9fffA-Za-z]", w) \
                or t.tag in ("r", "u", "w", "p", "c", "d", "m", "q", "xc", "TIME", "f"):
            continue
        if whole_names and not (t.tag.startswith("n") or t.tag in ("vn", "ORG", "LOC", "PER")):
            continue  # a list is of a thing: its verbs ("贯穿") are no part of what it is about
        if w in taken or any(w in x or x in w for x in taken if x) or any(w in a for a in ask_words) or w in qualifier_text:
            continue
        if w in tokenizer_function_words(tokenizer):
            continue
        if w in lex.unit_family or w in lex.quantity_hedges:
            continue  # "人次" is the unit asked, "共有" qualifies the number: neither is what it is about
        if w not in target:
            target.append(w)
            # a body named by its level ("县党委", "省委") is an anchor binding.py checks by level
            if t.tag in ("ORG", "LOC", "PER", "nz", "nw") and not lex.org_level_word.search(w) \
                    and not re.search(r"[省市县区乡镇村](?:党)?(?:委|政府|人大|政协|班子)", w):
                named.append(w)
    # a word holding a place, body or person the question names ("江淮省市县", "江淮省委") is an anchor
    # binding.py checks with its level and its competitors — unless it names much more ("西施故里旅游区",
    # "越南投资发展银行": a name of its own that must be bound)
    anchored = [a.text for a in analysis.anchors if a.kind in ("place", "org")]
    persons = [a.text for a in analysis.anchors if a.kind == "person"]
    tags = {t.word: t.tag for t in joined}
    # a person anchor inside a word the tagger calls no person ("软枝黄蝉" around 黄蝉) is no person
    target = [t for t in target if not any(a in t and len(t) - len(a) <= (1 if whole_names else 3) for a in anchored)
              and not any(a in t and (tags.get(t) == "PER" or len(t) - len(a) <= 1) for a in persons)]
    named = [t for t in named if t in target]
    return target, named


_WAY = r"(?P<way>最高|最低|最多|最少|最大|最小|最长|最短|最快|最慢)"
_EXTREME = re.compile(r"(?:谁|哪位|哪个人|哪一位|哪个单位|哪个部门)的?(?P<column>[\u4e00-\u9fff]{1,8}?)" + _WAY)
_EXTREME_AFTER = re.compile(r"(?P<column>[\u4e00-\u9fff]{1,8}?)" + _WAY + r"的(?:是谁|是哪位|是哪个|人是谁|是哪一位|单位是|部门是)")
_CN_VALUE = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_LIST_CUE = re.compile(r"有哪些|包括哪些|包含哪些|分为哪几|分哪几|哪几|哪些|分为|包括|包含|几个方面|几项|几类|几种|列举|都有什么")
# a named set with its size ("五个政治", "六个谈透", "四必谈", "三张清单", "7个步骤")
_SIZED = re.compile(r"(?<![第\d零〇一二三四五六七八九十百千])([一两二三四五六七八九十]|\d{1,2})(?:个|张|项|条|类|种|必|大|件)[“\"]?([\u4e00-\u9fff]{1,6})")
_QUOTED_SET = re.compile(r"[“\"]([^”\"]{2,10})[”\"]")


def _list_ask(q: str, analysis: QuestionAnalysis, tokens: list[Token], data: SlotData, qualifiers, tokenizer) -> "Ask | None":
    """"深度访谈的对象有哪些", "五个政治包括哪些", "要经过哪些步骤": the list the question names — its
    noun (对象, 步骤, or the named set itself), what it is of, and its size when the question says it."""
    m = _LIST_CUE.search(q)
    if not m:
        return None
    if re.match(r"个?(?:月|天|年|日|号|次|时)", q[m.end():]):
        return None  # "哪几个月" asks when, not for a list
    after = [t for t in tokens if t.start >= m.end() and (t.tag.startswith("n") or t.tag == "vn") and t.word not in ("个", "张", "项", "种")]
    before = [t for t in tokens if t.end <= m.start() and (t.tag.startswith("n") or t.tag in ("nz", "nw", "vn", "ORG")) and len(t.word) >= 2]
    generic = {"内容", "方面", "哪些", "什么", "东西", "事情", "事项"}
    quoted = [x for x in _QUOTED_SET.finditer(q) if x.end() <= m.start() + 1]
    head = ""
    sized = [x for x in _SIZED.finditer(q[: m.start()]) if m.start() - x.end() <= 2]
    if quoted:
        head = quoted[-1].group(1)  # "“六个谈透”包括哪些内容": the named set itself
    elif sized:
        head = sized[-1].group(0).strip("“\"")  # "五个政治包括哪些"
    elif after and after[0].start - m.end() <= 3 and after[0].word in generic:
        # "还要看哪些方面", "包括哪些内容": a list of whatever the passage lists — no noun to demand of it
        return None
    elif after and after[0].start - m.end() <= 3:
        head = after[0].word  # "要经过哪些步骤", "主要找哪些人", "审议了哪些对照检查材料"
    elif after and re.fullmatch(r"[^，,。？?！!；;]*", q[m.end() : after[-1].start]) and after[-1].word not in generic:
        # "要抵制和反对哪些庸俗腐朽的政治文化": the noun its phrase ends with
        phrase = [t for t in after if re.fullmatch(r"[^，,。？?！!；;]*", q[m.end() : t.start])]
        head = phrase[-1].word
    elif before:
        head = before[-1].word  # "深度访谈的对象有哪些"
    if not head or head in generic:
        return None  # "干部考察的内容主要包括什么": the 内容 of a thing is whatever its passage lists
    items = 0
    for sized in _SIZED.finditer(q):
        n = sized.group(1)
        items = int(n) if n.isdigit() else _CN_VALUE.get(n, 0)
        break
    # "要抵制和反对哪些……": the list is of what is done so; the sentence listing it says the verb
    verbs = [t.word for t in tokens if t.end <= m.start() and m.start() - t.end <= 3 and t.tag in ("v", "vn") and len(t.word) >= 2
             and t.word not in ("包括", "包含", "分为", "存在", "有", "是", "主要", "需要", "可以", "能够", "应该", "应当", "必须", "建设")
             and re.fullmatch(r"(?:和|与|及|、)?[\u4e00-\u9fff]{0,2}", q[t.end : m.start()] or "")]
    relations = [(head, (head,))] + [(v, (v,) + tuple(v2 for v2 in verbs if v2 != v)) for v in verbs[:1]]
    target, named = _target_words(tokens, analysis, tokenizer, data, {head, *verbs}, qualifiers, m.group(0),
                                  before=m.start(), whole_names=True)
    return Ask(q, "list", m.group(0), head, relations, qualifiers, target, named=named, items=items)


def tokenizer_function_words(tokenizer) -> frozenset[str]:
    from kb.retrieval.tokenizer import FUNCTION_WORDS

    return FUNCTION_WORDS


def _predicate(q: str, tokens: list[Token], data: SlotData, cue: str, cue_at: int, head: str, head_at: int,
               adjacent: bool = False) -> str:
    """The verb (or event noun) the slot is asked of: right before a date noun ("上映日期", "去世时间"),
    else the verb nearest the question word in its clause ("在哪举办", "是谁创立的", "谁刺杀了林肯").
    `adjacent`: only a verb right next to the question word."""
    if head.endswith(_DATE_NOUNS):
        stem = head[: -2]
        if stem:
            return stem
        before = [t for t in tokens if t.end <= head_at and t.word not in ("的", "之")]
        if before and before[-1].end >= head_at - 1 and (before[-1].tag.startswith("v") or before[-1].word in data.relations):
            return before[-1].word
        return ""
    anchor = cue_at if cue_at >= 0 else head_at
    if anchor < 0:
        return ""
    cuts = [m.start() for m in _CLAUSE.finditer(q)]
    lo = max((c for c in cuts if c < anchor), default=-1)
    hi = min((c for c in cuts if c > anchor), default=len(q))
    best, best_d = "", 10**6
    for t in tokens:
        w = t.word
        if not (lo < t.start < hi) or not t.tag.startswith("v") or w in ("是", "叫", "有", "为", "在", "属于"):
            continue
        passive = cue_at > 0 and q[cue_at - 1] == "被"
        if passive and t.start < cue_at:
            continue  # "播映权被谁买下": what is done comes after 被谁; the words before it are done to
        if len(w) < 2 and w not in data.relations and not (passive and t.start >= cue_at):
            continue
        if cue_at <= t.start < cue_at + len(cue):
            continue
        # a verb after the question word is its own ("由谁主持", "谁刺杀了"), one before it the topic's
        d = t.start - (cue_at + len(cue)) if t.start >= cue_at else cue_at - t.end + 1
        # the verb of the question word's own phrase: next to it ("是谁创立的", "在哪举办"), or a
        # region or "了" between ("什么时候在内地上映", "谁刺杀了林肯"); after 由谁 a phrase with 对/向
        # may come first ("由谁对呼延卫东同志进行提醒谈话")
        reach = 2 if adjacent else 4
        if cue.startswith("由"):
            if t.start >= cue_at and t.word not in ("进行", "开展", "作出", "给予"):
                reach = 16
            elif t.start < cue_at:
                d += 20  # "考察组建议由谁…提醒谈话": what 由谁 does comes after it
        if d > reach + (20 if cue.startswith("由") and t.start < cue_at else 0):
            continue
        if d < best_d:
            best, best_d = w, d
    return best
