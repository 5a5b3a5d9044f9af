"""kb.retrieval.hybrid.HybridRetriever: ranking, filters on both sides, fusion, clause lookup, llama-index use."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from kb.models import Filters
from tests.conftest import LAWS_TIMEOUT_S, make_settings, normalise, read_jsonl, require_shared

POLICY = """关于落实党风廉政建设责任制的规定

一、总体要求
领导班子主要负责人是党风廉政建设第一责任人，班子成员要落实一岗双责，对职责范围内的党风廉政建设负领导责任。

二、决策制度
凡属重大决策、重要干部任免、重大项目安排和大额度资金运作，必须坚持三重一大集体决策制度，不得个人或少数人说了算。

三、民主生活
领导班子每年召开一次民主生活会，认真开展批评和自我批评，会前要广泛征求意见，会后要抓好整改落实。
"""

REPORT = """专题民主生活会情况通报

一、基本情况
各市县党委班子召开专题民主生活会，查摆问题，开展批评和自我批评，会前普遍开展了谈心谈话。

二、存在问题
部分班子相互批评辣味不足，点问题避重就轻，要求在下次民主生活会前整改到位。

三、整改要求
会后，各班子制定整改方案，明确整改时限和责任人，整改情况在一定范围内通报。
"""

OUTLINE = """深度访谈提纲

一、政治忠诚方面
该同志在贯彻落实党中央决策部署方面有哪些具体举措？班子成员如何评价？

二、政治担当方面
该同志面对急难险重任务时是否敢于担当、主动作为？请举出具体事例。

三、政治自律方面
该同志是否严格遵守政治纪律和政治规矩，有无违反中央八项规定精神的问题？
"""

LAW = """# 某市政务服务便民热线条例

第一条 为了规范政务服务便民热线工作，提高服务质量，制定本条例。

第二条 本条例适用于本市行政区域内政务服务便民热线的建设、运行和管理。

第三条 市人民政府应当编制热线工作发展规划，推进热线标准化建设。

第四条 热线工作机构应当对来电诉求进行分类办理，并在规定时限内答复来电人。

