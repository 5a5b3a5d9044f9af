"""Helpers shared by the sub-commands: settings from the global flags, JSON output, batch input."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

from kb.settings import Settings, load_settings


def settings_from_args(args: Any) -> Settings:
    overrides = {}
    if getattr(args, "home", None):
        overrides["home"] = args.home
    return load_settings(getattr(args, "settings", None), **overrides)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def read_batch(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line_no, object, error) for each non-empty JSON Lines record; malformed lines give an error."""
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                # one bad byte spoils its line only
                yield line_no, None, f"{path}:{line_no}: not UTF-8 text (byte {raw[exc.start:exc.start + 1]!r} at column {exc.start + 1})"
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, None, f"{path}:{line_no}: malformed JSON ({exc.msg})"
                continue
            if not isinstance(obj, dict):
                yield line_no, None, f"{path}:{line_no}: each line must be a JSON object"
                continue
            yield line_no, obj, None


def run_batch(path: str | Path, handle) -> int:
    """Answer a JSON Lines batch: `handle(obj)` returns the output object for one line (it carries
    the line's "id"); a malformed line, or a ValueError from `handle`, gives an error object for that
    line and the rest proceeds. Exit status 1 when any line failed, 2 when the file is missing."""
    if not Path(path).is_file():
        log(f"error: {path}: no such batch file")
        return 2
    status = 0
    for line_no, obj, error in read_batch(path):
        if error:
            print_json({"id": None, "line": line_no, "error": error})
            status = 1
            continue
        try:
            out = handle(obj)
        except (ValueError, TypeError) as exc:
            # a value of the wrong type ("k": "many") is that line's error, not the batch's end
            print_json({"id": obj.get("id"), "line": line_no, "error": f"{path}:{line_no}: {exc}"})
            status = 1
            continue
        print_json(out)
    return status


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_filter_args(parser) -> None:
    from kb.models import DOC_TYPES

    parser.add_argument("--type", dest="doc_types", action="append", choices=DOC_TYPES, help="only this document type (repeatable)")
    parser.add_argument("--collection", dest="collections", action="append", help="only this collection (repeatable)")
    parser.add_argument("--doc", dest="doc_ids", action="append", help="only this document id (repeatable)")


def filters_from_args(args: Any):
    from kb.models import Filters

    return Filters(
        doc_types=getattr(args, "doc_types", None),
        collections=getattr(args, "collections", None),
        doc_ids=getattr(args, "doc_ids", None),
    )
