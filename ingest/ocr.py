"""OCR of PDF pages that have no text layer (a scan, or scanned pages inside a text PDF).

Per page it reports what a person must check before trusting the text, so nothing is lost silently:
- ``confidence``: the mean recognition score of the page's lines;
- ``low_lines``: lines scoring below ``ocr_min_confidence`` (kept in the text, listed in the summary);
- ``missed``: regions of the page that hold print no recognised line covers — a line the detector
  skipped or whose text came back empty (how "第八十条" once vanished into 第七十九条 unseen), or a
  stamp or picture. Each is listed with its position as a share of the page height.

rapidocr_onnxruntime (the ``ocr`` extra, 1.4.x ships its models) and pypdfium2 are imported here only.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Iterable

from ingest.load_result import LoadError, Segment
from kb.settings import IngestSettings

OCR_MISSING = "scanned PDF with no text layer: install the ocr extra (pip install -e .[ocr])"

# Uncovered print is a missed line when it is at least this tall and this wide, as a share of the
# page's median line height: smaller specks are scanner noise; table rules and frames are thin in one
# direction (they fail the height or the width test) or sparse (they fail the ink share).
MISSED_MIN_HEIGHT = 0.45
MISSED_MIN_WIDTH = 0.9
MISSED_MAX_HEIGHT = 3.0  # taller uncovered print is a picture or a stamp: still listed, as such
MISSED_MIN_INK = 0.06  # share of a region's box that is print (text strokes fill 10–35 %)
# The top and bottom margins (as a share of the page height) hold page numbers ("— 1 —") that OCR
# often skips; uncovered print there no wider than this many line heights is not reported.
MARGIN = 0.1
MARGIN_MARK_WIDTH = 6.0


def ocr_pages(reader: Any, path: Path, settings: IngestSettings | None, numbers: Iterable[int] | None = None
              ) -> tuple[list[Segment], dict[int, dict[str, Any]]]:
    """OCR the given 1-based pages (all when None): their segments and per-page checks."""
    try:
        import numpy as np
        from rapidocr_onnxruntime import RapidOCR  # noqa: F401  (the [ocr] extra)
    except ImportError as exc:
        raise LoadError(path, OCR_MISSING) from exc
    threshold = settings.ocr_min_confidence if settings is not None else 0.8
    wanted = set(numbers) if numbers is not None else None
    max_pixels = settings.max_page_pixels if settings is not None else 16_000_000
    engine = _ocr_engine()
    segments = []
    pages: dict[int, dict[str, Any]] = {}
    reduced: dict[int, int] = {}  # page → the dpi it was rendered at, when lower than RENDER_DPI
    for number, images in _pdf_page_images(reader, path, wanted, max_pixels, reduced):
        items: list[tuple[list, str, float]] = []
        missed: list[dict[str, Any]] = []
        columns: list[tuple[float, float, float]] = []
        for image in images:
            rgb = np.asarray(image.convert("RGB"))
            result, _ = engine(rgb)
            found = [(item[0], str(item[1]).strip(), float(item[2])) for item in (result or [])]
            recognised = [item for item in found if item[1]]
            items.extend(recognised)
            gray = np.asarray(image.convert("L"))
            boxes = [box for box, _, _ in recognised]
            rules = page_rules(gray, boxes)
            missed.extend(uncovered_print(gray, boxes, rules))
            if len(images) == 1:  # boxes of several images on one page share no coordinates
                columns = column_rules(gray, boxes, rules)
        if not items and not missed:
            continue
        info: dict[str, Any] = {"confidence": None, "low_lines": [], "below": False, "missed": missed}
        if number in reduced:  # a page too large for max_page_pixels: read at a lower resolution
            info["render_dpi"] = reduced[number]
        if items:
            scores = [score for _, _, score in items]
            info["confidence"] = round(sum(scores) / len(scores), 3)
            info["low_lines"] = [text for _, text, score in items if score < threshold]
            info["below"] = info["confidence"] < threshold
            segments.append(Segment(ocr_layout(items, columns), page=number))
        info["low"] = bool(info["low_lines"]) or info["below"] or bool(missed)
        pages[number] = info
        _release_memory()
    return segments, pages


def uncovered_print(gray: Any, boxes: list[list], rules: tuple[Any, Any] | None = None) -> list[dict[str, Any]]:
    """Regions of print on a page image that no recognised box covers.

    ``gray`` is the page as a 2-D uint8 array, ``boxes`` the recognised lines' quadrilaterals. The line
    height is the median box height (a character is about as wide as a line is high). ``rules``: the
    page's rule masks when the caller has them (page_rules), else they are found here."""
    import numpy as np
    from scipy import ndimage

    height, width = gray.shape
    ink = gray < 140
    line = _line_height(boxes, height)
    # table rules and frames, found on the whole page before the recognised lines are blanked out
    # (blanking cuts a rule into stubs shorter than the test, and a table's header row then read as a
    # missed line), and removed so a skipped line inside a table does not merge with its rules
    across, down = rules if rules is not None else _rules(ink, line)
    ink &= ~(across | down)
    pad = int(round(0.35 * line))
    for b in boxes:
        xs = [int(p[0]) for p in b]
        ys = [int(p[1]) for p in b]
        ink[max(0, min(ys) - pad): min(height, max(ys) + pad + 1), max(0, min(xs) - pad): min(width, max(xs) + pad + 1)] = False
    if not ink.any():
        return []
    # characters of one line join into one region; lines above and below stay apart
    joined = ndimage.binary_dilation(ink, structure=np.ones((max(1, int(line * 0.2)), max(1, int(line * 0.8))), bool))
    labels, count = ndimage.label(joined)
    regions = []
    for index, where in enumerate(ndimage.find_objects(labels), start=1):
        if where is None:
            continue
        ys, xs = where
        h, w = ys.stop - ys.start, xs.stop - xs.start
        strokes = ink[ys, xs] & (labels[ys, xs] == index)
        rows = np.flatnonzero(strokes.any(axis=1))
        cols = np.flatnonzero(strokes.any(axis=0))
        if rows.size == 0:
            continue
        ink_h = rows[-1] - rows[0] + 1
        ink_w = cols[-1] - cols[0] + 1
        if ink_h < MISSED_MIN_HEIGHT * line or ink_w < MISSED_MIN_WIDTH * line:
            continue
        share = strokes.sum() / float(ink_h * ink_w)
        if share < MISSED_MIN_INK:
            continue  # a frame or a table's rules
        top = ys.start + rows[0]
        bottom = top + ink_h
        if (bottom < MARGIN * height or top > (1 - MARGIN) * height) and ink_w <= MARGIN_MARK_WIDTH * line:
            continue  # a page number or a short header mark in the margin: furniture, no content lost
        regions.append({
            "top": round(float(top) / height, 3),
            "bottom": round(float(bottom) / height, 3),
            "kind": "picture" if ink_h > MISSED_MAX_HEIGHT * line else "line",
        })
    regions.sort(key=lambda r: r["top"])
    return regions



