"""Loading evaluation datasets and telling their kind from their content (never from the file name).

Five kinds:
  * ``domain_qa``  — JSON Lines with question / answerable / key_points;
  * ``law_clause`` — the same schema with ``"type": "clause_lookup"`` and ``sources[0].article``;
  * ``drafts``     — JSON Lines with kind / expected_topics;
  * ``cmrc``       — one JSON list of CMRC-2018 passages (context_id / context_text / qas). Its passages
    are its corpus; every question becomes one item pointing at its passage;
  * ``conversation`` — JSON Lines with history / question / resolved_should_mention / key_points (a
    follow-up question and the earlier questions of its conversation).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("domain_qa", "law_clause", "drafts", "cmrc", "conversation")


class DatasetError(ValueError):
    """A dataset file that cannot be read or is not one of the known kinds; the message names the file."""


@dataclass
class Dataset:
    name: str
    kind: str
    path: Path
    items: list[dict[str, Any]]
    # CMRC only: (doc_id, title, text) for every passage, ingested into the dataset's own knowledge base.
    passages: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def needs_corpus(self) -> bool:
        """True when the items are answered from the shared --corpus / --kb-home knowledge base."""
        return self.kind != "cmrc"


def record_kind(record: dict[str, Any]) -> str | None:
    """The kind a single JSON Lines record belongs to, or None when it matches none."""
    sources = record.get("sources")
    first_source = sources[0] if isinstance(sources, list) and sources and isinstance(sources[0], dict) else {}
    if record.get("type") == "clause_lookup" or "article" in first_source:
        return "law_clause"
    if "kind" in record and "expected_topics" in record:
        return "drafts"
    if "history" in record and "question" in record and "resolved_should_mention" in record:
        return "conversation"
    if "question" in record and "answerable" in record and "key_points" in record:
        return "domain_qa"
    return None


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if not path.is_file():
        raise DatasetError(f"{path}: not a file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from exc
    if not text.strip():
        raise DatasetError(f"{path}: empty file")
    return text


def _require(path: Path, where: str, record: dict[str, Any], fields: dict[str, type | tuple[type, ...]]) -> None:
    for name, expected in fields.items():
        if name not in record:
            raise DatasetError(f"{path}:{where}: missing field {name!r}")
        if not isinstance(record[name], expected):
            raise DatasetError(f"{path}:{where}: field {name!r} has the wrong type ({type(record[name]).__name__})")


_QA_FIELDS = {"question": str, "answerable": bool, "key_points": list, "sources": list}
_DRAFT_FIELDS = {"kind": str, "expected_topics": list}
_CONVERSATION_FIELDS = {"question": str, "history": list, "resolved_should_mention": list, "key_points": list}


def _load_jsonl(path: Path, text: str) -> tuple[str, list[dict[str, Any]]]:
    records: list[tuple[int, dict[str, Any]]] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{line_no}: malformed JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise DatasetError(f"{path}:{line_no}: each line must be a JSON object")
        records.append((line_no, obj))
    if not records:
        raise DatasetError(f"{path}: no records")
    line_no, first = records[0]
    kind = record_kind(first)
    if kind is None:
        raise DatasetError(
            f"{path}:{line_no}: unknown dataset kind — expected domain QA (question/answerable/key_points), "
            "law clause (type clause_lookup / sources[0].article), drafting tasks (kind/expected_topics), "
            "conversation pairs (history/question/resolved_should_mention) or a CMRC-2018 JSON list"
        )
    items = []
    for line_no, obj in records:
        this_kind = record_kind(obj)
        # A law file may hold a few items without an article; they still have the QA schema.
        compatible = this_kind == kind or (kind == "law_clause" and this_kind == "domain_qa")
        if not compatible:
            raise DatasetError(f"{path}:{line_no}: record of kind {this_kind or 'unknown'} in a {kind} dataset")
        fields = {"drafts": _DRAFT_FIELDS, "conversation": _CONVERSATION_FIELDS}.get(kind, _QA_FIELDS)
        _require(path, str(line_no), obj, fields)
        item = dict(obj)
        item.setdefault("id", f"line-{line_no}")
        if kind == "drafts":
            item.setdefault("type", item["kind"])
            item.setdefault("dimensions", [])
        elif kind == "conversation":
            item.setdefault("type", "follow_up")
            item.setdefault("answerable", True)
        else:
            item.setdefault("type", "clause_lookup" if kind == "law_clause" else "qa")
        items.append(item)
    return kind, items


def _load_cmrc(path: Path, data: Any) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    if not isinstance(data, list) or not data:
        raise DatasetError(f"{path}: a JSON dataset must be a non-empty CMRC-2018 list of passages")
    items: list[dict[str, Any]] = []
    passages: list[tuple[str, str, str]] = []
    for index, passage in enumerate(data):
        where = f"passage {index}"
        if not isinstance(passage, dict) or "context_text" not in passage or "qas" not in passage:
            raise DatasetError(f"{path}:{where}: not a CMRC-2018 passage (needs context_id, context_text, qas)")
        _require(path, where, passage, {"context_id": str, "context_text": str, "qas": list})
        doc_id = passage["context_id"]
        passages.append((doc_id, str(passage.get("title") or doc_id), passage["context_text"]))
        for q_index, qa in enumerate(passage["qas"]):
            q_where = f"{where} question {q_index}"
            if not isinstance(qa, dict):
                raise DatasetError(f"{path}:{q_where}: not an object")
            _require(path, q_where, qa, {"query_text": str, "answers": list})
            items.append(
                {
                    "id": qa.get("query_id", f"{doc_id}-{q_index}"),
                    "type": "span",
                    "question": qa["query_text"],
                    "answerable": True,
                    "answers": [str(a) for a in qa["answers"]],
                    "doc": doc_id,
                }
            )
    if not items:
        raise DatasetError(f"{path}: CMRC dataset holds no questions")
    return items, passages


def load_dataset(path: str | Path, limit: int | None = None, name: str | None = None) -> Dataset:
    """Read a dataset file, detect its kind from its content, validate it; raise DatasetError otherwise.

    ``limit`` keeps the first N items (for CMRC every passage is kept as corpus).
    """
    path = Path(path)
    text = _read_text(path)
    stripped = text.lstrip()
    passages: list[tuple[str, str, str]] = []
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
        kind = "cmrc"
        items, passages = _load_cmrc(path, data)
    elif stripped.startswith("{"):
        kind, items = _load_jsonl(path, text)
    else:
        raise DatasetError(f"{path}: not JSON Lines or a JSON list")
    if limit is not None:
        if limit < 1:
            raise DatasetError(f"{path}: --limit must be at least 1")
        items = items[:limit]
    return Dataset(name=name or path.stem, kind=kind, path=path, items=items, passages=passages)


def load_datasets(paths: list[str | Path], limit: int | None = None) -> list[Dataset]:
    """Load several datasets; names are file stems, made unique with -2, -3… suffixes."""
    datasets = []
    seen: dict[str, int] = {}
    for p in paths:
        stem = Path(p).stem
        seen[stem] = seen.get(stem, 0) + 1
        name = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
        datasets.append(load_dataset(p, limit=limit, name=name))
    return datasets
