"""The ingest pipeline: files → load → clean → (mask) → split → tokenize/embed → Chroma → lexical index.

Guarantees:
- single writer: an IngestLock under KB_HOME; a second ingest is refused at once;
- a document becomes visible only when all its chunks are stored (its registry record is written
  last and names the version of its chunks); a crash leaves at most invisible chunks, which the
  next ingest (or `kb doctor`) removes, so a rerun yields exactly the state of a clean run;
- unchanged files (same bytes, same processing settings) are a no-op; a changed file replaces all
  its chunks; bad files are reported in ``failed`` with the reason, the rest of the batch proceeds.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ingest.splitter import detect_title, split_document
from kb.storage.doc_ids import doc_id_for, file_sha256, safe_doc_id
from kb.models import DOC_TYPES, Chunk, DocumentRecord
from kb.storage.table_store import TableStore

log = logging.getLogger(__name__)

FRAMEWORK_DOC_ID = "内置/五个政治评价框架"

# Documented doc_type rule (used when --type is not given): first match on the title / file name.
DOC_TYPE_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("outline", re.compile(r"提纲")),
    ("report", re.compile(r"通报|报告|实录|汇报|总结|情况|纪实")),
    ("criteria", re.compile(r"标准|评价|指标|框架|准则")),
    ("policy", re.compile(r"条例|办法|规定|意见|通知|决定|法$|法\b|细则|制度|规则|纲要|解释")),
]


def infer_doc_type(title: str, name: str) -> str:
    for doc_type, pattern in DOC_TYPE_RULES:
        if pattern.search(title) or pattern.search(name):
            return doc_type
    return "other"


class TokenTable:
    """The token lists of a document's chunks, compactly: a vocabulary of distinct strings and one
    int32 id per token. A 58 MB text has ~10 M tokens; as lists of Python strings they cost about
    2 GB (one string object each), as ids 40 MB. Reads like a list of token lists."""

    __slots__ = ("vocab", "ids", "offsets")

    def __init__(self) -> None:
        import numpy as np

        self.vocab: list[str] = []
        self.ids = np.zeros(0, dtype=np.int32)
        self.offsets = np.zeros(1, dtype=np.int64)  # chunk i's tokens: ids[offsets[i]:offsets[i + 1]]

    @classmethod
    def build(cls, texts: list[str], tokenize, batch: int = 2000) -> "TokenTable":
        import numpy as np

        import pandas as pd

        table = cls()
        index: dict[str, int] = {}
        ids, lengths = [], []
        for start in range(0, len(texts), batch):
            lists = [tokenize(t) for t in texts[start : start + batch]]
            lengths.extend(len(t) for t in lists)
            flat = [tok for toks in lists for tok in toks]
            if not flat:
                continue
            # distinct strings of the batch in C (pandas), a dict lookup only per distinct string
            codes, uniques = pd.factorize(pd.Series(flat, dtype=object), sort=False)
            local = np.fromiter((index.setdefault(u, len(index)) for u in uniques), dtype=np.int32, count=len(uniques))
            ids.append(local[codes])
        table.vocab = list(index)
        table.ids = np.concatenate(ids) if ids else table.ids
        table.offsets = np.concatenate([[0], np.cumsum(np.asarray(lengths, dtype=np.int64))]).astype(np.int64)
        return table

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> list[str]:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        vocab = self.vocab
        return [vocab[t] for t in self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        try:
            return list(self) == list(other)  # type: ignore[call-overload]
        except TypeError:
            return NotImplemented


@dataclass
class PreparedDocument:
    """Everything about one document that can be computed without the store (runs in a worker)."""

    doc_id: str
    source: str
    sha256: str
    title: str
    text: str
    chunks: list[Chunk]
    tokens: TokenTable  # per chunk, in chunk order
    removed_lines: int
    doc_type: str
    collection: str
    kind: str = "generic"  # the parser that read it (ingest/parsers)
    furniture_lines: int = 0  # running headers/footers and page numbers removed
    meta: dict = field(default_factory=dict)  # doc_number, issuer, issued_on
    ocr_pages: dict = field(default_factory=dict)  # page → {"confidence", "low_lines"} for OCR'd pages
    tables: list = field(default_factory=list)  # spreadsheets: each table's cells (kb/storage/table_store.py)
    extra: dict = field(default_factory=dict)  # registry fields: formats, text key, validity facts (#28)
    action: str = ""  # what storing it does (ingest/identity.py): added | updated | merged | kept_both | replaced


@dataclass
class IngestFailure:
    path: str
    error: str


@dataclass
class _Job:
    doc_id: str
    path: str | None = None
    text: str | None = None
    title: str | None = None


EMBED_BATCH = 4000  # chunks embedded (and term-counted) per call in _flush


def _release_memory() -> None:
    """Hand freed memory back to the system (glibc keeps it otherwise): a big document's text and
    tokens are freed just before the lexical index is rebuilt, which needs the room."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _buffer_full(buffer: list["PreparedDocument"]) -> bool:
    """Write in batches: Chroma's cost is per call far more than per row."""
    return (
        sum(len(p.chunks) for p in buffer) >= 4000 or len(buffer) >= 300 or sum(len(p.text) for p in buffer) >= 4_000_000
    )


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0  # files stored as another format of a document (#28): same text, other format
    removed_lines: int = 0
    chunks: int = 0
    failed: list[IngestFailure] = field(default_factory=list)
    furniture_lines: int = 0  # running headers/footers and page numbers removed from paged files
    low_confidence: list[dict[str, Any]] = field(default_factory=list)  # OCR pages/lines below the threshold
    files: list[dict[str, str]] = field(default_factory=list)  # {"path", "doc_id", "action"} per file read
    notes: list[str] = field(default_factory=list)  # what identity decided, in words (kept both, merged, replaced)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "merged": self.merged,
            "files": [{k: printable(v) for k, v in f.items()} for f in self.files],
            "notes": [printable(n) for n in self.notes],
            "removed_lines": self.removed_lines,
            "furniture_lines": self.furniture_lines,
            "chunks": self.chunks,
            "failed": [{"path": printable(f.path), "error": printable(f.error)} for f in self.failed],
            "low_confidence": list(self.low_confidence),
        }


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Control and bidi characters escaped (\\n, \\x1b, \\u202e): a failure stays one line whatever a file
    name holds, and a terminal escape in a name cannot rewrite what the operator sees."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), str(text))


