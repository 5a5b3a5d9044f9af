"""Answering: question analysis, evidence, binding, composition, answerability, the LLM path.

One stage per file (see service.py for the flow); `AnswerService` is the entry point.
"""
from kb.answering.service import AnswerService

__all__ = ["AnswerService"]
