"""Load figures (`make bench` section `load`): a real `kb serve` under concurrent API clients.

    .venv/bin/python -m bench.load run [--seconds 20] [--shared ../shared] [--out load.json]
    .venv/bin/python -m bench.run --only load [--load-seconds 20]       # the same, inside `make bench`
    .venv/bin/python -m bench.run --no-load                              # every default section but this one

What it does (issue #30, item 8):
  1. a knowledge base in a temporary KB_HOME: `kb ingest SHARED/corpus/seeds`, `kb users add bench
     --role admin --password-stdin`, `kb apikeys create batch --user bench` (the CLI, as a site would);
  2. `kb serve` in a subprocess (its own session) on a free port of 127.0.0.1;
  3. warm-up: a few API answers and one web-UI answer (model and vector loading is not load);
  4. `web UI alone`: the UI probe (below) alone for half a level;
  5. API levels: 1, 10 and 50 concurrent clients, `seconds` each, every level a separate load-client
     process (its own process group): requests/s of completed answers and p50/p95/p99 latency;
  6. `web UI during a 20-client batch`: the 20-client load client runs while the UI probe asks a
     question every ~0.5 s the way the browser does — POST /gradio_api/queue/join for the 提问 button's
     event (found in /config by its function, `on_ask`), then the SSE stream /gradio_api/queue/data
     until `process_completed`, logged in with a session cookie from POST /login. Target: UI p95 ≤ 2 s.

Load clients are closed-loop: each of N threads sends one `POST /v1/chat/completions` (httpx, one
question of domain_qa_dev.jsonl after another), waits for the answer, sends the next, until the level's
time is up; the requests under way then finish. requests/s = completed answers / (first send → last
answer). Latency is per request, send → complete response, in ms; refused requests (429/503, after
which the client sleeps their Retry-After) and errors are counted apart and not in the percentiles.

The server runs with the settings it would have anyway (settings.yaml / KB_* apply; api_concurrency
stays what it is — it is what is measured) except the API admission limits, which would otherwise
turn most requests of one batch key into 429s and measure only the refusal path: the per-key rate
(`security.api_key_requests_per_minute` 120 → 0) and the fair queue's waiting room
(`server.api_max_waiting` / `api_max_waiting_per_key` 16 / 4 → 256). See SERVER_ENV.

The client and probe also run alone, against any served instance:
    python -m bench.load client --url http://127.0.0.1:7860 --clients 10 --seconds 20 [--out F]   # key: $KB_BENCH_API_KEY
    python -m bench.load probe --url http://127.0.0.1:7860 --user NAME --seconds 20 [--out F]     # password: $KB_BENCH_PASSWORD
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

from bench.common import DEFAULT_SHARED, percentile

LEVELS = (1, 10, 50)
UI_BATCH_CLIENTS = 20
DEFAULT_SECONDS = 20.0
QUICK_SECONDS = 5.0
UI_INTERVAL_S = 0.5
UI_TARGET_MS = 2000.0
BATCH_LEAD_S = 2.0  # the batch runs this long before the UI probe starts (and after it ends)
REQUEST_TIMEOUT_S = 120.0
# admission limits lifted for the measurement (see the module docstring); everything else as configured
SERVER_ENV = {
    "KB_SECURITY__API_KEY_REQUESTS_PER_MINUTE": "0",
    "KB_SERVER__API_MAX_WAITING": "256",
    "KB_SERVER__API_MAX_WAITING_PER_KEY": "256",
}
FALLBACK_QUESTIONS = (
    "政治建设考察分为哪几个步骤？",
    "深度访谈的对象有哪些？",
    "什么算政治担当？",
    "民主生活会通报了哪些问题？",
    "政治监督谈话制度是什么？",
)
KEY_ENV = "KB_BENCH_API_KEY"
PASSWORD_ENV = "KB_BENCH_PASSWORD"


def log(msg: str) -> None:
    print(f"[bench.load] {msg}", file=sys.stderr, flush=True)


def latency_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """n, p50/p95/p99, mean, max in ms (None when there is no sample)."""
    ms = sorted(s * 1000.0 for s in seconds)
    if not ms:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 1),
        "p95": round(percentile(ms, 95), 1),
        "p99": round(percentile(ms, 99), 1),
        "mean": round(sum(ms) / len(ms), 1),
        "max": round(ms[-1], 1),
    }


def load_questions(shared: Path | None) -> list[str]:
    path = (shared / "eval" / "domain_qa_dev.jsonl") if shared else None
    if path is not None and path.is_file():
        out = []
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                q = str(json.loads(line).get("question") or "").strip()
                if q:
                    out.append(q)
        if out:
            return out
    return list(FALLBACK_QUESTIONS)


# ---------------------------------------------------------------------------------------------
# the load client: N closed-loop threads against /v1/chat/completions
# ---------------------------------------------------------------------------------------------

def api_load(url: str, key: str, clients: int, seconds: float, questions: Sequence[str],
             timeout_s: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
    import httpx

    questions = list(questions) or list(FALLBACK_QUESTIONS)
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    client = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"},
                          timeout=timeout_s, limits=limits)
    per_thread: list[dict[str, Any]] = [
        {"latencies": [], "statuses": {}, "answer_status": {}, "errors": [], "last_end": 0.0} for _ in range(clients)
    ]
    start = time.perf_counter()
    deadline = start + seconds

    def worker(i: int) -> None:
        rec = per_thread[i]
        n = i
        while time.perf_counter() < deadline:
            q = questions[n % len(questions)]
            n += clients
            body = {"model": "kaocha-kb", "messages": [{"role": "user", "content": q}]}
            t0 = time.perf_counter()
            try:
                r = client.post("/v1/chat/completions", json=body)
            except Exception as exc:  # noqa: BLE001 - counted, the load goes on
                rec["statuses"]["exception"] = rec["statuses"].get("exception", 0) + 1
                if len(rec["errors"]) < 3:
                    rec["errors"].append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)
                continue
            t1 = time.perf_counter()
            code = str(r.status_code)
            rec["statuses"][code] = rec["statuses"].get(code, 0) + 1
            if r.status_code == 200:
                rec["latencies"].append(t1 - t0)
                rec["last_end"] = max(rec["last_end"], t1)
                try:
                    status = str(r.json().get("status"))
                except ValueError:
                    status = "not-json"
                rec["answer_status"][status] = rec["answer_status"].get(status, 0) + 1
            elif r.status_code in (429, 503):
                try:
                    wait = float(r.headers.get("retry-after") or 1.0)
                except ValueError:
                    wait = 1.0
                time.sleep(max(0.0, min(wait, deadline - time.perf_counter())))
            elif len(rec["errors"]) < 3:
                rec["errors"].append(f"HTTP {r.status_code}: {r.text[:200]}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.perf_counter()
    client.close()
    latencies = [x for rec in per_thread for x in rec["latencies"]]
    statuses: dict[str, int] = {}
    answer_status: dict[str, int] = {}
    for rec in per_thread:
        for k, v in rec["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in rec["answer_status"].items():
            answer_status[k] = answer_status.get(k, 0) + v
    last = max((rec["last_end"] for rec in per_thread), default=0.0)
    span = (last - start) if latencies else 0.0
    refused = statuses.get("429", 0) + statuses.get("503", 0)
    return {
        "clients": clients,
        "seconds": seconds,
        "wall_s": round(end - start, 2),
        "requests": sum(statuses.values()),
        "completed": len(latencies),
        "refused": refused,
        "errors": sum(statuses.values()) - len(latencies) - refused,
        "requests_per_s": round(len(latencies) / span, 2) if span > 0 else 0.0,
        "latency_ms": latency_ms(latencies),
        "http_status": dict(sorted(statuses.items())),
        "answer_status": dict(sorted(answer_status.items())),
        "error_examples": [e for rec in per_thread for e in rec["errors"]][:5],
    }


# ---------------------------------------------------------------------------------------------
# the web-UI probe: the 提问 button's Gradio event, as the browser sends it
# ---------------------------------------------------------------------------------------------

class UiSession:
    """One browser tab: logged in (when the app asks for it), the ask event found in /config."""

    def __init__(self, url: str, user: str | None, password: str | None, timeout_s: float = REQUEST_TIMEOUT_S):
        import httpx

        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s)
        if user:
            r = self.client.post("/login", data={"username": user, "password": password or ""})
            if r.status_code != 200:
                raise RuntimeError(f"login as {user} failed: HTTP {r.status_code} {r.text[:200]}")
        r = self.client.get("/config")
        r.raise_for_status()
        config = r.json()
        self.prefix = config.get("api_prefix") or "/gradio_api"
        components = {c["id"]: c for c in config.get("components", [])}
        dep = next((d for d in config.get("dependencies", []) if d.get("api_name") == "on_ask"), None)
        if dep is None:  # found by the button instead: a button labelled 提问, its click event
            for d in config.get("dependencies", []):
                for target, event in d.get("targets", []):
                    c = components.get(target, {})
                    if event == "click" and c.get("type") == "button" and c.get("props", {}).get("value") == "提问":
                        dep = d
        if dep is None:
            raise RuntimeError("the web app's ask event (on_ask / the 提问 button) is not in /config")
        self.fn_index = dep["id"]
        self.trigger_id = dep["targets"][0][0] if dep.get("targets") else None
        self.input_types = [components.get(i, {}).get("type") for i in dep.get("inputs", [])]
        self.session_hash = uuid.uuid4().hex[:11]

    def payload(self, question: str) -> list[Any]:
        """The inputs as a fresh tab sends them: the question, an empty chat, no filters, no state."""
        empty = {"textbox": question, "chatbot": [], "checkboxgroup": [], "dropdown": [], "browserstate": "", "state": None}
        out, asked = [], False
        for t in self.input_types:
            if t == "textbox" and not asked:
                out.append(question)
                asked = True
            else:
                out.append(empty.get(t) if t != "textbox" else "")
        return out

    def ask(self, question: str) -> tuple[float, float | None]:
        """(seconds to the final answer, seconds to the first update) for one question."""
        t0 = time.perf_counter()
        r = self.client.post(f"{self.prefix}/queue/join", json={
            "data": self.payload(question), "fn_index": self.fn_index, "trigger_id": self.trigger_id,
            "session_hash": self.session_hash, "event_data": None,
        })
        if r.status_code != 200:
            raise RuntimeError(f"queue/join: HTTP {r.status_code} {r.text[:200]}")
        event_id = r.json().get("event_id")
        first = None
        with self.client.stream("GET", f"{self.prefix}/queue/data", params={"session_hash": self.session_hash}) as s:
            if s.status_code != 200:
                raise RuntimeError(f"queue/data: HTTP {s.status_code}")
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if event_id and msg.get("event_id") not in (None, event_id):
                    continue
                kind = msg.get("msg")
                if kind == "process_generating" and first is None:
                    first = time.perf_counter() - t0
                elif kind == "process_completed":
                    if not msg.get("success", True):
                        raise RuntimeError(f"the ask event failed: {str(msg.get('output'))[:200]}")
                    return time.perf_counter() - t0, first
                elif kind in ("unexpected_error", "close_stream"):
                    raise RuntimeError(f"queue/data: {kind} {str(msg)[:200]}")
        raise RuntimeError("queue/data ended before process_completed")

    def close(self) -> None:
        self.client.close()


def ui_probe(url: str, user: str | None, password: str | None, seconds: float, questions: Sequence[str],
             interval_s: float = UI_INTERVAL_S) -> dict[str, Any]:
    """One user asking a question every ~interval_s (or as soon as the last answer came, when that
    took longer) for `seconds`: latency of the final answer and of the first update."""
    questions = list(questions) or list(FALLBACK_QUESTIONS)
    session = UiSession(url, user, password)
    latencies, firsts, errors = [], [], []
    start = time.perf_counter()
    n = 0
    try:
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            try:
                total, first = session.ask(questions[n % len(questions)])
                latencies.append(total)
                if first is not None:
                    firsts.append(first)
            except Exception as exc:  # noqa: BLE001 - counted
                errors.append(f"{type(exc).__name__}: {exc}")
            n += 1
            time.sleep(max(0.0, interval_s - (time.perf_counter() - t0)))
    finally:
        session.close()
    return {
        "interval_s": interval_s,
        "seconds": seconds,
        "requests": n,
        "completed": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "latency_ms": latency_ms(latencies),
        "first_update_ms": latency_ms(firsts),
    }


# ---------------------------------------------------------------------------------------------
# subprocesses: the server, the load client, the probe
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kb_cli(args: Sequence[str], env: dict[str, str], stdin: str | None = None, timeout: float = 300) -> str:
    proc = subprocess.run([sys.executable, "-m", "kb.cli", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"kb {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout


def stop_group(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """End a subprocess started with start_new_session=True, and its group (its id = its pid)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def run_child(args: Sequence[str], out: Path, env: dict[str, str]) -> subprocess.Popen:
    """`python -m bench.load ARGS --out OUT` in its own session (process group)."""
    return subprocess.Popen([sys.executable, "-m", "bench.load", *args, "--out", str(out)], env=env,
                            cwd=str(Path(__file__).resolve().parent.parent), start_new_session=True)


