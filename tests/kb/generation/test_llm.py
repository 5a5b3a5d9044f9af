import time

import pytest

from kb.generation.llm import LLMClient, LLMError, ScriptedLLM, build_llm
from kb.models import REFUSAL_TEXT
from kb.settings import LLMSettings
from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAIServer

ANSWER = "试用期为一年。[1] 试用期满考核合格的，正式任职。[1]"


@pytest.fixture
def server(tmp_path):
    with FakeOpenAIServer([{"content": ANSWER}], workdir=tmp_path) as running:
        yield running


def _openai(base_url: str, **overrides) -> LLMClient:
    values = {"mode": "openai", "base_url": base_url, "model": "test-model", "timeout": 5.0, "temperature": 0.2}
    values.update(overrides)
    client = build_llm(LLMSettings(**values))
    assert client is not None
    return client


# -- mode openai, against a real HTTP server -------------------------------------------------
def test_complete_returns_the_content(server):
    client = _openai(server.base_url)
    assert client.mode == "openai"
    assert isinstance(client, LLMClient)
    assert client.complete("问题", system="系统") == ANSWER


def test_request_carries_model_temperature_max_tokens_and_messages(server):
    client = _openai(server.base_url, max_tokens=321)
    client.complete("用户问题", system="系统提示")
    client.complete("只有用户")
    first, second = server.requests()
    assert first["model"] == "test-model"
    assert first["temperature"] == pytest.approx(0.2)
    assert first["max_tokens"] == 321
    assert not first.get("stream")
    assert first["messages"] == [
        {"role": "system", "content": "系统提示"},
        {"role": "user", "content": "用户问题"},
    ]
    assert second["messages"] == [{"role": "user", "content": "只有用户"}]


def test_stream_yields_several_pieces_that_join_to_the_content(server):
    client = _openai(server.base_url)
    pieces = list(client.stream("问题", system="系统"))
    assert len(pieces) > 3
    assert "".join(pieces) == ANSWER
    (request,) = server.requests()
    assert request["stream"] is True
    assert request["messages"][0] == {"role": "system", "content": "系统"}


@pytest.mark.parametrize("call", ["complete", "stream"])
def test_http_500_raises_llm_error_without_retrying(server, call):
    server.set_script([{"status": 500, "message": "model crashed"}])
    client = _openai(server.base_url)
    with pytest.raises(LLMError, match="HTTP 500.*model crashed") as info:
        if call == "complete":
            client.complete("问题")
        else:
            list(client.stream("问题"))
    assert info.value.kind == "http" and info.value.status_code == 500
    assert len(server.requests()) == 1  # max_retries=0: a failure surfaces at once


@pytest.mark.parametrize("call", ["complete", "stream"])
def test_server_slower_than_timeout_raises_llm_error(server, call):
    server.set_script([{"delay": 5, "content": "太迟了"}])
    client = _openai(server.base_url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(LLMError, match="did not answer within 0.5 s") as info:
        if call == "complete":
            client.complete("问题")
        else:
            list(client.stream("问题"))
    assert info.value.kind == "timeout"
    assert time.monotonic() - started < 4  # gave up at the timeout, did not wait for the reply


def test_connection_refused_raises_llm_error():
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    client = _openai(base_url, timeout=2.0)
    with pytest.raises(LLMError, match="cannot connect") as info:
        client.complete("问题")
    assert info.value.kind == "connection"
    assert base_url in str(info.value)
    with pytest.raises(LLMError, match="cannot connect"):
        list(client.stream("问题"))


@pytest.mark.parametrize("raw", ["not json at all", '{"choices": []}'])
@pytest.mark.parametrize("call", ["complete", "stream"])
def test_malformed_response_raises_llm_error(server, raw, call):
    server.set_script([{"raw": raw}])
    client = _openai(server.base_url)
    with pytest.raises(LLMError, match="malformed") as info:
        if call == "complete":
            client.complete("问题")
        else:
            list(client.stream("问题"))
    assert info.value.kind == "malformed"


def test_as_llama_llm_is_the_configured_openai_like(server):
    from llama_index.llms.openai_like import OpenAILike

    client = _openai(server.base_url, context_window=4096)
    llama_llm = client.as_llama_llm()
    assert isinstance(llama_llm, OpenAILike)
    assert llama_llm.api_base == server.base_url
    assert llama_llm.max_retries == 0
    assert llama_llm.metadata.context_window == 4096
    assert llama_llm.metadata.is_chat_model
    assert str(llama_llm.complete("问题")) == ANSWER


# -- modes none and mock ---------------------------------------------------------------------
def test_mode_none_builds_nothing():
    assert build_llm(LLMSettings(mode="none")) is None


def test_mode_mock_without_responses_refuses():
    client = build_llm(LLMSettings(mode="mock"))
    assert client is not None and client.mode == "mock"
    assert client.complete("任何问题") == REFUSAL_TEXT


def test_mode_mock_with_responses():
    client = build_llm(LLMSettings(mode="mock"), responses=["甲"])
    assert client.complete("问题") == "甲"


def test_scripted_llm_returns_responses_in_turn_and_records_calls():
    llm = ScriptedLLM(["一", "二"])
    assert isinstance(llm, LLMClient)
    assert [llm.complete("a", system="s"), llm.complete("b"), llm.complete("c")] == ["一", "二", "二"]
    assert llm.calls[0] == {"system": "s", "prompt": "a"}
    assert [c["prompt"] for c in llm.calls] == ["a", "b", "c"]


def test_scripted_llm_streams_in_small_pieces():
    text = "这是一段较长的回答，用来检查流式输出。"
    pieces = list(ScriptedLLM([text], piece_size=3).stream("问题"))
    assert len(pieces) > 3 and all(len(p) <= 3 for p in pieces)
    assert "".join(pieces) == text


def test_scripted_llm_raises_scripted_failures_as_llm_error():
    llm = ScriptedLLM(["好", RuntimeError("server down"), LLMError("timed out", kind="timeout")])
    assert llm.complete("1") == "好"
    with pytest.raises(LLMError, match="server down") as info:
        llm.complete("2")
    assert info.value.kind == "scripted"
    with pytest.raises(LLMError, match="timed out") as info:
        list(llm.stream("3"))
    assert info.value.kind == "timeout"


def test_scripted_llm_rejects_an_empty_script():
    with pytest.raises(ValueError):
        ScriptedLLM([])


def test_scripted_llm_as_llama_llm_shares_the_script():
    llm = ScriptedLLM(["第一", "第二段回答"])
    llama_llm = llm.as_llama_llm()
    assert llm.as_llama_llm() is llama_llm
    assert llama_llm.complete("问").text == "第一"
    streamed = list(llama_llm.stream_complete("问"))
    assert "".join(r.delta for r in streamed) == "第二段回答"
    assert streamed[-1].text == "第二段回答"
    assert [c["prompt"] for c in llm.calls] == ["问", "问"]
