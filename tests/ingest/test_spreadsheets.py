"""Spreadsheets read as tables (ingest/spreadsheets.py): header rows, records, notes, encodings, bad files."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.loaders import LoadError, load_file
from ingest.spreadsheets import display, layout
from kb.settings import IngestSettings
from tests.ingest.spreadsheet_files import PEOPLE, TITLE, evaluation_workbook, rectification_csv

openpyxl = pytest.importorskip("openpyxl")


def load_error(path: Path, settings: IngestSettings) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_file(path, settings)
    assert info.value.path == path
    return info.value


def test_workbook_sheets_become_tables_with_merged_two_level_header(tmp_path, ingest_settings):
    loaded = load_file(evaluation_workbook(tmp_path / "民主测评结果.xlsx"), ingest_settings)
    summary, team, notes = loaded.tables  # the empty sheet gives nothing
    assert summary.sheet == "测评汇总" and summary.caption == TITLE
    assert summary.columns[1] == ["姓名"]  # merged down over both header rows: one name
    assert summary.columns[3] == ["测评票数", "优秀"] and summary.columns[7] == ["比率", "优秀率"]
    assert summary.names[:9] == ["序号", "姓名", "职务", "优秀", "称职", "基本称职", "不称职", "优秀率", "称职率"]
    assert summary.names[summary.label] == "姓名"
    assert len(summary.rows) == len(PEOPLE) + 1 and summary.summary == [False] * len(PEOPLE) + [True]
    number, cells = summary.rows[0]
    assert number == 4  # the row as the spreadsheet shows it: title, two header rows, then 张伟
    assert cells[:9] == ["1", "张伟", "局长", "30", "8", "2", "0", "75.0%", "95.0%"]
    assert summary.notes == [(20, "注：优秀率=优秀票/有效票；称职率=（优秀票+称职票）/有效票。")]
    assert summary.record_text(0) == (f"{TITLE}，序号：1，姓名：张伟，职务：局长，优秀：30，称职：8，基本称职：2，"
                                      "不称职：0，优秀率：75.0%，称职率：95.0%。")
    assert team.names == ["评价项目", "好", "较好", "一般", "差"] and team.caption == "领导班子总体评价"
    assert not notes.rows and [t for _, t in notes.notes][1] == "参加测评人员共40人，收回有效票40张。"
    assert "姓名：周杰" in loaded.text


def test_layout_gives_one_chunk_per_record_cited_by_sheet_and_row(tmp_path, ingest_settings):
    loaded = load_file(evaluation_workbook(tmp_path / "测评.xlsx"), ingest_settings)
    text, spans, records = layout(loaded.tables)
    start, end, sheet, row = spans[0]
    assert (sheet, row) == ("测评汇总", "第4行") and "张伟" in text[start:end]
    assert text[start:end].endswith("。") and "\n" not in text[start:end]
    first = records[0]
    assert first["rows"][0]["chunk"] == 0 and first["rows"][0]["cells"][1] == "张伟"
    assert first["rows"][-1]["summary"] is True
    assert [r["sheet"] for r in records] == ["测评汇总", "班子测评"]  # a sheet of prose holds no records


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_csv_in_any_chinese_encoding(tmp_path, ingest_settings, encoding):
    loaded = load_file(rectification_csv(tmp_path / "整改台账.csv", encoding), ingest_settings)
    (table,) = loaded.tables
    assert table.sheet == "整改台账" and table.names[1] == "整改单位"
    assert table.rows[1] == (3, ["2", "市住房和城乡建设局", "工程招投标监管不严", "2024-09-30", "推进中", "60%"])
    assert table.names[table.label] == "整改单位"


def test_xlsm_is_read_as_a_workbook(tmp_path, ingest_settings):
    path = evaluation_workbook(tmp_path / "测评.xlsx")
    macro = path.rename(tmp_path / "测评.xlsm")
    assert load_file(macro, ingest_settings).tables[0].rows[0][1][1] == "张伟"


def test_corrupt_workbook_names_the_file(tmp_path, ingest_settings):
    path = tmp_path / "坏表.xlsx"
    path.write_bytes(b"PK\x03\x04 not a workbook at all")
    assert "corrupt .xlsx" in load_error(path, ingest_settings).reason
    junk = tmp_path / "乱码.xlsx"
    junk.write_bytes(b"\x00\x01 random bytes" * 20)
    assert "corrupt .xlsx" in load_error(junk, ingest_settings).reason


def test_zip_that_is_not_a_workbook(tmp_path, ingest_settings):
    import zipfile

    path = tmp_path / "不是表.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "你好")
    assert "corrupt workbook" in load_error(path, ingest_settings).reason


def test_password_protected_workbook(tmp_path, ingest_settings):
    # an encrypted OOXML file is an OLE container with an EncryptionInfo stream (its directory names it)
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 600
    path = tmp_path / "加密.xlsx"
    path.write_bytes(ole)
    assert "password-protected" in load_error(path, ingest_settings).reason


def test_empty_workbook(tmp_path, ingest_settings):
    wb = openpyxl.Workbook()
    wb.create_sheet("第二页")
    path = tmp_path / "空.xlsx"
    wb.save(path)
    assert "no cells with data" in load_error(path, ingest_settings).reason


def test_xls_without_libreoffice_is_a_clear_error(tmp_path):
    path = tmp_path / "旧表.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000)
    reason = load_error(path, IngestSettings(soffice_path="/nonexistent/soffice")).reason
    assert reason.startswith(".xls needs LibreOffice (soffice)")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_xls_and_et_through_libreoffice(tmp_path, ingest_settings):
    import subprocess

    source = evaluation_workbook(tmp_path / "src.xlsx")
    out = tmp_path / "out"
    subprocess.run(["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                    "--convert-to", "xls:MS Excel 97", "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=180)
    xls = out / "src.xls"
    loaded = load_file(xls, ingest_settings)
    table = loaded.tables[0]
    assert table.names[:4] == ["序号", "姓名", "职务", "优秀"] and table.rows[0][1][1] == "张伟"
    et = shutil.copy(xls, tmp_path / "测评.et")  # WPS's own format: LibreOffice reads the same way
    assert load_file(Path(et), ingest_settings).tables[0].rows[2][1][1] == "王强"


def test_display_as_the_spreadsheet_shows_it():
    import datetime

    assert display(0.853, "0.0%") == "85.3%"
    assert display(0.5, "0%") == "50%"
    assert display(12.0) == "12"
    assert display(12.25, "0.00") == "12.25"
    assert display(datetime.datetime(2024, 3, 15)) == "2024-03-15"
    assert display("优秀\n票数") == "优秀票数"
    assert display(None) == ""


def test_document_table_rows_are_read_back_into_cells():
    from ingest.spreadsheets import document_tables

    lines = [
        "重点任务分解表如下：",
        "重点任务分解表，序号：1，风险隐患类别：山洪灾害，牵头责任单位：县水务局，各乡镇人民政府，完成时限要求：5月31日前。",
        "重点任务分解表，序号：2，风险隐患类别：交通设施，牵头责任单位：县交通运输局，完成时限要求：6月15日前。",
        "督查结果纳入年度考核。",
    ]
    text = "\n".join(lines)
    (table,) = document_tables(text, [(0, len(lines[0]) + len(lines[1]) + 1), (len(lines[0]) + len(lines[1]) + 2, len(text))])
    assert table["sheet"] == "重点任务分解表" and table["names"] == ["序号", "风险隐患类别", "牵头责任单位", "完成时限要求"]
    first, second = table["rows"]
    assert first["cells"][2] == "县水务局，各乡镇人民政府"  # a "，" inside a cell stays in it
    assert (first["chunk"], second["chunk"]) == (0, 1) and second["quote"] == lines[2]
    assert table["names"][table["label"]] == "风险隐患类别"  # the leftmost column of text names a row
    # a row cut by a chunk boundary: the table is left out rather than computed over part of it
    assert document_tables(text, [(0, 40), (40, len(text))]) == []


def test_year_headers_are_names_not_values(tmp_path, ingest_settings):
    path = tmp_path / "指标.csv"
    path.write_text("单位,2023年,2024年\n甲县,12,15\n乙县,9,11\n", encoding="utf-8")
    (table,) = load_file(path, ingest_settings).tables
    assert table.names == ["单位", "2023年", "2024年"] and table.rows[0] == (2, ["甲县", "12", "15"])
