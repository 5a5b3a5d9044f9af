"""#30 items 1 and 3 against a real `kb serve`: upload quotas per user and in total, uploaded files
removed once ingested, and request bodies refused by their Content-Length before they are read."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.app.conftest import ADMIN, INSPECTOR, seed_home, start_app, stop_app

pytestmark = pytest.mark.slow
MB = 1024 * 1024


@pytest.fixture(scope="module")
def quota_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("uploads")
    home = root / "home"
    seed_home(home, root / "corpus", users=True)
    (root / "upload-base").mkdir()
    (root / "settings.yaml").write_text(
        "uploads:\n"
        "  max_user_mb: 1\n"
        "  max_total_mb: 1.5\n"
        f"  dir: {root / 'upload-base'}\n"
        "server:\n"
        "  max_upload_mb: 5\n",
        encoding="utf-8",
    )
    running = start_app(home, root / "server.log")
    running.upload_base = root / "upload-base"
    yield running
    stop_app(running.process)


def _login(app, who) -> httpx.Client:
    http = httpx.Client(base_url=app.url, timeout=60)
    assert http.post("/login", data={"username": who[0], "password": who[1]}).status_code == 200
    return http


def _upload(http: httpx.Client, name: str, size: int) -> httpx.Response:
    return http.post("/gradio_api/upload", files=[("files", (name, "考察".encode() * (size // 6) + b"\n", "text/plain"))])


def _stored_files(app) -> list[Path]:
    return [p for p in app.upload_base.rglob("*") if p.is_file()]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _settled_rss_kb(pid: int, window_s: float = 5.0, timeout_s: float = 120.0) -> int:
    """The server's RSS once it has stopped growing: the start-up warm-up (index, welcome questions)
    loads in a background thread and must not be counted as the cost of a refused body."""
    readings: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = time.monotonic()
        readings = [(t, r) for t, r in readings if now - t <= window_s] + [(now, _rss_kb(pid))]
        if now - readings[0][0] >= window_s * 0.9 and max(r for _, r in readings) - min(r for _, r in readings) < 2048:
            return readings[-1][1]
        time.sleep(0.25)
    return readings[-1][1]


def test_uploads_are_held_to_the_user_and_total_quotas_and_removed_once_ingested(quota_app):
    from gradio_client import Client, handle_file

    admin = _login(quota_app, ADMIN)
    first = _upload(admin, "第一批材料.txt", int(0.7 * MB))
    assert first.status_code == 200, first.text
    stored = first.json()[0]
    assert Path(stored).is_file() and Path(stored).is_relative_to(quota_app.upload_base)

    over = _upload(admin, "第二批材料.txt", int(0.5 * MB))  # 0.7 + 0.5 MB > the admin's 1 MB
    assert over.status_code == 413
    assert "「第二批材料.txt」" in over.text and "每位用户的上传配额 1 MB" in over.text, over.text

    inspector = _login(quota_app, INSPECTOR)
    other = _upload(inspector, "检查员材料.txt", int(0.9 * MB))  # within their own 1 MB, over the total 1.5 MB
    assert other.status_code == 413
    assert "「检查员材料.txt」" in other.text and "上传总配额 1.5 MB" in other.text, other.text
    assert _upload(inspector, "小文件.txt", int(0.3 * MB)).status_code == 200

    # the admin ingests a file (uploaded by gradio_client): every uploaded copy of it is gone afterwards
    source = quota_app.upload_base.parent / "补充材料.txt"
    source.write_text("补充材料\n\n第一条 考察组应当在进驻后三日内公布联系方式。\n", encoding="utf-8")
    client = Client(quota_app.url, auth=ADMIN, verbose=False, analytics_enabled=False, download_files=False)
    summary_text, *_ = client.predict(files=[handle_file(str(source))], doc_type="auto", collection="",
                                      api_name="/ingest_files")
    assert "补充材料" in summary_text or "新增" in summary_text, summary_text
    names = {p.name for p in _stored_files(quota_app)}
    assert "补充材料.txt" not in names, names
    # the ingest freed its share: the admin may upload up to the quota again (the 0.7 MB upload,
    # never ingested, still counts)
    assert _upload(admin, "第三批材料.txt", int(0.25 * MB)).status_code == 200


def test_a_huge_upload_or_api_body_is_refused_by_content_length_unread(quota_app):
    admin = _login(quota_app, ADMIN)
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    pid = quota_app.process.pid
    before = _settled_rss_kb(pid)
    for path, extra in (("/gradio_api/upload", f"Cookie: {cookie}\r\n"
                                               "Content-Type: multipart/form-data; boundary=XyZ\r\n"),
                        ("/v1/chat/completions", "Authorization: Bearer kb-not-checked-before-the-size\r\n"
                                                 "Content-Type: application/json\r\n")):
        sock = socket.create_connection(("127.0.0.1", int(quota_app.url.rsplit(":", 1)[1])), timeout=10)
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {300 * MB}\r\n\r\n").encode())
        sock.sendall(b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="huge.pdf"\r\n\r\n' + b"x" * 65536)
        data = b""
        while b"\r\n\r\n" not in data:  # today's code waited here for the other 299.9 MB
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        time.sleep(0.2)
        try:
            data += sock.recv(65536)
        except OSError:
            pass
        sock.close()
        assert data.split(b" ", 2)[1] == b"413", (path, data[:300])
        if path.endswith("upload"):
            assert "「huge.pdf」" in data.decode("utf-8", "replace") and "上传配额" in data.decode("utf-8", "replace")
    assert _rss_kb(pid) - before < 50 * 1024  # far less than the 300 MB announced
