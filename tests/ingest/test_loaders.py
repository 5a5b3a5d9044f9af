"""Loader tests on real files built in tmp_path: every bad input must end in a LoadError naming the reason."""
from __future__ import annotations

import re

import pickle
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_EXTENSIONS, LoadError, load_file
from kb.settings import IngestSettings

CHINESE = "第一条 为了加强领导班子建设，推进全面从严治党，制定本办法。\n第二条 考察组应当深入谈话。"


def random_bytes(size: int = 4096, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def load_error(path: Path, settings: IngestSettings) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_file(path, settings)
    assert info.value.path == path
    assert str(info.value) == f"{path}: {info.value.reason}"
    return info.value


# --- generic checks -------------------------------------------------------------------------------


def test_zero_byte_file_is_an_empty_file_error(tmp_path, ingest_settings):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert load_error(path, ingest_settings).reason == "empty file"


def test_unsupported_extension_lists_supported_types(tmp_path, ingest_settings):
    path = tmp_path / "data.xyz"
    path.write_text("hello", encoding="utf-8")
    reason = load_error(path, ingest_settings).reason
    assert reason.startswith("unsupported file type '.xyz' (supported: ")
    assert all(ext in reason for ext in SUPPORTED_EXTENSIONS)


def test_file_over_size_limit_is_rejected_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    with open(path, "wb") as fh:  # sparse 12.3 MB file: cheap to make, and it must never be read
        fh.truncate(int(12.3 * 1024 * 1024))
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("file was read"))
    reason = load_error(path, IngestSettings(max_file_mb=10)).reason
    assert reason == "file too large (12.3 MB > limit 10 MB)"


def test_directory_is_rejected(tmp_path, ingest_settings):
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    assert "directory" in load_error(folder, ingest_settings).reason


def test_missing_file_is_rejected(tmp_path, ingest_settings):
    assert load_error(tmp_path / "nope.pdf", ingest_settings).reason == "file not found"


def test_load_error_survives_pickling(tmp_path):
    error = LoadError(tmp_path / "x.pdf", "corrupt PDF (bad)")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.reason, str(copy)) == (error.path, error.reason, str(error))


# --- text encodings ---------------------------------------------------------------------------------


def test_random_bytes_named_txt_are_binary(tmp_path, ingest_settings):
    path = tmp_path / "noise.txt"
    path.write_bytes(random_bytes())
    assert load_error(path, ingest_settings).reason == "binary or undecodable content (not a text file)"


def test_control_character_garbage_without_nul_is_binary(tmp_path, ingest_settings):
    path = tmp_path / "controls.txt"
    path.write_bytes(bytes(range(1, 32)) * 50)
    assert "binary" in load_error(path, ingest_settings).reason


def test_gbk_text_is_decoded(tmp_path, ingest_settings):
    path = tmp_path / "gbk.txt"
    path.write_bytes(CHINESE.encode("gbk"))
    document = load_file(path, ingest_settings)
    assert document.segments[0].text == CHINESE
    assert document.encoding == "gb18030"
    assert document.format == "txt" and document.segments[0].page is None


def test_gb18030_text_with_characters_outside_gbk_is_decoded(tmp_path, ingest_settings):
    text = "吉𠮷祥：乡镇干部䶮名单\r\n第二行"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    path = tmp_path / "gb18030.txt"
    path.write_bytes(text.encode("gb18030"))
    assert load_file(path, ingest_settings).segments[0].text == "吉𠮷祥：乡镇干部䶮名单\n第二行"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_decoded(tmp_path, ingest_settings, codec):
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    path = tmp_path / "utf16.txt"
    path.write_bytes(bom + CHINESE.replace("\n", "\r\n").encode(codec))
    document = load_file(path, ingest_settings)
    assert document.segments[0].text == CHINESE
    assert document.encoding == "utf-16"


def test_utf8_bom_is_stripped(tmp_path, ingest_settings):
    path = tmp_path / "bom.md"
    path.write_bytes(b"\xef\xbb\xbf" + "# 谈话提纲\r\n\r\n正文内容".encode("utf-8"))
    document = load_file(path, ingest_settings)
    assert document.segments[0].text == "# 谈话提纲\n\n正文内容"
    assert document.encoding == "utf-8-sig"
    assert document.title_hint == "谈话提纲"
    assert document.format == "md"


def test_text_with_only_whitespace_has_no_text(tmp_path, ingest_settings):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n\t\n", encoding="utf-8")
    assert load_error(path, ingest_settings).reason == "no text found"


