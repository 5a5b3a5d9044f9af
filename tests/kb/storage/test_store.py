"""kb.storage.store.ChromaStore: registry + versioned chunks, visibility, filters, removal."""
from __future__ import annotations

import numpy as np
import pytest

from kb.retrieval.embedding import HashEmbedder
from kb.models import Chunk, DocumentRecord, Filters
from kb.storage.store import ChromaStore, DocumentWrite

EMBEDDER = HashEmbedder(64)


def make_chunks(doc_id: str, version: str, texts: list[str], doc_type: str = "policy", collection: str = "default") -> list[Chunk]:
    chunks, pos = [], 0
    for i, text in enumerate(texts):
        chunks.append(
            Chunk(
                chunk_id=f"{doc_id}#{version}#{i:04d}",
                doc_id=doc_id,
                title=f"{doc_id}标题",
                section="一、总体要求" if i == 0 else "",
                article=f"第{i + 1}条",
                page=None if i else 3,
                start=pos,
                end=pos + len(text),
                text=text,
                doc_type=doc_type,
                collection=collection,
            )
        )
        pos += len(text) + 1
    return chunks


def record(doc_id: str, chunks: list[Chunk], doc_type: str = "policy", collection: str = "default") -> DocumentRecord:
    return DocumentRecord(
        doc_id=doc_id, title=f"{doc_id}标题", doc_type=doc_type, collection=collection, source=f"/src/{doc_id}.txt",
        sha256="0" * 64, chars=sum(len(c.text) for c in chunks), chunks=len(chunks), ingested_at="2024-01-01T00:00:00+00:00",
    )


def put(store: ChromaStore, doc_id: str, version: str, texts: list[str], **kw) -> list[Chunk]:
    chunks = make_chunks(doc_id, version, texts, **kw)
    store.write_documents(
        [
            DocumentWrite(
                record=record(doc_id, chunks, **kw),
                text="\n".join(texts),
                version=version,
                signature="sig",
                chunks=chunks,
                embeddings=EMBEDDER.embed_documents([c.text for c in chunks]),
            )
        ]
    )
    return chunks


def doc_of(chunk_id: str) -> str:
    return chunk_id.rsplit("#", 2)[0]


@pytest.fixture
def store(settings):
    s = ChromaStore(settings, "hash:64")
    yield s
    s.close()


def test_empty_store(store):
    assert store.list_documents() == []
    assert store.chunk_count() == 0
    assert store.query(EMBEDDER.embed_query("考察"), 5) == []
    assert store.version() == ""
    assert store.get_document("nope") is None
    assert store.get_document_text("nope") is None
    assert store.document_chunks("nope") == []


def test_store_without_embedder_signature_refuses_chunks(settings):
    with pytest.raises(RuntimeError, match="signature"):
        ChromaStore(settings).chunks


def test_publish_and_read_back(store):
    chunks = put(store, "甲", "v1", ["第一条 考察组应当深入谈话。", "第二条 落实一岗双责。"])
    [doc] = store.list_documents()
    assert doc.doc_id == "甲" and doc.chunks == 2 and doc.doc_type == "policy"
    assert store.get_document("甲") == doc
    assert store.get_document_text("甲") == "第一条 考察组应当深入谈话。\n第二条 落实一岗双责。"
    assert store.get_document_text("甲", version="v1") == store.get_document_text("甲")
    got = store.document_chunks("甲")
    assert [c.text for c in got] == [c.text for c in chunks]
    assert [c.chunk_id for c in got] == [c.chunk_id for c in chunks]
    assert got[0].page == 3 and got[1].page is None  # None survives the round trip
    assert got[0].section == "一、总体要求" and got[1].article == "第2条"
    assert (got[1].start, got[1].end) == (chunks[1].start, chunks[1].end)
    assert store.doc_signatures() == {"甲": "sig"}


def test_new_version_replaces_old_chunks(store):
    old = put(store, "甲", "v1", ["旧的第一段。", "旧的第二段。"])
    new = put(store, "甲", "v2", ["新的唯一一段。"])
    assert store.chunk_count() == 1
    assert [c.chunk_id for c in store.document_chunks("甲")] == [new[0].chunk_id]
    assert {ref.chunk_id for ref in store.chunk_refs()} == {new[0].chunk_id}
    assert not {c.chunk_id for c in old} & {ref.chunk_id for ref in store.chunk_refs()}
    assert store.get_document("甲").chunks == 1
    assert store.get_document_text("甲") == "新的唯一一段。"


