"""深度访谈提纲: bank questions chosen and ordered by the request, worded for the interviewee
group, each with its own 追问 and its 依据 (verified quotes attached, never pasted into the question).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kb.drafting.evidence import Evidence, similar, support
from kb.drafting.question_bank import SELF, BankQuestion
from kb.drafting.request import Dim, Plan, third_person
from kb.drafting.text import coverage, display, is_near_duplicate, norm, question_mark
from kb.models import Draft, DraftQuestion, DraftSection
from kb.citations.verify import plain
from kb.drafting.outline_bank import outline_entries
from kb.drafting.standard_questions import standard_entries
from kb.drafting.talk_kinds import kind_questions

if TYPE_CHECKING:  # pragma: no cover
    from kb.drafting.parts import DraftParts


def who_of(plan: Plan) -> str:
    return "您" if plan.interviewee == SELF else third_person(plan.target)


_ANGLE_SUFFIXES = (
    "的实际做法", "实际做法", "的具体事例", "具体事例", "的事例", "事例", "的具体做法", "的做法", "做法", "的具体举措", "举措",
    "的情况", "情况", "的表现", "表现", "的措施", "措施",
)


def angle_core(angle: str) -> str:
    """“支持民营企业发展壮大的具体举措” → “支持民营企业发展壮大”: the subject of an interview angle."""
    core = angle.strip().rstrip("。")
    core = re.sub(r"^可询问", "", core)
    for suffix in _ANGLE_SUFFIXES:
        if core.endswith(suffix) and len(core) > len(suffix) + 3:
            core = core[: -len(suffix)]
            break
    return core.rstrip("的、，")


def fallback_entries(dim: Dim, kind: str = "interview") -> list[BankQuestion]:
    """Questions for a dimension the bank has no entry for: from the framework's interview angles
    when it knows the dimension, else one open question about the dimension itself."""
    entries: list[BankQuestion] = []
    problems = [display(p) for p in dim.problems]
    observations = [display(o) for o in dim.observations]
    angles = [angle_core(a) for a in dim.angles] or [f"{dim.name}方面的工作"]
    for i, angle in enumerate(angles[:4]):
        fus = [f"对“{p}”这类问题，{{who}}是怎样看待和处理的？" for p in problems[i * 2 : i * 2 + 2]]
        fus = fus or [f"在{angle}上，{{who}}遇到的最大困难是什么，是怎样解决的？",
                      f"与{dim.name}的要求相比，{{who}}认为还有哪些差距？"]
        observation = max(observations, key=lambda o: coverage(o, angle) + coverage(angle, o)) if observations else ""
        purpose = f"考察{dim.canonical}：{observation}" if observation else f"了解{dim.name}方面的具体表现"
        entries.append(BankQuestion(
            id=f"框架-{dim.canonical}-{i + 1}", kind=kind, dimension=dim.canonical, purpose=purpose,
            follow_ups=fus, source=[], focus=[angle],
            texts=({
                SELF: f"请您谈谈在{angle}方面是怎样做的，能否举一个具体事例？",
                "班子成员": f"就{angle}，您认为{{target}}做得怎么样，能否举一个您亲历的具体事例？",
                "市级领导": f"您认为{{target}}在{angle}方面表现如何，与同类地区相比有哪些长处和不足？",
                "其他干部群众": f"据您了解，{{target}}在{angle}方面具体是怎样做的，能否讲一件您亲历或亲见的事情？",
            } if i % 2 == 0 else {
                SELF: f"在{angle}上，您遇到过哪些难题，是怎样推动解决的？",
                "班子成员": f"据您观察，{{target}}在{angle}上是怎样带领班子的，效果如何？",
                "市级领导": f"就{angle}而言，{{target}}有哪些需要改进的地方？",
                "其他干部群众": f"就{angle}，您亲眼看到{{target}}是怎样做的，当时的经过和结果怎样？",
            }),
            text=(f"对照{dim.name}方面的要求，你作为{{target}}，认为在{angle}上还存在哪些问题，准备怎样解决？" if i % 2 == 0
                  else f"对照{dim.name}的标准，在{angle}上，你作为{{target}}觉得自己差距在哪里，下一步有什么具体打算？"),
            finding="有关材料反映：“{finding}”你作为{target}，怎样看待这一问题，准备怎样解决？",
            standard=dim.name,
        ))
    return entries


def overlaps(entry: BankQuestion, texts: list[str]) -> bool:
    """A question made from a framework angle that an earlier question already asks about."""
    if not entry.id.startswith(("框架-", "要求-", "标准-")):
        return False
    return any(coverage(t, f) >= 0.5 for f in entry.focus for t in texts)


def pick_follow_ups(candidates: list[str], used: set[str], want: int = 2) -> list[str]:
    """Up to ``want`` follow-ups not already asked elsewhere in the draft."""
    out: list[str] = []
    for f in candidates:
        f = question_mark(f)
        key = plain(f)
        if key in used or any(plain(o) == key for o in out):
            continue
        out.append(f)
        if len(out) >= want:
            break
    for f in out:
        used.add(plain(f))
    return out


def attach(parts: "DraftParts", text: str, entry: BankQuestion, pool: list[Evidence], used: set[str],
           plan: Plan, most: int = 2) -> list[Evidence]:
    """The evidence to cite for one question: the best supported sentences of the pool (one from
    the knowledge base and, when it adds something, a second one), a framework line otherwise."""
    generic = parts.generic_for(plan)
    threshold = parts.settings.recheck_support
    focus = " ".join(entry.focus + entry.follow_ups)

    def score_all(candidates: list[Evidence], base: float | None, least: float) -> list[tuple[float, Evidence, float, int]]:
        out = []
        for ev in candidates:
            if plain(ev.quote) in used:
                continue
            s_text = support(text, ev.quote, generic)
            if s_text < (1.5 * threshold if ev.framework else least):
                continue  # a framework line is general: it must clearly match the question
            hits = entry.focus_hits(ev.quote)
            prior = ev.score / 4 if base is None else base  # how well it serves the dimension, when known
            score = 6.0 * support(f"{text}{focus}", ev.quote, generic) + 1.5 * min(hits, 2) + prior
            score += 0.0 if ev.framework else 1.0
            out.append((score, ev, s_text, hits))
        return out

    scored = score_all(pool, None, threshold)
    # sentences retrieved for the question itself, besides those found for its dimension
    seen = {plain(ev.quote) for ev in pool}
    extra = [ev for ev in parts.finder.for_text(f"{text} {' '.join(entry.focus)}", generic)
             if not ev.framework and plain(ev.quote) not in seen]
    scored += score_all(extra, 1.5, 1.5 * threshold)  # found for the words alone: must back them clearly
    scored.sort(key=lambda x: -x[0])
    chosen: list[Evidence] = []
    for _, ev, s_text, hits in scored:
        if chosen and (ev.framework or any(similar(ev, c) for c in chosen)):
            continue
        if chosen and not (hits or s_text >= 1.5 * threshold):
            continue  # a second source must clearly bear on the question: a weak one is worse than none
        if chosen and chosen[0].framework:
            break
        chosen.append(ev)
        if len(chosen) >= most:
            break
    return chosen


def bring_along(entry: BankQuestion, used: set[str]) -> list[Evidence]:
    """The 依据 a question carries itself (an outline's question: its own span), cited even when another
    question cites it too: it is where the question comes from."""
    return list(entry.evidence)


def brought(entry: BankQuestion) -> set[str]:
    return {plain(ev.quote) for ev in entry.evidence}


def rank_entries(entries: list[BankQuestion], plan: Plan, pool: list[Evidence], parts: "DraftParts") -> list[BankQuestion]:
    """Bank questions in the order a request wants them: focus words of the request first, then
    how well the knowledge base backs them."""
    request = plan.request + " " + " ".join(plan.request_terms)
    top = pool[:30]

    def score(e: BankQuestion) -> float:
        req = e.focus_hits(request)
        backed = max((min(e.focus_hits(ev.quote), 3) + (0 if ev.framework else 0.5) for ev in top), default=0.0)
        return 3.0 * req + 1.0 * backed - 0.01 * entries.index(e)

    return sorted(entries, key=lambda e: -score(e))


def build(parts: "DraftParts", plan: Plan, evidence: dict[str, list[Evidence]], cites, draft: Draft) -> list[DraftSection]:
    threshold = parts.settings.near_duplicate_jaccard
    used_quotes: set[str] = set()
    used_follow_ups: set[str] = set()
    texts: list[str] = []
    sections = []
    group = plan.interviewee
    target = third_person(plan.target)
    who = who_of(plan)
    kind = plan.talk_kind
    if kind is not None and kind.questions and kind.own_questions:
        # the kind's own questions (自评: the self-assessment against the standards) come first
        own = kind_questions(parts, plan, kind, cites, used_quotes, used_follow_ups, texts, kind.own_questions,
                             who="您" if plan.interviewee == SELF else target)
        if own:
            sections.append(DraftSection(dimension=kind.question_part, questions=own))
    for dim in plan.dims:
        section = DraftSection(dimension=dim.name)
        pool = evidence[dim.canonical]
        ranked = rank_entries(parts.bank_entries("interview", dim), plan, pool, parts)
        # the request's own focus first, then the bank's best question, the site's own outlines, the rest of
        # the bank, one question in the standard's own words, then the framework's angles (measured: a
        # standard question placed before the bank's own displaced questions the requests asked about)
        entries = (plan.extra_entries.get(dim.canonical, []) + ranked[:1] + outline_entries(parts, plan, dim)
                   + ranked[1:] + standard_entries(dim, opposing=parts.bank.opposing_words) + fallback_entries(dim))
        if pool:
            for entry in entries:
                if len(section.questions) >= plan.count:
                    break
                text = question_mark(entry.render(group, target))
                if is_near_duplicate(text, texts, threshold) or norm(text) in {norm(t) for t in plan.exclude}:
                    continue
                if overlaps(entry, texts + plan.exclude):
                    continue
                chosen = bring_along(entry, used_quotes) + attach(parts, text, entry, pool, used_quotes | brought(entry), plan,
                                                                  most=1 if entry.evidence else 2)
                citations = [cites.cite(ev.hit, ev.quote) for ev in chosen]
                if not any(c.verified for c in citations):
                    continue
                follow_ups = pick_follow_ups(entry.render_follow_ups(who, target), used_follow_ups)
                purpose = f"考察{dim.canonical}：{entry.purpose}" if not entry.purpose.startswith(("考察", "了解")) else entry.purpose
                for ev in chosen:
                    used_quotes.add(plain(ev.quote))
                texts.append(text)
                section.questions.append(DraftQuestion(text=text, follow_ups=follow_ups, purpose=purpose, citations=citations))
        if pool and len(section.questions) < plan.count:
            draft.warnings.append(
                f"“{dim.name}”方面依据不足，只生成了{len(section.questions)}个问题（要求{plan.count}个）。"
            )
        sections.append(section)
    return sections


def opening(plan: Plan, sections: list[DraftSection]) -> str:
    """访谈说明: who is interviewed about whom, one to one, on what."""
    named = [s.dimension for s in sections if s.questions]
    person = plan.interviewee_detail or plan.interviewee
    about = "、".join(named) or "各方面"
    if plan.interviewee == SELF:
        return (f"本提纲用于与{third_person(plan.target)}本人一对一深度访谈，请其围绕{about}讲自己的做法，"
                f"用具体事例和数据说话；对回避的问题耐心引导，迎着问题谈。")
    return (f"本提纲用于对{person}的一对一深度访谈，了解{third_person(plan.target)}在{about}方面的具体表现；"
            f"请对方讲亲历亲见的事实，访谈内容严格保密。")
