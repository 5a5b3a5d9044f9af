"""The LLM path: an OpenAI-compatible model phrases the answer from numbered contexts; its output is
verified (every [n] must name a given context, every claim must be supported by a verbatim span of the
context it cites). When it is not, the extractive answer is returned and says it fell back.

The model never overturns a refusal, and never an answer the binding rules blocked (a question about
江苏 over documents about 安徽 stays "related" whatever the model writes). A "related" answer whose
evidence the calibrated model only doubted is given to the model, which may answer it — with verified
citations only.
"""
from __future__ import annotations

import re
from typing import Iterator

from kb.models import REFUSAL_TEXT, Answer, Citation, Hit
from kb.citations.verify import CITATION_MARK, bigram_precision, split_claims


def contexts_block(hits: list[Hit]) -> str:
    blocks = []
    for i, h in enumerate(hits, 1):
        c = h.chunk
        where = " > ".join(p for p in (c.section, c.article) if p)
        blocks.append(f"[{i}] 《{c.title}》{(' ' + where) if where else ''}\n{c.text}")
    return "\n\n".join(blocks)


def pieces(text: str, size: int = 12) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


class LLMAnswerer:
    def __init__(self, services):
        self.services = services
        self.settings = services.settings

    def stream(self, analysis, hits: list[Hit], extractive: Answer) -> Iterator[str | Answer]:
        from kb.generation.llm import LLMError

        template = self.services.prompts.get("answer")
        # the prompt gets the question as searched (a pasted document is cut to 2000 characters),
        # so an oversized question cannot push the contexts out of the model's window
        values = {"question": analysis.question, "contexts": contexts_block(hits), "refusal": REFUSAL_TEXT}
        prompt = template.render(**values)
        system = template.render_system(**values) if hasattr(template, "render_system") else None
        llm = self.services.llm
        text = ""
        try:
            try:
                for piece in llm.stream(prompt, system=system):
                    text += piece
                    yield piece
            except LLMError as exc:
                # Some OpenAI-compatible servers ignore "stream": true and send one JSON completion,
                # which reads as an empty event stream: ask once more without streaming.
                if text or getattr(exc, "kind", None) != "malformed":
                    raise
                text = llm.complete(prompt, system=system)
                if text:
                    yield text
        except LLMError as exc:
            if text:
                yield "\n\n"  # the UI replaces the streamed text with the final answer
            answer = self.fallback(extractive, f"LLM unavailable: {exc}", unavailable=True)
            if not text:
                yield from pieces(answer.answer)
            yield answer
            return
        answer = self.verify(extractive.question, text, hits, extractive)
        if answer.mode == "llm-fallback":
            yield "\n\n"  # the UI replaces the streamed text with the final answer
        yield answer

    @staticmethod
    def fallback(extractive: Answer, reason: str, unavailable: bool = False) -> Answer:
        extractive.mode = "llm-fallback"
        extractive.notes.insert(0, f"fell back to the extractive answer: {reason}")
        if extractive.status == "answered":
            why = "模型暂时不可用" if unavailable else "模型回答未通过引用核验"
            extractive.answer = f"（{why}，以下为原文摘录）\n" + extractive.answer
        return extractive

    def verify(self, question: str, text: str, hits: list[Hit], extractive: Answer) -> Answer:
        text = text.strip()
        if not text:
            return self.fallback(extractive, "empty model output")
        marks = [int(n) for n in CITATION_MARK.findall(text)]
        if REFUSAL_TEXT in text and not marks:
            if extractive.status == "related":
                # the model agrees nothing answers: the related passages stay, unchanged
                extractive.mode = "llm"
                extractive.notes.insert(0, "the model found no answer in the contexts")
                return extractive
            return Answer(question=question, answer=REFUSAL_TEXT, refused=True, mode="llm", contexts=hits,
                          notes=["the model found no answer in the contexts"], status="refused")
        if not marks:
            return self.fallback(extractive, "the model gave no citation")
        bad = sorted({n for n in marks if n < 1 or n > len(hits)})
        if bad:
            return self.fallback(extractive, f"the model cited contexts that were not given: {bad}")
        verifier = self.services.verifier
        citations: dict[int, Citation] = {}
        unsupported: list[str] = []
        # "……。[1]" and "……[1]。" both tie [1] to the sentence before it
        sentences = split_claims(text)
        threshold = self.settings.answer.support_threshold
        claim_count = 0
        for sentence in sentences:
            ns = list(dict.fromkeys(int(n) for n in CITATION_MARK.findall(sentence)))
            claim = CITATION_MARK.sub("", sentence).strip()
            if not claim or not re.search(r"\w", claim):
                continue
            claim_count += 1
            quotes = []
            for n in ns:
                hit = hits[n - 1]
                quote = verifier.best_span(claim, hit.chunk.text)
                if n not in citations:
                    citations[n] = verifier.cite(n, hit, quote)
                quotes.append(quote)
            if not ns or bigram_precision(claim, quotes) < threshold:
                unsupported.append(sentence)
        if not citations:
            return self.fallback(extractive, "no sentence of the model's answer carries a citation")
        if any(not c.verified for c in citations.values()):
            return self.fallback(extractive, "a cited quote was not found verbatim in its document")
        if claim_count and len(unsupported) / claim_count > 0.5:
            return self.fallback(extractive, "most sentences are not supported by their sources")
        notes = ["the model answered a question the extractive answerer found only related material for"] if extractive.status == "related" else []
        return Answer(
            question=question,
            answer=text,
            refused=False,
            mode="llm",
            citations=[citations[n] for n in sorted(citations)],
            unsupported=unsupported,
            contexts=hits,
            status="answered",
            notes=notes,
        )
