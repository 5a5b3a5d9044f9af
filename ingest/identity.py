"""Which stored document a file is (issue #28 item 2): identity by path in the collection and content.

A file is the document it was ingested as when it is *the same file*: the same path (its source), or the
same name with the same bytes. Otherwise, once read:

- the same text as a document of the same collection (whitespace and punctuation aside; an OCR'd scan:
  near-identical text under the same title or 发文字号) in **another format** → one document, the file
  listed among its ``formats``; the preferred format (a text-layer PDF first: it carries the pages a
  citation names) gives the document its text and chunks;
- otherwise a new document: under its name (``doc_id_for``) when that is free, else under the name with
  ``~`` and 8 hex digits of the file's SHA-256 — an existing document is never replaced by another file
  unless the caller asks (``replace=True``: the file takes the name's document over).

Ids of stored documents never change: old records (no ``formats`` field) are read as one format, their
source's; the text key of an old record is computed from its stored text when a candidate needs it.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.storage.doc_ids import file_sha256

# lower rank = preferred as the document's text: page citations from a text layer first
FORMAT_RANK = {"pdf": 0, "ofd": 1, "docx": 2, "doc": 3, "wps": 4, "html": 5, "htm": 5, "md": 6, "txt": 7, "pdf-scan": 8}
FORMAT_LABELS = {"pdf-scan": "扫描PDF"}
NEAR_IDENTICAL = 0.85  # character-bigram Jaccard of two texts, one of them OCR'd, same title or 发文字号
_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)


def normalised_text(text: str) -> str:
    """What "the same text" compares: NFKC, no whitespace, punctuation or symbols, lower case."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def text_key(text: str) -> str:
    return hashlib.sha256(normalised_text(text).encode("utf-8")).hexdigest()[:20]


def similarity(a: str, b: str) -> float:
    """Character-bigram Jaccard of two normalised texts."""
    ga = {a[i : i + 2] for i in range(len(a) - 1)}
    gb = {b[i : i + 2] for i in range(len(b) - 1)}
    return len(ga & gb) / len(ga | gb) if ga and gb else 0.0


def norm_title(title: str) -> str:
    return normalised_text(re.sub(r"[（(](?:19|20)\d{2}[^）)]{0,12}[）)]\s*$", "", (title or "").strip()))


def file_format(path: str | None, ocr_pages: dict | None = None, pages: int = 0) -> str:
    ext = Path(path or "").suffix.lower().lstrip(".") or "txt"
    if ext == "pdf" and ocr_pages and len(ocr_pages) >= max(1, pages):
        return "pdf-scan"  # no text layer: every page read by OCR
    return ext


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve(strict=False))
    except (OSError, RuntimeError):
        return str(path)