# --- HTML -------------------------------------------------------------------------------------------


def test_html_keeps_visible_text_only(tmp_path, ingest_settings):
    page = """<!DOCTYPE html><html><head><meta charset="gbk"><title>站点标题</title>
      <style>.x { color: red } 样式文字</style><script>var 脚本 = "脚本文字";</script></head>
      <body><header><div class="logo">网站页头</div></header>
      <nav><a href="/">导航首页</a><a href="/a">导航栏目</a></nav>
      <div class="breadcrumb">当前位置：首页 &gt; 新闻</div>
      <main><h1>关于加强考察工作的通知</h1><p>第一段&nbsp;正文。</p><p>第二段<br>换行正文。</p>
      <table><tr><td>姓名</td><td>职务</td></tr></table>
      <div class="share-box">分享到微信</div><noscript>请启用脚本</noscript></main>
      <aside>侧栏推荐</aside><form>搜索表单</form><div id="footer">版权所有 网站页脚</div>
      <script>document.write("后置脚本")</script></body></html>"""
    path = tmp_path / "page.html"
    path.write_bytes(page.encode("gbk"))
    document = load_file(path, ingest_settings)
    text = document.segments[0].text
    assert document.title_hint == "关于加强考察工作的通知"
    assert text.splitlines() == [
        "# 关于加强考察工作的通知",
        "第一段\xa0正文。",
        "第二段",
        "换行正文。",
        "姓名 | 职务",
    ]
    for junk in ("样式", "脚本", "页头", "导航", "当前位置", "分享", "请启用", "侧栏", "搜索", "页脚", "站点标题"):
        assert junk not in text


def test_html_title_falls_back_to_title_element(tmp_path, ingest_settings):
    path = tmp_path / "page.htm"
    path.write_text("<html><head><title>民主生活会通报</title></head><body><p>正文</p></body></html>", encoding="utf-8")
    document = load_file(path, ingest_settings)
    assert document.title_hint == "民主生活会通报"
    assert document.segments[0].text == "正文"


def test_deeply_nested_html_does_not_crash(tmp_path, ingest_settings):
    depth = 5000
    page = "<html><body>" + "<div><span>" * depth + "最深处的正文" + "</span></div>" * depth + "<p>结尾段落</p></body></html>"
    path = tmp_path / "deep.html"
    path.write_text(page, encoding="utf-8")
    text = load_file(path, ingest_settings).segments[0].text
    assert "最深处的正文" in text
    assert text.endswith("结尾段落")


# --- DOCX -------------------------------------------------------------------------------------------


def test_docx_headings_and_tables_keep_document_order(make_docx, ingest_settings):
    path = make_docx(
        [
            ("heading", 1, "考察工作方案"),
            ("p", "一、考察对象的基本情况。"),
            ("table", [["姓名", "职务", "任职时间"], ["张三", "县委书记", "2020年"]]),
            ("heading", 2, "访谈要点"),
            ("p", "二、重点了解政治表现。"),
        ]
    )
    document = load_file(path, ingest_settings)
    assert document.format == "docx"
    assert document.segments[0].text.splitlines() == [
        "# 考察工作方案",
        "一、考察对象的基本情况。",
        "姓名：张三，职务：县委书记，任职时间：2020年。",  # a row repeats the column headers
        "## 访谈要点",
        "二、重点了解政治表现。",
    ]
    assert document.title_hint == "考察工作方案"


def test_docx_core_title_is_the_title_hint(make_docx, ingest_settings):
    path = make_docx([("p", "正文")], core_title="核心属性标题")
    assert load_file(path, ingest_settings).title_hint == "核心属性标题"


