"""A real OpenAI-compatible HTTP server, scripted, for tests. Standard library only.

It runs in its own process so tests exercise the real client stack (HTTP, SSE parsing, timeouts,
refused connections) exactly as against vLLM / Ollama / an OpenAI-compatible gateway.

Command line::

    python -m tests.fakes.openai_server --port P --script FILE [--log FILE] [--port-file FILE]

``--port 0`` binds a free port; the bound port is written to ``--port-file`` when given.

Script file: a JSON list of steps, or ``{"generation": n, "steps": [...]}``. The file is re-read on
every request; when its content changes, consumption restarts at the first step. Steps are consumed
one per chat-completion request, in order; the last one repeats. A step is one of::

    {"content": "text"}                      200 with that assistant message
    {"status": 500, "message": "boom"}       that HTTP status with an OpenAI-style error body
    {"delay": 3.0, "content": "text"}        wait before answering (to trigger client timeouts)
    {"raw": "not json"}                      200 with this body verbatim (malformed response)

Optional step keys: ``chunk_size`` (characters per streamed delta, default 4).

Every request is appended to a JSON Lines log: ``{"method", "path", "body"}``.

In tests use :class:`FakeOpenAIServer`::

    with FakeOpenAIServer([{"content": "你好"}], workdir=tmp_path) as server:
        client = build_llm(LLMSettings(mode="openai", base_url=server.base_url))
        ...
        assert server.requests()[0]["model"] == ...
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_CHUNK_SIZE = 4
MODEL_IDS = ("fake-model",)


# --------------------------------------------------------------------------------------------
# Server side (runs in the child process)
# --------------------------------------------------------------------------------------------
class _Script:
    """Reads the script file per request and hands out steps in order."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._seen_text: str | None = None
        self._index = 0

    def next_step(self) -> dict[str, Any]:
        with self._lock:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = "[]"
            if text != self._seen_text:
                self._seen_text = text
                self._index = 0
            loaded = json.loads(text) if text.strip() else []
            steps = loaded.get("steps", []) if isinstance(loaded, dict) else loaded
            if not steps:
                return {"status": 500, "message": f"fake server: script {self.path} has no steps"}
            step = steps[min(self._index, len(steps) - 1)]
            self._index += 1
            return step


