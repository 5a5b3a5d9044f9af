"""A real app process for the API and browser tests: `kb serve` in a subprocess on a free port,
with a temporary KB_HOME seeded from a small corpus written here, and two accounts."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]

ADMIN = ("管理员甲", "admin-pass-1")
INSPECTOR = ("inspector1", "insp-pass-1")

# Small documents with facts the tests ask about; each fact appears in exactly one document.
CORPUS = {
    "党内政治监督谈话办法.txt": """党内政治监督谈话办法

第一条 为了加强对党政一把手的监督，建立党内政治监督谈话制度。

第二条 谈话由上级党委主要负责人与下级党委主要负责人一对一进行，每年至少开展一次。

第三条 谈话前应当梳理被谈话人的履职情况和群众反映，谈话中直接指出存在的问题，谈话后督促整改落实。

第四条 谈话情况应当形成记录，作为考察干部政治素质的重要依据。
""",
    "领导班子政治建设考察要点.txt": """领导班子政治建设考察要点

一、政治忠诚
考察干部是否坚决做到“两个维护”，对党忠诚老实，在重大原则问题上立场坚定。

二、政治担当
考察干部是否敢于担当、善于作为，面对急难险重任务是否冲在一线，能否主动破解发展难题。

三、政治自律
考察干部是否严守政治纪律和政治规矩，是否带头落实中央八项规定精神，是否管好家属子女和身边工作人员。
""",
    "某区委书记考察情况报告.txt": """某区委书记考察情况报告

考察组通过个别谈话、民主测评和查阅资料等方式，对该区委书记进行了全面考察。

该同志政治担当较强，在推进老旧小区改造中主动协调解决资金难题，群众满意度明显提升。

存在的不足：抓班子带队伍的方法还不够多，对年轻干部的培养力度有待加强。
""",
}

QUESTION = "党内政治监督谈话每年至少开展几次？"
QUESTION_DOC = "党内政治监督谈话办法"
QUOTE_WORDS = "每年至少开展一次"


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "GRADIO_"))}
    env.update(
        KB_HOME=str(home),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def seed_home(home: Path, corpus_dir: Path, users: bool) -> None:
    """Ingest the corpus (and add accounts) in this process before the server starts."""
    from kb.container import build_services
    from kb.settings import load_settings

    corpus_dir.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (corpus_dir / name).write_text(text, encoding="utf-8")
    services = build_services(load_settings("/nonexistent/kb-test-settings.yaml", env={}, home=str(home)))
    try:
        summary = services.ingest.ingest_paths([str(corpus_dir)], collection="测试")
        assert summary["added"] == len(CORPUS), summary
        if users:
            services.users.add(ADMIN[0], ADMIN[1], "admin")
            services.users.add(INSPECTOR[0], INSPECTOR[1], "inspector")
    finally:
        services.close()


@dataclass
class RunningApp:
    url: str
    home: Path
    process: subprocess.Popen
    log: Path


def start_app(
    home: Path, log_path: Path, timeout: float = 120.0, extra_args: tuple[str, ...] = (), fakes: Path | None = None
) -> RunningApp:
    """``fakes``: a folder put before the repository on the server's PYTHONPATH (and its ingest
    child's), whose modules stand in for third-party ones."""
    import httpx

    port = free_port()
    log_file = open(log_path, "wb")
    pythonpath = os.pathsep.join([str(fakes), str(REPO)] if fakes else [str(REPO)])
    process = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "serve", "--port", str(port), *extra_args],
        cwd=str(home.parent),  # no settings.yaml from the developer's checkout
        env=dict(clean_env(home), PYTHONPATH=pythonpath),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kb serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            httpx.get(url + "/", timeout=2.0)
            return RunningApp(url, home, process, log_path)
        except httpx.HTTPError:
            time.sleep(0.5)
    stop_app(process)
    raise RuntimeError(f"kb serve did not answer within {timeout}s:\n{log_path.read_text(errors='replace')}")


def stop_app(process: subprocess.Popen) -> None:
    stop_process(process, timeout=15)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> RunningApp:
    """The app with accounts (login required), shared by the API and browser tests."""
    root = tmp_path_factory.mktemp("kbapp")
    home = root / "home"
    seed_home(home, root / "corpus", users=True)
    running = start_app(home, root / "server.log")
    yield running
    stop_app(running.process)


@pytest.fixture(scope="session")
def local_app_server(tmp_path_factory) -> RunningApp:
    """The app without a users file: no login, local only (asked for 0.0.0.0, it must refuse)."""
    root = tmp_path_factory.mktemp("kbapp-local")
    home = root / "home"
    seed_home(home, root / "corpus", users=False)
    running = start_app(home, root / "server.log", extra_args=("--host", "0.0.0.0"))
    yield running
    stop_app(running.process)


# ---- an app whose OCR skips print: the upload view must show the pages to check -------------------
CHECKED_PDF = "核对样例.pdf"
LOW_LINE = "[重新登录](http://evil.example)"  # what the fake recogniser "reads": document text, never a link

FAKE_RAPIDOCR = f'''"""Stands in for rapidocr_onnxruntime in the app under test (tests/app/conftest.py): each page
image comes back with one low-confidence line in the blank top margin and nothing for the page's
printed lines, so ingest reports 识别置信度低 and 未识别区域 for that page."""


class RapidOCR:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, image):
        return [[[[10, 10], [300, 10], [300, 40], [10, 40]], {LOW_LINE!r}, 0.3]], 0.0
'''


def write_checked_pdf(path: Path) -> Path:
    """A text PDF whose page 2 is an image-only scan: two rows of character-sized blocks (print)."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    picture = path.with_suffix(".png")
    image = Image.new("RGB", (800, 200), "white")
    draw = ImageDraw.Draw(image)
    for top in (40, 120):
        for i in range(18):
            draw.rectangle((20 + 36 * i, top, 20 + 36 * i + 24, top + 24), fill="black")
    image.save(picture)
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("STSong-Light", 14)
    pdf.drawString(72, 760, "第一条 考察组进驻后应当公布联系方式，接受来信来访。")
    pdf.showPage()
    pdf.drawImage(str(picture), 72, 400, width=400, height=100)  # rendered at scale 2: 800 x 200 px
    pdf.showPage()
    pdf.save()
    return path


@pytest.fixture(scope="session")
def ocr_check_app(tmp_path_factory) -> RunningApp:
    """The app with accounts, whose OCR engine (a fake of rapidocr_onnxruntime) misses the print of
    every scanned page."""
    root = tmp_path_factory.mktemp("kbapp-ocr")
    home = root / "home"
    seed_home(home, root / "corpus", users=True)
    fakes = root / "fakes"
    (fakes / "rapidocr_onnxruntime").mkdir(parents=True)
    (fakes / "rapidocr_onnxruntime" / "__init__.py").write_text(FAKE_RAPIDOCR, encoding="utf-8")
    running = start_app(home, root / "server.log", fakes=fakes)
    yield running
    stop_app(running.process)


def drafting_available() -> bool:
    try:
        import kb.drafting  # noqa: F401
    except ImportError:
        return False
    return True
