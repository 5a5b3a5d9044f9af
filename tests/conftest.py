"""Fixtures shared by the whole test suite: isolated settings and services, the ../shared data.

Every knowledge base lives under a pytest tmp directory. Settings never come from the developer's
environment or a settings.yaml in the working directory: each fixture states what it runs with.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Iterator

import pytest

from kb.settings import Settings, load_settings

SHARED_DIR = (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()
SHARED_MISSING = "../shared not found: the shared corpus and eval sets are needed for this test"
# The whole laws corpus through Chroma (~150k chunks) takes far longer than pytest's default 900 s
# timeout on a shared 2-core machine: Chroma indexes every document and chunk text (measured ~20 min).
LAWS_TIMEOUT_S = 3600
# A settings file that never exists, so a settings.yaml in the working directory cannot leak in.
NO_SETTINGS_FILE = "/nonexistent/kb-test-settings.yaml"


def require_shared() -> Path:
    """The ../shared directory next to the repository, or skip the calling test."""
    if not SHARED_DIR.is_dir():
        pytest.skip(SHARED_MISSING)
    return SHARED_DIR


# The word vectors converted from the cnsyn package are a cache derived from an installed package, not
# knowledge-base data: one copy serves every test knowledge base (converting 41 MB per KB_HOME would
# cost each test half a second and the disk gigabytes).
WORDVECTORS_CACHE = Path(tempfile.gettempdir()) / f"kb-test-wordvectors-{os.getuid()}"


def make_settings(home: Path | str, **overrides: Any) -> Settings:
    """Default settings (hash embedder, no LLM) with KB_HOME = `home`, plus `overrides`
    (``section__field=value``), independent of the environment."""
    overrides.setdefault("semantic__cache_dir", str(WORDVECTORS_CACHE))
    return load_settings(NO_SETTINGS_FILE, env={}, home=str(home), **overrides)


def normalise(text: str) -> str:
    """Compare Chinese text with full-/half-width punctuation and spaces normalised."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "kb")


@pytest.fixture
def services(settings: Settings) -> Iterator[Any]:
    from kb.container import build_services

    svc = build_services(settings)
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture
def shared_dir() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def seeded_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One knowledge base with ../shared/corpus/seeds ingested, shared by the session: read only!"""
    from kb.container import build_services

    shared = require_shared()
    svc = build_services(make_settings(tmp_path_factory.mktemp("seeded") / "kb"))
    summary = svc.ingest.ingest_paths([shared / "corpus" / "seeds"])
    svc.seed_summary = summary  # the first ingest's summary, for the tests that check it
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture(scope="session")
def laws_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole ../shared/corpus/laws ingested once (1-2 minutes): read only! Only for slow tests."""
    from kb.container import build_services

    shared = require_shared()
    svc = build_services(make_settings(tmp_path_factory.mktemp("laws") / "kb"))
    svc.laws_summary = svc.ingest.ingest_paths([shared / "corpus" / "laws"])
    try:
        yield svc
    finally:
        svc.close()


def free_port() -> int:
    """A loopback port nothing listens on right now (servers started by tests; connection-refused tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a server process started by a test; kill it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