def child_result(proc: subprocess.Popen, out: Path, timeout: float) -> dict[str, Any]:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc, 5)
        raise RuntimeError(f"{out.stem} did not finish within {timeout:.0f} s")
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{out.stem} exited with {proc.returncode}")
    return json.loads(out.read_text(encoding="utf-8"))


def measure(shared: Path, workdir: Path, seconds: float = DEFAULT_SECONDS, levels: Sequence[int] = LEVELS,
            ui_batch_clients: int = UI_BATCH_CLIENTS, say: Callable[[str], None] = log) -> dict[str, Any]:
    """The whole load section; workdir receives the KB_HOME, the server log and the children's JSON."""
    seeds = shared / "corpus" / "seeds"
    if not seeds.is_dir():
        raise FileNotFoundError(f"{seeds}: corpus/seeds not found (the shared data lives in ../shared)")
    questions = load_questions(shared)
    home = workdir / "load-kb"
    if home.exists():  # a kept workdir from an earlier run: the bench user and key would exist already
        import shutil

        shutil.rmtree(home)
    home.mkdir(parents=True)
    env = {**os.environ, "KB_HOME": str(home), **SERVER_ENV}
    result: dict[str, Any] = {"server_env": dict(SERVER_ENV), "seconds_per_level": seconds,
                              "loadavg_1m_before": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count()}

    t0 = time.perf_counter()
    summary = json.loads(kb_cli(["ingest", str(seeds), "--json", "--no-progress"], env))
    result["kb"] = {"corpus": "corpus/seeds", "documents": summary.get("added"), "chunks": summary.get("chunks"),
                    "ingest_s": round(time.perf_counter() - t0, 2)}
    password = secrets.token_urlsafe(12)
    kb_cli(["users", "add", "bench", "--role", "admin", "--password-stdin"], env, stdin=password + "\n")
    key = json.loads(kb_cli(["apikeys", "create", "batch", "--user", "bench", "--json"], env))["key"]
    child_env = {**os.environ, KEY_ENV: key, PASSWORD_ENV: password}

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = workdir / "load-server.log"
    say(f"kb serve on {url} (log {server_log})")
    t0 = time.perf_counter()
    with open(server_log, "wb") as fh:
        server = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    children: list[subprocess.Popen] = []
    try:
        import httpx

        while True:
            if server.poll() is not None:
                tail = server_log.read_text(encoding="utf-8", errors="replace")[-800:]
                raise RuntimeError(f"kb serve exited with {server.returncode}: {tail}")
            if time.perf_counter() - t0 > 180:
                raise RuntimeError("kb serve did not answer /v1/models within 180 s")
            try:
                if httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        result["server_start_s"] = round(time.perf_counter() - t0, 2)

        # warm-up: both paths once through every question kind, untimed
        api_load(url, key, 2, 2.0, questions)
        session = UiSession(url, "bench", password)
        for q in questions[:3]:
            session.ask(q)
        session.close()

        ui_seconds = max(2.0, seconds / 2)
        say(f"web UI alone ({ui_seconds:.0f} s)")
        out = workdir / "load-ui-alone.json"
        children.append(run_child(["probe", "--url", url, "--user", "bench", "--seconds", str(ui_seconds),
                                   "--shared", str(shared)], out, child_env))
        result["ui_alone"] = child_result(children[-1], out, ui_seconds + 180)

        api: dict[str, Any] = {}
        for n in levels:
            say(f"API load: {n} client(s), {seconds:.0f} s")
            out = workdir / f"load-api-{n}.json"
            children.append(run_child(["client", "--url", url, "--clients", str(n), "--seconds", str(seconds),
                                       "--shared", str(shared)], out, child_env))
            api[f"clients_{n}"] = child_result(children[-1], out, seconds + 300)
        result["api"] = api

        say(f"web UI during a {ui_batch_clients}-client API batch ({seconds:.0f} s)")
        batch_out, probe_out = workdir / "load-batch.json", workdir / "load-ui-batch.json"
        children.append(run_child(["client", "--url", url, "--clients", str(ui_batch_clients),
                                   "--seconds", str(seconds + 2 * BATCH_LEAD_S), "--shared", str(shared)], batch_out, child_env))
        time.sleep(BATCH_LEAD_S)
        children.append(run_child(["probe", "--url", url, "--user", "bench", "--seconds", str(seconds),
                                   "--shared", str(shared)], probe_out, child_env))
        ui = child_result(children[-1], probe_out, seconds + 180)
        ui["batch"] = child_result(children[-2], batch_out, seconds + 300)
        ui["batch_clients"] = ui_batch_clients
        result["ui_during_batch"] = ui
        if ui["latency_ms"]["p95"] is not None:
            result["ui_p95_target_ms"] = UI_TARGET_MS
            result["ui_p95_within_target"] = ui["latency_ms"]["p95"] <= UI_TARGET_MS
    finally:
        for child in children:
            stop_group(child, 5)
        stop_group(server)
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return result


