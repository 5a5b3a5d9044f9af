"""Optional masking of person names (张三书记 → 某某书记), 身份证号 and phone numbers before documents enter
the knowledge base.

Inspection reports name the people being inspected; masking keeps them out of the index. Names are found
with jieba's part-of-speech tags (``nr``) plus patterns for "surname + title" (李书记, 王县长) and
"surname + 某" (王某某, 张某). jieba's dictionary tags many ordinary words as ``nr`` (权威, 杜绝, 建立健全,
廉政, 明白 …), so a tagged word is only masked when it also looks like a Chinese name: it starts with a
common surname, has a name's length, and is not a frequent dictionary word. The name lists and the
patterns answering shares (a name before 同志, a person cell, an affiliation) are in ``kb/language/person_names.py``.

A document's masker (:class:`NameMasker`) joins these rules with the person spans of a model
(ingest/name_finder.py, ``ingest.mask_ner``: Baidu LAC by default), and masks 身份证号 and phone numbers
(ingest/id_numbers.py) in the same pass.
"""
from __future__ import annotations

import logging
import re

from ingest.id_numbers import mask_numbers
from ingest.name_finder import PersonFinder
from kb.language.person_names import (
    ANY_SURNAME,
    MASKING_FILE,
    CJK_NAME,
    COMPOUND_SURNAMES,
    CUE_ONLY_SURNAMES,
    NAME_LISTS,
    NOT_NAMES,
    PUBLIC_NAMES,
    SINGLE_SURNAMES,
    TITLES,
)

_NAME_TAGS = ("nr", "nrfg")
_MAX_DICT_FREQ = 5  # dictionary words tagged nr with a higher frequency are ordinary words (权威, 明白, 杜绝 …)
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_SURNAME_MOU = re.compile(
    "(?P<name>(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + "".join(sorted(SINGLE_SURNAMES)) + "])某{1,2})"
    r"(?![些种个项一地处方市县区省乡镇村局厅所级类次天年月日时])"
)


def mask_person_names(text: str, placeholder: str = "某某") -> str:
    """Replace person names with ``placeholder``, keeping title words (张三书记 → 某某书记)."""
    if not text:
        return text
    spans = _name_spans(text)
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in _merge(spans):
        out.append(text[last:start])
        out.append(placeholder)
        last = end
    out.append(text[last:])
    return "".join(out)


def _name_spans(text: str) -> list[tuple[int, int]]:
    try:
        import jieba
        import jieba.posseg as posseg
    except ImportError as exc:  # jieba is a core dependency; say so plainly if it is missing
        raise ImportError("name masking needs jieba: pip install -e .") from exc
    jieba.setLogLevel(logging.WARNING)

    spans = [m.span("name") for m in _SURNAME_MOU.finditer(text)]
    tokens: list[tuple[int, str, str]] = []
    offset = 0
    for pair in posseg.cut(text):
        tokens.append((offset, pair.word, pair.flag))
        offset += len(pair.word)
    freq = jieba.dt.FREQ  # filled by the first cut

    for index, (start, word, flag) in enumerate(tokens):
        if _is_surname(word) and _title_follows(tokens, index):
            spans.append((start, start + len(word)))
        elif flag in _NAME_TAGS and _looks_like_name(word, freq, titled=_title_follows(tokens, index)):
            spans.append((start, start + len(word)))
    return spans


def _is_surname(word: str) -> bool:
    return word in SINGLE_SURNAMES or word in COMPOUND_SURNAMES


def _title_follows(tokens: list[tuple[int, str, str]], index: int) -> bool:
    following = [word for _, word, _ in tokens[index + 1 : index + 3]]
    if not following:
        return False
    if following[0] in TITLES:
        return True
    return following[0] == "副" and len(following) > 1 and ("副" + following[1]) in TITLES


def _looks_like_name(word: str, freq: dict, titled: bool = False) -> bool:
    if "某" in word or word in PUBLIC_NAMES or word in NOT_NAMES or not _CJK.match(word):
        return False
    if titled and word[-1] in NAME_LISTS["org_suffixes"]:
        return False  # "文明办主任": an office before its head's title
    # a tagged name directly before a title ("张建国书记") is a person even when the dictionary
    # happens to list the name as a word
    if freq.get(word, 0) > _MAX_DICT_FREQ and not titled:
        return False
    if word[:2] in COMPOUND_SURNAMES:
        return 3 <= len(word) <= 4
    return word[0] in SINGLE_SURNAMES and 2 <= len(word) <= 3


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _person_before_comrade(text: str, start: int, name: str) -> bool:
    """Whether a dictionary word right before 同志 names a person: tagged as a name by jieba, a title
    right before it ("科长万里同志"), or opening a clause as "X同志，" / "X同志（" does in a report's
    list of 班子成员. Never before 同志们, never a collective word (党员同志, 全县同志)."""
    end = start + len(name)
    if name in NAME_LISTS["collective"] or text.startswith("同志们", end):
        return False
    import jieba.posseg as posseg

    tags = [pair.flag for pair in posseg.cut(name)]
    if len(tags) == 1 and tags[0] in _NAME_TAGS + ("nrt",):
        return True
    before = text[max(0, start - 4) : start]
    if any(before.endswith(title) for title in TITLES if title != "同志"):
        return True
    opens_clause = start == 0 or text[start - 1] in "\n，,；;。：:、（("
    return opens_clause and text[end + 2 : end + 3] in ("，", ",", "（", "(")


