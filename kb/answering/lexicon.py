"""The word lists the answerer reads (kb/data/answer_lexicon.yaml), loaded once and compiled.

Nothing here decides anything: question analysis, evidence scoring, binding and composition take their
units, cue words, facets and page markers from this one object, so a site can read (and change) what
the answerer knows without reading code.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

LEXICON_FILE = Path(__file__).resolve().parent.parent / "data" / "answer_lexicon.yaml"


def _alternation(words) -> str:
    return "|".join(map(re.escape, sorted(set(words), key=len, reverse=True)))


@dataclass(frozen=True)
class Facet:
    name: str
    ask: tuple[str, ...]
    say: tuple[str, ...]
    unit: str | None


class AnswerLexicon:
    _cache: dict[Path, "AnswerLexicon"] = {}
    _lock = threading.Lock()

    def __init__(self, data: dict, source: Path):
        self.source = source
        try:
            self.units: dict[str, tuple[str, ...]] = {k: tuple(map(str, v)) for k, v in data["units"].items()}
            self.duration_scales = tuple(tuple(s) for s in data["duration_scales"])
            self.strict_unit_families = frozenset(data["strict_unit_families"])
            self.relative_families: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data.get("relative_families", {}).items()}
            self.score_unit_blockers = frozenset(data["score_unit_blockers"])
            self.chinese_numerals: str = data["chinese_numerals"]
            self.numeral_words = tuple(data["numeral_words"])
            cues = data["cues"]
            self.cues: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in cues.items()}
            self.definition_markers = tuple(data["definition_markers"])
            self.definiendum_after = tuple(data["definiendum_after"])
            self.definiendum_before = tuple(data["definiendum_before"])
            self.quantity_hedges = frozenset(data["quantity_hedges"])
            self.enumerations = tuple(tuple(s) for s in data["enumerations"])
            self.attribution_verbs = tuple(data["attribution_verbs"])
            self.reason_markers = tuple(data["reason_markers"])
            self.facets = tuple(
                Facet(name, tuple(f.get("ask", [])), tuple(f.get("say", [])), f.get("unit"))
                for name, f in data["facets"].items()
            )
            self.scope_words = tuple(data["scope_words"])
            self.org_levels: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["org_levels"].items()}
            self.provinces = tuple(data["provinces"])
            self.page_markers = tuple(re.compile(p) for p in data["page_markers"])
            self.related_line: str = data["related_line"]
            self.non_evidence_sections = tuple(data["non_evidence_sections"])
            self.follow_up: dict = dict(data["follow_up"])
            self.record_section: str = str(data["record_section"])
            self.record_fields: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["record_fields"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{source}: answer lexicon is missing or misshaping {exc}") from None
        for family in self.units:
            for facet in self.facets:
                if facet.unit and facet.unit not in self.units:
                    raise ValueError(f"{source}: facet {facet.name} names unknown unit family {facet.unit!r}")
        self.unit_family = {u: c for c, units in self.units.items() for u in units}

    @classmethod
    def load(cls, path: Path | None = None) -> "AnswerLexicon":
        key = Path(path or LEXICON_FILE).resolve()
        with cls._lock:
            lex = cls._cache.get(key)
            if lex is None:
                try:
                    data = yaml.safe_load(key.read_text(encoding="utf-8"))
                except FileNotFoundError:
                    raise FileNotFoundError(f"{key}: answer lexicon not found") from None
                except yaml.YAMLError as exc:
                    raise ValueError(f"{key}: not valid YAML ({exc})") from None
                if not isinstance(data, dict):
                    raise ValueError(f"{key}: answer lexicon must be a mapping")
                lex = cls._cache[key] = cls(data, key)
            return lex

    # -- compiled patterns -------------------------------------------------------------------------
    @cached_property
    def frame_words(self) -> frozenset[str]:
        """Words of the list / multi / reason / definition cues: how to answer, not what about."""
        return frozenset(w for name in ("list", "multi", "reason", "definition") for w in self.cues.get(name, ()))

    @cached_property
    def all_units(self) -> tuple[str, ...]:
        return tuple(sorted(self.unit_family, key=len, reverse=True))

    @cached_property
    def number_pattern(self) -> str:
        """A written number: digits, or a run of Chinese numerals, or 几/数/多/半 in "几个月"."""
        return rf"(?:\d+(?:\.\d+)?|[{self.chinese_numerals}]+|几|数|多|半)"

    @cached_property
    def quantity_question(self) -> re.Pattern[str]:
        # "好几个亿", "几十人", "十几年" are amounts said, not asked
        return re.compile(r"(?:多少|(?<![哪好十])几(?![十百千万亿]))(" + _alternation(self.all_units) + r")?|多久|多长时间|多长|多大|多高|多重|多远")

    @cached_property
    def duration_question(self) -> re.Pattern[str]:
        return re.compile(r"多久|多长时间")

    def cue(self, name: str) -> re.Pattern[str]:
        return self._cue_patterns[name]

    @cached_property
    def _cue_patterns(self) -> dict[str, re.Pattern[str]]:
        return {name: re.compile(_alternation(words)) for name, words in self.cues.items()}

    @cached_property
    def who_focus(self) -> re.Pattern[str]:
        # "审核小组的组长由谁担任？" — the role asked about must be named in the evidence
        return re.compile(r"([\u4e00-\u9fff]{2,})(?:由谁|是谁|为谁)(?:担任|负责|主持|牵头|兼任)?[？?]?\s*$")

    @cached_property
    def date(self) -> re.Pattern[str]:
        return re.compile(r"(?:19|20)\d{2}\s*年|[0-9一二三四五六七八九十]{1,3}月[0-9一二三四五六七八九十]{0,3}[日号]?|[上中下]旬")

    @cached_property
    def day(self) -> re.Pattern[str]:
        """A day of a month ("6月15日", "5月14日"): a question naming one asks about that day."""
        return re.compile(r"[0-9一二三四五六七八九十]{1,3}月[0-9一二三四五六七八九十]{1,3}[日号]")

    @cached_property
    def ordinal(self) -> re.Pattern[str]:
        """An ordinal of a series ("第二届", "第3次", "第八巡回督导组"): 第三届 is not 第二届."""
        return re.compile(r"第([0-9一二三四五六七八九十百]+)(届|次|轮|批|期|个|年|季|巡回|号|任|代|场)")

    @cached_property
    def year(self) -> re.Pattern[str]:
        return re.compile(r"(?:1[6-9]|20)\d{2}(?=\s*年)")

    @cached_property
    def numeral_word(self) -> re.Pattern[str]:
        return re.compile(_alternation(self.numeral_words))

    @cached_property
    def attribution(self) -> re.Pattern[str]:
        return re.compile(rf"^[^，,。“”\"]{{1,24}}(?:{_alternation(self.attribution_verbs)})[,，:：]")

    @cached_property
    def reason_marker(self) -> re.Pattern[str]:
        return re.compile(_alternation(self.reason_markers))

    @cached_property
    def definition_marker(self) -> re.Pattern[str]:
        plain = [m for m in self.definition_markers if "…" not in m]
        return re.compile(_alternation(plain) + r"|是[^，。；]{2,40}的[^，。；]{0,12}[。；]")

    def defines(self, term: str, sentence: str, heading: str = "") -> bool:
        """Whether `sentence` (under `heading`, its section or title) defines `term`: the term is what
        the sentence speaks of — right before a defining word ("X是…", "X（又称Y）是…", "X：…"), right
        after a naming word ("所谓X", "…称为X"), or the heading the sentence sits under ("政治担当" over
        its 内涵). A sentence that names the term inside something else ("X的衍生物…") does not."""
        term = term.strip("“”\"「」《》 ")
        if not term:
            return True
        if term in heading:
            return True
        for m in re.finditer(re.escape(term), sentence):
            left = sentence[m.start() - 1 : m.start()]
            if re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9]", left) and left != "的" and not sentence[: m.start()].endswith(self.definiendum_before):
                continue  # "二甲基X" is another compound, not X
            # "X（学名：…）是…", "X（），简称Y，是指…": an aside in brackets after the term is skipped
            after = re.sub(r"^[（(][^）)]{0,40}[）)]\s*", "", sentence[m.end():].lstrip("”\"」》"))
            if after.startswith(self.definiendum_after) and not re.match(r"(?:即|就)?(?:是|为)?其[一中]", after):
                return True  # "X即是其一" counts X among others, it does not say what X is
            before = sentence[: m.start()].rstrip("“\"「")
            if before.endswith(self.definiendum_before) and not re.match(r"[\u4e00-\u9fffA-Za-z0-9]", after):
                return True  # "…叫做X的对角面" names something of X, not X
        return False

    @cached_property
    def scope_word(self) -> re.Pattern[str]:
        return re.compile(_alternation(self.scope_words))

    @cached_property
    def org_level_word(self) -> re.Pattern[str]:
        return re.compile(_alternation(w for words in self.org_levels.values() for w in words))

    @cached_property
    def level_of(self) -> dict[str, str]:
        return {w: level for level, words in self.org_levels.items() for w in words}