def _processing_signature(ingest_settings, segmenter: str) -> str:
    """Settings that change what is stored; a change re-processes unchanged files."""
    s = ingest_settings
    # v2: parsers per kind (line joins, page furniture, 公文 parts, table rows, consistent masking)
    mask = f"{s.mask_person_names}:{s.mask_placeholder}:{s.mask_consistent}"
    if s.mask_person_names:
        # masked documents are masked again when the name finder changes (m2: LAC + rules, 身份证号, phones);
        # without masking the signature stays what it was, so nothing else is re-processed
        mask += f":m2-{s.mask_ner}"
    return f"v2|{s.chunk_target}|{s.chunk_max}|mask={mask}|{segmenter}"


def _chunk_id(doc_id: str, version: str, ordinal: int) -> str:
    return f"{doc_id}#{version}#{ordinal:04d}"


def prepare_text(
    job: _Job,
    raw_text_segments: list[tuple[str, int | None]],
    sha256: str,
    title_hint: str | None,
    doc_type: str | None,
    collection: str,
    ingest_settings,
    segmenter: str,
    fmt: str = "txt",
    ocr_pages: dict | None = None,
) -> PreparedDocument:
    from ingest.parsers import DOCUMENT_FORMATS, parse
    from kb.retrieval.tokenizer import ChineseTokenizer

    parsed = parse(raw_text_segments, fmt, job.doc_id, job.title or title_hint, doc_type, ingest_settings, ocr_pages)
    text = parsed.text
    if not text.strip():
        raise ValueError("no text left after removing page junk")
    # a title the layout states (公文 标题) beats a file's metadata title and the first line
    title = (job.title or parsed.title or title_hint or "").strip() or detect_title(text, Path(job.doc_id).name)
    spans = split_document(
        text, title=title, pages=parsed.pages or None, target=ingest_settings.chunk_target,
        max_len=ingest_settings.chunk_max, parts=parsed.parts or None, nest_items=parsed.nest_items,
    )
    version = sha256[:12]
    dtype = doc_type or parsed.doc_type or infer_doc_type(title, job.doc_id)
    chunks = [
        Chunk(
            chunk_id=_chunk_id(job.doc_id, version, i),
            doc_id=job.doc_id,
            title=title,
            section=s.section,
            article=s.article,
            page=s.page,
            start=s.start,
            end=s.end,
            text=text[s.start : s.end],
            doc_type=dtype,
            collection=collection,
            page_starts=s.page_starts or [],
            ocr_confidence=(parsed.ocr_pages.get(s.page) or {}).get("confidence") if s.page is not None else None,
            doc_number=parsed.meta.get("doc_number", ""),
        )
        for i, s in enumerate(spans)
    ]
    tokenizer = ChineseTokenizer(segmenter=segmenter)
    tokens = TokenTable.build([c.text for c in chunks], tokenizer.tokenize)
    tables = []
    if fmt in DOCUMENT_FORMATS:  # the rows ingest/tables.py wrote, kept as cells for whole-table questions
        from ingest.spreadsheets import document_tables

        tables = document_tables(text, [(c.start, c.end) for c in chunks])
    from ingest.validity import facts

    return PreparedDocument(
        extra=facts(text, title, parsed.meta, job.path or job.doc_id),
        doc_id=job.doc_id,
        source=job.path or "text",
        sha256=sha256,
        title=title,
        text=text,
        chunks=chunks,
        tokens=tokens,
        removed_lines=parsed.removed_lines,
        doc_type=dtype,
        collection=collection,
        kind=parsed.kind,
        furniture_lines=len(parsed.furniture),
        meta=dict(parsed.meta),
        ocr_pages=dict(parsed.ocr_pages),
        tables=tables,
    )