第五条 违反本条例规定的，由有关部门责令改正；情节严重的，依法给予处分。
"""

# (doc_id, title, text, doc_type, collection)
CORPUS = [
    ("policy/责任制规定", "关于落实党风廉政建设责任制的规定", POLICY, "policy", "rules"),
    ("report/民主生活会通报", "专题民主生活会情况通报", REPORT, "report", "reports"),
    ("outline/深度访谈提纲", "深度访谈提纲", OUTLINE, "outline", "reports"),
    ("law/热线条例", "某市政务服务便民热线条例", LAW, "policy", "laws"),
]

# question → (doc_id, a phrase the answering chunk holds); each has one clearly best chunk lexically
CLEAR_QUESTIONS = {
    "班子成员如何落实一岗双责？": ("policy/责任制规定", "一岗双责"),
    "三重一大集体决策制度包括哪些事项？": ("policy/责任制规定", "三重一大"),
    "民主生活会上批评辣味不足怎么办？": ("report/民主生活会通报", "辣味不足"),
    "面对急难险重任务是否敢于担当？": ("outline/深度访谈提纲", "急难险重"),
    "热线来电诉求如何分类办理和答复？": ("law/热线条例", "分类办理"),
}
BROAD_QUESTION = "班子 民主生活会 整改 热线 决策 政治 担当 批评 条例"

MODES = {
    "lexical": {},
    # the mock embedder is noise; weight 1.0 makes the dense side take part in every ranking
    "dense-mock": {"embedder__mode": "mock", "retrieval__dense_weight": {"mock": 1.0}},
}


def build_corpus_services(home, **overrides: Any):
    from kb.container import build_services

    services = build_services(make_settings(home, chroma__version_check_seconds=0, **overrides))
    for doc_id, title, text, doc_type, collection in CORPUS:
        summary = services.ingest.ingest_texts([(doc_id, title, text)], doc_type=doc_type, collection=collection)
        assert summary["added"] == 1 and summary["failed"] == [], summary
    return services


@pytest.fixture(scope="module", params=list(MODES))
def corpus_services(request, tmp_path_factory) -> Iterator[Any]:
    services = build_corpus_services(tmp_path_factory.mktemp(f"corpus-{request.param}") / "kb", **MODES[request.param])
    services.mode_name = request.param
    yield services
    services.close()


@pytest.fixture(scope="module")
def lexical_services(tmp_path_factory) -> Iterator[Any]:
    services = build_corpus_services(tmp_path_factory.mktemp("corpus-lexical-only") / "kb")
    yield services
    services.close()


@pytest.fixture(scope="module")
def noisy_services(tmp_path_factory) -> Iterator[Any]:
    services = build_corpus_services(tmp_path_factory.mktemp("corpus-noisy") / "kb", **MODES["dense-mock"])
    yield services
    services.close()


def test_search_returns_ranked_hits(lexical_services):
    hits = lexical_services.retriever.search("班子成员如何落实一岗双责？", k=3)
    assert 1 <= len(hits) <= 3
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))
    assert hits[0].lexical_rank == 1
    top = hits[0].chunk
    assert top.doc_id == "policy/责任制规定"
    assert "一岗双责" in top.text
    assert top.title == "关于落实党风廉政建设责任制的规定"
    assert top.section.startswith("一、总体要求")
    assert top.doc_type == "policy" and top.collection == "rules"


@pytest.mark.parametrize("question", list(CLEAR_QUESTIONS))
def test_clear_questions_find_their_chunk_first(lexical_services, question):
    doc_id, phrase = CLEAR_QUESTIONS[question]
    top = lexical_services.retriever.search(question, k=5)[0].chunk
    assert top.doc_id == doc_id and phrase in top.text, f"{question} → {top.text[:40]}"


def test_k_limits_the_number_of_hits(lexical_services):
    assert len(lexical_services.retriever.search(BROAD_QUESTION, k=2)) == 2
    default_k = lexical_services.settings.retrieval.top_k
    assert len(lexical_services.retriever.search(BROAD_QUESTION)) == default_k


@pytest.mark.parametrize("question", ["", "   ", None])
def test_empty_question_gives_no_hits(lexical_services, question):
    assert lexical_services.retriever.search(question) == []


def test_empty_knowledge_base_gives_no_hits(services):
    assert services.retriever.search("一岗双责") == []


def test_dense_side_alone_answers_when_nothing_matches_lexically(lexical_services):
    hits = lexical_services.retriever.search("zzqx", k=3)  # no token of it occurs anywhere
    assert len(hits) == 3
    assert all(h.lexical_rank is None and h.dense_rank is not None for h in hits)


FILTER_CASES = {
    "doc_types": (Filters(doc_types=["report", "outline"]), lambda c: c.doc_type in ("report", "outline")),
    "collections": (Filters(collections=["rules"]), lambda c: c.collection == "rules"),
    "doc_ids": (Filters(doc_ids=["law/热线条例"]), lambda c: c.doc_id == "law/热线条例"),
    "combined": (
        Filters(doc_types=["policy"], collections=["laws", "rules"], doc_ids=["policy/责任制规定"]),
        lambda c: c.doc_id == "policy/责任制规定",
    ),
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_filters_exclude_what_they_should(corpus_services, case):
    filters, accepts = FILTER_CASES[case]
    n_chunks = corpus_services.store.chunk_count()
    unfiltered = corpus_services.retriever.search(BROAD_QUESTION, k=n_chunks)
    assert any(not accepts(h.chunk) for h in unfiltered), "the filter must have something to exclude"
    hits = corpus_services.retriever.search(BROAD_QUESTION, k=n_chunks, filters=filters)
    assert hits, f"[{corpus_services.mode_name}] {case}: nothing found"
    rejected = [(h.chunk.doc_id, h.lexical_rank, h.dense_rank) for h in hits if not accepts(h.chunk)]
    assert rejected == [], f"[{corpus_services.mode_name}] {case} let through {rejected}"
    if corpus_services.mode_name == "dense-mock":
        assert any(h.dense_rank is not None for h in hits), "the dense side was not exercised"
        # every accepted chunk is in the dense list: the where-clause kept them, not just the lexical mask
        expected = sum(1 for h in unfiltered if accepts(h.chunk))
        assert len(hits) == expected


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_filters_apply_to_the_dense_search_itself(noisy_services, case):
    """The dense side on its own (the Chroma where-clause), without the lexical list."""
    filters, accepts = FILTER_CASES[case]
    retriever = noisy_services.retriever
    snap = retriever.refresh()
    rows = retriever._dense(snap, BROAD_QUESTION, 50, filters)
    assert rows
    assert all(accepts(snap.chunk(row)) for row, _ in rows)


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_filters_apply_to_the_lexical_search_itself(lexical_services, case):
    filters, accepts = FILTER_CASES[case]
    retriever = lexical_services.retriever
    snap = retriever.refresh()
    rows = snap.search(retriever.tokenizer.tokenize(BROAD_QUESTION), 50, filters)
    assert rows
    assert all(accepts(snap.chunk(row)) for row, _ in rows)


def test_filter_matching_nothing_gives_no_hits(corpus_services):
    assert corpus_services.retriever.search(BROAD_QUESTION, k=5, filters=Filters(doc_types=["criteria"])) == []


def moved_top_hits(lexical_services, fused_services) -> list[str]:
    """Clear questions whose lexical #1 chunk is no longer #1 after fusion."""
    moved = []
    for question in CLEAR_QUESTIONS:
        lexical_top = lexical_services.retriever.search(question, k=5)[0].chunk.text
        fused = fused_services.retriever.search(question, k=5)
        if fused[0].chunk.text != lexical_top:
            rank = next((h.rank for h in fused if h.chunk.text == lexical_top), ">5")
            moved.append(f"{question} → lexical #1 is now #{rank}")
    return moved