def test_truncated_docx_is_corrupt(make_docx, ingest_settings):
    path = make_docx([("p", "正文内容" * 200)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert load_error(path, ingest_settings).reason.startswith("corrupt .docx (")


def test_random_bytes_named_docx_are_corrupt(tmp_path, ingest_settings):
    path = tmp_path / "noise.docx"
    path.write_bytes(random_bytes())
    assert load_error(path, ingest_settings).reason.startswith("corrupt .docx (")


def test_zip_without_word_document_is_corrupt_docx(tmp_path, ingest_settings):
    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    assert load_error(path, ingest_settings).reason.startswith("corrupt .docx (")


def test_docx_zip_bomb_is_refused(make_docx, tmp_path):
    path = make_docx([("p", "正文")])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/bomb.bin", b"\0" * (3 * 1024 * 1024))  # compresses to a few KB
    assert path.stat().st_size < 200 * 1024
    reason = load_error(path, IngestSettings(max_unzipped_mb=1)).reason
    assert "max_unzipped_mb" in reason and "zip bomb" in reason


# --- PDF --------------------------------------------------------------------------------------------


def test_pdf_pages_keep_their_numbers(make_pdf, ingest_settings):
    path = make_pdf(["第一页：加强领导班子建设", "第二页：政治监督谈话制度"])
    document = load_file(path, ingest_settings)
    assert document.format == "pdf"
    assert [(s.page, s.text) for s in document.segments] == [
        (1, "第一页：加强领导班子建设"),
        (2, "第二页：政治监督谈话制度"),
    ]


def test_random_bytes_named_pdf_are_corrupt(tmp_path, ingest_settings):
    path = tmp_path / "noise.pdf"
    path.write_bytes(random_bytes())
    assert load_error(path, ingest_settings).reason.startswith("corrupt PDF (")


def test_truncated_pdf_is_rejected(make_pdf, ingest_settings):
    path = make_pdf(["第一页"])
    path.write_bytes(path.read_bytes()[:300])
    reason = load_error(path, ingest_settings).reason
    assert reason.startswith(("corrupt PDF (", "no text found", "scanned PDF"))


def test_encrypted_pdf_is_rejected(make_pdf, ingest_settings):
    path = make_pdf(["机密内容"], user_password="secret")
    assert load_error(path, ingest_settings).reason.startswith("encrypted PDF")


def test_pdf_with_empty_user_password_is_opened(make_pdf, ingest_settings):
    path = make_pdf(["只设了权限密码的文件"], user_password="")
    assert load_file(path, ingest_settings).segments[0].text == "只设了权限密码的文件"


def test_pdf_without_text_layer_asks_for_the_ocr_extra(make_pdf, ingest_settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import now raises ImportError
    path = make_pdf(["", ""])
    reason = load_error(path, ingest_settings).reason
    assert reason == "scanned PDF with no text layer: install the ocr extra (pip install -e .[ocr])"


@pytest.mark.slow
def test_pdf_without_text_layer_is_read_by_ocr(make_pdf, ingest_settings, tmp_path, cjk_font):
    pytest.importorskip("rapidocr_onnxruntime", reason="OCR extra not installed")
    from PIL import Image, ImageDraw, ImageFont

    image_path = tmp_path / "scan.png"
    image = Image.new("RGB", (1200, 300), "white")
    ImageDraw.Draw(image).text((40, 90), "政治监督谈话制度", fill="black", font=ImageFont.truetype(str(cjk_font), 110))
    image.save(image_path)
    path = make_pdf(["", ""], images={1: image_path})
    document = load_file(path, ingest_settings)
    assert [s.page for s in document.segments] == [2]
    recognised = set(document.segments[0].text) & set("政治监督谈话制度")
    assert len(recognised) >= 5, document.segments[0].text


# --- DOC / WPS via LibreOffice --------------------------------------------------------------------


def test_doc_without_libreoffice_gives_a_clear_error(tmp_path):
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)
    settings = IngestSettings(soffice_path=str(tmp_path / "no-such-soffice"))
    assert load_error(path, settings).reason == ".doc/.wps needs LibreOffice (soffice) which was not found"


def test_doc_with_unknown_content_is_corrupt(tmp_path, ingest_settings):
    path = tmp_path / "noise.wps"
    path.write_bytes(random_bytes())
    assert load_error(path, ingest_settings).reason.startswith("corrupt .wps (")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_doc_with_ole_header_and_garbage_body_is_corrupt(tmp_path, ingest_settings):
    if shutil.which(ingest_settings.soffice_path) is None:
        pytest.skip("LibreOffice (soffice) not installed")
    path = tmp_path / "garbage.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random_bytes(5000))
    assert load_error(path, ingest_settings).reason.startswith("corrupt .doc (")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_doc_is_converted_with_libreoffice(make_docx, tmp_path, ingest_settings):
    soffice = shutil.which(ingest_settings.soffice_path)
    if soffice is None:
        pytest.skip("LibreOffice (soffice) not installed")
    source = make_docx(
        [("heading", 1, "旧版文档标题"), ("p", "旧版Word文档中的正文。"), ("table", [["甲", "乙"]]), ("p", "表后段落。")]
    )
    outdir = tmp_path / "converted"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "doc:MS Word 97",
            "--outdir",
            str(outdir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    doc_path = outdir / "doc.doc"
    assert doc_path.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    document = load_file(doc_path, ingest_settings)
    assert document.format == "doc"
    assert document.segments[0].text.splitlines() == [
        "# 旧版文档标题",
        "旧版Word文档中的正文。",
        "甲 | 乙",
        "表后段落。",
    ]


# --- OFD --------------------------------------------------------------------------------------------


def test_ofd_pages_are_read_in_reading_order(make_ofd, ingest_settings):
    path = make_ofd(
        [
            # given out of order: second line first, and the right half of line one before its left half
            [(20, 40, "第二行文字"), (60, 30, "的第一行"), (20, 30, "第一页")],
            [(20, 50, "末行"), (20, 30, "第二页开头")],
        ],
        title="OFD文件标题",
    )
    document = load_file(path, ingest_settings)
    assert document.format == "ofd"
    assert document.title_hint == "OFD文件标题"
    # the text keeps the layout (indentation, column gaps as runs of spaces) for the line joiner
    assert [(s.page, re.sub(r" +", "", s.text)) for s in document.segments] == [
        (1, "第一页的第一行\n第二行文字"),
        (2, "第二页开头\n末行"),
    ]


def test_ofd_zip_bomb_is_refused(make_ofd):
    path = make_ofd([[(20, 30, "正文")]])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Doc_0/Res/bomb.bin", b"\0" * (3 * 1024 * 1024))
    assert "max_unzipped_mb" in load_error(path, IngestSettings(max_unzipped_mb=1)).reason


def test_ofd_without_ofd_xml_is_corrupt(tmp_path, ingest_settings):
    path = tmp_path / "bad.ofd"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no OFD.xml here")
    assert load_error(path, ingest_settings).reason.startswith("corrupt .ofd (")


# --- bounds and encodings (issue #14, hardening) ------------------------------------------------------


def test_gb18030_behind_a_utf16_bom_is_a_clear_error(tmp_path, ingest_settings):
    import codecs

    source = "为了加强领导班子政治建设考察工作坚持党管干部原则突出政治标准把对党忠诚政治过硬的要求贯穿考察工作全过程"
    # characters whose GB18030 bytes also "decode" as UTF-16 (no surrogate halves): the mojibake case
    text = "".join(c for c in source if not 0xD8 <= c.encode("gb18030")[1] <= 0xDF)
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("gb18030"))
    error = load_error(path, ingest_settings)
    assert "not UTF-16" in error.reason and "GB18030" in error.reason


def test_real_utf16_with_bom_still_loads(tmp_path, ingest_settings):
    import codecs

    path = tmp_path / "u16.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "第一条 为了加强监督，制定本规定。".encode("utf-16-le"))
    assert load_file(path, ingest_settings).text == "第一条 为了加强监督，制定本规定。"


def _lying_docx(tmp_path: Path, inflated_mb: int) -> Path:
    """A .docx whose zip headers say document.xml is 1 KB while it inflates to `inflated_mb` MB."""
    import io
    import struct

    import docx

    plain = tmp_path / "plain.docx"
    document = docx.Document()
    document.add_paragraph("正文一段。")
    document.save(str(plain))
    buffer = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"</w:body>", b"<!--" + b" " * (inflated_mb << 20) + b"--></w:body>")
            out.writestr(item.filename, data)
    raw = bytearray(buffer.getvalue())
    name = b"word/document.xml"
    at = raw.find(name)
    while at >= 0:
        if raw[at - 30 : at - 26] == b"PK\x03\x04":
            raw[at - 30 + 22 : at - 30 + 26] = struct.pack("<I", 1024)
        if raw[at - 46 : at - 42] == b"PK\x01\x02":
            raw[at - 46 + 24 : at - 46 + 28] = struct.pack("<I", 1024)
        at = raw.find(name, at + 1)
    path = tmp_path / "lying.docx"
    path.write_bytes(bytes(raw))
    return path


def test_docx_whose_zip_header_lies_about_its_size_is_refused(tmp_path):
    path = _lying_docx(tmp_path, 40)
    error = load_error(path, IngestSettings(max_unzipped_mb=10))
    assert "inflates past 10 MB" in error.reason


def _shared_stream_pdf(tmp_path: Path, pages: int, make_pdf) -> Path:
    """`pages` pages that all draw one content stream (83 KB made a 6.5 GB extraction once)."""
    from pypdf import PdfReader, PdfWriter

    one = make_pdf(["\n".join(f"第{i}行：考察工作坚持党管干部原则，突出政治标准。" for i in range(30))], name="one.pdf")
    reader = PdfReader(str(one))
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_page(reader.pages[0])
    path = tmp_path / "shared.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def test_pdf_over_the_text_bound_fails_that_file_only(tmp_path, make_pdf):
    from kb.container import build_services
    from tests.conftest import make_settings

    path = _shared_stream_pdf(tmp_path, 300, make_pdf)
    good = tmp_path / "good.txt"
    good.write_text("考察工作坚持党管干部原则。", encoding="utf-8")
    services = build_services(make_settings(tmp_path / "kb", ingest__max_chars=100_000))
    try:
        summary = services.ingest.ingest_paths([path, good])
    finally:
        services.close()
    assert summary["added"] == 1
    [failure] = [f for f in summary["failed"] if f["path"].endswith("shared.pdf")]
    assert "extracted text too large" in failure["error"]
    assert not (tmp_path / "kb" / "ingest.dirty").exists()


def test_pdf_page_limit(tmp_path, make_pdf):
    path = _shared_stream_pdf(tmp_path, 12, make_pdf)
    assert "too many pages (12 > limit 10)" in load_error(path, IngestSettings(max_pages=10)).reason


def test_a_page_that_takes_too_long_fails_its_file(make_pdf, monkeypatch):
    import time

    from ingest import loaders

    path = make_pdf(["第一页正文。", "第二页正文。"])
    real = loaders._page_text

    def slow(page):
        time.sleep(2)  # what a crafted content stream does to the extractor
        return real(page)

    monkeypatch.setattr(loaders, "_page_text", slow)
    started = time.perf_counter()
    error = load_error(path, IngestSettings(page_timeout_s=0.3))
    assert "page 1: text extraction took longer than 0.3 s" in error.reason
    assert time.perf_counter() - started < 1.5


def test_a_real_slow_page_is_cut_off_not_retried(tmp_path):
    # the extractor's own work, not a sleep: the timer's exception must get through pypdf and our
    # layout-to-plain fallback, which catch Exception (it did not, and the page took 8 s + plain mode)
    import time

    from tests.ingest.conftest import slow_pdf

    path = slow_pdf(tmp_path / "slow.pdf")
    started = time.perf_counter()
    error = load_error(path, IngestSettings(page_timeout_s=0.5))
    assert "page 1: text extraction took longer than 0.5 s" in error.reason
    assert time.perf_counter() - started < 2


def test_ofd_from_a_converter_with_other_namespace_and_attribute_case(make_ofd, ingest_settings, tmp_path):
    # a third-party converter: another namespace URI, "size"/"boundary" lower-cased; the font size
    # must still be read (it sets the column gaps the table reader needs)
    source = make_ofd([[(20, 30, "考察对象"), (80, 30, "时间"), (20, 40, "省直单位"), (80, 40, "5月31日")]])
    odd = tmp_path / "odd.ofd"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(odd, "w") as out:
        for item in src.infolist():
            data = src.read(item).decode("utf-8")
            data = data.replace("http://www.ofdspec.org/2016", "http://www.ofdspec.org").replace('Size="', 'size="')
            data = data.replace('Boundary="', 'boundary="')
            out.writestr(item.filename, data)
    text = load_file(odd, ingest_settings).segments[0].text
    assert re.sub(r" {2,}", " | ", text).split("\n") == ["考察对象 | 时间", "省直单位 | 5月31日"]


def test_ofd_table_cells_stand_under_one_another_whatever_digits_precede_them(make_ofd, ingest_settings):
    # a digit is half as wide as a character but one character of layout text: placing each cell by its
    # gap from the cell before drifted the cells after digits rightwards, off their column
    path = make_ofd([[
        (20, 30, "完成143个老旧小区"), (80, 30, "区住房城乡建"),
        (20, 40, "改造86.4公里同步"), (80, 40, "气集团有限公"),
        (20, 50, "压设施"), (80, 50, "司"),
    ]])
    lines = load_file(path, ingest_settings).segments[0].text.split("\n")
    columns = {line.index(cell) for line, cell in zip(lines, ["区住房城乡建", "气集团有限公", "司"])}
    assert len(columns) == 1, lines
