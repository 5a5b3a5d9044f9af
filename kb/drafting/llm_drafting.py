"""Drafting with a language model: the model adapts the bank questions chosen for a section to
the numbered evidence (``prompts/draft.yaml``). Every question must cite existing evidence; its
quote is the chunk span that best supports it and is verified against the stored document, and
it must pass the same support check as an edited question. Anything that fails is replaced by
the extractive question and the draft says so in ``warnings``."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from kb.drafting.evidence import Evidence, support
from kb.drafting.request import KIND_LABELS, Dim, Plan
from kb.drafting.text import clean_quote, is_near_duplicate, question_mark
from kb.models import Draft, DraftQuestion, DraftSection, Hit

if TYPE_CHECKING:  # pragma: no cover
    from kb.drafting.parts import DraftParts


def with_llm(parts: "DraftParts", plan: Plan, evidence: dict[str, list[Evidence]], cites, draft: Draft,
             extractive: list[DraftSection]) -> list[DraftSection]:
    """Let the model draft each section from the same evidence; keep only questions that cite
    existing evidence with a verified quote, fill the rest from the extractive draft."""
    from kb.generation.llm import LLMError

    threshold = parts.settings.near_duplicate_jaccard
    by_dim = {s.dimension: s for s in extractive}
    out: list[DraftSection] = []
    for dim in plan.dims:
        fallback = by_dim.get(dim.name, DraftSection(dimension=dim.name))
        want = len(fallback.questions)
        if want == 0:
            out.append(fallback)
            continue
        contexts = llm_contexts(evidence[dim.canonical])
        try:
            raw = llm_call(parts, plan, dim, contexts, want, fallback.questions)
        except LLMError as exc:
            draft.warnings.append(f"语言模型调用失败（{exc}），本提纲全部改用摘录方式生成。")
            return extractive
        items = parse_llm_items(raw)
        if items is None:
            draft.warnings.append(f"“{dim.name}”方面：模型输出无法解析为问题列表，本部分改用摘录生成的问题。")
            out.append(fallback)
            continue
        accepted: list[DraftQuestion] = []
        others = [q.text for s in out for q in s.questions]
        for i, item in enumerate(items, 1):
            if len(accepted) >= want:
                break
            spare = fallback.questions[len(accepted)] if len(accepted) < len(fallback.questions) else None
            question, problem = llm_question(parts, plan, item, contexts, cites, spare)
            if question is not None and is_near_duplicate(question.text, others + [q.text for q in accepted], threshold):
                question, problem = None, "与其他问题重复"
            if question is None:
                draft.warnings.append(f"“{dim.name}”方面：模型起草的第{i}个问题{problem}，已改用摘录生成的问题。")
                continue
            accepted.append(question)
        for q in fallback.questions:
            if len(accepted) >= want:
                break
            if not is_near_duplicate(q.text, others + [a.text for a in accepted], threshold):
                accepted.append(q)
        out.append(DraftSection(dimension=dim.name, questions=accepted))
    out.extend(s for s in extractive if s.dimension not in {d.name for d in plan.dims})
    return out


def llm_contexts(evidence: list[Evidence], limit: int = 6) -> list[Hit]:
    contexts: list[Hit] = []
    seen: set[str] = set()
    for ev in evidence:
        if ev.hit.chunk.chunk_id in seen:
            continue
        seen.add(ev.hit.chunk.chunk_id)
        contexts.append(ev.hit)
        if len(contexts) >= limit:
            break
    return contexts


def llm_call(parts: "DraftParts", plan: Plan, dim: Dim, contexts: list[Hit], count: int,
             bank_questions: list[DraftQuestion]) -> str:
    prompt = parts.services.prompts.get("draft")
    lines: list[str] = []
    if dim.known is not None:
        k = dim.known
        lines += [f"内涵：{k.meaning}", "观察要点：", *[f"- {p}" for p in k.observation_points],
                  "常见问题：", *[f"- {p}" for p in k.typical_problems]]
    else:
        lines.append(f"（框架中没有“{dim.name}”的条目，请只依据资料出题）")
    if bank_questions:
        lines.append("问题库中选出的问题（请结合资料改写，保持考察意图，不要照抄资料原文）：")
        for q in bank_questions:
            lines.append(f"- {q.text}（考察意图：{q.purpose}；追问：{' '.join(q.follow_ups)}）")
    blocks = []
    for n, hit in enumerate(contexts, 1):
        c = hit.chunk
        where = " > ".join(p for p in (c.section, c.article) if p)
        blocks.append(f"[{n}]《{c.title}》{where}\n{c.text}")
    values = {
        "kind_label": KIND_LABELS[plan.kind],
        "target": plan.target,
        "interviewee": plan.interviewee or f"{plan.target}（谈话对象本人）",
        "dimension": dim.name,
        "count": str(count),
        "request": plan.request or "无",
        "framework": "\n".join(lines),
        "contexts": "\n\n".join(blocks),
    }
    return parts.services.llm.complete(prompt.render(**values), system=prompt.render_system(**values))


def llm_question(parts: "DraftParts", plan: Plan, item: Any, contexts: list[Hit], cites,
                 spare: DraftQuestion | None = None) -> tuple[DraftQuestion | None, str]:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
        return None, "格式不符"
    raw_cites = item.get("cite")
    if isinstance(raw_cites, int):
        raw_cites = [raw_cites]
    numbers: list[int] = []
    for value in raw_cites if isinstance(raw_cites, list) else []:
        try:
            numbers.append(int(value))
        except (TypeError, ValueError):
            return None, f"引用编号“{value}”无效"
    if not numbers:
        return None, "没有注明依据"
    missing = [n for n in numbers if not 1 <= n <= len(contexts)]
    if missing:
        return None, "引用了不存在的资料" + "".join(f"[{n}]" for n in missing)
    text = question_mark(item["text"])
    purpose = str(item.get("purpose") or "").strip() or (spare.purpose if spare else "")
    follow_ups = [question_mark(str(f)) for f in (item.get("follow_ups") or []) if str(f).strip()][:2]
    if not follow_ups and spare is not None:
        follow_ups = list(spare.follow_ups)
    if not follow_ups:
        return None, "没有追问"
    generic = parts.generic_for(plan)
    citations = []
    for n in dict.fromkeys(numbers):
        hit = contexts[n - 1]
        quote = clean_quote(parts.services.verifier.best_span(f"{text}{purpose}", hit.chunk.text))
        citation = cites.cite(hit, quote)
        if not citation.verified:
            return None, f"引用资料[{n}]的原文无法核验"
        citations.append(citation)
    if not any(support(text, c.quote, generic) >= parts.settings.recheck_support for c in citations):
        return None, "与所引资料对不上"
    return DraftQuestion(text=text, follow_ups=follow_ups, purpose=purpose, citations=citations, origin="llm"), ""


def parse_llm_items(raw: str) -> list[Any] | None:
    """The JSON list a model returned (code fences and chatter around it tolerated); None if unusable."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, list) or not data:
        return None
    return data
