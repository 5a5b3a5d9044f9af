"""The notice as OFD (GB/T 33190, notice.ofd), written from the PDF's text boxes (pdftotext -bbox-layout)
the way a PDF→OFD converter does, in one of two styles per variant ("line" or "run", see write_ofd),
and read back page by page (ofd_page_texts) to check it says what the PDF says."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .common import SERIF, norm

# the notice as OFD: "line" (ofd: prefix, a TextObject per printed line, a TextCode per word run, DeltaX
# compressed with g) or "run" (default namespace, a TextObject per character run, every DeltaX written)
OFD_STYLE = {"a": "line", "b": "line", "c": "run", "d": "line", "e": "run"}

OFD_NS = "http://www.ofdspec.org/2016"
PT_MM = 25.4 / 72
BOX_EM = 1.3  # pdftotext's word box height in font sizes for the Noto CJK fonts LibreOffice embeds
ASCENT_EM = 1.0  # baseline below the box top, in font sizes


def pdf_words(pdf: Path) -> list[dict]:
    """Per page: {'width','height' (pt), 'lines': [[(x0, y0, x1, y1, text), …] per printed line]} from
    ``pdftotext -bbox-layout`` (poppler), in its reading order."""
    from lxml import etree

    raw = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, check=True).stdout
    root = etree.fromstring(raw, etree.XMLParser(recover=True, resolve_entities=False, no_network=True))
    local = lambda e: e.tag.rsplit("}", 1)[-1] if isinstance(e.tag, str) else ""
    pages = []
    for page in root.iter():
        if local(page) != "page":
            continue
        lines = []
        for line in page.iter():
            if local(line) != "line":
                continue
            words = [(float(w.get("xMin")), float(w.get("yMin")), float(w.get("xMax")), float(w.get("yMax")), w.text or "")
                     for w in line if local(w) == "word" and (w.text or "").strip()]
            if words:
                lines.append(words)
        pages.append({"width": float(page.get("width")), "height": float(page.get("height")), "lines": lines})
    return pages


def _advances(text: str, width: float) -> list[float]:
    """Each character's advance (mm) in a run of the given printed width: full-width characters twice a
    half-width one's (LibreOffice's justified lines stretch both alike)."""
    import unicodedata

    weights = [1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55 for ch in text]
    unit = width / sum(weights)
    return [w * unit for w in weights]


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _delta_x(advances: list[float], compress: bool) -> str:
    """GB/T 33190 DeltaX: the offsets between consecutive characters; "g N v" repeats v N times."""
    values = [_num(a) for a in advances[:-1]]
    if not compress:
        return " ".join(values)
    out, i = [], 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i]:
            j += 1
        out.append(f"g {j - i} {values[i]}" if j - i > 1 else values[i])
        i = j
    return " ".join(out)


def write_ofd(pdf: Path, out: Path, style: str, doc_id: str) -> int:
    """The PDF as an OFD package, the way a PDF→OFD converter writes one: OFD.xml → Doc_0/Document.xml →
    Doc_0/Pages/Page_N/Content.xml, positions in mm from the page's top left, one font resource.
    style "line": ofd:-prefixed elements, a TextObject per printed line (Boundary = the line's box), a
    TextCode per word run with X/Y relative to the Boundary and DeltaX compressed with "g";
    style "run": the namespace as default (no prefix), a TextObject per character run with its own
    Boundary, every DeltaX value written out. Returns the page count."""
    import hashlib
    import zipfile
    from xml.sax.saxutils import escape

    pages = pdf_words(pdf)
    pre = "ofd:" if style == "line" else ""
    decl = f'xmlns:ofd="{OFD_NS}"' if style == "line" else f'xmlns="{OFD_NS}"'
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    uid = 10  # object IDs unique in the document; 1..9 for resources
    page_xml = []
    for page in pages:
        objs = []
        uid += 1
        layer_id = uid
        for line in page["lines"]:
            if style == "line":
                groups = [line]
            else:
                groups = [[w] for w in line]
            for group in groups:
                x0 = min(w[0] for w in group) * PT_MM
                y0 = min(w[1] for w in group) * PT_MM
                x1 = max(w[2] for w in group) * PT_MM
                y1 = max(w[3] for w in group) * PT_MM
                size_pt = round((max(w[3] - w[1] for w in group) / BOX_EM) * 2) / 2
                size = size_pt * 25.4 / 72
                base = ASCENT_EM * size
                uid += 1
                codes = []
                for wx0, wy0, wx1, wy1, text in group:
                    adv = _advances(text, (wx1 - wx0) * PT_MM)
                    dx = _delta_x(adv, compress=style == "line")
                    attrs = f'X="{_num(wx0 * PT_MM - x0)}" Y="{_num(wy0 * PT_MM - y0 + base)}"'
                    if dx:
                        attrs += f' DeltaX="{dx}"'
                    codes.append(f"<{pre}TextCode {attrs}>{escape(text)}</{pre}TextCode>")
                fill = f'<{pre}FillColor Value="0 0 0"/>'
                objs.append(f'<{pre}TextObject ID="{uid}" Boundary="{_num(x0)} {_num(y0)} {_num(x1 - x0)} {_num(y1 - y0)}" '
                            f'Font="2" Size="{_num(size)}">{fill}{"".join(codes)}</{pre}TextObject>')
        layer = f'<{pre}Layer ID="{layer_id}" Type="Body">' + ("\n" if style == "line" else "").join(objs) + f"</{pre}Layer>"
        w_mm, h_mm = page["width"] * PT_MM, page["height"] * PT_MM
        page_xml.append(f'{head}<{pre}Page {decl}><{pre}Area><{pre}PhysicalBox>0 0 {_num(w_mm)} {_num(h_mm)}'
                        f'</{pre}PhysicalBox></{pre}Area><{pre}Content>{layer}</{pre}Content></{pre}Page>\n')
    w_mm, h_mm = pages[0]["width"] * PT_MM, pages[0]["height"] * PT_MM
    page_list = "".join(f'<{pre}Page ID="{uid + 1 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages)))
    document = (f'{head}<{pre}Document {decl}><{pre}CommonData><{pre}MaxUnitID>{uid + len(pages)}</{pre}MaxUnitID>'
                f'<{pre}PageArea><{pre}PhysicalBox>0 0 {_num(w_mm)} {_num(h_mm)}</{pre}PhysicalBox></{pre}PageArea>'
                f'<{pre}PublicRes>PublicRes.xml</{pre}PublicRes></{pre}CommonData>'
                f'<{pre}Pages>{page_list}</{pre}Pages></{pre}Document>\n')
    public = (f'{head}<{pre}Res {decl} BaseLoc="Res"><{pre}Fonts>'
              f'<{pre}Font ID="2" FontName="{SERIF}" FamilyName="{SERIF}"/>'
              f'</{pre}Fonts></{pre}Res>\n')
    creator = "PDF2OFD" if style == "line" else "OFDConverter"
    ofd = (f'{head}<{pre}OFD {decl} Version="1.1" DocType="OFD"><{pre}DocBody><{pre}DocInfo>'
           f'<{pre}DocID>{hashlib.md5(doc_id.encode()).hexdigest()}</{pre}DocID>'
           f'<{pre}CreationDate>2025-01-01</{pre}CreationDate><{pre}Creator>{creator}</{pre}Creator>'
           f'<{pre}CreatorVersion>2.0</{pre}CreatorVersion></{pre}DocInfo>'
           f'<{pre}DocRoot>Doc_0/Document.xml</{pre}DocRoot></{pre}DocBody></{pre}OFD>\n')
    members = [("OFD.xml", ofd), ("Doc_0/Document.xml", document), ("Doc_0/PublicRes.xml", public)]
    members += [(f"Doc_0/Pages/Page_{i}/Content.xml", x) for i, x in enumerate(page_xml)]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return len(pages)


def ofd_page_texts(path: Path) -> list[str]:
    """Normalised text of each OFD page (its TextCodes in document order), for the checks."""
    import zipfile
    from lxml import etree

    out = []
    with zipfile.ZipFile(path) as zf:
        names = sorted((n for n in zf.namelist() if n.endswith("Content.xml")),
                       key=lambda n: int(re.search(r"Page_(\d+)", n).group(1)))
        for n in names:
            root = etree.fromstring(zf.read(n))
            out.append(norm("".join(e.text or "" for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("TextCode"))))
    return out
