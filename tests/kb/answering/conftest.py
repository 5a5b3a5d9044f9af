"""A knowledge base made from a purpose-written corpus, through the real ingest, once per module."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from tests.conftest import make_settings


@contextmanager
def corpus_kb(tmp_path_factory, name: str, corpus: dict[str, str]) -> Iterator[object]:
    from kb.container import build_services

    root = tmp_path_factory.mktemp(name)
    directory = root / "corpus"
    directory.mkdir()
    for file_name, text in corpus.items():
        (directory / file_name).write_text(text, encoding="utf-8")
    services = build_services(make_settings(root / "kb"))
    summary = services.ingest.ingest_paths([directory])
    assert summary["added"] == len(corpus) and not summary["failed"], summary
    try:
        yield services
    finally:
        services.close()
