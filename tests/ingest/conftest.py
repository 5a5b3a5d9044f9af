"""Fixtures that build real files (docx, pdf, ofd, images) in tmp_path for the loader tests."""
from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Callable

import pytest

from kb.settings import IngestSettings

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture
def ingest_settings() -> IngestSettings:
    return IngestSettings()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED} (../shared next to the repository)")
    return SHARED


@pytest.fixture
def make_docx(tmp_path: Path) -> Callable[..., Path]:
    """Build a .docx from a list of blocks: ("heading", level, text) | ("title", text) | ("p", text) | ("table", rows)."""

    def build(blocks: list[tuple], name: str = "doc.docx", core_title: str = "") -> Path:
        import docx
        from docx.shared import Cm

        document = docx.Document()
        if core_title:
            document.core_properties.title = core_title
        for block in blocks:
            kind = block[0]
            if kind == "heading":
                document.add_heading(block[2], level=block[1])
            elif kind == "title":
                document.add_heading(block[1], level=0)
            elif kind == "p":
                document.add_paragraph(block[1])
            elif kind == "table":
                rows = block[1]
                table = document.add_table(rows=len(rows), cols=len(rows[0]))
                table.style = "Table Grid"
                for r, row in enumerate(rows):
                    for c, value in enumerate(row):
                        table.cell(r, c).text = value
                        table.cell(r, c).width = Cm(4)  # LibreOffice drops width-less tables when saving .doc
        path = tmp_path / name
        document.save(str(path))
        return path

    return build


def _register_cjk_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """Build a PDF with one page per string (Chinese via reportlab's CID font STSong-Light).

    ``images`` maps a 0-based page index to a PNG drawn on that page; ``user_password`` encrypts (RC4, so
    no extra crypto package is needed to write it).
    """

    def build(
        pages: list[str],
        name: str = "doc.pdf",
        user_password: str | None = None,
        images: dict[int, Path] | None = None,
    ) -> Path:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        font = _register_cjk_font()
        path = tmp_path / name
        pdf = canvas.Canvas(str(path), pagesize=A4)
        for index, text in enumerate(pages):
            if text:
                pdf.setFont(font, 14)
                for line_no, line in enumerate(text.split("\n")):
                    pdf.drawString(72, 760 - 22 * line_no, line)
            else:
                pdf.rect(72, 600, 200, 100)  # a page with graphics but no text
            if images and index in images:
                pdf.drawImage(str(images[index]), 72, 400, width=400, height=100)
            pdf.showPage()
        pdf.save()
        if user_password is not None:
            from pypdf import PdfReader, PdfWriter

            writer = PdfWriter(clone_from=PdfReader(str(path)))
            writer.encrypt(user_password=user_password, owner_password="owner-" + user_password, algorithm="RC4-128")
            with open(path, "wb") as fh:
                writer.write(fh)
        return path

    return build


OFD_NS = "http://www.ofdspec.org/2016"


@pytest.fixture
def make_ofd(tmp_path: Path) -> Callable[..., Path]:
    """Build an OFD: ``pages`` is a list of pages, each a list of (x, y, text) text objects in file order."""

    def build(pages: list[list[tuple[float, float, str]]], name: str = "doc.ofd", title: str = "") -> Path:
        path = tmp_path / name
        page_refs = "".join(
            f'<ofd:Page ID="{i + 10}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages))
        )
        ofd_xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{OFD_NS}" Version="1.0" DocType="OFD">'
            f"<ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID><ofd:Title>{title}</ofd:Title></ofd:DocInfo>"
            "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        )
        document_xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{OFD_NS}">'
            '<ofd:CommonData><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
            '<ofd:MaxUnitID>100</ofd:MaxUnitID></ofd:CommonData>'
            f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>"
        )
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("OFD.xml", ofd_xml)
            archive.writestr("Doc_0/Document.xml", document_xml)
            for index, items in enumerate(pages):
                objects = "".join(
                    f'<ofd:TextObject ID="{n + 1}" Boundary="{x} {y - 4} 150 6" Font="1" Size="4.2">'
                    f'<ofd:TextCode X="0" Y="4">{text}</ofd:TextCode></ofd:TextObject>'
                    for n, (x, y, text) in enumerate(items)
                )
                content = (
                    f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Content>'
                    f'<ofd:Layer ID="1">{objects}</ofd:Layer></ofd:Content></ofd:Page>'
                )
                archive.writestr(f"Doc_0/Pages/Page_{index}/Content.xml", content)
        return path

    return build


@pytest.fixture
def cjk_font() -> Path:
    """A CJK-capable font file from fontconfig, or skip."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.skip("fc-list not available to find a CJK font")
    listing = subprocess.run(
        [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    fonts = sorted(line.split(":")[0].strip() for line in listing.splitlines() if line.strip())
    regular = [f for f in fonts if "Regular" in f or "Sans" in f] or fonts
    if not regular:
        pytest.skip("no CJK font installed (fc-list :lang=zh found none)")
    return Path(regular[0])
