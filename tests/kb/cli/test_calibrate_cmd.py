"""`kb calibrate` refits answerability on the knowledge base's own documents."""
from __future__ import annotations

import json

from kb.cli import main
from tests.conftest import make_settings

UNITS = ["人次", "个", "项", "份", "次", "天", "名", "家", "轮", "条"]
PLACES = ["江淮", "临河", "东岭", "西川", "南湖", "北岭"]


def _corpus(root):
    """Six reports, each with a dozen sentences that state numbers and years (what cloze questions
    are made of)."""
    root.mkdir()
    for d, place in enumerate(PLACES):
        lines = [f"{place}市政治建设考察工作报告", ""]
        for i in range(12):
            n = 11 + 7 * i + 3 * d
            lines.append(
                f"{2015 + (i + d) % 8}年，{place}市第{i + 1}考察组在基层走访中共核查问题线索{n}{UNITS[i % len(UNITS)]}，"
                f"并督促{place}市相关单位完成整改。"
            )
        (root / f"{place}市报告.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_calibrate_writes_a_site_model_the_answerer_uses(tmp_path, capsys, monkeypatch):
    from kb.container import build_services

    home = tmp_path / "kb"
    settings = make_settings(home)
    services = build_services(settings)
    services.ingest.ingest_paths([_corpus(tmp_path / "corpus")])
    shipped = services.answers.model
    services.close()
    monkeypatch.setenv("KB_SEMANTIC__CACHE_DIR", str(settings.semantic.cache_dir))
    code = main(["--settings", "/nonexistent/settings.yaml", "--home", str(home), "calibrate", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out.strip().splitlines()[-1])
    path = home / "answerability.json"
    assert report["path"] == str(path) and path.is_file()
    assert report["documents"] == len(PLACES) and report["questions"] >= 10
    assert not (home / "calibration-tmp").exists()  # the temporary knowledge base is gone
    site = json.loads(path.read_text(encoding="utf-8"))
    assert site["command"] == "kb calibrate" and site["site_documents"] == len(PLACES)
    # a different model: it decides some generated questions otherwise than the shipped one
    assert site["answer"]["coef"] != [round(float(c), 6) for c in shipped.answer.coef]
    # typed fillers decide most generated questions on their own, so the two models may agree on
    # every one ("changed" 0); what must hold is that the site's model decides them well
    outcomes = {row["group"]: row for row in report["outcomes"]}
    present, absent = outcomes["site-present"], outcomes["site-absent"]
    assert present["answered_correct"] >= 0.9 * present["n"], report
    assert absent["answered"] <= 0.05 * absent["n"], report
    assert 0 <= report["changed"] <= report["questions"]
    # the answerer of this knowledge base now runs with the site's model
    services = build_services(make_settings(home))
    try:
        assert services.answers.model.source == str(path)
    finally:
        services.close()


def test_calibrate_refuses_a_knowledge_base_with_one_document(tmp_path, capsys):
    from kb.container import build_services

    home = tmp_path / "kb"
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.txt").write_text("一份文件\n\n2020年共有3个项目。\n", encoding="utf-8")
    services = build_services(make_settings(home))
    services.ingest.ingest_paths([tmp_path / "one"])
    services.close()
    code = main(["--settings", "/nonexistent/settings.yaml", "--home", str(home), "calibrate"])
    assert code == 1
    assert "at least 2 documents" in capsys.readouterr().err
