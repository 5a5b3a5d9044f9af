"""The criteria framework the product ships: the “五个政治” standard of 政治建设考察 plus the focus areas,
the 7 inspection steps, the four interviewee groups and the talk-outline practice.

The data lives in ``kb/data/criteria.yaml`` (written from the five seed documents, every fact group
naming its seed document ids). Drafting uses it to pick dimensions, angles and search keywords;
``to_markdown()`` renders it as a document that is ingested as a ``criteria`` document so answers
and drafts can cite it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.models import FIVE_POLITICS, INTERVIEWEE_GROUPS

CRITERIA_FILE = Path(__file__).resolve().parents[1] / "data" / "criteria.yaml"

DIMENSION_FIELDS = ("meaning", "observation_points", "typical_problems", "interview_angles", "keywords")
SOURCED_FIELDS = ("meaning", "observation_points", "typical_problems", "interview_angles")
STEP_NAMES = ("准备与建组", "通报与动员", "自评与访谈", "查阅与核实", "分析与研判", "总结与汇报", "运用与反馈")

KIND_FIVE_POLITICS = "五个政治"
KIND_FOCUS_AREA = "重点领域"

# Words people put after a dimension name ("政治担当方面", "担当情况") that do not change which one is meant.
_NAME_SUFFIXES = ("方面的", "方面", "维度", "情况", "表现", "问题", "建设", "的")
_NUMERALS = "零一二三四五六七八九"


class CriteriaError(ValueError):
    """The criteria file is missing, unreadable or does not have the expected shape."""


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (1–99), as used in headings “一、政治忠诚”."""
    if not 1 <= n <= 99:
        raise ValueError(f"chinese_numeral supports 1–99, got {n}")
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens] + "十")
    return head + (_NUMERALS[ones] if ones else "")


