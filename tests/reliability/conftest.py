"""Shared helpers for the reliability tests: isolated settings, generated corpora, real subprocesses
(`python -m kb.cli`) and a real `chroma run` server.

Every knowledge base lives in tmp_path. Settings never come from the developer's environment or a
settings.yaml in the working directory: each test states what it runs with.
"""
from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.conftest import free_port, stop_process

from kb.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_SETTINGS_FILE = "/nonexistent/kb-reliability-settings.yaml"
PROGRESS = re.compile(rb"(\d+)/(\d+) \[")


def make_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for a test knowledge base: defaults (hash embedder, no LLM) plus `overrides`."""
    return load_settings(NO_SETTINGS_FILE, env={}, home=str(home), **overrides)


def build_test_services(home: Path, **overrides: Any):
    from kb.container import build_services

    return build_services(make_settings(home, **overrides))


# Distinct place names make each generated document the only right answer to its questions.
PLACES = (
    "安顺 北海 沧州 大理 鄂州 佛山 赣州 邯郸 鹤岗 淮安 吉安 焦作 开封 廊坊 丽水 洛阳 眉山 南平 宁德 莆田 "
    "衢州 日照 三明 汕尾 韶关 泰州 铜陵 渭南 芜湖 咸宁 襄阳 盐城 宜宾 岳阳 湛江 漳州 肇庆 中山 遵义 株洲 "
    "自贡 抚州 阜阳 亳州 池州 滁州 德阳 东营 鄂尔多斯 防城港 广元 贵港 桂林 哈密 河源 菏泽 衡水 葫芦岛 怀化 黄冈"
).split()


def fact_document(index: int, paragraphs: int = 8) -> tuple[str, str]:
    """(title, text) of a small regulation whose facts are unique to `index` (answerable questions)."""
    place = PLACES[index % len(PLACES)]
    title = f"{place}市干部考察工作规定"
    lines = [title, ""]
    for article in range(1, paragraphs + 1):
        lines.append(
            f"第{article}条 {place}市考察组在第{article}阶段应当走访{index * 10 + article}个单位，"
            f"核实干部实绩，并形成书面意见。考察组成员不得少于{article + 2}人。"
        )
    return title, "\n".join(lines) + "\n"


def write_corpus(directory: Path, count: int, start: int = 0, paragraphs: int = 8) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(start, start + count):
        title, text = fact_document(index, paragraphs)
        path = directory / f"规定{index:03d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# -- subprocesses -----------------------------------------------------------------------------
def kb_env(**extra: str) -> dict[str, str]:
    """The environment for `python -m kb.cli`: no KB_* from the caller, no settings.yaml."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["KB_SETTINGS"] = NO_SETTINGS_FILE
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def kb_command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kb.cli", "--home", str(home), *args]


def run_kb(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        kb_command(home, *args),
        cwd=REPO_ROOT,
        env=env or kb_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_kb(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `kb` in its own session, so the test can kill it together with its worker processes."""
    return subprocess.Popen(
        kb_command(home, *args),
        cwd=REPO_ROOT,
        env=env or kb_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for_progress(proc: subprocess.Popen, done: int, timeout: float = 120) -> tuple[int, bytes]:
    """Read the tqdm bar on stderr until `done` documents are through (or the process ends).

    Returns (documents done, stderr read so far). Stops reading at the target, so the caller acts
    while the ingest is still running.
    """
    deadline = time.monotonic() + timeout
    seen = b""
    latest = 0
    fd = proc.stderr.fileno()
    # poll, not select: in a long test session this process may hold more than 1024 descriptors
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while time.monotonic() < deadline:
        ready = poller.poll(100)
        if not ready:
            if proc.poll() is not None:
                return latest, seen
            continue
        block = os.read(fd, 65536)
        if not block:  # end of stream: the process ended before the target
            return latest, seen
        seen += block
        found = PROGRESS.findall(seen[-4096:])
        if found:
            latest = int(found[-1][0])
            if latest >= done:
                return latest, seen
    raise AssertionError(f"no progress to {done} documents within {timeout} s: {seen[-2000:]!r}")


def kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL the process, then whatever it left in its session (pool workers), and reap it."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


# -- a real Chroma server ----------------------------------------------------------------------
# chromadb 1.x serves /api/v2/heartbeat (v1 answers 410 Gone); older servers only have v1.
HEARTBEAT_PATHS = ("/api/v2/heartbeat", "/api/v1/heartbeat")


def _heartbeat(url: str) -> bool:
    for path in HEARTBEAT_PATHS:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            continue
    return False


def chroma_executable() -> Path | None:
    candidate = Path(sys.executable).parent / "chroma"
    return candidate if candidate.is_file() else None


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A `chroma run` server on a free port with its data in tmp_path; yields its URL; killed after."""
    executable = chroma_executable()
    if executable is None:
        pytest.skip(f"the `chroma` console script is not installed next to {sys.executable}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "chroma-server.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [str(executable), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _heartbeat(url):
            if proc.poll() is not None:
                raise AssertionError(f"chroma server exited ({proc.returncode}): {log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"chroma server not answering on {url}: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc, timeout=10)


@pytest.fixture
def services_factory() -> Iterator[Callable[..., Any]]:
    """Build Services for a home (with settings overrides); all are closed at teardown."""
    built = []

    def build(home: Path, **overrides: Any):
        services = build_test_services(home, **overrides)
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


def store_state(services) -> dict[str, Any]:
    """Everything a rerun must reproduce: documents (with what they hold) and every stored chunk id."""
    store = services.store
    records = {r.doc_id: (r.sha256, r.chunks, r.doc_type, r.collection) for r in store.list_documents()}
    all_chunk_ids = sorted(ref.chunk_id for ref in store.chunk_refs())
    return {"documents": records, "chunk_ids": all_chunk_ids}


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch) -> None:
    """In-process CLI calls (`kb.cli.main`) read KB_* from the environment: start every test without any."""
    for name in list(os.environ):
        if name.startswith("KB_") and name != "KB_TEST_SEED":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KB_SETTINGS", NO_SETTINGS_FILE)