# a name right before a strong cue: 同志 or a title ("常建军同志", "于洪涛部长", "欧阳明辉副市长")
_STRONG_CUE = re.compile(
    rf"(?P<name>{ANY_SURNAME}{CJK_NAME}{{1,2}}?)(?=(?:{'|'.join(sorted(TITLES, key=len, reverse=True))}))"
)
# a compound surname with a given name of one or two characters, ended by punctuation or a cue
_COMPOUND_NAME = re.compile(
    "(?P<name>(?:" + "|".join(COMPOUND_SURNAMES) + rf"){CJK_NAME}{{1,2}}?)(?=同志|[，,、。；;：:）)\s]|$|{'|'.join(sorted(TITLES, key=len, reverse=True))})"
)
_NAME_CELL = re.compile(
    "(?:" + "|".join(map(re.escape, NAME_LISTS["name_headers"])) + rf")[：:]\s*(?P<name>{CJK_NAME}{{2,4}}?)(?=[，,；;。|\s]|$)"
)
_LIST_ITEM = re.compile(rf"{CJK_NAME}{{2,4}}")
_LIST_SEPARATOR = re.compile(r"、|[ \u3000]+")
# a count of people after a name ("两位副县长", "金鑫、陆平两名同志"): never part of the name
_COUNT = re.compile(r"[0-9一二两三四五六七八九十几]+[名位个]$")


def _extra_lists() -> tuple[tuple[str, ...], frozenset[str]]:
    """The lists of kb/data/masking.yaml that only masking reads."""
    import yaml

    data = yaml.safe_load(MASKING_FILE.read_text(encoding="utf-8"))
    return tuple(sorted(data["words_after_name"], key=len, reverse=True)), frozenset(data["title_verbs"])


_WORDS_AFTER_NAME, _TITLE_VERBS = _extra_lists()
_TITLES_BY_LENGTH = sorted(TITLES, key=len, reverse=True)


def _word_starts(text: str) -> set[int]:
    """Offsets where jieba starts a word."""
    import jieba

    starts, pos = set(), 0
    for word in jieba.cut(text):
        starts.add(pos)
        pos += len(word)
    return starts


def _ends_title(text: str, end: int) -> bool:
    """Whether text[:end] ends with a title (科长, 部长 …) longer than its last character."""
    return any(len(t) > 1 and text.endswith(t, 0, end) for t in _TITLES_BY_LENGTH)