def _norm(text: str) -> str:
    """Full-width → half-width, no spaces: the seeds and users mix both."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def _join_lines(text: str) -> str:
    """YAML folds lines with a space; Chinese sentences take none, ASCII words keep one."""
    return re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text).strip()


def _sentence(text: str) -> str:
    """Close a line with Chinese full stop unless it already ends in punctuation."""
    text = text.strip()
    return text if not text or text[-1] in "。！？；…" else text + "。"


@dataclass
class Dimension:
    name: str
    meaning: str
    observation_points: list[str]
    typical_problems: list[str]
    interview_angles: list[str]
    keywords: list[str]
    sources: list[str]  # seed document ids behind this dimension, in first-mentioned order
    aliases: list[str] = field(default_factory=list)
    kind: str = KIND_FIVE_POLITICS  # 五个政治 | 重点领域
    sources_by_field: dict[str, list[str]] = field(default_factory=dict)  # fact group → doc ids

    def terms(self) -> list[str]:
        """Name and aliases: the words that name this dimension explicitly."""
        return [self.name, *self.aliases]


@dataclass
class Step:
    name: str
    description: str
    sources: list[str]


@dataclass
class IntervieweeGroup:
    group: str  # one of kb.models.INTERVIEWEE_GROUPS
    who: str
    ask_about: list[str]
    phrasing: str
    sources: list[str]


@dataclass
class SourcedText:
    text: str
    sources: list[str]


@dataclass
class TalkOutlineGuide:
    purpose: SourcedText
    focus_areas: list[str]
    focus_sources: list[str]
    question_min: int
    question_max: int
    question_count: SourcedText
    preparation: SourcedText
    structure: list[SourcedText]
    arrangements: SourcedText
    rectification: list[SourcedText]

    def all_sources(self) -> list[str]:
        parts = [self.purpose, self.question_count, self.preparation, self.arrangements, *self.structure, *self.rectification]
        ids = [*self.focus_sources]
        for part in parts:
            ids.extend(part.sources)
        return list(dict.fromkeys(ids))


# --- interviewee classification -------------------------------------------------------------------
# Rule (documented in CriteriaFramework.interviewee_group): an explicit group name wins; then the
# target's own title means 考察对象本人; then members of the city-level leadership (市委常委, 市长,
# 副市长, 市人大/政协 heads) are 市级领导; members of a county/district leadership team (县委/区委
# 书记·副书记·常委, 县长/区长 and deputies, 县人大/政协 heads, 纪委书记, 组织/宣传/统战部长,
# 政法委书记) are 班子成员; any other cadre or member of the public — deputies inside an organ such as
# 县纪委副书记, department and township heads, 党员群众 — is 其他干部群众, because they stand outside the
# team being inspected (the seed's 县纪委副书记 was brought in from outside the interview list).
_EXPLICIT_GROUPS = (
    ("市级领导", r"市级领导|市领导"),
    ("考察对象本人", r"考察对象本人|考察对象自己|本人|考察对象(?!所在|的|之外|以外)"),
    ("班子成员", r"班子成员"),
    ("其他干部群众", r"其他干部群众|其他干部|干部群众|其他人员|群众代表"),
)
_CITY_LEADER = re.compile(
    r"(?<!县级)市委(?:书记|副书记|常委)|(?<![县区]级市)(?<!副)市长|副市长|市人大常委会(?:主任|副主任)|市人大(?:主任|副主任)"
    r"|市政协(?:主席|副主席)|市纪委书记|市委(?:组织|宣传|统战)部长|市委政法委书记|市委秘书长|州委(?:书记|副书记|常委)|州长|副州长"
)
_TEAM_MEMBER = re.compile(
    r"班子|(?:县|区|旗)委(?:书记|副书记|常委)|县级市(?:委书记|市长|委副书记|委常委)|(?<!副)(?:县|区|旗)长|副(?:县|区|旗)长"
    r"|(?:县|区)人大常委会(?:主任|副主任)|(?:县|区)人大(?:主任|副主任)|(?:县|区)政协(?:主席|副主席)"
    r"|(?:县|区)纪委书记|(?:县|区)监委主任|(?:县|区)委(?:组织|宣传|统战)部长|(?:县|区)委政法委书记|人武部政委|党政正职"
)
_OTHER_PEOPLE = re.compile(
    r"干部|群众|党员|代表|委员|纪委|监委|部门|局长|局|科长|主任|乡镇|乡|镇|街道|村|社区|企业|职工|老干部|负责人|书记|部长|股长|工作人员"
)


def _sourced(data: Any, where: str, path: Path) -> SourcedText:
    if not isinstance(data, dict) or not str(data.get("text", "")).strip():
        raise CriteriaError(f"{path}: {where} needs a non-empty 'text'")
    return SourcedText(text=str(data["text"]).strip(), sources=_source_list(data.get("source"), where, path))


def _source_list(value: Any, where: str, path: Path) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise CriteriaError(f"{path}: {where} needs 'source': a non-empty list of seed document ids")
    return [v.strip() for v in value]


def _str_list(value: Any, where: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not value:
        raise CriteriaError(f"{path}: {where} must be a non-empty list")
    out = [str(v).strip() for v in value if str(v).strip()]
    if len(out) != len(value):
        raise CriteriaError(f"{path}: {where} has empty items")
    return out


def _dimension(data: Any, kind: str, path: Path) -> Dimension:
    if not isinstance(data, dict) or not str(data.get("name", "")).strip():
        raise CriteriaError(f"{path}: every dimension needs a 'name'")
    name = str(data["name"]).strip()
    meaning = str(data.get("meaning") or "").strip()
    if not meaning:
        raise CriteriaError(f"{path}: dimension {name}: 'meaning' is empty")
    lists = {f: _str_list(data.get(f), f"dimension {name}: {f}", path) for f in DIMENSION_FIELDS[1:]}
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, dict):
        raise CriteriaError(f"{path}: dimension {name}: 'sources' must map each fact group to seed document ids")
    by_field: dict[str, list[str]] = {}
    for fact_group in SOURCED_FIELDS:
        by_field[fact_group] = _source_list(raw_sources.get(fact_group), f"dimension {name}: sources.{fact_group}", path)
    unknown = set(raw_sources) - set(SOURCED_FIELDS)
    if unknown:
        raise CriteriaError(f"{path}: dimension {name}: unknown source groups {sorted(unknown)}")
    all_ids = list(dict.fromkeys(i for ids in by_field.values() for i in ids))
    aliases = [str(a).strip() for a in (data.get("aliases") or []) if str(a).strip()]
    return Dimension(
        name=name,
        meaning=_join_lines(meaning),
        observation_points=lists["observation_points"],
        typical_problems=lists["typical_problems"],
        interview_angles=lists["interview_angles"],
        keywords=lists["keywords"],
        sources=all_ids,
        aliases=aliases,
        kind=kind,
        sources_by_field=by_field,
    )


class CriteriaFramework:
    """The loaded framework. Build with ``CriteriaFramework.load()``."""

    def __init__(
        self,
        title: str,
        dimensions: dict[str, Dimension],
        steps: list[Step],
        interviewees: dict[str, IntervieweeGroup],
        talk_outline: TalkOutlineGuide,
        path: Path | None = None,
    ):
        self.title = title
        self.dimensions = dimensions
        self.steps = steps
        self.interviewees = interviewees
        self.talk_outline = talk_outline
        self.path = path
        self._alias_index = self._build_alias_index()

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | None = None) -> "CriteriaFramework":
        """Read and validate the framework; default is the packaged ``kb/data/criteria.yaml``."""
        import yaml

        path = Path(path) if path is not None else CRITERIA_FILE
        if not path.is_file():
            raise CriteriaError(f"{path}: criteria file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CriteriaError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CriteriaError(f"{path}: invalid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise CriteriaError(f"{path}: expected a mapping at the top level")
        return cls._from_data(data, path)

    @classmethod
    def _from_data(cls, data: dict[str, Any], path: Path) -> "CriteriaFramework":
        dimensions: dict[str, Dimension] = {}
        for kind, key in ((KIND_FIVE_POLITICS, "dimensions"), (KIND_FOCUS_AREA, "focus_areas")):
            items = data.get(key) or []
            if not isinstance(items, list):
                raise CriteriaError(f"{path}: '{key}' must be a list")
            for item in items:
                dim = _dimension(item, kind, path)
                if dim.name in dimensions:
                    raise CriteriaError(f"{path}: dimension {dim.name} is defined twice")
                dimensions[dim.name] = dim
        missing = [n for n in FIVE_POLITICS if n not in dimensions]
        if missing:
            raise CriteriaError(f"{path}: missing the 五个政治 dimensions {missing}")

        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise CriteriaError(f"{path}: 'steps' must be a non-empty list")
        steps = []
        for i, raw in enumerate(raw_steps, 1):
            if not isinstance(raw, dict) or not raw.get("name") or not raw.get("description"):
                raise CriteriaError(f"{path}: step {i} needs 'name' and 'description'")
            steps.append(
                Step(str(raw["name"]).strip(), str(raw["description"]).strip(), _source_list(raw.get("source"), f"step {raw['name']}", path))
            )

        raw_groups = data.get("interviewees")
        if not isinstance(raw_groups, list) or not raw_groups:
            raise CriteriaError(f"{path}: 'interviewees' must be a non-empty list")
        interviewees: dict[str, IntervieweeGroup] = {}
        for raw in raw_groups:
            group = str((raw or {}).get("group", "")).strip() if isinstance(raw, dict) else ""
            if group not in INTERVIEWEE_GROUPS:
                raise CriteriaError(f"{path}: interviewee group {group!r} is not one of {INTERVIEWEE_GROUPS}")
            where = f"interviewee group {group}"
            phrasing = str(raw.get("phrasing") or "").strip()
            who = str(raw.get("who") or "").strip()
            if not phrasing or not who:
                raise CriteriaError(f"{path}: {where} needs 'who' and 'phrasing'")
            interviewees[group] = IntervieweeGroup(
                group=group,
                who=who,
                ask_about=_str_list(raw.get("ask_about"), f"{where}: ask_about", path),
                phrasing=phrasing,
                sources=_source_list(raw.get("source"), where, path),
            )

        raw_talk = data.get("talk_outline")
        if not isinstance(raw_talk, dict):
            raise CriteriaError(f"{path}: 'talk_outline' must be a mapping")
        try:
            focus = raw_talk["focus_areas"]
            count = raw_talk["question_count"]
            talk = TalkOutlineGuide(
                purpose=_sourced(raw_talk.get("purpose"), "talk_outline.purpose", path),
                focus_areas=_str_list(focus.get("items"), "talk_outline.focus_areas.items", path),
                focus_sources=_source_list(focus.get("source"), "talk_outline.focus_areas", path),
                question_min=int(count["min"]),
                question_max=int(count["max"]),
                question_count=_sourced(count, "talk_outline.question_count", path),
                preparation=_sourced(raw_talk.get("preparation"), "talk_outline.preparation", path),
                structure=[_sourced(s, "talk_outline.structure", path) for s in _list(raw_talk.get("structure"), "talk_outline.structure", path)],
                arrangements=_sourced(raw_talk.get("arrangements"), "talk_outline.arrangements", path),
                rectification=[
                    _sourced(s, "talk_outline.rectification", path) for s in _list(raw_talk.get("rectification"), "talk_outline.rectification", path)
                ],
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, CriteriaError):
                raise
            raise CriteriaError(f"{path}: 'talk_outline' is incomplete ({exc!r})") from exc
        title = str(data.get("title") or "政治建设考察“五个政治”评价框架").strip()
        return cls(title, dimensions, steps, interviewees, talk, path)

    # --- lookups ------------------------------------------------------------------------------
    @property
    def five_politics(self) -> list[str]:
        return [d.name for d in self.dimensions.values() if d.kind == KIND_FIVE_POLITICS]

    @property
    def focus_areas(self) -> list[str]:
        return [d.name for d in self.dimensions.values() if d.kind == KIND_FOCUS_AREA]

    def source_ids(self) -> list[str]:
        """Every seed document id the framework cites."""
        ids: list[str] = []
        for dim in self.dimensions.values():
            ids.extend(dim.sources)
        for step in self.steps:
            ids.extend(step.sources)
        for group in self.interviewees.values():
            ids.extend(group.sources)
        ids.extend(self.talk_outline.all_sources())
        return list(dict.fromkeys(ids))

    def _build_alias_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for dim in self.dimensions.values():
            for term in dim.terms():
                index.setdefault(_norm(term), dim.name)
        return index

    def dimension(self, name: str) -> Dimension | None:
        """The dimension a user means by ``name``: exact name, alias, or either followed by 方面/情况/…

        "担当" → 政治担当, "政治担当方面" → 政治担当, "能力" → 政治能力 (政治 + the word is a name).
        """
        key = _norm(name)
        if not key:
            return None
        candidates = [key]
        stripped = key
        changed = True
        while changed:
            changed = False
            for suffix in _NAME_SUFFIXES:
                if stripped.endswith(suffix) and len(stripped) > len(suffix):
                    stripped = stripped[: -len(suffix)]
                    candidates.append(stripped)
                    changed = True
        for cand in candidates:
            for form in (cand, "政治" + cand):
                if form in self._alias_index:
                    return self.dimensions[self._alias_index[form]]
        return None

    def find_dimensions(self, text: str, use_keywords: bool = True) -> list[str]:
        """Dimensions mentioned in free text, in order of first mention.

        Names and aliases count as explicit mentions. Only when the text names none does it fall
        back to keywords (“嘴严手软” → 政治担当), ranked by how many distinct keywords hit, so a
        request that names its dimensions is not padded with look-alikes.
        """
        norm = _norm(text)
        if not norm:
            return []
        first_pos: dict[str, int] = {}
        # Longest terms first, and each matched span is blanked so “政治担当” is not also read as “担当”
        # for some other entry and “亲清政商关系” not re-read as “政商关系”.
        terms = sorted(self._alias_index.items(), key=lambda kv: len(kv[0]), reverse=True)
        masked = norm
        for term, dim_name in terms:
            start = masked.find(term)
            while start >= 0:
                first_pos[dim_name] = min(first_pos.get(dim_name, start), start)
                masked = masked[:start] + "\0" * len(term) + masked[start + len(term) :]
                start = masked.find(term, start + len(term))
        if first_pos or not use_keywords:
            return sorted(first_pos, key=lambda n: first_pos[n])
        scores: dict[str, tuple[int, int]] = {}
        order = list(self.dimensions)
        for dim in self.dimensions.values():
            hits = [norm.find(_norm(k)) for k in dim.keywords]
            hits = [h for h in hits if h >= 0]
            if hits:
                scores[dim.name] = (len(hits), min(hits))
        return sorted(scores, key=lambda n: (-scores[n][0], scores[n][1], order.index(n)))

    def interviewee_group(self, text: str, target: str = "") -> str | None:
        """Which of 市级领导 | 考察对象本人 | 班子成员 | 其他干部群众 ``text`` describes; None if unknown.

        Rule, first match wins:
          1. an explicit group name in the text (earliest one): 市级领导/市领导, 本人/考察对象,
             班子成员, 其他干部/干部群众;
          2. the text names the same post as ``target`` (the person inspected) → 考察对象本人;
          3. a member of the city-level leadership (市委书记·副书记·常委, 市长, 副市长, 市人大/政协
             heads, 州 equivalents) → 市级领导 (县级市 posts are written “县级市市长” to count as a team);
          4. a member of a county/district leadership team (县委/区委 书记·副书记·常委, 县长/区长 and
             deputies, 县人大/政协 heads, 纪委书记, 组织/宣传/统战部长, 政法委书记) → 班子成员;
          5. any other cadre or member of the public → 其他干部群众. A deputy inside an organ, such as
             “县纪委副书记”, is not on the leadership team, so → 其他干部群众 — as in the seed report,
             where such a person was called in from outside the interview list to check a lead.
        """
        norm = _norm(text)
        if not norm:
            return None
        explicit: list[tuple[int, str]] = []
        for group, pattern in _EXPLICIT_GROUPS:
            m = re.search(pattern, norm)
            if m:
                explicit.append((m.start(), group))
        if explicit:
            return min(explicit)[1]
        target_norm = _norm(target)
        if target_norm and (target_norm in norm or norm in target_norm):
            return "考察对象本人"
        if _CITY_LEADER.search(norm):
            return "市级领导"
        if _TEAM_MEMBER.search(norm):
            return "班子成员"
        if _OTHER_PEOPLE.search(norm):
            return "其他干部群众"
        return None

    # --- rendering ----------------------------------------------------------------------------
    def to_markdown(self) -> str:
        """The framework as a Markdown document (ingested as a ``criteria`` document).

        Every non-heading line is a full sentence or a list item, so a chunk quoted from it reads
        well on its own.
        """
        out: list[str] = [f"# {self.title}", ""]
        out.append(
            _sentence(
                "本框架归纳政治建设考察的“五个政治”标准（"
                + "、".join(self.five_politics)
                + "）及相关重点领域、考察步骤、访谈对象和谈话提纲做法，供考察组起草访谈提纲和谈话提纲时对照使用"
            )
        )
        out.append("")
        n = 0
        for dim in self.dimensions.values():
            n += 1
            out.append(f"## {chinese_numeral(n)}、{dim.name}")
            out.append("")
            if dim.kind == KIND_FOCUS_AREA:
                out.append(_sentence(f"{dim.name}是政治建设考察中常单列的重点领域"))
                out.append("")
            out += ["### 内涵", "", _sentence(dim.meaning), ""]
            out += ["### 观察要点", ""] + [f"- {_sentence(p)}" for p in dim.observation_points] + [""]
            out += ["### 常见问题", ""] + [f"- {_sentence(p)}" for p in dim.typical_problems] + [""]
            out += ["### 访谈切入点", ""] + [f"- 可询问{a}。" for a in dim.interview_angles] + [""]
            out += ["### 检索关键词", "", _sentence(f"{dim.name}方面的检索关键词有：" + "、".join(dim.keywords))]
            if dim.aliases:
                out.append(_sentence(f"{dim.name}也常被称为" + "、".join(f"“{a}”" for a in dim.aliases) + "等"))
            out += ["", "### 依据文档", ""] + [f"- 《{s}》。" for s in dim.sources] + [""]

        n += 1
        out += [f"## {chinese_numeral(n)}、考察步骤", ""]
        out.append(_sentence(f"政治建设考察依次经过{len(self.steps)}个步骤，主要通过深度访谈、查阅资料并到实地调研印证来了解情况"))
        out.append("")
        for i, step in enumerate(self.steps, 1):
            out.append(f"{i}. {step.name}：{_sentence(step.description)}")
        out += ["", "### 依据文档", ""]
        out += [f"- 《{s}》。" for s in dict.fromkeys(i for st in self.steps for i in st.sources)] + [""]

        n += 1
        out += [f"## {chinese_numeral(n)}、访谈对象", ""]
        out.append(_sentence("深度访谈的对象分为" + "、".join(self.interviewees) + "四类，问的内容和问法各有侧重"))
        out.append("")
        for group in self.interviewees.values():
            out += [f"### {group.group}", "", _sentence(f"访谈对象范围：{group.who.rstrip('。')}"), ""]
            out += [f"- 重点了解{a}。" for a in group.ask_about]
            out += ["", _sentence(f"问法：{group.phrasing.rstrip('。')}"), ""]
            out += [f"- 依据文档：《{s}》。" for s in group.sources] + [""]

        n += 1
        talk = self.talk_outline
        out += [f"## {chinese_numeral(n)}、谈话提纲", ""]
        out += [_sentence(talk.purpose.text), ""]
        out += ["### 谈话重点", ""]
        out.append(_sentence("谈话内容主要聚焦以下" + chinese_numeral(len(talk.focus_areas)) + "个方面，不求面面俱到"))
        out += [""] + [f"- {_sentence(a)}" for a in talk.focus_areas] + [""]
        out += ["### 问题设置", "", _sentence(talk.question_count.text), _sentence(talk.preparation.text), ""]
        out += ["### 谈话结构", ""] + [f"{i}. {_sentence(s.text)}" for i, s in enumerate(talk.structure, 1)] + [""]
        out += [_sentence(talk.arrangements.text), ""]
        out += ["### 整改要求", ""] + [f"- {_sentence(r.text)}" for r in talk.rectification] + [""]
        out += ["### 依据文档", ""] + [f"- 《{s}》。" for s in talk.all_sources()] + [""]
        return "\n".join(out).rstrip() + "\n"


def _list(value: Any, where: str, path: Path) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise CriteriaError(f"{path}: {where} must be a non-empty list")
    return value
