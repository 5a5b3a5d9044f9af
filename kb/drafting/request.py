"""Reading a drafting request: which outline, who is inspected, who talks to whom, whom the
interview is with, which standards and which focus words (政商关系, 四风, 债务风险 …).

The free-text helpers (``infer_kind``, ``infer_target``, ``infer_roles``) are module level so the
CLI and the UI can use them without a service.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from kb.drafting.text import norm
from kb.models import FIVE_POLITICS, INTERVIEWEE_GROUPS, DraftRequest

KINDS = ("interview", "talk")
KIND_LABELS = {"interview": "深度访谈提纲", "talk": "谈话提纲"}
DEFAULT_TARGET = "考察对象"
DEFAULT_INTERVIEWEE = "考察对象本人"
DEFAULT_SPEAKER = "上级党委主要负责人"
FEEDBACK_SPEAKER = "考察组"
_KIND_ALIASES = {"interview_outline": "interview", "talk_outline": "talk", "深度访谈提纲": "interview",
                 "访谈提纲": "interview", "谈话提纲": "talk", "auto": ""}

# Words of a request that say what to draft, not what to ask about.
REQUEST_STOPWORDS = frozenset(
    "起草 一份 提纲 访谈 深度 谈话 补充 考察 面向 了解 重点 核实 开展 参照 做法 要求 写明 控制 结束 "
    "问题 情况 方面 其他 干部 群众 本人 班子 成员 领导 主要 负责人 负责 书记 县委 市委 省委 区委 "
    "某县 某市 某区 考察对象 对象 一个 以及 进行 有关 相关 市县 区县 党政 正职 既 又 并 请 座谈 座谈会 遇到 "
    "存在 发现 线索 一份 结束 提出".split()
)


class DraftError(ValueError):
    """A drafting request that cannot be served (unknown kind, nothing to draft about)."""


def infer_kind(text: str) -> str:
    """'talk' when the text asks for a 谈话提纲, 'interview' for a 访谈提纲, '' when it says neither."""
    n = norm(text)
    if not n:
        return ""
    if re.search(r"访谈", n):
        return "interview"
    if re.search(r"谈话提纲|监督谈话|反馈谈话|提醒谈话|约谈|(?<!访)谈话(?!函询)", n):
        return "talk"
    return ""


_PREFIX = (
    r"(?:上级)?(?:(?:市直部门|县直部门|省直部门|市县|区县|县市区|县(?:级)?市|乡镇|街道|[省市县区州旗乡镇])"
    r"(?:党工委|党委|委|政府)?)?"
)
_POST = _PREFIX + r"(?:党政正职|主要负责人|党委书记|党工委书记|书记|县长|市长|区长|州长|乡长|镇长|一把手)"
_POST_RE = re.compile(_POST)
_TARGET_CUE = re.compile(r"(?:与|向|对|同|找|考察对象[（(]?|被考察的?|考察|核实|了解)某?$")
_SPEAKER_CUE = re.compile(r"^某?(?:与|找|同|向|对)")


def _posts(n: str) -> list[re.Match]:
    out = []
    for m in _POST_RE.finditer(n):
        before = n[max(0, m.start() - 7) : m.start()]
        post = m.group(0)
        if before.endswith(("副", "纪委", "纪委副")) or (post == "书记" and before.endswith("委")):
            continue
        if re.search(r"纪委|监委|组织部|宣传部|政法委", post):
            continue
        out.append(m)
    return out


def infer_target(text: str) -> str:
    """The post of the person inspected (or talked to): “…与某市委书记开展…谈话” → 市委书记."""
    n = norm(text)
    candidates = []
    for m in _posts(n):
        before = n[max(0, m.start() - 7) : m.start()]
        cue = bool(_TARGET_CUE.search(before))
        candidates.append((not cue, m.start(), m.group(0)))
    if not candidates:
        return ""
    return min(candidates)[2]


def infer_speaker(text: str, target: str = "") -> str:
    """Who talks, when the request says so: “县委书记与乡镇党委书记谈话” → 县委书记."""
    n = norm(text)
    target = norm(target or infer_target(text))
    for m in _posts(n):
        after = n[m.end() : m.end() + 3]
        if _SPEAKER_CUE.match(after) and m.group(0) != target:
            return m.group(0)
    return ""


def infer_roles(text: str, target: str = "") -> tuple[str, str]:
    """(谈话人, 谈话对象) of a talk outline, from the request; defaults when it names no speaker."""
    target = (target or "").strip() or infer_target(text) or DEFAULT_TARGET
    speaker = infer_speaker(text, target)
    if not speaker:
        speaker = FEEDBACK_SPEAKER if re.search(r"通报反馈|反馈考察|考察结果", norm(text)) else DEFAULT_SPEAKER
    return speaker, target


def third_person(target: str) -> str:
    return (target or "").strip() or DEFAULT_TARGET


@dataclass
class Dim:
    """A requested dimension, resolved against the framework when it knows it."""

    name: str  # as requested (shown as the section title)
    canonical: str
    known: Any = None  # kb.drafting.criteria.Dimension or None
    terms: list[str] = field(default_factory=list)  # name + aliases
    keywords: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return list(self.known.typical_problems) if self.known else []

    @property
    def observations(self) -> list[str]:
        return list(self.known.observation_points) if self.known else []

    @property
    def angles(self) -> list[str]:
        return list(self.known.interview_angles) if self.known else []


@dataclass
class Plan:
    kind: str
    target: str
    interviewee: str
    dims: list[Dim]
    count: int
    request: str
    request_terms: list[str]
    rectification: bool
    notes: list[str] = field(default_factory=list)
    speaker: str = ""
    interviewee_detail: str = ""  # who exactly, as the request names them ("县纪委副书记等其他干部")
    feedback: bool = False  # a talk that feeds back inspection results (通报反馈)
    escalation: bool = False  # the request asks for the follow-up ladder (谈话提醒 → … → 组织调整)
    materials: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)  # question texts not to return (regenerate)
    extra_entries: dict[str, list] = field(default_factory=dict)  # request-driven questions per dimension
    talk_kind: Any = None  # kb.drafting.talk_kinds.TalkKind the request asks for (谈心谈话, 函询 …), or None


class RequestReader:
    """Fills what a request leaves empty from its free text, against the criteria framework."""

    def __init__(self, framework, tokenizer=None, kinds=None):
        self.framework = framework
        self.tokenizer = tokenizer
        self.kinds = kinds  # kb.drafting.talk_kinds.TalkKinds, or None (no kind taxonomy)

    def talk_kind(self, text: str, outline: str = ""):
        """The kind of 谈话/访谈 the text asks for (kb/data/talk_kinds.yaml), None when it names none. A
        text that asks for a 访谈提纲 is read among the interview kinds only: "访谈…了解开展提醒谈话的情况"
        asks about 提醒谈话, it does not ask for one."""
        if self.kinds is None or not text:
            return None
        if not outline and infer_kind(text) == "interview":
            outline = "interview"
        return self.kinds.detect(text, outline)

    def fill(self, req: DraftRequest) -> tuple[DraftRequest, list[str]]:
        """The request with kind, target, interviewee and dimensions filled; notes say what was
        assumed. Raises DraftError for an unknown kind."""
        text = (req.request or "").strip()
        notes: list[str] = []
        kind = _KIND_ALIASES.get((req.kind or "").strip(), (req.kind or "").strip())
        if kind not in ("", *KINDS):
            raise DraftError(f"unknown outline kind {req.kind!r} (expected interview or talk)")
        talk_kind = self.talk_kind(text)
        # a kind the taxonomy knows says which outline it takes (个别谈话 and 自评 are interviews)
        text_kind = talk_kind.outline if talk_kind is not None else infer_kind(text)
        if not kind:
            kind = text_kind or "interview"
        elif kind == "interview" and text_kind == "talk":
            # "interview" is also the default of DraftRequest; a request that names a talk outline wins.
            kind = "talk"
        # "某市委书记" is a form's example, not a name: the post is what the outline speaks of
        target = re.sub(r"^某(?=[省市县区州乡镇])", "", (req.target or "").strip())
        if not target and kind in ("", "talk") and self.kinds is not None:
            target = self.kinds.pair(text)[1]  # “甲与乙谈…”: 乙 is talked to
        target = target or infer_target(text)
        if not target:
            target = DEFAULT_TARGET
            if text:
                notes.append(f"要求中未写明考察对象，按“{DEFAULT_TARGET}”起草。")
        interviewee = (req.interviewee or "").strip() if kind == "interview" else ""
        framework = self.framework
        if interviewee and interviewee not in INTERVIEWEE_GROUPS and framework is not None:
            interviewee = framework.interviewee_group(interviewee, target) or interviewee
        if kind == "interview" and not interviewee:
            interviewee = self.interviewee(text, target) or (talk_kind.interviewee if talk_kind is not None else "")
            if not interviewee:
                interviewee = DEFAULT_INTERVIEWEE
                notes.append(f"未指定访谈对象，按“{DEFAULT_INTERVIEWEE}”起草。")
        dimensions = [d.strip() for d in (req.dimensions or []) if d and str(d).strip()]
        if not dimensions:
            dimensions = self.dimensions(text, kind)
        out = replace(req, kind=kind, target=target, interviewee=interviewee, dimensions=dimensions, request=text)
        return out, notes

    def interviewee_detail(self, text: str, target: str) -> str:
        """The people the request names as interviewees ("县纪委副书记等其他干部"), '' if none."""
        framework = self.framework
        if not text or framework is None:
            return ""
        for m in re.finditer(r"(?:面向|(?<!针)对|向|找|与)([^，。；,;]{1,24}?)(?:的|开展|进行|等人|谈)", text):
            who = m.group(1)
            if re.search(r"反映|线索|问题|情况|交往", who):
                continue  # what the request is about, not whom the interview is with
            if framework.interviewee_group(who, target):
                return who
        return ""

    def interviewee(self, text: str, target: str) -> str:
        framework = self.framework
        if not text or framework is None:
            return ""
        detail = self.interviewee_detail(text, target)
        if detail:
            return framework.interviewee_group(detail, target) or ""
        explicit = re.search(r"市级领导|市领导|考察对象本人|本人|班子成员|其他干部|干部群众", text)
        if explicit:
            return framework.interviewee_group(explicit.group(0), target) or ""
        return ""

    def dimensions(self, text: str, kind: str) -> list[str]:
        framework = self.framework
        if framework is None:
            return []
        found = framework.find_dimensions(text) if text else []
        if found:
            return found
        if kind == "talk":
            # The talk-outline practice names its own focus areas; map each to a dimension.
            out: list[str] = []
            for item in framework.talk_outline.focus_areas:
                names = framework.find_dimensions(item)
                if names and names[0] not in out:
                    out.append(names[0])
            if out:
                return out
        return list(framework.five_politics or FIVE_POLITICS)

    def resolve(self, names: list[str]) -> list[Dim]:
        framework = self.framework
        dims: list[Dim] = []
        seen: set[str] = set()
        for name in names:
            known = framework.dimension(name) if framework is not None else None
            canonical = known.name if known else norm(name)
            if canonical in seen:
                continue
            seen.add(canonical)
            if known:
                dims.append(Dim(name, canonical, known, known.terms(), list(known.keywords)))
            else:
                dims.append(Dim(name, canonical, None, [name], []))
        return dims

    def canonical(self, name: str) -> str:
        known = self.framework.dimension(name) if self.framework is not None else None
        return known.name if known else norm(name)

    def terms(self, text: str, target: str, interviewee: str) -> list[str]:
        """Content words of the request that say what to ask about."""
        if not text or self.tokenizer is None:
            return []
        try:
            terms = self.tokenizer.content_terms(text)
        except Exception:
            return []
        skip = norm(target) + norm(interviewee)
        return [
            t for t in terms
            if len(t) >= 2 and t not in REQUEST_STOPWORDS and t not in skip and not re.search(r"提纲|访谈|谈话|起草", t)
        ]

    def focus_keywords(self, text: str, requested: list[str]) -> list[str]:
        """Keywords of the focus areas a request names besides its dimensions ("重点了解民主集中制执行
        情况" → 集体领导, 三重一大, 责任清单 …): they steer which evidence each dimension uses."""
        framework = self.framework
        if framework is None or not text:
            return []
        requested_names = {d.canonical for d in self.resolve(requested)}
        out: list[str] = []
        for name in framework.find_dimensions(text, use_keywords=False):
            if name in requested_names:
                continue
            out.extend(norm(k) for k in framework.dimensions[name].keywords)
        return list(dict.fromkeys(out))

    def plan(self, req: DraftRequest, max_count: int, default_count: int) -> Plan:
        filled, notes = self.fill(req)
        if not filled.dimensions:
            raise DraftError("nothing to draft: give dimensions or a request naming what to ask about")
        count = filled.count if filled.count else default_count
        count = max(1, min(int(count), max_count))
        text = filled.request
        speaker = ""
        talk_kind = self.talk_kind(text, filled.kind)  # a kind of the outline asked for
        if filled.kind == "talk":
            speaker = infer_speaker(text, filled.target)
            if not speaker and self.kinds is not None:
                first, second = self.kinds.pair(text)
                speaker = first if second == filled.target else ""
            if not speaker and talk_kind is not None and talk_kind.speaker and not re.search(r"通报反馈|反馈考察|考察结果", norm(text)):
                speaker = talk_kind.speaker
            if not speaker:
                speaker, _ = infer_roles(text, filled.target)
        return Plan(
            kind=filled.kind,
            target=filled.target,
            interviewee=filled.interviewee,
            dims=self.resolve(filled.dimensions),
            count=count,
            request=text,
            request_terms=self.terms(text, filled.target, filled.interviewee) + self.focus_keywords(text, filled.dimensions),
            rectification=filled.kind == "talk" and (bool(re.search(r"整改", text)) or bool(talk_kind and talk_kind.rectification)),
            notes=notes,
            speaker=speaker,
            interviewee_detail=self.interviewee_detail(text, filled.target) if filled.kind == "interview" else "",
            feedback=filled.kind == "talk" and bool(re.search(r"通报反馈|反馈考察|考察结果", norm(text))),
            escalation=filled.kind == "talk" and (bool(re.search(r"组织调整|专项整治|后续措施|后续安排|跟踪措施|整改不力", norm(text)))
                                                  or bool(talk_kind and talk_kind.escalation)),
            talk_kind=talk_kind,
            materials=list(getattr(filled, "materials", []) or []),
        )


_FOCUS_CUE = re.compile(r"(?:重点(?:谈谈|谈|了解|核实|考察)?|了解|核实|点明|聚焦|侧重|围绕)([^，。；,;：:]{2,40})")
_FOCUS_TAIL = re.compile(r"(?:(?:方面)?(?:中|上)?(?:遇到|存在)?的(?:突出)?(?:情况|表现|问题|不足|短板|做法)|方面|情况|表现|不足|短板|做法)+$")
_FOCUS_HEAD = re.compile(r"^(?:其|该同志|考察对象本人|考察对象|本人|一下)?(?:在)?")
_FOCUS_SPLIT = re.compile(r"以及|和|、|及|与|或")


def focus_phrases(text: str, target: str = "") -> list[str]:
    """What the request asks to concentrate on, in its own words: “重点谈脱贫攻坚和生态环境保护
    方面的短板” → [脱贫攻坚, 生态环境保护]."""
    n = norm(text)
    out: list[str] = []
    for m in _FOCUS_CUE.finditer(n):
        body = m.group(1)
        body = re.sub(_POST + "的?", "", body)  # the person ("县委主要负责人的担当") is not the topic
        if target:
            body = body.replace(norm(target) + "的", "").replace(norm(target), "")
        body = _FOCUS_HEAD.sub("", body)
        body = _FOCUS_TAIL.sub("", body)
        for part in _FOCUS_SPLIT.split(body):
            part = re.sub(r"[“”\"'‘’]", "", _FOCUS_TAIL.sub("", _FOCUS_HEAD.sub("", part))).strip("的")
            part = re.sub(r"等[^等]{0,6}$", "", part)  # “长三角区域一体化等重大战略” → 长三角区域一体化
            if 2 <= len(part) <= 16 and part not in REQUEST_STOPWORDS and not re.search(r"提纲|访谈|谈话|起草|\d", part):
                if part not in out:
                    out.append(part)
    return out