class NameMasker:
    """Masks the names of one document (one instance per document).

    Names are collected over the whole document first (:meth:`learn`), then every occurrence of each is
    replaced: a name found once before "同志" is masked everywhere, also where it stands alone or in a
    table. With ``consistent`` each person keeps their own placeholder (某甲, 某乙 … in order of first
    appearance), so an answer still tells who did what; otherwise all become ``placeholder``.
    """

    def __init__(self, placeholder: str = "某某", consistent: bool = True, finder_mode: str = "lac"):
        self.placeholder = placeholder
        self.consistent = consistent
        self.finder = PersonFinder(finder_mode)  # the model's person spans, joined with the rules
        self.names: dict[str, str] = {}  # name → placeholder
        self._learned = False

    def learn(self, text: str) -> None:
        self._learned = True
        found: list[tuple[int, str]] = []
        for start, end in _name_spans(text):
            found.append((start, text[start:end]))
        model_spans = self.finder.spans(text)
        word_starts = _word_starts(text) if model_spans else set()
        for start, end in model_spans:
            name = self._model_name(text[start:end])
            if name and self._model_name_fits(text, start, name, word_starts):
                found.append((start, name))
        for pattern in (_STRONG_CUE, _COMPOUND_NAME, _NAME_CELL):
            for m in pattern.finditer(text):
                name = m.group("name")
                if name.endswith("副"):
                    continue  # "任副组长", "兼任副市长": 副 opens the title, the verb is no name
                if pattern is _STRONG_CUE and name[-1] in _TITLE_VERBS:
                    # "吴桂兰任组长" read from 兰: "兰任" is the end of a name and the verb of the title;
                    # the name is what ends before the verb
                    verb = m.end("name") - 1
                    before = next((text[verb - n : verb] for n in (3, 2) if verb >= n
                                   and self._plausible(text[verb - n : verb], cue=True)), None)
                    if before:
                        found.append((verb - len(before), before))
                    continue
                if pattern is not _NAME_CELL and m.start("name") > 0 and _ends_title(text, m.start("name") + 1):
                    # "科长孙德明": 长 ends the title before the name, it does not open 长孙
                    name = name[1:]
                    if not self._plausible(name, cue=True):
                        continue
                    found.append((m.start("name") + 1, name))
                    continue
                if pattern is _STRONG_CUE and not text.startswith("同志", m.end("name")) and name[-1] in NAME_LISTS["org_suffixes"]:
                    continue  # "文明办主任", "安监局局长": an office before its head's title
                comrade = pattern is _STRONG_CUE and _person_before_comrade(text, m.start("name"), name)
                # a cell under a 姓名 header is a person's name even when it is also a word (雷鸣, 方正)
                sure = comrade or pattern is _NAME_CELL
                if self._plausible(name, cue=pattern is not _COMPOUND_NAME, dictionary_ok=sure):
                    found.append((m.start("name"), name))
        found = [(pos, self._trim_title_start(text, pos, name)) for pos, name in found]
        known = {name for _, name in found}
        # names listed with 、 are names when one of them is known or the list ends "等…同志"
        # ("李建国、周文斌、陈晓燕等5名同志", "马国强、朱玉兰、胡建华等同志")
        # also a signature line's names parted by spaces after a label ("考察组成员：丁某 魏某 方某")
        for run in re.finditer(rf"{CJK_NAME}{{2,4}}(?:(?:、|[ \u3000]+){CJK_NAME}{{2,6}})+", text):
            if "、" not in run.group(0) and not text[: run.start()].rstrip(" \u3000").endswith(("：", ":")):
                continue
            items = _LIST_SEPARATOR.split(run.group(0))
            tail = text[run.end() : run.end() + 8]
            ending = items[-1] + tail
            closing = re.search(r"^[\u4e00-\u9fff]{2,4}?(?:等)?[0-9一二两三四五六七八九十]*[名位]?(同志|人员|干部)", ending)
            people = closing is not None
            # dictionary words of a name's shape count as names only in a list that is surely of people:
            # after a cue ("成员有包文正、甘露、左明"), or ending "…同志" ("任红、安东同志分别…",
            # "副局长雷鸣、方正同志")
            sure = people and closing.group(1) == "同志"
            items[0] = self._list_head(items[0], sure)
            first = _LIST_SEPARATOR.split(run.group(0))[0]
            lead = text[max(0, run.start() - 6) : run.start()].rstrip(" \u3000") + first
            for cue in NAME_LISTS["list_leads"]:
                at = lead.rfind(cue)
                if at >= 0 and len(lead) - at - len(cue) in (2, 3, 4):
                    people = sure = True  # the first item follows the cue
                    items[0] = lead[at + len(cue):]
                    break
            if people or any(self._strip_cue(item) in known for item in items):
                # each item's position (placeholders go in order of first appearance); the first item
                # may have been cut to its name, so positions are counted from the run's end
                ends = [m.start() for m in _LIST_SEPARATOR.finditer(run.group(0))] + [len(run.group(0))]
                for item, end in zip(items, ends):
                    core = self._strip_cue(item)
                    if self._plausible(core, cue=True, dictionary_ok=sure):
                        found.append((run.start() + end - len(item), core))
        names = {name for _, name in found if name not in PUBLIC_NAMES}
        # a fragment of a longer name ("欧阳明" of "欧阳明辉", "洪涛" of "于洪涛") is that person
        whole = {n: next((m for m in sorted(names, key=len, reverse=True) if n != m and n in m), None) for n in names}
        for _, name in sorted(found):
            if name in names and whole[name] is None and name not in self.names:
                self.names[name] = self._next_placeholder()
        for name, container in whole.items():
            if container is not None:
                while whole.get(container):
                    container = whole[container]
                self.names.setdefault(name, self.names.get(container) or self._next_placeholder())

    def mask(self, text: str) -> str:
        if not self._learned:
            self.learn(text)
        if self.names:
            pattern = re.compile("|".join(map(re.escape, sorted(self.names, key=len, reverse=True))))
            text = pattern.sub(lambda m: self.names[m.group(0)], text)
        return mask_numbers(text)

    @staticmethod
    def _model_name_fits(text: str, start: int, name: str, word_starts: set[int]) -> bool:
        """Whether the words around a model's name agree that it is one. Not when it starts inside a
        word ("章立" of "建章立制"), nor when its surname is an everyday character (kb/data/masking.yaml:
        cue_only_surnames) and the rest an adjective, verb or adverb ("党忠诚" of "对党忠诚") with no
        同志 or title after it; "隋立新副县长" stays a name."""
        if start not in word_starts:
            return False
        if name[:2] in COMPOUND_SURNAMES or name[0] in SINGLE_SURNAMES or len(name) < 3:
            return True
        import jieba.posseg as posseg

        given = list(posseg.cut(name[1:]))
        if len(given) == 1 and given[0].flag[:1] in ("a", "v", "d"):
            return text.startswith(tuple(_TITLES_BY_LENGTH), start + len(name))
        return True

    @staticmethod
    def _model_name(span: str) -> str | None:
        """The name to mask in a span the model tags as a person: Chinese, of a name's length (a span that
        runs on into "任县总工会" cut where such a word starts), not a public figure quoted in policy
        language, not already masked (张某某); None when it holds no such name."""
        span = span.strip()
        if len(span) > 4:
            cut = next((n for n in (2, 3, 4) if span.startswith(_WORDS_AFTER_NAME, n)), None)
            if cut is None:
                return None
            span = span[:cut]
        if not _CJK.match(span) or not 2 <= len(span) <= 4 or span in PUBLIC_NAMES or "某" in span:
            return None
        return span

    def mask_line(self, line: str) -> str:
        """Mask one line, keeping its type (a table row stays a table row)."""
        masked = self.mask(line)
        return masked if masked == line else type(line)(masked)

    def _next_placeholder(self) -> str:
        if not self.consistent:
            return self.placeholder
        series = NAME_LISTS["placeholders"]
        n = len(set(self.names.values()))
        return series[n] if n < len(series) else f"某{n + 1}"

    @staticmethod
    def _trim_title_start(text: str, pos: int, name: str) -> str:
        """"罗永红同" + "志": a name that swallowed the first character of the title after it."""
        if len(name) > 2 and name.endswith("等"):
            return name[:-1]  # "何秀英等同志"
        after = text[pos + len(name) : pos + len(name) + 3]
        for title in TITLES:
            if len(name) > 2 and title.startswith(name[-1]) and (name[-1] + after).startswith(title):
                return name[:-1]
        return name

    def _list_head(self, item: str, sure: bool = False) -> str:
        """The first item of a 、-list may carry the words before it ("的有马国强"): its name is the
        longest plausible tail of two to four characters (``sure``: the list is surely of people)."""
        for n in (4, 3, 2):
            if len(item) >= n and self._plausible(item[-n:], cue=True, dictionary_ok=sure and n == 2) and (n == 2 or item[-n:][:2] in COMPOUND_SURNAMES or n == 3):
                return item[-n:]
        return item

    @staticmethod
    def _strip_cue(item: str) -> str:
        """"何秀英等同志" → "何秀英", "刘德胜书记" → "刘德胜", "陆平两名" → "陆平": the name of a list item."""
        item = re.sub(r"等.*$", "", item) or item
        item = _COUNT.sub("", item) or item
        for title in sorted(TITLES, key=len, reverse=True):
            if item.endswith(title) and len(item) > len(title) + 1:
                return item[: -len(title)]
        return item

    @staticmethod
    def _plausible(name: str, cue: bool, dictionary_ok: bool = False) -> bool:
        if not name or name in PUBLIC_NAMES or name in NOT_NAMES or "某" in name[1:] and not name.endswith("某"):
            return False
        if _COUNT.search(name):
            return False  # "梅两位" of "沈玉梅两位副县长": a count of people, no given name
        if not _CJK.match(name) or not 2 <= len(name) <= 4:
            return False
        compound = name[:2] in COMPOUND_SURNAMES
        if not compound and name[0] not in SINGLE_SURNAMES and not (cue and name[0] in CUE_ONLY_SURNAMES):
            return False
        if compound and len(name) < 3:
            return False
        import jieba
        import jieba.posseg as posseg

        if name[0] in CUE_ONLY_SURNAMES and not compound:
            rest = list(posseg.cut(name[1:]))
            if len(rest) == 1 and rest[0].flag[:1] in ("r", "c", "p", "u"):
                return False  # "和其他同志", "向这些同志": a function word, not a surname

        # an ordinary word ("班子", "常委", "全体") is no name, whatever title follows it — unless the
        # context says person (before 同志, listed among names)
        return dictionary_ok or jieba.dt.FREQ.get(name, 0) <= _MAX_DICT_FREQ * 20 or compound