def prepare_file(job: _Job, doc_type: str | None, collection: str, ingest_settings, segmenter: str,
                 loaded=None) -> PreparedDocument:
    """Load (unless ``loaded`` is given: read in a bounded child) and prepare one file. Raises
    LoadError / ValueError with a reason for bad input."""
    from ingest.loaders import load_file

    path = Path(job.path or "")
    if loaded is None:
        loaded = load_file(path, ingest_settings)
    sha = file_sha256(path)
    if loaded.tables:  # a spreadsheet: a chunk per record, not the text splitter's passages
        return prepare_sheets(job, loaded.tables, sha, doc_type, collection, ingest_settings, segmenter)
    segments = [(s.text, s.page) for s in loaded.segments]
    title_hint, fmt, ocr = loaded.title_hint, loaded.format, loaded.ocr_pages
    del loaded  # the segments hold the text; nothing else of the loaded file is kept while preparing
    return prepare_text(
        job, segments, sha, title_hint, doc_type, collection, ingest_settings, segmenter, fmt, ocr_pages=ocr,
    )


def prepare_sheets(job: _Job, tables: list, sha256: str, doc_type: str | None, collection: str, ingest_settings,
                   segmenter: str) -> PreparedDocument:
    """A spreadsheet's records (ingest/spreadsheets.py) as chunks: one per row, cited as the sheet and
    the row number the spreadsheet shows; the cells go to the table store with the document."""
    from ingest.spreadsheets import layout, sheet_text
    from kb.retrieval.tokenizer import ChineseTokenizer

    mask = None
    if ingest_settings.mask_person_names:
        from ingest.masking import NameMasker

        masker = NameMasker(ingest_settings.mask_placeholder, consistent=ingest_settings.mask_consistent,
                            finder_mode=ingest_settings.mask_ner)
        masker.learn(sheet_text(tables))  # the names of the whole workbook first, as for any document
        mask = masker.mask
    text, spans, records = layout(tables, mask)
    title = (job.title or Path(job.doc_id).name).strip()  # the file's name: 《2024年民主测评结果》
    version = sha256[:12]
    dtype = doc_type or infer_doc_type(title, job.doc_id)
    chunks = [
        Chunk(chunk_id=_chunk_id(job.doc_id, version, i), doc_id=job.doc_id, title=title, section=sheet,
              article=row, page=None, start=start, end=end, text=text[start:end], doc_type=dtype, collection=collection)
        for i, (start, end, sheet, row) in enumerate(spans)
    ]
    tokens = TokenTable.build([c.text for c in chunks], ChineseTokenizer(segmenter=segmenter).tokenize)
    return PreparedDocument(
        doc_id=job.doc_id, source=job.path or "text", sha256=sha256, title=title, text=text, chunks=chunks,
        tokens=tokens, removed_lines=0, doc_type=dtype, collection=collection, kind="table",
        tables=records,
    )


def _page_checks_json(ocr_pages: dict) -> str:
    """The pages to check of a prepared document, for its registry record ("" when none)."""
    low = {str(page): info for page, info in sorted(ocr_pages.items()) if info.get("low")}
    return json.dumps(low, ensure_ascii=False, sort_keys=True) if low else ""


def _stored_page_checks(doc_id: str, record: dict) -> list[dict[str, Any]]:
    try:
        stored = json.loads(record.get("page_checks") or "{}")
    except ValueError:
        return []
    return [{"doc_id": doc_id, "page": int(page), **info} for page, info in sorted(stored.items(), key=lambda kv: int(kv[0]))]