def _line_height(boxes: list[list], page_height: int) -> float:
    """The median height of the recognised lines in pixels (a page of ~16 pt text when none)."""
    import numpy as np

    if boxes:
        line = float(np.median([max(p[1] for p in b) - min(p[1] for p in b) for b in boxes]))
    else:
        line = page_height / 60.0
    return max(line, 6.0)


def _rules(ink: Any, line: float) -> tuple[Any, Any]:
    """Masks of the horizontal and the vertical rules: runs of print three line heights long, thin
    across (no character has a stroke that long)."""
    import numpy as np
    from scipy import ndimage

    run = max(3, int(3 * line))
    across = ndimage.binary_opening(ink, structure=np.ones((1, run), bool))
    down = ndimage.binary_opening(ink, structure=np.ones((run, 1), bool))
    return across, down


def page_rules(gray: Any, boxes: list[list]) -> tuple[Any, Any]:
    """The page's horizontal and vertical rule masks, for uncovered_print and column_rules to share (two
    binary openings of the whole page: tens of milliseconds each)."""
    return _rules(gray < 140, _line_height(boxes, gray.shape[0]))


def column_rules(gray: Any, boxes: list[list], rules: tuple[Any, Any] | None = None) -> list[tuple[float, float, float]]:
    """A table's column lines on a page image: (x, top, bottom) in pixels of each vertical rule."""
    from scipy import ndimage

    line = _line_height(boxes, gray.shape[0])
    _, down = rules if rules is not None else _rules(gray < 140, line)
    labels, _ = ndimage.label(down)
    found = []
    for where in ndimage.find_objects(labels):
        if where is None:
            continue
        ys, xs = where
        if xs.stop - xs.start <= 0.3 * line:  # a rule is thin; a picture's edge is not a column line
            found.append(((xs.start + xs.stop) / 2.0, float(ys.start), float(ys.stop)))
    return found


