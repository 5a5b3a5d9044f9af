"""The language-model component: one small interface over an OpenAI-compatible server or a script.

Modes (``settings.llm.mode``):
  * ``none``   — no model; :func:`build_llm` returns ``None`` and callers fall back to extractive
                 answers / outlines.
  * ``openai`` — any OpenAI-compatible chat-completions server (vLLM, Ollama, LM Studio, a
                 gateway) through llama-index's ``OpenAILike``, configured explicitly here and never
                 through the global ``llama_index.core.Settings``.
  * ``mock``   — :class:`ScriptedLLM`, canned responses for tests and offline demos.

Every failure (HTTP error status, timeout, refused connection, malformed response) surfaces as
:class:`LLMError`, so callers need exactly one ``except`` to fall back.
"""
from __future__ import annotations

import threading
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

from kb.models import REFUSAL_TEXT
from kb.settings import LLMSettings


class LLMError(Exception):
    """Any failure of a language-model call.

    ``kind`` is one of ``http`` (error status), ``timeout``, ``connection``, ``malformed``
    (unusable response) or ``scripted`` (a failure a :class:`ScriptedLLM` was told to raise);
    ``status_code`` is set for ``http``.
    """

    def __init__(self, message: str, kind: str = "malformed", status_code: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code


@runtime_checkable
class LLMClient(Protocol):
    mode: str

    def complete(self, prompt: str, system: str | None = None) -> str:
        """The whole reply to one user prompt (with an optional system prompt)."""
        ...

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        """The reply as text deltas, in order; joined they equal what ``complete`` returns."""
        ...

    def as_llama_llm(self) -> Any:
        """The llama-index LLM object behind this client, for llama-index query engines."""
        ...


def build_llm(settings: LLMSettings, responses: Sequence[str | BaseException] | None = None) -> LLMClient | None:
    """The client for ``settings.mode``; ``None`` for mode ``none``.

    ``responses`` only applies to mode ``mock``; without it the mock always refuses, which is the
    one answer that is never a wrong citation.
    """
    if settings.mode == "none":
        return None
    if settings.mode == "openai":
        return OpenAICompatibleLLM(settings)
    if settings.mode == "mock":
        return ScriptedLLM(list(responses) if responses else [REFUSAL_TEXT])
    raise ValueError(f"unknown llm mode {settings.mode!r} (expected none, openai or mock)")


# --------------------------------------------------------------------------------------------
# mode openai
# --------------------------------------------------------------------------------------------
class OpenAICompatibleLLM:
    """Chat completions against an OpenAI-compatible server, via llama-index ``OpenAILike``."""

    mode = "openai"

    def __init__(self, settings: LLMSettings):
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError as exc:  # a core dependency, so this means a broken install
            raise ImportError(
                "llm mode 'openai' needs llama-index-llms-openai-like: pip install -e ."
            ) from exc
        self.settings = settings
        self._llm = OpenAILike(
            model=settings.model,
            api_base=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.timeout,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            context_window=settings.context_window,
            is_chat_model=True,
            is_function_calling_model=False,
            # No retries: a dead or slow server must fail fast so the caller can fall back to
            # an extractive answer instead of making the user wait several timeouts.
            max_retries=0,
        )

    def as_llama_llm(self) -> Any:
        return self._llm

    def _messages(self, prompt: str, system: str | None) -> list[Any]:
        from llama_index.core.llms import ChatMessage, MessageRole

        messages = []
        if system:
            messages.append(ChatMessage(role=MessageRole.SYSTEM, content=system))
        messages.append(ChatMessage(role=MessageRole.USER, content=prompt))
        return messages

    def complete(self, prompt: str, system: str | None = None) -> str:
        messages = self._messages(prompt, system)
        try:
            response = self._llm.chat(messages)
            content = response.message.content
        except Exception as exc:
            raise self._wrap(exc) from exc
        if content is not None and not isinstance(content, str):
            raise LLMError(
                f"malformed response from LLM server at {self.settings.base_url}: "
                f"message content is {type(content).__name__}, not text",
                kind="malformed",
            )
        return content or ""

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        messages = self._messages(prompt, system)
        try:
            # The request is sent on the first next(), so the loop must be inside the try.
            received = 0
            for response in self._llm.stream_chat(messages):
                received += 1
                if response.delta:
                    yield response.delta
        except LLMError:
            raise
        except Exception as exc:
            raise self._wrap(exc) from exc
        if not received:
            # A body that is not server-sent events parses as an empty stream; that is a broken
            # server, not an empty answer.
            raise LLMError(
                f"malformed response from LLM server at {self.settings.base_url} "
                f"(model {self.settings.model}): the stream carried no chunks",
                kind="malformed",
            )

    def _wrap(self, exc: Exception) -> LLMError:
        import openai

        where = f"LLM server at {self.settings.base_url} (model {self.settings.model})"
        # APITimeoutError subclasses APIConnectionError, so it is checked first.
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(f"{where} did not answer within {self.settings.timeout:g} s", kind="timeout")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return LLMError(f"cannot connect to {where}: {cause}", kind="connection")
        if isinstance(exc, openai.APIStatusError):
            return LLMError(
                f"{where} returned HTTP {exc.status_code}: {_error_message(exc)}",
                kind="http",
                status_code=exc.status_code,
            )
        return LLMError(
            f"malformed response from {where}: {type(exc).__name__}: {exc}", kind="malformed"
        )


def _error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", "") or exc)


# --------------------------------------------------------------------------------------------
# mode mock
# --------------------------------------------------------------------------------------------
class ScriptedLLM:
    """Returns the given responses in turn (the last one repeats); records every call.

    A response that is an exception is raised instead (wrapped in :class:`LLMError` unless it
    already is one), so tests can script the server failing on the n-th call.
    """

    mode = "mock"

    def __init__(self, responses: Sequence[str | BaseException], piece_size: int = 3):
        if not responses:
            raise ValueError("ScriptedLLM needs at least one response")
        for item in responses:
            if not isinstance(item, (str, BaseException)):
                raise TypeError(f"ScriptedLLM responses must be str or exceptions, got {type(item).__name__}")
        if piece_size < 1:
            raise ValueError("piece_size must be at least 1")
        self.responses = list(responses)
        self.piece_size = piece_size
        self.calls: list[dict[str, str | None]] = []  # {"system": ..., "prompt": ...} per call
        self._index = 0
        self._lock = threading.Lock()
        self._llama_llm: Any = None

    def _next(self, prompt: str, system: str | None) -> str:
        with self._lock:
            self.calls.append({"system": system, "prompt": prompt})
            item = self.responses[min(self._index, len(self.responses) - 1)]
            self._index += 1
        if isinstance(item, LLMError):
            raise item
        if isinstance(item, BaseException):
            raise LLMError(f"scripted failure: {type(item).__name__}: {item}", kind="scripted") from item
        return item

    def complete(self, prompt: str, system: str | None = None) -> str:
        return self._next(prompt, system)

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        text = self._next(prompt, system)
        for start in range(0, len(text), self.piece_size):
            yield text[start : start + self.piece_size]

    def as_llama_llm(self) -> Any:
        if self._llama_llm is None:
            self._llama_llm = _scripted_llama_llm(self)
        return self._llama_llm


def _scripted_llama_llm(scripted: ScriptedLLM) -> Any:
    """A llama-index ``CustomLLM`` that draws from the same script as ``scripted``."""
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    class ScriptedLlamaLLM(CustomLLM):
        _scripted: Any = PrivateAttr()

        def __init__(self, source: ScriptedLLM, **kwargs: Any):
            super().__init__(**kwargs)
            self._scripted = source

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name="scripted", is_chat_model=False)

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            return CompletionResponse(text=self._scripted.complete(prompt))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            def gen() -> Iterator[CompletionResponse]:
                text = ""
                for piece in self._scripted.stream(prompt):
                    text += piece
                    yield CompletionResponse(text=text, delta=piece)

            return gen()

    return ScriptedLlamaLLM(scripted)
