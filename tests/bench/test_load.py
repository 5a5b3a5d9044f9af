"""bench/load.py against trivial local HTTP servers: the API load client (in process and as the
separate process `make bench` starts), the web-UI probe's Gradio queue protocol, and the load
section's target in bench/report.py and its place in bench/run.py. A few seconds; no kb serve."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import load, report, run

REPO = Path(__file__).resolve().parents[2]
KEY = "kb-test-key"


class FakeApp(BaseHTTPRequestHandler):
    """/v1/chat/completions (every 5th request 429), and enough of Gradio for the UI probe."""

    calls = 0
    lock = threading.Lock()
    joined: list[dict] = []
    logins: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def reply(self, code: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/v1/chat/completions":
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                return self.reply(401, {"error": {"message": "bad key"}})
            with FakeApp.lock:
                FakeApp.calls += 1
                n = FakeApp.calls
            if n % 5 == 0:
                return self.reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
            time.sleep(0.005)
            return self.reply(200, {"object": "chat.completion", "status": "answered",
                                    "choices": [{"message": {"role": "assistant", "content": "答"}}]})
        if self.path == "/login":
            FakeApp.logins.append(body.decode())
            return self.reply(200, {"success": True}, {"Set-Cookie": "access-token=t; Path=/"})
        if self.path == "/gradio_api/queue/join":
            FakeApp.joined.append(json.loads(body))
            return self.reply(200, {"event_id": "e1"})
        self.reply(404, {})

    def do_GET(self):
        if self.path == "/config":
            return self.reply(200, {
                "api_prefix": "/gradio_api",
                "components": [
                    {"id": 1, "type": "button", "props": {"value": "提问"}},
                    {"id": 2, "type": "textbox", "props": {}},
                    {"id": 3, "type": "chatbot", "props": {}},
                    {"id": 4, "type": "checkboxgroup", "props": {}},
                    {"id": 5, "type": "state", "props": {}},
                    {"id": 6, "type": "browserstate", "props": {}},
                ],
                "dependencies": [
                    {"id": 0, "api_name": "load_example", "targets": [[9, "click"]], "inputs": [2]},
                    {"id": 3, "api_name": "on_ask", "targets": [[1, "click"]], "inputs": [2, 3, 4, 5, 6]},
                ],
            })
        if self.path.startswith("/gradio_api/queue/data"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for msg in ({"msg": "estimation", "event_id": "e1"}, {"msg": "process_starts", "event_id": "e1"},
                        {"msg": "process_generating", "event_id": "e1", "success": True},
                        {"msg": "process_completed", "event_id": "e1", "success": True, "output": {"data": []}}):
                time.sleep(0.003)
                self.wfile.write(f"data: {json.dumps(msg)}\n\n".encode())
                self.wfile.flush()
            return None
        self.reply(404, {})


@pytest.fixture()
def fake_url():
    FakeApp.calls, FakeApp.joined, FakeApp.logins = 0, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApp)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def check_latency_shape(lat: dict, n: int) -> None:
    assert lat["n"] == n
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]


def test_api_load_counts_and_percentiles(fake_url):
    result = load.api_load(fake_url, KEY, clients=4, seconds=1.0, questions=["问题一", "问题二"])
    assert result["clients"] == 4
    assert result["completed"] > 10
    assert result["refused"] > 0  # the 429s are counted apart …
    assert result["errors"] == 0
    assert result["requests"] == result["completed"] + result["refused"] + result["errors"] == FakeApp.calls
    assert result["http_status"]["200"] == result["completed"]
    assert result["answer_status"] == {"answered": result["completed"]}
    check_latency_shape(result["latency_ms"], result["completed"])  # … and are not in the percentiles
    assert result["requests_per_s"] > 0
    assert result["wall_s"] >= 1.0


def test_load_client_runs_as_its_own_process(fake_url, tmp_path):
    out = tmp_path / "client.json"
    env = {**os.environ, load.KEY_ENV: KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.load", "client", "--url", fake_url, "--clients", "3", "--seconds", "0.5",
         "--shared", str(tmp_path / "none"), "--out", str(out)],
        cwd=REPO, env=env, start_new_session=True, timeout=60, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["clients"] == 3 and result["completed"] > 0
    check_latency_shape(result["latency_ms"], result["completed"])


def test_ui_probe_sends_the_ask_event_as_the_browser_does(fake_url):
    result = load.ui_probe(fake_url, "bench", "secret-pw", seconds=0.6, questions=["深度访谈的对象有哪些？"], interval_s=0.1)
    assert result["errors"] == 0, result["error_examples"]
    assert result["completed"] == result["requests"] >= 3
    check_latency_shape(result["latency_ms"], result["completed"])
    assert result["first_update_ms"]["n"] == result["completed"]
    assert FakeApp.logins and "username=bench" in FakeApp.logins[0]
    join = FakeApp.joined[0]
    assert join["fn_index"] == 3 and join["trigger_id"] == 1 and join["session_hash"]
    assert join["data"] == ["深度访谈的对象有哪些？", [], [], None, ""]


def test_load_target_is_reported_by_bench_run():
    lat = {"n": 10, "p50": 300.0, "p95": 900.0, "p99": 950.0, "mean": 400.0, "max": 990.0}
    level = {"requests_per_s": 10.0, "latency_ms": lat, "refused": 0, "errors": 0}
    sections = {"load": {"api": {"clients_1": level}, "ui_alone": {"latency_ms": lat},
                         "ui_during_batch": {"latency_ms": {**lat, "p95": 2500.0}, "first_update_ms": lat,
                                             "batch": level}}}
    verdict = {v["metric"]: v for v in report.verdicts(sections)}["load.ui_during_batch.latency_ms.p95"]
    assert verdict["pass"] is False and verdict["target"] == "<= 2000"
    names = [r[0] for r in report.table_rows(sections)]
    assert "API clients = 1: p99 ms" in names
    assert run.parse_sections("load") == ["load"]
    assert "load" in run.DEFAULT_SECTIONS
