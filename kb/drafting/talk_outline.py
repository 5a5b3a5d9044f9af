"""谈话提纲 (the Anhui practice of 党内政治监督谈话): an opening (who talks to whom, one to one,
purpose), 3–4 issue questions, then 整改要求 and the arrangements after the talk.

An issue question states a problem *of this target* only when the user's own materials say so
(``DraftRequest.materials``): the finding is then quoted whole, in quotation marks, and cited.
Otherwise the question probes, naming the standard it rests on; what other places were found to
do wrong is 依据 for the question, never an accusation against this person.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kb.drafting.evidence import Evidence
from kb.drafting.interview_outline import attach, bring_along, brought, fallback_entries, overlaps, pick_follow_ups
from kb.drafting.question_bank import BankQuestion
from kb.drafting.request import Plan, third_person
from kb.drafting.outline_bank import outline_entries
from kb.drafting.standard_questions import standard_entries
from kb.drafting.talk_kinds import kind_questions, part_lines
from kb.drafting.text import fill, finding_score, fullwidth, is_near_duplicate, norm, question_mark
from kb.models import Draft, DraftQuestion, DraftSection
from kb.citations.verify import plain

if TYPE_CHECKING:  # pragma: no cover
    from kb.drafting.parts import DraftParts

RECTIFICATION_SECTION = "整改要求"
TALK_MIN, TALK_MAX = 3, 4


def quoted(quote: str) -> str:
    """A finding quoted whole inside “…”, its own closing punctuation kept inside the marks."""
    body = fullwidth(quote).strip().strip("“”")
    if not body.endswith(("。", "！", "？", "；")):
        body += "。"
    return body


def _rank(entries: list[BankQuestion], plan: Plan, pool: list[Evidence]) -> list[BankQuestion]:
    request = plan.request + " " + " ".join(plan.request_terms)

    def score(e: BankQuestion) -> float:
        backed = max((min(e.focus_hits(ev.quote), 3) for ev in pool[:30]), default=0)
        return 3.0 * e.focus_hits(request) + backed - 0.01 * entries.index(e)

    return sorted(entries, key=lambda e: -score(e))


def build(parts: "DraftParts", plan: Plan, evidence: dict[str, list[Evidence]], cites, draft: Draft) -> list[DraftSection]:
    threshold = parts.settings.near_duplicate_jaccard
    target = third_person(plan.target)
    rect = _closing_question(parts, plan, cites) if plan.rectification else None
    with_evidence = [d for d in plan.dims if evidence[d.canonical]]
    kind = plan.talk_kind if plan.talk_kind is not None and plan.talk_kind.questions else None
    if rect is not None:
        issues_wanted = TALK_MAX - 1
    elif kind is not None:
        issues_wanted = TALK_MAX  # the kind's own questions, then the standards asked about
    else:
        issues_wanted = min(TALK_MAX, max(TALK_MIN, len(with_evidence)))
    # candidate questions per dimension, best first
    queues: dict[str, list[BankQuestion]] = {}
    for dim in with_evidence:
        bank = parts.bank_entries("talk", dim)
        ranked = _rank(bank, plan, evidence[dim.canonical])
        queues[dim.canonical] = (plan.extra_entries.get(dim.canonical, []) + ranked[:1] + outline_entries(parts, plan, dim)
                                 + standard_entries(dim, kind="talk", opposing=parts.bank.opposing_words) + ranked[1:] + fallback_entries(dim, kind="talk"))
    # the user's own materials about this target (a report, a collection of findings), if named
    own = parts.finder.materials_filter(plan.materials)
    materials = {d.canonical: parts.finder.kb_evidence(d, plan, filters=own, material=True) for d in with_evidence} if own else {}
    used_quotes: set[str] = set()
    used_follow_ups: set[str] = set()
    texts: list[str] = []
    by_dim: dict[str, list[DraftQuestion]] = {d.canonical: [] for d in plan.dims}
    own_questions: list[DraftQuestion] = []
    if kind is not None:
        # what this kind of talk is for, from the knowledge base's own statements of it; one place is
        # left for the standards the request names
        want = min(kind.own_questions, issues_wanted - (1 if with_evidence else 0))
        own_questions = kind_questions(parts, plan, kind, cites, used_quotes, used_follow_ups, texts, want, who="你")
    total = len(own_questions)
    rounds = 0
    while total < issues_wanted and rounds < 4 * TALK_MAX and with_evidence:
        dim = with_evidence[rounds % len(with_evidence)]
        rounds += 1
        queue = queues[dim.canonical]
        while queue:
            entry = queue.pop(0)
            if overlaps(entry, texts + plan.exclude):
                continue
            question = _issue_question(parts, plan, dim, entry, evidence[dim.canonical], materials.get(dim.canonical, []),
                                       used_quotes, used_follow_ups, cites, target)
            if question is None or is_near_duplicate(question.text, texts, threshold):
                continue
            if norm(question.text) in {norm(t) for t in plan.exclude}:
                continue
            texts.append(question.text)
            by_dim[dim.canonical].append(question)
            total += 1
            break
    sections = [DraftSection(dimension=kind.question_part, questions=own_questions)] if own_questions else []
    for dim in plan.dims:
        section = DraftSection(dimension=dim.name, questions=by_dim[dim.canonical])
        if evidence[dim.canonical] and not section.questions:
            draft.warnings.append(f"谈话提纲一般只列{TALK_MIN}至{TALK_MAX}个问题，“{dim.name}”方面未单列问题。")
        sections.append(section)
    if rect is not None:
        sections.append(DraftSection(dimension=RECTIFICATION_SECTION, questions=[rect]))
    if kind is not None and not own_questions:
        draft.warnings.append(f"知识库中没有找到关于{kind.label}的规定或做法，本提纲按考察标准起草问题。")
    n_questions = sum(len(s.questions) for s in sections)
    if n_questions < TALK_MIN:
        draft.warnings.append(f"知识库依据不足，谈话提纲只有{n_questions}个问题（一般为{TALK_MIN}至{TALK_MAX}个）。")
    draft.opening = opening(parts, plan, sections)
    draft.closing = closing(parts, plan)
    return sections


def _issue_question(parts, plan: Plan, dim, entry: BankQuestion, pool: list[Evidence], findings: list[Evidence],
                    used_quotes: set[str], used_follow_ups: set[str], cites, target: str) -> DraftQuestion | None:
    follow_cands = entry.render_follow_ups("你", target)
    standard = entry.standard or dim.name
    # the user's own materials about this target: a finding is put to the person, quoted whole
    finding = next((f for f in findings if plain(f.quote) not in used_quotes and finding_score(f.quote) >= 1.0
                    and entry.focus_hits(f.quote) + (1 if any(norm(t) in norm(f.quote) for t in dim.terms) else 0) > 0), None)
    if finding is None:
        finding = next((f for f in findings if plain(f.quote) not in used_quotes and finding_score(f.quote) >= 1.0), None)
    if finding is not None and entry.finding:
        text = question_mark(fill(entry.finding, finding=quoted(finding.quote), target=target))
        citations = [cites.cite(finding.hit, finding.quote)]
        used_quotes.add(plain(finding.quote))
        support_ev = attach(parts, text, entry, pool, used_quotes, plan, most=1)  # the standard behind it
        citations += [cites.cite(ev.hit, ev.quote) for ev in support_ev]
        for ev in support_ev:
            used_quotes.add(plain(ev.quote))
        purpose = f"点明材料反映的{dim.name}方面问题，对照“{standard}”的要求听取说明"
    else:
        text = question_mark(entry.render("", target))
        chosen = bring_along(entry, used_quotes) + attach(parts, text, entry, pool, used_quotes | brought(entry), plan,
                                                          most=1 if entry.evidence else 2)
        citations = [cites.cite(ev.hit, ev.quote) for ev in chosen]
        for ev in chosen:
            used_quotes.add(plain(ev.quote))
        what = re.sub(r"^(?:考察|了解)[^：]{0,12}：", "", entry.purpose)
        purpose = f"对照“{standard}”的要求谈清问题：{what}"
    if not any(c.verified for c in citations):
        return None
    follow_ups = pick_follow_ups(follow_cands, used_follow_ups)
    return DraftQuestion(text=text, follow_ups=follow_ups, purpose=purpose, citations=citations)


def _closing_question(parts: "DraftParts", plan: Plan, cites) -> DraftQuestion | None:
    """The closing 整改要求, backed by the knowledge base's own rectification practice."""
    bank = parts.bank
    entry = (bank.feedback if plan.feedback else None) or bank.rectification
    if entry is None:
        return None
    target = third_person(plan.target)
    text = question_mark(fill(entry.text, target=target))
    generic = parts.generic_for(plan)
    query = f"{text} {entry.purpose} {plan.request} 整改"
    candidates = [ev for ev in parts.finder.for_text(query, generic) if not ev.framework or ev.part == "整改要求"]
    threshold = parts.settings.recheck_support

    from kb.drafting.evidence import support

    ranked = sorted(
        (ev for ev in candidates if support(text, ev.quote, generic) >= threshold),
        key=lambda ev: -(support(f"{text}{entry.purpose}", ev.quote, generic) + (0.3 if "整改" in ev.quote else 0.0)
                         + (0.0 if ev.framework else 0.2)),
    )
    chosen: list[Evidence] = []
    for ev in ranked:
        if any(plain(ev.quote) in plain(c.quote) or plain(c.quote) in plain(ev.quote) for c in chosen):
            continue
        chosen.append(ev)
        if len(chosen) >= 2:
            break
    follow_ups = [question_mark(f) for f in entry.render_follow_ups("你", target)][:2]
    if plan.escalation and bank.escalation_follow_up:
        # the follow-up ladder the request asks for, backed by the practice that prescribes it
        ladder = [ev for ev in parts.finder.phrase_evidence("组织调整", plan)
                  if sum(w in ev.quote for w in ("谈话提醒", "民主生活会", "专项整治", "组织调整")) >= 3]
        if ladder and not any(plain(ladder[0].quote) == plain(c.quote) for c in chosen):
            chosen.append(ladder[0])
            follow_ups = [follow_ups[0], question_mark(bank.escalation_follow_up)]
    citations = [cites.cite(ev.hit, ev.quote) for ev in chosen]
    if not any(c.verified for c in citations):
        return None
    return DraftQuestion(text=text, follow_ups=follow_ups, purpose=entry.purpose, citations=citations)