def print_summary(result: dict[str, Any], out=sys.stdout) -> None:
    def row(name: str, m: dict[str, Any], rps: Any = "") -> None:
        lat = m["latency_ms"]
        print(f"{name:<34} {str(rps):>8} {str(lat['p50']):>9} {str(lat['p95']):>9} {str(lat.get('p99')):>9} "
              f"{m.get('completed', 0):>6} {m.get('refused', 0):>5} {m.get('errors', 0):>5}", file=out)

    print(f"{'':<34} {'req/s':>8} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'done':>6} {'429':>5} {'err':>5}", file=out)
    for name, m in result.get("api", {}).items():
        row(f"API, {name.replace('_', ' = ')}", m, m["requests_per_s"])
    if "ui_alone" in result:
        row("web UI alone", result["ui_alone"])
    if "ui_during_batch" in result:
        ui = result["ui_during_batch"]
        row(f"web UI during {ui['batch_clients']}-client batch", ui)
        row(f"  (the batch: {ui['batch_clients']} API clients)", ui["batch"], ui["batch"]["requests_per_s"])
        if "ui_p95_within_target" in result:
            verdict = "PASS" if result["ui_p95_within_target"] else "FAIL"
            print(f"\nweb UI p95 during the batch: {ui['latency_ms']['p95']} ms — {verdict} (target <= {UI_TARGET_MS:g} ms)", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="the whole load section against a fresh kb serve")
    p_run.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="seconds per level (default 20)")
    p_run.add_argument("--workdir", help="keep the KB, server log and JSON here (default: a temporary folder)")
    p_client = sub.add_parser("client", help=f"N concurrent API clients (key from ${KEY_ENV})")
    p_client.add_argument("--clients", type=int, default=1)
    p_probe = sub.add_parser("probe", help=f"the web UI probe (password from ${PASSWORD_ENV})")
    p_probe.add_argument("--user", help="log in as this user (omit for an app without accounts)")
    p_probe.add_argument("--interval", type=float, default=UI_INTERVAL_S)
    for p in (p_client, p_probe):
        p.add_argument("--url", required=True, help="the served app, e.g. http://127.0.0.1:7860")
        p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    for p in (p_run, p_client, p_probe):
        p.add_argument("--shared", default=str(DEFAULT_SHARED), help="the shared data folder (default ../shared)")
        p.add_argument("--out", help="write the JSON result here (default: stdout)")
    args = parser.parse_args(argv)
    shared = Path(args.shared).resolve()
    if args.command == "client":
        key = os.environ.get(KEY_ENV)
        if not key:
            parser.error(f"set ${KEY_ENV} to an API key (kb apikeys create)")
        result = api_load(args.url, key, args.clients, args.seconds, load_questions(shared))
    elif args.command == "probe":
        result = ui_probe(args.url, args.user, os.environ.get(PASSWORD_ENV), args.seconds, load_questions(shared),
                          args.interval)
    else:
        import shutil

        keep = bool(args.workdir)
        workdir = Path(args.workdir).resolve() if keep else Path(tempfile.mkdtemp(prefix="kb-load-"))
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            result = measure(shared, workdir, args.seconds)
        finally:
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
        print_summary(result, sys.stderr if not args.out else sys.stdout)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
