"""Questions in a standard's own words: each dimension's 内涵 in the criteria framework names
its core formulations in quotation marks (“两个维护”“四个意识”, “一岗双责”); a question asks about them
by those words, and its 依据 is the standard's line itself (attached by the outline builders).
"""
from __future__ import annotations

import re

from kb.drafting.criteria import KIND_FIVE_POLITICS
from kb.drafting.question_bank import SELF, BankQuestion
from kb.drafting.request import Dim
from kb.drafting.text import has_placeholder, norm
from kb.citations.verify import split_sentences

_QUOTED = re.compile(r"“([^”]{2,12})”")


def formulations(dim: Dim, opposing: list[str] = ()) -> list[list[str]]:
    """Groups of quoted formulations, one group per sentence of the dimension's 内涵."""
    if dim.known is None or dim.known.kind != KIND_FIVE_POLITICS:
        # a 重点领域's 内涵 mostly names the problems found (“唯票取人”), not what the standard asks
        return []
    # the 内涵 only: it states what the standard requires; 观察要点 also name what to watch for
    # (“一言堂”), which no question may put as a requirement. A clause ranking the standard among the
    # others (“是“五个政治”中排在首位的标准”) names the framework, not what the standard asks.
    lines = [c for s in split_sentences(dim.known.meaning or "") for c in re.split(r"[，；]", s) if "标准" not in c]
    out: list[list[str]] = []
    seen: set[str] = set()
    for line in lines:
        terms = [m.group(1) for m in _QUOTED.finditer(line)
                 if not has_placeholder(m.group(1)) and norm(m.group(1)) not in seen
                 and not any(w in line for w in opposing)]
        if not terms:
            continue
        seen.update(norm(t) for t in terms)
        out.append(terms[:2])
    return out


def standard_entries(dim: Dim, kind: str = "interview", most: int = 1, opposing: list[str] = ()) -> list[BankQuestion]:
    """Up to ``most`` questions asking about the dimension's core formulations in their own words."""
    entries = []
    for i, terms in enumerate(formulations(dim, opposing)[:most]):
        named = "".join(f"“{t}”" for t in terms)
        entries.append(BankQuestion(
            id=f"标准-{dim.canonical}-{i + 1}", kind=kind, dimension=dim.canonical,
            purpose=f"考察{dim.canonical}：对照标准中{named}的提法，看具体做法和实际成效",
            follow_ups=[f"在落实{named}上，有没有做得不够的地方，原因是什么？",
                        "能否用一两个具体事例或数据说明？"],
            source=[], focus=list(terms),
            texts={
                SELF: f"对照{dim.name}内涵中{named}的要求，请您谈谈自己是怎样做的，能否举一个具体事例？",
                "班子成员": f"对照{dim.name}内涵中{named}的要求，您认为{{target}}做得怎么样，能否举一个您亲历的事例？",
                "市级领导": f"对照{dim.name}内涵中{named}的要求，您怎样评价{{target}}，与同类地区相比有哪些长处和不足？",
                "其他干部群众": f"据您了解，{{target}}在{named}方面是怎样做的，能否讲一件您亲历或亲见的事情？",
            },
            text=f"对照{dim.name}内涵中{named}的要求，你作为{{target}}还有哪些差距，准备怎样改进？",
            finding="有关材料反映：“{finding}”你作为{target}，怎样看待这一问题，准备怎样解决？",
            standard=dim.name,
        ))
    return entries