def test_previous_text_is_kept_one_version_only(store):
    """A reader holding the previous snapshot still verifies quotes against its text; older ones go."""
    put(store, "甲", "v1", ["第一版。"])
    put(store, "甲", "v2", ["第二版。"])
    assert store.get_document_text("甲", version="v1") == "第一版。"
    put(store, "甲", "v3", ["第三版。"])
    assert store.get_document_text("甲", version="v1") is None
    assert store.get_document_text("甲", version="v2") == "第二版。"
    assert store.get_document_text("甲") == "第三版。"


def test_vectors_of_an_unregistered_version_are_invisible(store):
    put(store, "甲", "v1", ["已发布的内容。"])
    # what a crash between writing vectors and the registry leaves behind
    store.chunks.upsert(
        ids=["甲#v2#0000"],
        embeddings=EMBEDDER.embed_documents(["尚未发布的内容。"]).tolist(),
        metadatas=[{"doc_id": "甲", "version": "v2", "doc_type": "policy", "collection": "default"}],
    )
    assert [c.text for c in store.visible_chunks()] == ["已发布的内容。"]
    assert [c.text for c in store.document_chunks("甲")] == ["已发布的内容。"]
    assert store.chunk_count() == 2  # the invisible one is still there until cleaned up
    assert {ref.version for ref in store.chunk_refs()} == {"v1", "v2"}


def test_remove_document(store):
    put(store, "甲", "v1", ["甲的内容。"])
    put(store, "乙", "v1", ["乙的内容。"])
    assert store.remove_document("甲") is True
    assert [d.doc_id for d in store.list_documents()] == ["乙"]
    assert all(ref.doc_id != "甲" for ref in store.chunk_refs())
    assert all(not key.startswith("甲#") for key in store.text_keys())
    assert store.get_document_text("甲") is None
    assert store.remove_document("甲") is False


def test_query_ranks_similar_text_first(store):
    put(store, "甲", "v1", ["严格执行三重一大决策制度。", "市人民政府应当编制热线工作发展规划。"])
    chunks = store.document_chunks("甲")
    results = store.query(EMBEDDER.embed_query("三重一大决策制度"), 2)
    assert results[0][0] == chunks[0].chunk_id
    assert results[0][1] > results[1][1]


def test_query_can_be_restricted_to_ids(store):
    # filters are resolved to chunk ids by the retriever's snapshot; the store honours the ids
    put(store, "甲", "v1", ["考察谈话内容甲。", "考察谈话补充甲。"], doc_type="policy", collection="c1")
    put(store, "乙", "v1", ["考察谈话内容乙。"], doc_type="report", collection="c1")
    allowed = [c.chunk_id for c in store.document_chunks("乙")]
    results = store.query(EMBEDDER.embed_query("考察谈话"), 10, ids=allowed)
    assert [chunk_id for chunk_id, _ in results] == allowed
    assert store.query(EMBEDDER.embed_query("考察谈话"), 10, ids=[]) == []
    assert {doc_of(chunk_id) for chunk_id, _ in store.query(EMBEDDER.embed_query("考察谈话"), 10)} == {"甲", "乙"}


def test_version_bumps(store):
    v1 = store.bump_version()
    assert store.version() == v1
    v2 = store.bump_version()
    assert v2 != v1 and store.version() == v2


def test_store_persists_across_instances(settings):
    first = ChromaStore(settings, "hash:64")
    put(first, "甲", "v1", ["持久化的内容。"])
    first.close()
    second = ChromaStore(settings, "hash:64")
    assert [c.text for c in second.document_chunks("甲")] == ["持久化的内容。"]
    # another embedder lives in another chunk collection
    other = ChromaStore(settings, "hash:128")
    assert other.chunk_count() == 0
    assert [d.doc_id for d in other.list_documents()] == ["甲"]
    second.close()
    other.close()


def test_embeddings_are_our_own(store):
    put(store, "甲", "v1", ["向量由我们自己提供。"])
    [ref] = list(store.chunk_refs())
    got = store.chunks.get(ids=[ref.chunk_id], include=["embeddings"])
    assert np.allclose(np.asarray(got["embeddings"][0]), EMBEDDER.embed_query("向量由我们自己提供。"), atol=1e-6)
