"""kb/storage/permissions.py: KB_HOME is private at rest — the folder 0700, everything the product writes in
it 0600 — and `kb doctor` reports (and --repair narrows) anything looser (#30 item 6)."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.conftest import make_settings


def _loose(home: Path) -> list[str]:
    out = []
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077:
            out.append(f"{path.relative_to(home)} {oct(stat.S_IMODE(path.lstat().st_mode))}")
    return out


def test_everything_the_product_writes_under_kb_home_is_private(tmp_path):
    from kb.container import build_services

    os.umask(0o022)  # the usual default: what the product must not rely on
    home = tmp_path / "kb"
    services = build_services(make_settings(home))
    try:
        services.ingest.ingest_texts([("保密报告", "关于张某某同志的考察情况报告", "有3名干部反映张某某同志作风霸道。\n")],
                                     doc_type="report", collection="第三组")
        services.users.add("third", "third-pass-1", "inspector", groups=["第三组"])
        services.grants.grant("第三组", "第三组")
        services.audit.record("third", "ask", "q")
        services.conversations.add_answer("third", {"question": "q", "answer": "a", "citations": [], "contexts": []})
    finally:
        services.close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "chroma").is_dir() and any(home.rglob("*.sqlite3"))
    assert _loose(home) == []


def test_doctor_reports_and_repairs_loose_permissions(tmp_path, capsys):
    from kb.cli import main
    from kb.container import build_services

    home = tmp_path / "kb"
    services = build_services(make_settings(home))
    services.audit.record("a", "ask", "q")
    services.close()
    os.chmod(home, 0o755)
    os.chmod(home / "audit.sqlite3", 0o644)
    capsys.readouterr()
    assert main(["--home", str(home), "doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert any("readable or writable by other accounts" in p for p in report["problems"])
    assert {Path(p["path"]).name for p in report["permissions"]} >= {"kb", "audit.sqlite3"}
    assert main(["--home", str(home), "doctor", "--repair"]) == 0
    assert _loose(home) == []
