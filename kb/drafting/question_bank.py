"""The question bank (kb/data/question_bank.yaml): open questions per standard and interviewee
group, each with what it probes (考察意图), its own 追问 and the seed documents it was written from.

Drafting picks and orders these questions by the request; it never pastes retrieved text into
them (evidence is attached separately as 依据, see ``evidence.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from kb.drafting.text import fill, norm

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "question_bank.yaml"
GROUPS = ("考察对象本人", "班子成员", "市级领导", "其他干部群众")
SELF = "考察对象本人"


class QuestionBankError(ValueError):
    """The question bank file is missing or malformed."""


@dataclass
class BankQuestion:
    id: str
    kind: str  # interview | talk
    dimension: str
    purpose: str
    follow_ups: list[str]
    source: list[str]
    focus: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # interview: group -> wording
    text: str = ""  # talk: the question put to the person talked to
    finding: str = ""  # talk: wording when the user's own materials state the problem
    standard: str = ""  # talk: the standard the question rests on
    # 依据 the question brings along (a site outline's question cites its own span), cited before any other
    evidence: list[Any] = field(default_factory=list)

    def wording(self, group: str) -> str:
        if self.kind == "talk":
            return self.text
        return self.texts.get(group) or self.texts.get("default") or self.texts.get("班子成员") or next(iter(self.texts.values()), "")

    def render(self, group: str, target: str) -> str:
        return fill(self.wording(group), target=target)

    def render_follow_ups(self, who: str, target: str) -> list[str]:
        return [fill(f, who=who, target=target) for f in self.follow_ups]

    def focus_hits(self, text: str) -> int:
        n = norm(text)
        return sum(1 for f in self.focus if norm(f) and norm(f) in n)


@dataclass
class ClosingItem:
    text: str
    source: list[str]


@dataclass
class QuestionBank:
    interview: list[BankQuestion]
    talk: list[BankQuestion]
    rectification: BankQuestion | None = None
    feedback: BankQuestion | None = None
    arrangements: list[ClosingItem] = field(default_factory=list)
    escalation: list[ClosingItem] = field(default_factory=list)
    escalation_follow_up: str = ""
    path: Path | None = None
    opposing_words: list[str] = field(default_factory=list)  # 严防, 反对 …: a formulation to oppose, not to meet

    @classmethod
    def load(cls, path: str | Path | None = None) -> "QuestionBank":
        path = Path(path) if path else DEFAULT_PATH
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise QuestionBankError(f"{path}: question bank not found") from None
        except yaml.YAMLError as exc:
            raise QuestionBankError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise QuestionBankError(f"{path}: expected a mapping at the top level")
        interview = [_entry(e, "interview", path) for e in _list(data.get("interview"), "interview", path)]
        talk = [_entry(e, "talk", path) for e in _list(data.get("talk"), "talk", path)]
        ids = [e.id for e in interview + talk]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise QuestionBankError(f"{path}: duplicate ids {dup}")
        closing = data.get("talk_closing") or {}

        def closing_question(key: str) -> BankQuestion | None:
            item = closing.get(key)
            if not item:
                return None
            return _entry({"id": f"结尾-{key}", "dimension": "整改要求", **item}, "talk", path)

        def items(key: str) -> list[ClosingItem]:
            return [ClosingItem(str(i["text"]), [str(s) for s in i.get("source", [])]) for i in closing.get(key, []) or []]

        follow = closing.get("escalation_follow_up") or {}
        return cls(interview, talk, closing_question("rectification"), closing_question("feedback"),
                   items("arrangements"), items("escalation"), str(follow.get("text") or ""), path,
                   [str(w) for w in data.get("opposing_words") or []])

    def entries(self, kind: str, canonical: str, resolve: Callable[[str], str]) -> list[BankQuestion]:
        """The bank questions of one kind for a dimension (names resolved to canonical ones)."""
        pool = self.talk if kind == "talk" else self.interview
        return [e for e in pool if resolve(e.dimension) == canonical]

    def sources(self) -> list[str]:
        out: list[str] = []
        for e in self.interview + self.talk:
            out.extend(s for s in e.source if s not in out)
        return out


def _list(value: Any, where: str, path: Path) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise QuestionBankError(f"{path}: '{where}' must be a list")
    return value


def _entry(data: Any, kind: str, path: Path) -> BankQuestion:
    if not isinstance(data, dict):
        raise QuestionBankError(f"{path}: every {kind} entry must be a mapping")
    where = f"{kind} entry {data.get('id', '?')}"
    for key in ("id", "dimension", "purpose", "follow_ups", "source"):
        if not data.get(key):
            raise QuestionBankError(f"{path}: {where} lacks '{key}'")
    follow_ups = [str(f) for f in data["follow_ups"]]
    if not 1 <= len(follow_ups) <= 3:
        raise QuestionBankError(f"{path}: {where} needs 1–3 follow_ups")
    texts = {str(k): str(v) for k, v in (data.get("texts") or {}).items()}
    if kind == "interview" and not texts:
        raise QuestionBankError(f"{path}: {where} lacks 'texts'")
    if kind == "talk" and not data.get("text"):
        raise QuestionBankError(f"{path}: {where} lacks 'text'")
    unknown = set(texts) - set(GROUPS) - {"default"}
    if unknown:
        raise QuestionBankError(f"{path}: {where} has unknown interviewee groups {sorted(unknown)}")
    source = data["source"] if isinstance(data["source"], list) else [data["source"]]
    return BankQuestion(
        id=str(data["id"]), kind=kind, dimension=str(data["dimension"]), purpose=str(data["purpose"]),
        follow_ups=follow_ups, source=[str(s) for s in source], focus=[str(f) for f in data.get("focus") or []],
        texts=texts, text=str(data.get("text") or ""), finding=str(data.get("finding") or ""),
        standard=str(data.get("standard") or ""),
    )


def request_entry(phrase: str, dimension: str, kind: str) -> BankQuestion:
    """A question on something the request asks to concentrate on that no bank question covers
    (“重点谈脱贫攻坚方面的短板”): worded like the bank's, about the request's own words."""
    return BankQuestion(
        id=f"要求-{phrase}", kind=kind, dimension=dimension,
        purpose=f"按要求重点了解{phrase}方面的情况，用事例和数据把问题谈清楚",
        follow_ups=[f"在{phrase}方面，有哪些具体数据或事例能说明成效和差距？",
                    f"针对{phrase}方面的问题，{{who}}下一步有哪些具体举措和时限？"],
        source=[], focus=[phrase],
        texts={
            SELF: f"请您谈谈在{phrase}方面做了哪些工作，遇到的主要问题是什么，能否举一个具体事例？",
            "班子成员": f"据您了解，{{target}}在{phrase}方面是怎样做的，效果如何，能否举一个具体事例？",
            "市级领导": f"您怎样评价{{target}}在{phrase}方面的工作，有哪些长处和不足？",
            "其他干部群众": f"据您了解，{{target}}在{phrase}方面做了哪些事，群众怎么看，能否讲一个具体事例？",
        },
        text=f"对照{dimension}方面的要求，你作为{{target}}，本地区在{phrase}方面还存在哪些短板和问题，原因在哪里？",
        finding="有关材料反映：“{finding}”你作为{target}，怎样看待这一问题，准备怎样解决？",
        standard=dimension,
    )
