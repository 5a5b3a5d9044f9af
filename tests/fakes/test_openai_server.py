import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, _accepts_connections

REPO = Path(__file__).resolve().parents[2]


def _post(url: str, body, timeout: float = 5.0):
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode("utf-8")


def _chat(server, stream=False, content="问题"):
    body = {"model": "m", "messages": [{"role": "user", "content": content}], "stream": stream}
    return _post(server.base_url + "/chat/completions", body)


@pytest.fixture
def server(tmp_path):
    with FakeOpenAIServer([{"content": "一"}, {"content": "二"}], workdir=tmp_path) as running:
        yield running


def test_models_endpoint(server):
    with urllib.request.urlopen(server.base_url + "/models", timeout=5) as response:
        payload = json.loads(response.read())
    assert payload["object"] == "list" and payload["data"][0]["object"] == "model"


def test_chat_completion_follows_the_protocol(server):
    status, content_type, text = _chat(server)
    assert status == 200 and content_type.startswith("application/json")
    payload = json.loads(text)
    assert payload["object"] == "chat.completion" and payload["model"] == "m"
    assert payload["choices"][0]["message"] == {"role": "assistant", "content": "一"}
    assert payload["choices"][0]["finish_reason"] == "stop"


def test_steps_are_consumed_in_order_and_the_last_repeats(server):
    contents = [json.loads(_chat(server)[2])["choices"][0]["message"]["content"] for _ in range(3)]
    assert contents == ["一", "二", "二"]


def test_set_script_restarts_at_the_first_new_step(server):
    _chat(server)
    server.set_script([{"content": "新"}, {"content": "后"}])
    assert json.loads(_chat(server)[2])["choices"][0]["message"]["content"] == "新"
    server.set_script([{"content": "新"}, {"content": "后"}])  # same steps again still restart
    assert json.loads(_chat(server)[2])["choices"][0]["message"]["content"] == "新"


def test_streaming_sends_server_sent_events(server):
    server.set_script([{"content": "一段需要分成多块的回答", "chunk_size": 2}])
    status, content_type, text = _chat(server, stream=True)
    assert status == 200 and content_type.startswith("text/event-stream")
    events = [block for block in text.split("\n\n") if block]
    assert all(block.startswith("data: ") for block in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(block[len("data: "):]) for block in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    assert len([d for d in deltas if d]) == 6
    assert "".join(deltas) == "一段需要分成多块的回答"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_status_step_returns_an_openai_style_error(server):
    server.set_script([{"status": 503, "message": "overloaded"}])
    status, _, text = _chat(server)
    assert status == 503
    assert json.loads(text)["error"]["message"] == "overloaded"


def test_delay_step_waits_before_answering(server):
    server.set_script([{"delay": 0.6, "content": "慢"}])
    started = time.monotonic()
    status, _, _ = _chat(server)
    assert status == 200 and time.monotonic() - started >= 0.6


def test_raw_step_sends_the_body_verbatim(server):
    server.set_script([{"raw": "not json"}])
    assert _chat(server)[2] == "not json"


def test_every_request_is_logged(server):
    _chat(server, content="第一问")
    _chat(server, stream=True, content="第二问")
    urllib.request.urlopen(server.base_url + "/models", timeout=5).read()
    bodies = server.requests()
    assert [b["messages"][0]["content"] for b in bodies] == ["第一问", "第二问"]
    assert bodies[1]["stream"] is True
    assert [e["method"] for e in server.request_log()] == ["POST", "POST", "GET"]
    assert server.requests_log.is_file()


def test_bad_requests_get_4xx(server):
    assert _post(server.base_url + "/chat/completions", b"{not json")[0] == 400
    assert _post(server.base_url + "/chat/completions", {"model": "m"})[0] == 400
    assert _post(server.base_url + "/nowhere", {"messages": []})[0] == 404


def test_exit_kills_the_process(tmp_path):
    with FakeOpenAIServer(workdir=tmp_path) as server:
        process, port = server._process, server.port
        assert _accepts_connections(port)
    assert process.poll() is not None
    assert not _accepts_connections(port)


def test_runs_as_a_module_from_the_command_line(tmp_path):
    script, port_file = tmp_path / "script.json", tmp_path / "port.txt"
    script.write_text(json.dumps([{"content": "命令行"}]), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0",
         "--script", str(script), "--port-file", str(port_file)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists() and time.monotonic() < deadline:
            assert process.poll() is None, "server exited"
            time.sleep(0.02)
        port = int(port_file.read_text())
        body = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
        status, _, text = _post(f"http://127.0.0.1:{port}/v1/chat/completions", body)
        assert status == 200 and json.loads(text)["choices"][0]["message"]["content"] == "命令行"
        log = script.with_suffix(".requests.jsonl")
        assert json.loads(log.read_text(encoding="utf-8").splitlines()[0])["body"] == body
    finally:
        process.terminate()
        process.wait(timeout=5)