def formats_of(doc_id: str, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """A record's format entries; an old record (no ``formats``): one, its source's."""
    try:
        entries = json.loads(meta.get("formats") or "[]")
    except ValueError:
        entries = []
    if entries:
        return entries
    source = str(meta.get("source") or "")
    if not source or source == "text":
        return []
    return [{"format": file_format(source), "file": Path(source).name, "source": source,
             "sha256": meta.get("sha256", ""), "text_key": meta.get("text_key", ""), "primary": True}]


def formats_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps(entries, ensure_ascii=False, sort_keys=True)


@dataclass
class Placement:
    """Where a job goes before it is read: an existing document (the same file) or a new id."""

    doc_id: str
    action: str  # same_file | added | kept_both | replaced
    existing: dict | None = None  # the record to compare with for "unchanged" (the file's own sha)
    note: str = ""


@dataclass
class _Doc:
    doc_id: str
    collection: str
    title: str
    doc_number: str
    formats: list[dict[str, Any]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    ocr: bool = False
    stored: bool = True  # in the store (else: still in this ingest's write buffer)


class Identity:
    """One ingest's view of which document each file is; built from the registry at the start."""

    def __init__(self, registry: dict[str, dict[str, Any]], store=None, replace: bool = False):
        self.store = store
        self.replace = replace
        self.docs: dict[str, _Doc] = {}
        self.by_source: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = {}  # file name → doc ids listing it (a same-bytes check)
        self.taken: set[str] = set(registry)
        self.registry = registry
        self.notes: list[str] = []
        self.files: dict[str, dict[str, str]] = {}  # source → {"doc_id", "action"}
        self.meta_dirty: set[str] = set()
        self.by_title: dict[tuple[str, str], set[str]] = {}  # (collection, title or 发文字号) → doc ids
        for doc_id, meta in registry.items():
            entries = formats_of(doc_id, meta)
            doc = _Doc(doc_id, meta.get("collection", "default"), meta.get("title", ""), meta.get("doc_number", "") or "",
                       entries, {e["text_key"] for e in entries if e.get("text_key")},
                       any(e.get("format") == "pdf-scan" for e in entries))
            self._add(doc)
            for e in entries:
                self._index_entry(doc_id, e)

    def _add(self, doc: _Doc) -> None:
        self.docs[doc.doc_id] = doc
        for key in (norm_title(doc.title), doc.doc_number):
            if key:
                self.by_title.setdefault((doc.collection, key), set()).add(doc.doc_id)

    def _index_entry(self, doc_id: str, entry: dict[str, Any]) -> None:
        if entry.get("source"):
            self.by_source[_resolved(entry["source"])] = doc_id
            self.by_source[entry["source"]] = doc_id
        if entry.get("file"):
            self.by_name.setdefault(entry["file"], []).append(doc_id)

    # -- before reading --------------------------------------------------------------------------
    def place(self, base_id: str, path: str, collection: str) -> Placement:
        """The document a file goes to before it is read."""
        doc_id = self.by_source.get(path) or self.by_source.get(_resolved(path))
        if doc_id is not None and (doc_id not in self.docs or self._entry(doc_id, source=path) is None):
            doc_id = None  # no longer one of that document's files
        if doc_id is None and Path(path).name in self.by_name:
            try:
                sha = file_sha256(Path(path))
            except OSError:
                sha = ""
            for cand in self.by_name[Path(path).name]:
                entry = self._entry(cand, name=Path(path).name)
                if sha and entry is not None and entry.get("sha256") == sha and self.docs[cand].collection == collection:
                    doc_id = cand  # the same name and bytes from another place (an upload): the same file
                    break
        if doc_id is not None and doc_id in self.docs:
            entry = self._entry(doc_id, source=path) or self._entry(doc_id, name=Path(path).name)
            meta = dict(self.registry.get(doc_id) or {})
            if entry is not None:
                meta["sha256"] = entry.get("sha256", meta.get("sha256"))
                if not entry.get("primary", False) and len(self.docs[doc_id].formats) > 1:
                    # another format of the document: unchanged or re-checked as a file of its own
                    return Placement(doc_id, "same_file", meta, note="format")
            return Placement(doc_id, "same_file", meta)
        if base_id not in self.taken:
            self.taken.add(base_id)
            return Placement(base_id, "added")
        if self.replace and base_id in self.docs and base_id in self.registry:
            return Placement(base_id, "replaced", dict(self.registry[base_id]))
        try:
            suffix = file_sha256(Path(path))[:8]
        except OSError:
            suffix = hashlib.sha256(path.encode("utf-8")).hexdigest()[:8]
        new_id, n = f"{base_id}~{suffix}", 2
        while new_id in self.taken:
            new_id, n = f"{base_id}~{suffix}-{n}", n + 1
        self.taken.add(new_id)
        return Placement(new_id, "kept_both", note=base_id)

    def _entry(self, doc_id: str, source: str | None = None, name: str | None = None) -> dict | None:
        for e in self.docs[doc_id].formats:
            if source is not None and (e.get("source") == source or _resolved(e.get("source", "")) == _resolved(source)):
                return e
            if name is not None and e.get("file") == name:
                return e
        return None

    # -- once read -------------------------------------------------------------------------------
    def settle(self, prepared, placement: Placement, buffer: list) -> None:
        """Put a prepared document where it belongs: into ``buffer`` (to be written), or into another
        document's formats."""
        source = prepared.source
        pages = max((c.pages[-1] for c in prepared.chunks if c.page is not None), default=0)
        fmt = file_format(source, prepared.ocr_pages, pages)
        key = text_key(prepared.text)
        entry = {"format": fmt, "file": Path(source).name, "source": source, "sha256": prepared.sha256,
                 "text_key": key, "primary": True}
        prepared.extra["text_key"] = key
        if placement.action == "same_file" and placement.note != "format":
            # the same file, read again (changed bytes or settings): its document keeps the formats
            # whose text is still the same, this file stays the document's text
            doc = self.docs.get(placement.doc_id)
            others = [dict(e, primary=False) for e in (doc.formats if doc else [])
                      if e.get("source") != source and e.get("text_key") == key]
            self._set(prepared, placement.doc_id, [entry] + others, buffer, "updated")
            return
        if placement.action == "same_file":
            # another format of a document, changed: out of that document first
            self._drop_format(placement.doc_id, source)
            placement = Placement(self._fresh_id(prepared), "added")
        target = self._match(prepared, key, fmt, buffer)
        if target is not None:
            self._merge(prepared, entry, target, buffer)
            if placement.action == "added" and placement.doc_id != target.doc_id:
                self.taken.discard(placement.doc_id)
            return
        action = placement.action
        if action == "kept_both":
            self.notes.append(
                f"{Path(source).name}：已有同名文档“{placement.note}”（内容不同），另存为新文档“{placement.doc_id}”"
                f"（如需替换请使用 --replace）"
            )
        elif action == "replaced":
            self.notes.append(f"{Path(source).name}：按要求替换了同名文档“{placement.doc_id}”")
        self._set(prepared, placement.doc_id, [entry], buffer, action)

    def _fresh_id(self, prepared) -> str:
        base = prepared.doc_id
        if base not in self.taken:
            self.taken.add(base)
            return base
        new_id = f"{base}~{prepared.sha256[:8]}"
        self.taken.add(new_id)
        return new_id

    def _set(self, prepared, doc_id: str, entries: list[dict], buffer: list, action: str) -> None:
        if prepared.doc_id != doc_id:
            rename(prepared, doc_id)
        prepared.extra["formats"] = formats_json(entries)
        prepared.action = action
        doc = _Doc(doc_id, prepared.collection, prepared.title, prepared.meta.get("doc_number", ""), entries,
                   {e["text_key"] for e in entries if e.get("text_key")}, any(e["format"] == "pdf-scan" for e in entries),
                   stored=False)
        self._add(doc)
        for e in entries:
            self._index_entry(doc_id, e)
        self.files[prepared.source] = {"doc_id": doc_id, "action": action}
        buffer.append(prepared)

    def _drop_format(self, doc_id: str, source: str) -> None:
        doc = self.docs.get(doc_id)
        if doc is None:
            return
        doc.formats = [e for e in doc.formats if e.get("source") != source]
        self.meta_dirty.add(doc_id)

    def _candidates(self, prepared) -> list[_Doc]:
        ids: set[str] = set()
        for key in (norm_title(prepared.title), prepared.meta.get("doc_number", "")):
            if key:
                ids |= self.by_title.get((prepared.collection, key), set())
        # a document given as text (ingest_texts, the framework) has no file to be another format of
        return [self.docs[d] for d in sorted(ids)
                if d in self.docs and self.docs[d].collection == prepared.collection and self.docs[d].formats]

    def _keys(self, doc: _Doc) -> set[str]:
        """A document's text keys; an old record's from its stored text (computed once)."""
        if not doc.keys and doc.stored and self.store is not None:
            text = self.store.get_document_text(doc.doc_id)
            if text:
                doc.keys = {text_key(text)}
                for e in doc.formats:
                    e.setdefault("text_key", "")
                    if not e["text_key"]:
                        e["text_key"] = next(iter(doc.keys))
        return doc.keys

    def mark_written(self, doc_ids) -> None:
        for d in doc_ids:
            if d in self.docs:
                self.docs[d].stored = True

    def _match(self, prepared, key: str, fmt: str, buffer: list) -> _Doc | None:
        ocr = fmt == "pdf-scan"
        near: tuple[float, _Doc] | None = None
        for doc in self._candidates(prepared):
            if any(e.get("format") == fmt for e in doc.formats):
                continue  # the same format twice is two files (a copy is a document of its own)
            if key in self._keys(doc):
                return doc
            if ocr or doc.ocr:
                pending = next((p for p in buffer if p.doc_id == doc.doc_id), None)
                if pending is not None:
                    text = pending.text
                else:
                    text = self.store.get_document_text(doc.doc_id) if self.store is not None else None
                if text:
                    score = similarity(normalised_text(text), normalised_text(prepared.text))
                    if score >= NEAR_IDENTICAL and (near is None or score > near[0]):
                        near = (score, doc)
        return near[1] if near else None

    def _merge(self, prepared, entry: dict, target: _Doc, buffer: list) -> None:
        pending = next((p for p in buffer if p.doc_id == target.doc_id), None)
        current = min((FORMAT_RANK.get(e.get("format"), 9) for e in target.formats if e.get("primary")), default=9)
        preferred = FORMAT_RANK.get(entry["format"], 9) < current
        names = "、".join(sorted({e["format"] for e in target.formats} | {entry["format"]}))
        self.notes.append(f"{Path(prepared.source).name}：与“{target.doc_id}”内容相同，作为同一文档的另一格式登记（{names}）")
        self.files[prepared.source] = {"doc_id": target.doc_id, "action": "merged"}
        if preferred:
            entries = [entry] + [dict(e, primary=False) for e in target.formats]
            if pending is not None:
                buffer.remove(pending)
            action = "merged" if pending is None else getattr(pending, "action", "added")
            self._set(prepared, target.doc_id, entries, buffer, action)
            if pending is not None:  # the file it replaces as the text: another format now
                self.files[pending.source] = {"doc_id": target.doc_id, "action": "merged"}
            return
        target.formats.append(dict(entry, primary=False))
        target.keys.add(entry["text_key"])
        self._index_entry(target.doc_id, entry)
        if pending is not None:
            pending.extra["formats"] = formats_json(target.formats)
        else:
            self.meta_dirty.add(target.doc_id)
        prepared.action = "merged"

    def format_updates(self) -> dict[str, dict[str, str]]:
        """Registry fields to update for documents whose formats changed without a new text."""
        return {d: {"formats": formats_json(self.docs[d].formats)} for d in sorted(self.meta_dirty) if d in self.docs}


def rename(prepared, doc_id: str) -> None:
    """A prepared document under another id: its chunks' ids and doc_id follow."""
    from kb.storage.store import chunk_id_for

    version = prepared.sha256[:12]
    prepared.doc_id = doc_id
    for i, c in enumerate(prepared.chunks):
        c.doc_id = doc_id
        c.chunk_id = chunk_id_for(doc_id, version, i)