def opening(parts: "DraftParts", plan: Plan, sections: list[DraftSection]) -> str:
    target = third_person(plan.target)
    speaker = plan.speaker or "谈话人"
    issues = [s for s in sections if s.questions and s.dimension != RECTIFICATION_SECTION]
    n = sum(len(s.questions) for s in issues)
    named = "、".join(s.dimension for s in issues) + "方面" if issues else "有关方面"
    kind = plan.talk_kind
    if kind is not None and kind.key != "supervision" and not plan.feedback:
        return (f"{speaker}与{target}{kind.label}，专人记录。{kind.purpose}"
                f"本次谈{named}的{n}个问题。")
    if plan.feedback:
        return (f"{speaker}与{target}一对一谈话，专人记录，通报反馈考察结果：先对{target}同志的工作作总体评价，"
                f"肯定成绩和亮点（结合考察掌握的情况列举）；再就{named}的{n}个问题逐一谈清楚，"
                f"听取说明和意见建议；最后提出整改要求。")
    return (f"{speaker}与{target}进行一对一党内政治监督谈话，专人全程记录。谈话重在把问题谈清楚、讲明白，"
            f"区别于一般工作谈话、诫勉谈话和廉政谈话。先对{target}同志的工作作总体评价，肯定成绩和亮点"
            f"（结合综合考核和日常监督掌握的情况列举）；再就{named}的{n}个问题逐一谈，"
            f"用具体事例和数据说话，听取说明和意见建议。")


def closing(parts: "DraftParts", plan: Plan) -> list[str]:
    """谈后安排: reporting and follow-up; the escalation ladder when the request asks for it."""
    bank = parts.bank
    kind = plan.talk_kind
    if kind is not None and kind.key != "supervision" and not plan.feedback:
        # the kind's own required parts, each with where the knowledge base states it
        out = part_lines(parts, kind)
        if plan.escalation:
            ladder = "→".join(item.text.rstrip("。") for item in bank.escalation)
            if ladder:
                out.append(f"整改不力的，依次采取：{ladder}。")
        return out
    out = [item.text for item in bank.arrangements] if plan.rectification or plan.escalation else []
    if plan.escalation:
        ladder = "→".join(item.text.rstrip("。") for item in bank.escalation)
        if ladder:
            out.append(f"整改不力的，依次采取：{ladder}。")
    return out