def test_noise_from_the_dense_side_does_not_move_the_clear_lexical_top_hit(lexical_services, noisy_services):
    """Design rule: a weak dense side must not drag the ranking down (mock embedder = pure noise, weight 1.0)."""
    assert moved_top_hits(lexical_services, noisy_services) == []


def test_noise_at_the_default_weight_only_breaks_ties(lexical_services, tmp_path):
    """With the shipped weights the mock embedder's noise leaves every clear top hit in place."""
    assert lexical_services.settings.retrieval.dense_weight["mock"] == 0.0
    services = build_corpus_services(tmp_path / "kb", embedder__mode="mock")
    try:
        assert moved_top_hits(lexical_services, services) == []
    finally:
        services.close()


def test_named_article_comes_first(lexical_services):
    hits = lexical_services.retriever.search("某市政务服务便民热线条例第三条规定了什么？", k=3)
    assert hits[0].chunk.doc_id == "law/热线条例"
    assert hits[0].chunk.article == "第三条"
    assert hits[0].via_clause
    assert "编制热线工作发展规划" in hits[0].chunk.text


def test_named_article_in_digits_and_brackets(lexical_services):
    hits = lexical_services.retriever.search("《某市政务服务便民热线条例》第4条", k=3)
    assert hits[0].chunk.article == "第四条"


def test_clause_lookup_respects_filters(lexical_services):
    hits = lexical_services.retriever.search(
        "某市政务服务便民热线条例第三条规定了什么？", k=3, filters=Filters(collections=["reports"])
    )
    assert all(h.chunk.collection == "reports" for h in hits)
    assert not any(h.via_clause for h in hits)


def test_retriever_sees_changes_made_by_another_instance(tmp_path):
    from kb.container import build_services

    home = tmp_path / "kb"
    reader = build_services(make_settings(home, chroma__version_check_seconds=0))
    writer = build_services(make_settings(home, chroma__version_check_seconds=0))
    try:
        writer.ingest.ingest_texts([("甲", "甲规定", "考察组应当开展一岗双责专项检查。")])
        assert reader.retriever.search("一岗双责专项检查")[0].chunk.doc_id == "甲"
        writer.ingest.ingest_texts([("乙", "乙规定", "领导班子应当落实三重一大集体决策制度。")])
        assert reader.retriever.search("三重一大集体决策")[0].chunk.doc_id == "乙"
        writer.ingest.remove("乙")
        assert all(h.chunk.doc_id != "乙" for h in reader.retriever.search("三重一大集体决策"))
    finally:
        reader.close()
        writer.close()


def test_llama_index_query_engine_returns_our_nodes(lexical_services):
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    from kb.retrieval.hybrid import KBRetriever

    retriever = lexical_services.retriever.as_llama_retriever(k=3)
    assert isinstance(retriever, KBRetriever)
    # "compact" with the MockLLM: the whole engine runs offline ("no_text" would look up a default
    # OpenAI LLM in llama-index, which needs an API key)
    engine = RetrieverQueryEngine.from_args(retriever=retriever, llm=MockLLM(max_tokens=8), response_mode="compact")
    response = engine.query("某市政务服务便民热线条例第四条规定了什么？")
    assert isinstance(str(response), str)
    nodes = response.source_nodes
    assert 1 <= len(nodes) <= 3
    top = nodes[0]
    meta = top.node.metadata
    assert meta["doc_id"] == "law/热线条例"
    assert meta["article"] == "第四条"
    assert "section" in meta and "title" in meta and "chunk_id" in meta
    assert meta["title"] == "某市政务服务便民热线条例"
    assert top.node.node_id == meta["chunk_id"]
    assert "分类办理" in top.node.get_content()
    assert top.score is not None and top.score > 0


