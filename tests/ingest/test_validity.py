"""现行有效 / 已修订 / 已废止 (#28 item 4): decided at ingest from a later version of the same title, a
废止 notice in the knowledge base, or what a document declares; retrieval prefers the current version;
a citation of a superseded one says so.

Real files in tmp dirs through the real ingest pipeline into a real store."""
from __future__ import annotations

import shutil
from pathlib import Path

from ingest.validity import REPEALED, REVISED, notices, version_date
from tests.conftest import require_shared

TITLE = "中华人民共和国干部监督法"
OLD = f"""# {TITLE}

2006年8月27日 第十届全国人民代表大会常务委员会第二十三次会议通过

第一条 为了加强干部监督，制定本法。

第十二条 被监督的干部每年至少向监督机关书面报告一次个人有关事项。

第十五条 干部监督工作所需经费列入本级财政预算，由财政部门统筹保障。
"""
NEW = f"""# {TITLE}

2006年8月27日 第十届全国人民代表大会常务委员会第二十三次会议通过
2021年4月29日 第十三届全国人民代表大会常务委员会第二十八次会议修正

第一条 为了加强干部监督，制定本法。

第十二条 被监督的干部每半年至少向监督机关书面报告一次个人有关事项。
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _laws(tmp_path: Path) -> Path:
    folder = tmp_path / "laws"
    _write(folder / "干部监督法(2006-08-27).md", OLD)
    _write(folder / "干部监督法(2021-04-29).md", NEW)
    return folder


def test_facts_read_from_a_document():
    assert version_date(NEW) == "2021-04-29" and version_date(OLD) == "2006-08-27"
    assert version_date("正文", {"issued_on": "2024-03-15"}) == "2024-03-15"
    assert version_date("正文", name="某法(2018-10-26).md") == "2018-10-26"
    text = "本通知自印发之日起施行。《关于加强谈话工作的通知》（某组发〔2019〕3号）同时废止。依据《中国共产党章程》制定。"
    assert notices(text) == [["关于加强谈话工作的通知", REPEALED]]


def test_a_later_version_of_the_same_title_supersedes_the_earlier(services, tmp_path):
    services.ingest.ingest_paths([_laws(tmp_path)])
    old, new = services.store.get_document("干部监督法(2006-08-27)"), services.store.get_document("干部监督法(2021-04-29)")
    assert (old.validity, old.superseded_by) == (REVISED, new.doc_id)
    assert old.validity_note == f"已修订，现行版本：《{TITLE}》2021年"
    assert new.validity in ("", "现行有效") and new.superseded_by == ""
    # removing the current version makes the earlier one current again
    services.ingest.remove(new.doc_id)
    assert services.store.get_document(old.doc_id).validity == "现行有效"


def test_retrieval_prefers_the_current_version(services, tmp_path):
    services.ingest.ingest_paths([_laws(tmp_path)])
    hits = services.retriever.search("被监督的干部多久向监督机关书面报告一次个人有关事项", k=5)
    docs = [h.chunk.doc_id for h in hits]
    assert "干部监督法(2006-08-27)" in docs and "干部监督法(2021-04-29)" in docs
    assert docs.index("干部监督法(2021-04-29)") < docs.index("干部监督法(2006-08-27)")


def test_a_quoted_superseded_version_is_marked_next_to_its_citation(services, tmp_path):
    from kb.cli.ask_cmd import render_text
    from kb.drafting.export import citation_label

    services.ingest.ingest_paths([_laws(tmp_path)])
    # only the earlier version has this clause: an answer quoting it quotes a superseded text
    answer = services.answers.ask("干部监督工作所需经费由谁保障？")
    cited = [c for c in answer.citations if c.doc_id == "干部监督法(2006-08-27)"]
    assert cited, answer.to_dict()
    label = f"（已修订，现行版本：《{TITLE}》2021年）"
    assert all(c.validity == REVISED and c.validity_label() == label for c in cited)
    assert label in render_text(answer)
    assert citation_label(cited[0]).endswith(label) and citation_label(cited[0].to_dict()).endswith(label)
    current = [c for c in answer.citations if c.doc_id == "干部监督法(2021-04-29)"]
    assert all(c.validity_label() == "" for c in current)


def test_a_repeal_notice_in_the_knowledge_base_marks_what_it_repeals(services, tmp_path):
    old = _write(tmp_path / "docs" / "旧通知.txt",
                 "关于加强谈话工作的通知\n\n一、考察谈话应当逐人进行，做好记录。\n")
    services.ingest.ingest_paths([old])
    assert services.store.get_document("旧通知").validity in ("", "现行有效")
    notice = _write(tmp_path / "docs" / "新通知.txt",
                    "关于改进考察谈话工作的通知\n\n一、考察谈话可以采取集中与个别相结合的方式。\n"
                    "二、本通知自印发之日起施行，《关于加强谈话工作的通知》同时废止。\n")
    services.ingest.ingest_paths([notice])
    record = services.store.get_document("旧通知")
    assert (record.validity, record.superseded_by) == (REPEALED, "新通知")
    assert record.validity_note == "已废止，见《关于改进考察谈话工作的通知》"


def test_real_law_versions_from_the_laws_corpus(services, tmp_path):
    """Two versions of one law as the laws corpus holds them: the 2015 text is 已修订 by the 2025 one."""
    shared = require_shared()
    folder = tmp_path / "real"
    folder.mkdir()
    name = "全国人民代表大会和地方各级人民代表大会代表法"
    for date in ("2015-08-29", "2025-03-11"):
        shutil.copy(shared / "corpus" / "laws" / "宪法相关法" / f"{name}({date}).md", folder)
    services.ingest.ingest_paths([folder])
    old, new = services.store.get_document(f"{name}(2015-08-29)"), services.store.get_document(f"{name}(2025-03-11)")
    assert old.validity == REVISED and old.superseded_by == new.doc_id
    assert new.validity in ("", "现行有效")
    hits = services.retriever.search(f"{name}第一条", k=5)
    assert hits and hits[0].chunk.doc_id == new.doc_id


def test_a_store_from_before_is_decided_by_doctor_repair(services, tmp_path):
    """Records written before validity (no validity, no version date) keep their ids; `kb doctor --repair`
    (or any later ingest) decides them from their 成文日期 or the date in their names."""
    services.ingest.ingest_paths([_laws(tmp_path)])
    ids = sorted(d.doc_id for d in services.store.list_documents())
    blank = {"validity": "", "superseded_by": "", "validity_note": "", "version_date": "", "formats": ""}
    services.store.update_records({d: dict(blank) for d in ids})
    assert services.store.get_document("干部监督法(2006-08-27)").validity == ""
    services.ingest.repair()
    assert sorted(d.doc_id for d in services.store.list_documents()) == ids
    assert services.store.get_document("干部监督法(2006-08-27)").validity == REVISED