def _cell_start(x0: float, centre: float, columns: list[tuple[float, float, float]]) -> float | None:
    """The x of the column line left of a box inside a ruled table (a rule on each side of it at its
    height), else None."""
    here = [x for x, top, bottom in columns if top <= centre <= bottom]
    left_rules = [x for x in here if x <= x0 + 2]
    if not left_rules or not any(x > x0 + 2 for x in here):
        return None
    return max(left_rules)


def _table_extent(columns: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Column lines stretched to their table's top and bottom: a scanned rule often stops short of the
    table's last line (a rule that overlaps another in height is of the same table)."""
    out = []
    for x, top, bottom in columns:
        same = [(t, b) for _, t, b in columns if t <= bottom and b >= top]
        out.append((x, min(t for t, _ in same), max(b for _, b in same)))
    return out


def ocr_layout(items: list[tuple[list, str, float]], columns: list[tuple[float, float, float]] = ()) -> str:
    """OCR boxes → layout text like PDF layout mode: boxes on one line (their vertical centres within
    half a line height) are put in x order, a line keeps its indentation and a gap of a character or
    more between boxes becomes a run of spaces — so table cells are read row by row, not interleaved.
    Two boxes with a column line of a table between them (``columns``: vertical rules as (x, top,
    bottom)) are two cells however narrow the gap: a full cell prints up to its rule."""
    boxes = []
    for box, text, _ in items:
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        height = max(1.0, max(ys) - min(ys))
        boxes.append((sum(ys) / len(ys), min(xs), max(xs), height, text))
    boxes.sort(key=lambda b: (b[0], b[1]))
    lines: list[list[tuple[float, float, float, float, str]]] = []
    for b in boxes:
        if lines and abs(b[0] - lines[-1][0][0]) <= 0.5 * min(b[3], lines[-1][0][3]):
            lines[-1].append(b)
        else:
            lines.append([b])
    char = sorted(b[3] for b in boxes)[len(boxes) // 2]  # a character is about as wide as a line is high
    # one layout column per CJK character width, measured on boxes of CJK text only
    widths = sorted((b[2] - b[1]) / len(b[4]) for b in boxes if b[4] and all(ord(ch) > 0x2E7F for ch in b[4]))
    unit = widths[len(widths) // 2] if widths else char
    left = min(b[1] for b in boxes)
    # inside a ruled table every box of a column stands at one layout position: its cell's left rule, or
    # further right where a wider cell of the column before needs the room (a full cell's text, rounded
    # to characters, is as wide as its cell) — so the table reader finds the columns however the words in
    # a cell are placed
    table_columns = _table_extent(list(columns))
    cell_of = {id(b): _cell_start(b[1], b[0], table_columns) for b in boxes}
    widest: dict[float, int] = {}
    for b in boxes:
        if cell_of[id(b)] is not None:
            widest[cell_of[id(b)]] = max(widest.get(cell_of[id(b)], 0), len(b[4]))
    cell_at: dict[float, int] = {}
    previous = None
    for x in sorted(widest):
        at = round((x - left) / unit) + 1
        if previous is not None:
            at = max(at, cell_at[previous] + widest[previous] + 2)
        cell_at[x], previous = at, x
    out = []
    for line in lines:
        line.sort(key=lambda b: b[1])
        parts, end, col = [], None, 0
        for b in line:
            centre, x0, x1, _, text = b
            # each box at the column of its own x (so a table's cells stand under their headers however
            # wide the cells before them print), at least two spaces after a gap of a character
            at = round((x0 - left) / unit)
            if cell_of[id(b)] is not None:
                at = cell_at[cell_of[id(b)]]
            if end is not None:
                ruled = any(end <= x <= x0 and top <= centre <= bottom for x, top, bottom in columns)
                at = max(at, col + 2) if ruled or x0 - end >= 0.8 * char else col
            parts.append(" " * max(0, at - col))
            parts.append(text)
            col = max(col, at) + len(text)
            end = x1
        out.append("".join(parts).rstrip())
    return "\n".join(out)


def _limit_malloc_arenas() -> None:
    """ONNX Runtime's threads each get a glibc malloc arena; two are enough and keep RSS down."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def _release_memory() -> None:
    """Hand the page's freed image buffers back to the system (glibc keeps them otherwise, and the
    peak RSS of a long scan would grow with its page count)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


@functools.lru_cache(maxsize=1)
def _ocr_engine() -> Any:
    """One RapidOCR engine per process, created on first use (loading its models takes seconds)."""
    _limit_malloc_arenas()
    from rapidocr_onnxruntime import RapidOCR

    # Text detection on the page scaled to at most 960 px (RapidOCR's default scales the short side up
    # to 736 px, i.e. detection on the full 1190 x 1684 render): measured on the realdocs scan, the same
    # text and scores at half the time; two threads, as the ingest runs beside other work.
    return RapidOCR(det_limit_side_len=960, det_limit_type="max", intra_op_num_threads=2, inter_op_num_threads=1)


RENDER_SCALE = 2.0  # pages are rendered at 2 × 72 = 144 dpi for OCR
RENDER_DPI = int(72 * RENDER_SCALE)
MIN_RENDER_DPI = 9  # a page that would need less than this to fit max_page_pixels is refused


def render_scale(width_pt: float, height_pt: float, max_pixels: int) -> float:
    """The render scale (pixels per point) for a page: RENDER_SCALE, or less so that the image holds at
    most ``max_pixels`` pixels."""
    area = max(1.0, float(width_pt)) * max(1.0, float(height_pt))
    if area * RENDER_SCALE * RENDER_SCALE <= max_pixels:
        return RENDER_SCALE
    return (max_pixels / area) ** 0.5 * 0.999  # rounding up of either side must not pass the limit


def _pdf_page_images(reader: Any, path: Path, wanted: set[int] | None = None, max_pixels: int = 16_000_000,
                     reduced: dict[int, int] | None = None):
    """(page number, [PIL images]) per wanted page: rendered with pypdfium2 when installed, else the
    page's embedded images. No image larger than ``max_pixels`` is made: a large page is rendered at a
    lower dpi (recorded in ``reduced``); one so large that even MIN_RENDER_DPI would not fit, and an
    embedded image over the limit, fail the file with the page and the reason."""
    try:
        import pypdfium2
    except ImportError:
        pypdfium2 = None
    if pypdfium2 is not None:
        document = pypdfium2.PdfDocument(str(path))
        try:
            for index in range(len(document)):
                if wanted is not None and index + 1 not in wanted:
                    continue
                page = document[index]
                try:
                    width, height = page.get_size()  # points, after /Rotate and /UserUnit
                    scale = render_scale(width, height, max_pixels)
                    if scale * 72 < MIN_RENDER_DPI:
                        raise LoadError(path, f"page {index + 1}: page too large to render for OCR "
                                              f"({width:.0f} × {height:.0f} pt; over max_page_pixels "
                                              f"{max_pixels} even at {MIN_RENDER_DPI} dpi)")
                    if scale < RENDER_SCALE and reduced is not None:
                        reduced[index + 1] = max(1, int(scale * 72))
                    image = page.render(scale=scale).to_pil()
                finally:
                    page.close()  # one rendered page in memory at a time (RSS per page stays flat)
                yield index + 1, [image]
        finally:
            document.close()
        return
    for index, page in enumerate(reader.pages):
        if wanted is not None and index + 1 not in wanted:
            continue
        images = []
        try:
            for embedded in page.images:
                _check_embedded_size(embedded, path, index + 1, max_pixels)
                try:
                    images.append(embedded.image)
                except Exception:  # unsupported image filter: skip that image only
                    continue
        except LoadError:
            raise
        except Exception:
            images = []
        yield index + 1, images


def _check_embedded_size(embedded: Any, path: Path, number: int, max_pixels: int) -> None:
    """Refuse an embedded image whose declared /Width × /Height is over max_pixels, before decoding."""
    try:
        ref = getattr(embedded, "indirect_reference", None)
        if ref is None:
            return
        obj = ref.get_object()
        width, height = int(obj["/Width"]), int(obj["/Height"])
    except Exception:
        return
    if width * height > max_pixels:
        raise LoadError(path, f"page {number}: image too large to decode for OCR ({width} × {height} px "
                              f"> max_page_pixels {max_pixels})")


def page_has_images(page: Any) -> bool:
    """Whether a pypdf page draws any image (a scanned page inside a text PDF)."""
    try:
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                return True
            if obj.get("/Subtype") == "/Form" and page_has_images(obj):
                return True
    except Exception:
        return False
    return False