def test_llama_retriever_with_filters(lexical_services):
    from llama_index.core.schema import QueryBundle

    retriever = lexical_services.retriever.as_llama_retriever(k=5, filters=Filters(doc_types=["report"]))
    nodes = retriever.retrieve(QueryBundle("民主生活会批评和自我批评"))
    assert nodes
    assert {n.node.metadata["doc_id"] for n in nodes} == {"report/民主生活会通报"}


# -- the laws corpus (slow) ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(LAWS_TIMEOUT_S)
def test_law_clause_hit_at_1(laws_services):
    items = read_jsonl(require_shared() / "eval" / "law_clause_dev.jsonl")
    retriever = laws_services.retriever
    hits_at_1, misses = 0, []
    for item in items:
        source = item["sources"][0]
        quote = normalise(source["quote"])
        hits = retriever.search(item["question"], k=1)
        top = hits[0].chunk if hits else None
        if top is not None and top.doc_id == source["doc"] and quote in normalise(top.text):
            hits_at_1 += 1
        else:
            misses.append((item["id"], item["question"], top.doc_id if top else None, top.article if top else None))
    rate = hits_at_1 / len(items)
    print(f"\nlaw clause hit@1 = {rate:.3f} ({hits_at_1}/{len(items)})")
    for miss in misses:
        print("  miss:", miss)
    assert rate >= 0.95


# ---- the access filter (kb/access/scope.py; the full proof is tests/kb/access/test_scope.py) ---------------
def test_access_filter_searches_a_view_without_the_denied_collections(lexical_services):
    from kb.retrieval.hybrid import ScopedRetriever

    retriever = lexical_services.retriever
    snap = retriever.refresh()
    assert snap.scoped([]) is snap and snap.scoped(["no-such-collection"]) is snap
    view = snap.scoped(["rules"])
    assert view is snap.scoped({"rules"})  # built once per denied set
    assert len(view) == len(snap) - len(snap.scoped(["reports", "laws"]))
    assert "rules" not in view.collection_vocab and view.bm25.scores["num_docs"] == len(view)
    scoped = ScopedRetriever(retriever, ["rules"])
    hits = scoped.search("班子成员如何落实一岗双责？", k=5)
    assert hits and all(h.chunk.collection != "rules" for h in hits)
    # the caller's own filters still apply inside the view, and cannot widen it
    assert scoped.search("一岗双责", filters=Filters(collections=["rules"])) == []
    only_reports = scoped.search("民主生活会", filters=Filters(collections=["reports"]))
    assert only_reports and all(h.chunk.collection == "reports" for h in only_reports)
    rules_chunk = retriever.search("一岗双责", k=1)[0].chunk
    assert scoped.chunk(rules_chunk.chunk_id) is None and retriever.chunk(rules_chunk.chunk_id) is not None
    # the mask of the full snapshot excludes the rows too (a caller holding the full snapshot)
    mask = snap.mask(Filters(exclude_collections=["rules"]))
    assert mask is not None and not any(mask[r] for r in range(len(snap)) if snap.meta["collection"][r] == "rules")
    assert snap.mask(Filters(exclude_collections=["no-such-collection"])) is None


def test_a_snapshot_of_an_older_tokenizer_is_rebuilt(tmp_path):
    """The index made before a tokenizer change holds other term counts: after an upgrade it is
    rebuilt from the store, and a question in the new tokens finds its passage."""
    import json

    from kb.container import build_services

    home = tmp_path / "kb"
    services = build_services(make_settings(home, chroma__version_check_seconds=0))
    try:
        services.ingest.ingest_texts([("甲", "甲说明", "GPT3模型于2020年6月发布。")])
        snap = services.lexical.snapshot
        chunks = snap.directory / "chunks.json"
        data = json.loads(chunks.read_text(encoding="utf-8"))
        data["tokenizer"] = "1"  # as an older release wrote it
        chunks.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    finally:
        services.close()
    reopened = build_services(make_settings(home, chroma__version_check_seconds=0))
    try:
        hits = reopened.retriever.search("GPT-3的发布时间")
        assert hits and hits[0].chunk.doc_id == "甲"
        assert reopened.lexical.snapshot.directory != snap.directory  # rebuilt, not reused
    finally:
        reopened.close()