def _failure_reason(exc: BaseException) -> str:
    from ingest.load_result import LoadError

    if isinstance(exc, LoadError):
        return exc.reason
    if isinstance(exc, (ValueError, OSError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _prepare_worker(args: tuple, loaded=None) -> tuple[str, PreparedDocument | None, str | None]:
    job, doc_type, collection, ingest_settings, segmenter = args
    try:
        if job.text is not None:
            sha = hashlib.sha256(job.text.encode("utf-8")).hexdigest()
            prepared = prepare_text(job, [(job.text, None)], sha, job.title, doc_type, collection, ingest_settings, segmenter)
        else:
            prepared = prepare_file(job, doc_type, collection, ingest_settings, segmenter, loaded=loaded)
        return job.doc_id, prepared, None
    except Exception as exc:  # every failure becomes a reported, named error; the batch goes on
        return job.doc_id, None, _failure_reason(exc)


def _prepare_bounded(args: tuple) -> tuple[str, PreparedDocument | None, str | None]:
    """A risky file (ingest/bounded.py): loaded in a child under ingest.file_memory_mb and
    ingest.file_timeout_s, then prepared here."""
    from ingest.bounded import ChildFailed, load_in_child, run_bounded

    job, _, _, ingest_settings, _ = args
    try:
        loaded = run_bounded(load_in_child, (job.path, ingest_settings),
                             ingest_settings.file_memory_mb, ingest_settings.file_timeout_s)
    except ChildFailed as exc:
        return job.doc_id, None, exc.reason
    except Exception as exc:
        return job.doc_id, None, _failure_reason(exc)
    return _prepare_worker(args, loaded)


def _resolved(path: Path | str | None) -> Path | None:
    try:
        return Path(path).resolve(strict=False) if path is not None else None
    except (OSError, RuntimeError):  # a symlink loop
        return None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _walk(root: Path, home: Path | None) -> tuple[list[Path], list[IngestFailure]]:
    """Every entry under `root` (links to folders are not followed), and a failure for what cannot be
    read: an unreadable sub-folder, a FIFO, socket or device, KB_HOME (reported once, not descended)."""
    files: list[Path] = []
    failures: list[IngestFailure] = []

    def on_error(exc: OSError) -> None:
        failures.append(IngestFailure(str(exc.filename or root), f"folder cannot be read ({exc.strerror or exc})"))

    for folder, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        here = Path(folder)
        keep = []
        for name in sorted(dirnames):
            sub = here / name
            if name.startswith("."):
                continue
            if home is not None and _resolved(sub) is not None and _inside(_resolved(sub), home):
                failures.append(IngestFailure(str(sub), "inside KB_HOME: the knowledge base's own files are never ingested"))
                continue
            if sub.is_symlink():
                base, target = _resolved(root), _resolved(sub)
                if target is None or base is None or not _inside(target, base):
                    failures.append(IngestFailure(str(sub), "symbolic link leading outside the ingested folder (not read)"))
                continue  # a link inside the folder: its files are reached through their own path
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            entry = here / name
            if name.startswith("."):
                continue
            try:
                mode = entry.lstat().st_mode
            except OSError as exc:
                failures.append(IngestFailure(str(entry), f"cannot access file ({exc.strerror or exc})"))
                continue
            if stat.S_ISLNK(mode) or stat.S_ISREG(mode):
                files.append(entry)
            else:
                kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device or special file"
                failures.append(IngestFailure(str(entry), f"not a regular file ({kind})"))
    return sorted(files), failures


class IngestService:
    def __init__(self, services):
        self.services = services
        self.settings = services.settings
        self._child = None  # ingest.child_reader.ChildReader, made when a worker thread reads a PDF

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    # -- public API ----------------------------------------------------------------------------
    def collect(self, paths: Iterable[str | Path]) -> tuple[list[_Job], list[IngestFailure]]:
        """Files to ingest, and a failure for everything under the given paths that cannot be one:
        unsupported types, links that lead out of the ingested folder, the knowledge base's own
        folder (KB_HOME), FIFOs and devices, unreadable sub-folders, a second file whose name is the
        same document id (also when the names differ only in Unicode normalisation, NFC/NFD)."""
        from ingest.loaders import SUPPORTED_EXTENSIONS

        jobs: list[_Job] = []
        failures: list[IngestFailure] = []
        seen: dict[str, str] = {}
        home = _resolved(self.settings.home)
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                root = path
                files, walk_failures = _walk(path, home)
                failures.extend(walk_failures)
            elif path.exists() or path.is_symlink():
                root = None
                files = [path]
            else:
                failures.append(IngestFailure(str(path), "no such file or directory"))
                continue
            for file in files:
                if any(part.startswith(".") for part in file.relative_to(root).parts) if root else file.name.startswith("."):
                    continue  # hidden files and folders (.git, .DS_Store) are not documents
                target = _resolved(file)
                if home is not None and target is not None and _inside(target, home):
                    failures.append(IngestFailure(str(file), "inside KB_HOME: the knowledge base's own files are never ingested"))
                    continue
                if root is not None and file.is_symlink():
                    base = _resolved(root)
                    if target is None or base is None or not _inside(target, base):
                        failures.append(IngestFailure(str(file), "symbolic link leading outside the ingested folder (not read)"))
                        continue
                if root is not None and file.suffix.lower() not in SUPPORTED_EXTENSIONS:
                    failures.append(
                        IngestFailure(str(file), f"unsupported file type '{file.suffix or '(none)'}'")
                    )
                    continue
                # NFC: a name typed on Linux and the same name saved by macOS (NFD) are one file; files
                # that differ in their extension only are placed by ingest/identity.py (formats, new ids)
                doc_id = unicodedata.normalize("NFC", safe_doc_id(doc_id_for(file, root)))
                name_key = f"{root}\0{unicodedata.normalize('NFC', file.name)}\0{doc_id}"
                if name_key in seen and seen[name_key] != str(file):
                    failures.append(IngestFailure(str(file), f"same document id '{doc_id}' as {seen[name_key]}"))
                    continue
                seen[name_key] = str(file)
                jobs.append(_Job(doc_id=doc_id, path=str(file)))
        return jobs, failures

    def ingest_paths(
        self,
        paths: Iterable[str | Path],
        doc_type: str | None = None,
        collection: str | None = None,
        progress: bool = False,
        replace: bool = False,
    ) -> dict[str, Any]:
        """``replace``: a file whose name a stored document (of another file) holds takes that document
        over; without it the file is a new document beside it (ingest/identity.py)."""
        jobs, failures = self.collect(paths)
        summary = self._run(jobs, doc_type, collection or "default", progress, install_framework=True, replace=replace)
        summary.failed[:0] = failures
        return summary.to_dict()

    def ingest_texts(
        self,
        items: list[tuple[str, str, str]],
        doc_type: str = "other",
        collection: str = "default",
        progress: bool = False,
    ) -> dict[str, Any]:
        jobs = [_Job(doc_id=safe_doc_id(doc_id), text=text, title=title) for doc_id, title, text in items]
        return self._run(jobs, doc_type, collection, progress, install_framework=False).to_dict()

    def remove(self, doc_id: str) -> bool:
        from kb.storage.locking import IngestLock

        with IngestLock(self.settings.lock_file):
            existed = self.services.store.remove_document(doc_id)
            TableStore(self.settings.home).remove(doc_id)
            if existed:
                self._decide_validity()
                self._publish_change({doc_id: []})
            return existed

    def ensure_framework(self) -> bool:
        """Install the shipped criteria framework once, into an empty knowledge base."""
        marker = self.settings.home / "framework_installed"
        if marker.exists() or self.services.store.list_documents():
            return False
        summary = self._run([], None, "builtin", False, install_framework=True)
        return summary.added > 0

    # -- the run -------------------------------------------------------------------------------
    def _framework_job(self) -> _Job | None:
        marker = self.settings.home / "framework_installed"
        if marker.exists():
            return None
        try:
            from kb.drafting.criteria import CriteriaFramework

            framework = CriteriaFramework.load()
            text = framework.to_markdown()
        except Exception as exc:  # the framework is an aid, never a reason to fail an ingest
            log.warning("criteria framework not installed: %s", exc)
            return None
        return _Job(doc_id=FRAMEWORK_DOC_ID, text=text, title=text.splitlines()[0].lstrip("# ").strip())

    def _run(self, jobs: list[_Job], doc_type: str | None, collection: str, progress: bool, install_framework: bool,
             replace: bool = False):
        from kb.storage.locking import IngestLock

        if doc_type is not None and doc_type not in DOC_TYPES:
            raise ValueError(f"unknown document type {doc_type!r} (one of {', '.join(DOC_TYPES)})")
        summary = IngestSummary()
        store = self.services.store
        with IngestLock(self.settings.lock_file):
            self._refuse_damaged_store()
            dirty = self.settings.home / "ingest.dirty"
            if dirty.exists():
                self._repair_locked()
            dirty.write_text(str(os.getpid()), encoding="utf-8")
            registry = store.registry()
            signature = _processing_signature(self.settings.ingest, self.settings.retrieval.segmenter)
            from ingest.identity import Identity

            identity = Identity(registry, store, replace=replace)
            placements = {}
            todo: list[tuple[_Job, str | None, str]] = []
            if install_framework and not registry:
                fj = self._framework_job()
                if fj is not None:
                    todo.append((fj, "criteria", "builtin"))
            for job in jobs:
                existing = registry.get(job.doc_id)
                if job.path is not None:
                    placement = identity.place(job.doc_id, job.path, collection)
                    existing = placement.existing
                    if placement.note != "format":
                        job.doc_id = placement.doc_id
                if existing is not None and job.path is not None and self._unchanged(existing, job, doc_type, collection, signature):
                    summary.unchanged += 1
                    summary.files.append({"path": job.path, "doc_id": placement.doc_id, "action": "unchanged"})
                    # not read again, but its pages still need checking: say so on every upload
                    summary.low_confidence.extend(_stored_page_checks(placement.doc_id, existing))
                    continue
                if job.path is not None:
                    if placement.note == "format":  # read under its own name: it may no longer be that document
                        job.doc_id = f"{job.doc_id}\0{job.path}"
                    placements[job.doc_id] = placement
                todo.append((job, doc_type, collection))
            paths = {j.doc_id: (j.path or j.doc_id) for j, _, _ in todo}
            buffer: list[PreparedDocument] = []
            changed: dict[str, list[Chunk]] = {}
            rows = self.services.lexical.new_term_rows()  # term counts of what this ingest tokenises
            for doc_id, prepared, error in self._prepare_all(todo, progress):
                if prepared is None:
                    summary.failed.append(IngestFailure(paths.get(doc_id, doc_id), error or "failed"))
                    continue
                placement = placements.get(doc_id)
                if placement is None:  # a text, the framework: named by the caller
                    buffer.append(prepared)
                else:
                    if "\0" in prepared.doc_id:
                        from ingest.identity import rename

                        rename(prepared, prepared.doc_id.split("\0", 1)[0])
                    identity.settle(prepared, placement, buffer)
                prepared = None
                if _buffer_full(buffer):
                    self._flush(buffer, signature, registry, summary, changed, rows)
                    identity.mark_written(p.doc_id for p in buffer)
                    buffer = []
            self._flush(buffer, signature, registry, summary, changed, rows)
            identity.mark_written(p.doc_id for p in buffer)
            buffer = []  # the texts and token tables are stored: free them before the index is rebuilt
            _release_memory()
            records_changed = False
            if identity.format_updates():
                store.update_records(identity.format_updates())
                records_changed = True
            for source, placed in identity.files.items():
                summary.files.append({"path": source, **placed})
            summary.merged = sum(1 for placed in identity.files.values() if placed["action"] == "merged")
            summary.notes.extend(identity.notes)
            records_changed = self._decide_validity() or records_changed
            if changed or records_changed or self.services.lexical.snapshot is None:
                self._publish_change(changed, rows)
            dirty.unlink(missing_ok=True)
        return summary

    def _flush(self, buffer: list[PreparedDocument], signature: str, registry: dict, summary: IngestSummary,
               changed: dict[str, list[Chunk]], rows) -> None:
        """Write a batch of prepared documents (one Chroma call per kind, not per document)."""
        if not buffer:
            return
        from kb.storage.store import DocumentWrite

        store = self.services.store
        tables = TableStore(self.settings.home)
        for p in buffer:  # before the registry names the version: a reader checks the versions agree
            if p.tables:
                tables.write(p.doc_id, p.sha256[:12], {"title": p.title, "tables": p.tables})
            else:
                tables.remove(p.doc_id)  # a document that was a spreadsheet under the same id
        vectors = self._embed([c.text for p in buffer for c in p.chunks])
        writes, offset = [], 0
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for p in buffer:
            n = len(p.chunks)
            record = DocumentRecord(
                doc_id=p.doc_id, title=p.title, doc_type=p.doc_type, collection=p.collection, source=p.source,
                sha256=p.sha256, chars=len(p.text), chunks=n, ingested_at=now,
                doc_number=p.meta.get("doc_number", ""), issuer=p.meta.get("issuer", ""),
                issued_on=p.meta.get("issued_on", ""),
                page_checks=_page_checks_json(p.ocr_pages),
            )
            writes.append(DocumentWrite(record, p.text, p.sha256[:12], signature, p.chunks, vectors[offset : offset + n],
                                        extra=dict(p.extra)))
            offset += n
        store.write_documents(writes)
        del writes, vectors
        for p in buffer:  # term rows in slices: never all of a big document's token strings at once
            for start in range(0, len(p.chunks), EMBED_BATCH):
                part = range(start, min(start + EMBED_BATCH, len(p.chunks)))
                rows.add([p.chunks[i].chunk_id for i in part], [p.tokens[i] for i in part])
        for p in buffer:
            changed[p.doc_id] = p.chunks
            summary.removed_lines += p.removed_lines
            summary.furniture_lines += p.furniture_lines
            summary.chunks += len(p.chunks)
            for page, info in sorted(p.ocr_pages.items()):
                if info.get("low"):
                    summary.low_confidence.append({"doc_id": p.doc_id, "page": page, **info})
            if p.doc_id == FRAMEWORK_DOC_ID:
                (self.settings.home / "framework_installed").write_text("1", encoding="utf-8")
            elif p.action == "merged":
                pass  # counted once the batch is placed: summary.merged
            elif p.action in ("updated", "replaced") or (not p.action and p.doc_id in registry):
                summary.updated += 1
            else:
                summary.added += 1

    def _decide_validity(self) -> bool:
        """现行有效 / 已修订 / 已废止 of every document, after a change (ingest/validity.py)."""
        from ingest.validity import changes

        updates = changes(self.services.store.registry())
        if updates:
            self.services.store.update_records(updates)
        return bool(updates)

    def _embed(self, texts: list[str]):
        """Vectors of `texts`, embedded EMBED_BATCH at a time into one float32 array: the hash embedder's
        working arrays for 144,000 chunks at once took 1.7 GB."""
        import numpy as np

        embedder = self.services.embedder
        if len(texts) <= EMBED_BATCH:
            return np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        parts = [np.asarray(embedder.embed_documents(texts[i : i + EMBED_BATCH]), dtype=np.float32)
                 for i in range(0, len(texts), EMBED_BATCH)]
        return np.concatenate(parts)

    @staticmethod
    def _unchanged(existing: dict, job: _Job, doc_type, collection, signature) -> bool:
        try:
            sha = file_sha256(Path(job.path))
        except OSError:
            return False
        if existing.get("sha256") != sha:
            return False
        if doc_type is not None and existing.get("doc_type") != doc_type:
            return False
        if existing.get("collection") != collection:
            return False
        return existing.get("signature") == signature

    def _prepare_all(self, todo, progress: bool):
        from ingest.bounded import use_child

        args = [(job, dt, col, self.settings.ingest, self.settings.retrieval.segmenter) for job, dt, col in todo]
        bar = None
        if progress and args:
            from tqdm import tqdm

            bar = tqdm(total=len(args), desc="ingest", unit="doc", file=sys.stderr)
        ingest_settings = self.settings.ingest
        workers = max(1, min(self.settings.ingest.workers, os.cpu_count() or 1))
        try:
            if workers > 1 and len(args) >= 16:
                from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
                from multiprocessing import get_context

                # risky files: each loaded in its own bounded child (ingest/bounded.py), up to
                # `workers` at a time; the rest in the worker processes
                risky = [a for a in args if use_child(a[0].path, ingest_settings)]
                plain = [a for a in args if not use_child(a[0].path, ingest_settings)]
                with ThreadPoolExecutor(max_workers=workers) as threads:
                    futures = [threads.submit(_prepare_bounded, a) for a in risky]
                    if plain:
                        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                            for result in pool.map(_prepare_worker, plain, chunksize=4):
                                if bar:
                                    bar.update(1)
                                yield result
                    for future in futures:
                        if bar:
                            bar.update(1)
                        yield future.result()
            else:
                from ingest.child_reader import ChildReader, needs_child

                for a in args:
                    if use_child(a[0].path, ingest_settings):  # memory and time limits, and the page timer
                        result = _prepare_bounded(a)
                    elif needs_child(a[0].path):  # the page timer works only in a main thread
                        if self._child is None:
                            self._child = ChildReader()
                        result = self._child.prepare(_prepare_worker, a)
                    else:
                        result = _prepare_worker(a)
                    if bar:
                        bar.update(1)
                    yield result
        finally:
            if bar:
                bar.close()

    def _publish_change(self, changed: dict[str, list[Chunk]] | None = None, rows=None) -> None:
        version = self.services.store.bump_version()
        self.services.verifier.invalidate()
        self.services.retriever.rebuild(version, workers=max(1, self.settings.ingest.workers), changed=changed, rows=rows)

    # -- consistency -----------------------------------------------------------------------------
    def _refuse_damaged_store(self) -> None:
        """An ingest on a store with a collection Chroma cannot load stops before it reads a file,
        naming `kb doctor --repair`. It does not repair by itself (as it does for ingest.dirty):
        that rebuild re-embeds every document, which can take long with a real model, and an
        admin should know the store was damaged — and stop the app instances while it runs."""
        from kb.storage.store import VectorIndexDamaged
        from kb.storage.store_recovery import damaged_collections

        store = self.services.store
        damaged = damaged_collections(store)
        if damaged:
            suffix, detail = sorted(damaged.items())[0]
            raise VectorIndexDamaged(store.collection_name(suffix), detail, self.settings.chroma.url or str(self.settings.chroma_dir))

    def check(self) -> dict[str, Any]:
        """Compare store vectors and texts with the registry and the lexical index (`kb doctor`).
        A collection Chroma cannot load is reported in `damaged_collections` (nothing else can be
        compared then; `repair` rebuilds it first)."""
        from kb.storage.store_recovery import damaged_collections

        store = self.services.store
        damaged = damaged_collections(store)
        if damaged:
            return self._damaged_report(damaged)
        registry = store.registry()
        orphans, stale = [], []
        per_doc: dict[str, int] = {}
        for ref in store.chunk_refs():
            meta = registry.get(ref.doc_id)
            if meta is None:
                orphans.append(ref.chunk_id)
            elif meta.get("version") != ref.version:
                stale.append(ref.chunk_id)
            else:
                per_doc[ref.doc_id] = per_doc.get(ref.doc_id, 0) + 1
        text_keys = set(store.text_keys())
        wanted_texts = {f"{d}#{m.get('version')}" for d, m in registry.items()}
        kept_texts = wanted_texts | {f"{d}#{m.get('prev_version')}" for d, m in registry.items() if m.get("prev_version")}
        incomplete = sorted(
            d for d, m in registry.items()
            if per_doc.get(d, 0) != int(m.get("chunks") or 0) or f"{d}#{m.get('version')}" not in text_keys
        )
        snap = self.services.lexical.load()
        lexical_ok = snap is not None and snap.store_version == store.version() and len(snap) == sum(per_doc.values())
        return {
            "documents": len(registry),
            "chunks": sum(per_doc.values()),
            "orphan_chunks": orphans,
            "stale_chunks": stale,
            "orphan_texts": sorted(text_keys - kept_texts),
            "incomplete_documents": incomplete,
            "lexical_index_current": bool(lexical_ok) or (not registry and snap is None),
            "interrupted_ingest": (self.settings.home / "ingest.dirty").exists(),
            "damaged_collections": {},
        }

    def _damaged_report(self, damaged: dict[str, str]) -> dict[str, Any]:
        from kb.storage.store_recovery import document_count

        store = self.services.store
        return {
            "documents": document_count(store, damaged),
            "chunks": None,
            "orphan_chunks": [],
            "stale_chunks": [],
            "orphan_texts": [],
            "incomplete_documents": [],
            "lexical_index_current": True,  # not comparable until the store is rebuilt
            "interrupted_ingest": (self.settings.home / "ingest.dirty").exists(),
            "damaged_collections": {store.collection_name(s): d for s, d in sorted(damaged.items())},
        }

    def repair(self, take_lock: bool = True) -> dict[str, Any]:
        """Remove invisible vectors and texts, drop incomplete documents, rebuild the index.
        `take_lock=False` for a caller that already holds the ingest lock (`kb doctor`)."""
        from kb.storage.locking import IngestLock

        if not take_lock:
            return self._repair_locked()
        with IngestLock(self.settings.lock_file):
            return self._repair_locked()

    def _repair_locked(self) -> dict[str, Any]:
        from kb.storage.store_recovery import damaged_collections, recover

        store = self.services.store
        damaged = damaged_collections(store)
        recovered = recover(self.services, damaged) if damaged else None
        report = self.check()
        if recovered is not None:
            report["recovered"] = recovered
        store.delete_chunks(report["orphan_chunks"] + report["stale_chunks"])
        if report["orphan_texts"]:
            for i in range(0, len(report["orphan_texts"]), 1000):
                store.texts.delete(ids=report["orphan_texts"][i : i + 1000])
        for doc_id in report["incomplete_documents"]:
            store.remove_document(doc_id)
        TableStore(self.settings.home).prune(store.registry())  # tables of documents no longer held
        try:
            self._decide_validity()  # a store from before validity (#28) is decided here too
        except Exception as exc:  # validity is an aid: never a reason for a repair to fail
            log.warning("validity not decided: %s", exc)
        self._publish_change()
        (self.settings.home / "ingest.dirty").unlink(missing_ok=True)
        report["repaired"] = True
        return report