class _Handler(BaseHTTPRequestHandler):
    server: "_FakeHTTPServer"
    # HTTP/1.0: every response ends with the connection closing, so streamed bodies need no
    # chunked encoding and a client that gave up (timeout) does not keep a handler busy.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean; the JSON Lines log is the record

    # -- helpers ------------------------------------------------------------------------------
    def _record(self, body: Any) -> None:
        entry = {"method": self.command, "path": self.path, "body": body}
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.server.log_lock:
            with open(self.server.log_path, "a", encoding="utf-8") as handle:
                handle.write(line)

    def _send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send_bytes(status, body, "application/json")

    def _send_error_json(self, status: int, message: str) -> None:
        self._send_json(
            status,
            {"error": {"message": message, "type": "fake_error", "param": None, "code": status}},
        )

    # -- routes -------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in MODEL_IDS]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error_json(404, f"no route GET {self.path}")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._record(raw.decode("utf-8", errors="replace"))
            self._send_error_json(400, "request body is not valid JSON")
            return
        self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error_json(404, f"no route POST {self.path}")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error_json(400, "body must be an object with a 'messages' list")
            return

        step = self.server.script.next_step()
        try:
            self._answer(body, step)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired): nothing left to do

    def _answer(self, body: dict[str, Any], step: dict[str, Any]) -> None:
        delay = float(step.get("delay", 0) or 0)
        if delay:
            time.sleep(delay)
        if "status" in step and int(step["status"]) != 200:
            self._send_error_json(int(step["status"]), str(step.get("message", "scripted failure")))
            return
        if "raw" in step:
            self._send_bytes(200, str(step["raw"]).encode("utf-8"), "application/json")
            return
        content = str(step.get("content", ""))
        model = str(body.get("model") or MODEL_IDS[0])
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:12]
        created = int(time.time())
        if body.get("stream"):
            self._stream(content, model, completion_id, created, int(step.get("chunk_size", DEFAULT_CHUNK_SIZE)))
            return
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body["messages"] if isinstance(m, dict))
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_chars,
                    "completion_tokens": len(content),
                    "total_tokens": prompt_chars + len(content),
                },
            },
        )

    def _stream(self, content: str, model: str, completion_id: str, created: int, chunk_size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish_reason: str | None) -> bytes:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            }
            return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"

        size = max(1, chunk_size)
        self.wfile.write(chunk({"role": "assistant", "content": ""}, None))
        for start in range(0, len(content), size):
            self.wfile.write(chunk({"content": content[start : start + size]}, None))
            self.wfile.flush()
        self.wfile.write(chunk({}, "stop"))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], script: _Script, log_path: Path):
        super().__init__(address, _Handler)
        self.script = script
        self.log_path = log_path
        self.log_lock = threading.Lock()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 = pick a free port")
    parser.add_argument("--script", type=Path, required=True, help="JSON file with the steps")
    parser.add_argument("--log", type=Path, help="JSON Lines request log (default: <script>.requests.jsonl)")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    args = parser.parse_args(argv)

    log_path = args.log or args.script.with_suffix(".requests.jsonl")
    server = _FakeHTTPServer((args.host, args.port), _Script(args.script), log_path)
    port = server.server_address[1]
    if args.port_file:
        # Write then rename so the parent never reads a half-written number.
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(port), encoding="utf-8")
        os.replace(tmp, args.port_file)
    print(f"fake OpenAI server listening on http://{args.host}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --------------------------------------------------------------------------------------------
# Client side (used by tests in the parent process)
# --------------------------------------------------------------------------------------------
class FakeOpenAIServer:
    """Starts the server as a subprocess on 127.0.0.1 and a free port; a context manager.

    ``workdir`` holds the script, the request log and the server's output; a temporary directory
    (removed on exit) is used when none is given.
    """

    def __init__(
        self,
        steps: list[dict[str, Any]] | None = None,
        workdir: Path | None = None,
        startup_timeout: float = 15.0,
    ):
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="fake-openai-")
            workdir = Path(self._own_dir.name)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        self.script_path = self.workdir / f"openai-script-{tag}.json"
        self.requests_log = self.workdir / f"openai-requests-{tag}.jsonl"
        self.output_path = self.workdir / f"openai-server-{tag}.out"
        self._port_file = self.workdir / f"openai-port-{tag}.txt"
        self._startup_timeout = startup_timeout
        self._generation = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._output_handle: Any = None
        self.port: int | None = None
        self.set_script(steps if steps is not None else [{"content": "ok"}])

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "FakeOpenAIServer":
        if self._process is not None:
            raise RuntimeError("fake OpenAI server already started")
        self.requests_log.write_text("", encoding="utf-8")
        self._output_handle = open(self.output_path, "wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--port", "0",
                "--script", str(self.script_path),
                "--log", str(self.requests_log),
                "--port-file", str(self._port_file),
            ],
            stdout=self._output_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                output = self.output_path.read_text(encoding="utf-8", errors="replace")
                self.stop()
                raise RuntimeError(f"fake OpenAI server exited at startup:\n{output}")
            if self.port is None and self._port_file.exists():
                self.port = int(self._port_file.read_text(encoding="utf-8"))
            if self.port is not None and _accepts_connections(self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"fake OpenAI server did not start within {self._startup_timeout} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._output_handle is not None:
            self._output_handle.close()
            self._output_handle = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    # -- test helpers ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("fake OpenAI server is not running")
        return f"http://127.0.0.1:{self.port}/v1"

    def set_script(self, steps: list[dict[str, Any]]) -> None:
        """Replace the steps; the next request gets the first new step."""
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise TypeError("steps must be a list of dicts")
        # The generation number makes the file differ even when the same steps are set again,
        # which is what restarts consumption in the server.
        self._generation += 1
        tmp = self.script_path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"generation": self._generation, "steps": steps}, ensure_ascii=False),
            encoding="utf-8",
        )
        os.replace(tmp, self.script_path)

    def request_log(self) -> list[dict[str, Any]]:
        """Every request so far: ``{"method", "path", "body"}``."""
        if not self.requests_log.exists():
            return []
        lines = self.requests_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat-completion requests so far, in order."""
        return [
            entry["body"]
            for entry in self.request_log()
            if entry["method"] == "POST" and entry["path"].rstrip("/") == "/v1/chat/completions"
        ]


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
