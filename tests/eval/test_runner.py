"""The runner: scoring against stand-in services (fast), and `kb eval` end to end on real services.

The end-to-end tests build small real knowledge bases (hash embedder, no LLM) from .txt files
written here, so they need the core services (ingest, store, retrieval, answering).
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from eval import metrics as m
from eval.datasets import load_dataset
from eval.runner import evaluate_dataset, parse_judge_output, run_evaluation
from kb.models import Answer, Chunk, Citation, Draft, DraftQuestion, DraftSection, Hit, REFUSAL_TEXT

DOC_A = "第一条 考察分为准备与建组、通报与动员、自评与访谈等步骤。第二条 访谈对象主要是市级领导和班子成员。"
DOC_B = "坚持执规必严、失责必问、问责必严。谈话提纲中一般仅包括3至4个问题。"


# ---------------------------------------------------------------------------------------------
# Stand-in services (only the attributes the runner uses)
# ---------------------------------------------------------------------------------------------


def chunk(doc_id: str, text: str, n: int = 0) -> Chunk:
    return Chunk(chunk_id=f"{doc_id}#{n}", doc_id=doc_id, title=doc_id, section="", article="", page=None,
                 start=0, end=len(text), text=text)


def citation(n: int, doc_id: str, quote: str) -> Citation:
    return Citation(n=n, chunk_id=f"{doc_id}#0", doc_id=doc_id, title=doc_id, section="", article="",
                    page=None, quote=quote, verified=True)


class FakeStore:
    def __init__(self, texts: dict[str, str]):
        self.texts = texts
        self.lookups = 0

    def get_document_text(self, doc_id):
        self.lookups += 1
        return self.texts.get(doc_id)


class FakeRetriever:
    def __init__(self, results: dict[str, list[tuple[str, str]]]):
        self.results = results

    def search(self, question, k=10, filters=None):
        ranked = self.results.get(question, [])[:k]
        # returned out of order on purpose: the runner must sort by rank
        return list(reversed([Hit(rank=i, chunk=chunk(d, t, i), score=1.0 / i) for i, (d, t) in enumerate(ranked, 1)]))


class FakeAnswers:
    def __init__(self, answers: dict[str, Answer]):
        self.answers = answers

    def ask(self, question, filters=None, k=None):
        if question not in self.answers:
            raise RuntimeError("boom")
        return self.answers[question]


class FakeDrafts:
    def __init__(self, drafts: dict[str, Draft]):
        self.drafts = drafts
        self.requests = []

    def draft(self, request):
        self.requests.append(request)
        return self.drafts[request.id]


class FakeLLM:
    def __init__(self, reply: str):
        self.reply = reply
        self.prompts = []

    def complete(self, prompt, system=None):
        self.prompts.append(prompt)
        return self.reply


class FakePrompt:
    def render(self, **fields):
        return json.dumps(fields, ensure_ascii=False)


class FakePrompts:
    def get(self, name):
        assert name == "judge"
        return FakePrompt()


class FakeServices:
    def __init__(self, texts=None, retrieval=None, answers=None, drafts=None, llm=None):
        self.store = FakeStore(texts or {})
        self.retriever = FakeRetriever(retrieval or {})
        self.answers = FakeAnswers(answers or {})
        self.drafts = FakeDrafts(drafts or {})
        self.llm = llm
        self.prompts = FakePrompts()
        self.closed = False

    def close(self):
        self.closed = True


def write_jsonl(path: Path, records) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


QA_ITEMS = [
    {"id": "q1", "question": "考察分为哪些步骤？", "type": "procedure", "answerable": True, "answer": "…",
     "key_points": ["准备与建组", "通报与动员", "自评与访谈", "查阅与核实"],
     "sources": [{"doc": "a", "quote": "考察分为准备与建组、通报与动员、自评与访谈等步骤"}]},
    {"id": "q2", "question": "访谈对象是谁？", "type": "list", "answerable": True, "answer": "…",
     "key_points": ["市级领导"], "sources": [{"doc": "a", "quote": "访谈对象主要是市级领导和班子成员"}]},
    {"id": "q3", "question": "合格分数线是多少？", "type": "unanswerable", "answerable": False, "answer": "",
     "key_points": [], "sources": []},
    {"id": "q4", "question": "考核结果如何运用？", "type": "unanswerable", "answerable": False, "answer": "",
     "key_points": [], "sources": []},
]


def qa_services(llm=None) -> FakeServices:
    a1, a2 = DOC_A.split("。")[0], DOC_A.split("。")[1]
    return FakeServices(
        texts={"a": DOC_A, "b": DOC_B},
        retrieval={
            "考察分为哪些步骤？": [("a", a1), ("b", DOC_B)],
            "访谈对象是谁？": [("b", DOC_B), ("a", a1), ("a", a2)],
        },
        answers={
            "考察分为哪些步骤？": Answer(
                question="考察分为哪些步骤？", answer="考察分为准备与建组、通报与动员、自评与访谈等步骤[1]。", refused=False,
                mode="extractive", citations=[citation(1, "a", "考察分为准备与建组、通报与动员、自评与访谈等步骤")]),
            "访谈对象是谁？": Answer(
                question="访谈对象是谁？", answer="对象是市级领导[1]。另有其他人[2]。", refused=False, mode="extractive",
                citations=[citation(1, "a", "市级领导和班子成员"), citation(2, "b", "并不存在的引文")],
                unsupported=["另有其他人"]),
            "合格分数线是多少？": Answer(question="合格分数线是多少？", answer=REFUSAL_TEXT, refused=True, mode="refusal"),
            # q4 raises inside ask(): recorded as an error, not a crash
        },
        llm=llm,
    )


def test_evaluate_domain_qa_with_stand_in_services(tmp_path):
    dataset = load_dataset(write_jsonl(tmp_path / "qa.jsonl", QA_ITEMS))
    services = qa_services()
    entry = evaluate_dataset(dataset, services, progress=False, log=lambda _: None)
    got = entry["metrics"]
    assert entry["kind"] == "domain_qa" and entry["n_items"] == 4 and entry["errors"] == 1
    assert got["source_hit@1"] == 0.5  # q1 at rank 1, q2 at rank 3
    assert got["source_hit@5"] == 1.0
    assert got["mrr@10"] == pytest.approx((1 + 1 / 3) / 2)
    assert got["key_point_recall"] == pytest.approx((3 / 4 + 1) / 2)
    assert got["refusal_rate"] == 0.5  # q3 refused, q4 errored (not credited as a refusal)
    assert got["false_refusal_rate"] == 0.0
    assert got["citation_verbatim_rate"] == pytest.approx(2 / 3)  # the 'verified' flag is not trusted
    assert got["unsupported_sentence_rate"] == pytest.approx(1 / 3)  # 1 of 3 answer sentences
    assert "judge_faithfulness" not in got
    assert set(entry["by_type"]) == {"procedure", "list", "unanswerable"}
    assert entry["by_type"]["unanswerable"]["refusal_rate"] == 0.5
    assert entry["by_type"]["list"]["n"] == 1
    by_id = {r["id"]: r for r in entry["items"]}
    assert "missing key points: 查阅与核实" in by_id["q1"]["why"]
    assert any("not verbatim in b" in w for w in by_id["q2"]["why"])
    assert "first gold source at rank 3" in by_id["q2"]["why"]
    assert by_id["q3"]["score"] == 1.0 and by_id["q3"]["why"] == []
    assert by_id["q4"]["score"] == 0.0 and by_id["q4"]["why"][0].startswith("error: RuntimeError: boom")
    assert services.store.lookups == 2  # document texts are cached


def test_judge_columns_only_with_an_llm_and_kept_apart(tmp_path):
    dataset = load_dataset(write_jsonl(tmp_path / "qa.jsonl", QA_ITEMS[:3]))
    llm = FakeLLM('好的：{"claims": 4, "supported": 3, "correctness": 0.5}')
    entry = evaluate_dataset(dataset, qa_services(llm), judge=True, progress=False, log=lambda _: None)
    assert entry["metrics"]["judge_faithfulness"] == pytest.approx(0.75)
    assert entry["metrics"]["judge_correctness"] == pytest.approx(0.5)
    assert len(llm.prompts) == 2  # refused items are not judged
    assert "考察分为哪些步骤？" in llm.prompts[0]
    # the non-LLM metrics are the same with and without the judge
    plain = evaluate_dataset(dataset, qa_services(llm), judge=False, progress=False, log=lambda _: None)
    assert {k: v for k, v in entry["metrics"].items() if not k.startswith("judge_")} == plain["metrics"]
    logs = []
    evaluate_dataset(dataset, qa_services(None), judge=True, progress=False, log=logs.append)
    assert any("--judge skipped" in line for line in logs)


def test_parse_judge_output_variants():
    assert parse_judge_output('{"claims": ["a", "b"], "supported": [true, false], "correctness": 1}') == {
        "judge_faithfulness": 0.5, "judge_correctness": 1.0}
    assert parse_judge_output('{"claims": 0, "supported": 0, "correctness": 7}')["judge_correctness"] == 1.0
    with pytest.raises(ValueError):
        parse_judge_output("no json here")


def test_evaluate_drafts_with_stand_in_services(tmp_path):
    items = [
        {"id": "d1", "kind": "talk_outline", "request": "起草谈话提纲", "target": "市委书记", "interviewee": "",
         "dimensions": ["政治担当", "作风建设"], "expected_topics": ["失责必问", "3至4个问题", "三清单", "嘴严手软"],
         "sources": []},
        {"id": "d2", "kind": "interview_outline", "request": "起草访谈提纲", "target": "县委书记", "interviewee": "班子成员",
         "dimensions": ["政治担当"], "expected_topics": ["失责必问"], "sources": []},
    ]
    talk = Draft(kind="talk", title="谈话提纲", target="市委书记", interviewee="", sections=[
        DraftSection("政治担当", [
            DraftQuestion("在落实失责必问方面您是怎么做的？", citations=[citation(1, "b", "失责必问")]),
            DraftQuestion("在落实失责必问方面您是如何做的？", citations=[citation(1, "b", "失责必究")]),
            DraftQuestion("谈话提纲一般包括几个问题", purpose="3至4个问题"),
        ])], warnings=["作风建设：知识库中没有找到依据"])
    interview = Draft(kind="interview", title="访谈提纲", target="县委书记", interviewee="班子成员", sections=[
        DraftSection("政治担当", [DraftQuestion("他如何落实失责必问要求？", citations=[citation(1, "b", "失责必问")])])])
    services = FakeServices(texts={"b": DOC_B}, drafts={"d1": talk, "d2": interview})
    dataset = load_dataset(write_jsonl(tmp_path / "drafts.jsonl", items))
    entry = evaluate_dataset(dataset, services, progress=False, log=lambda _: None)
    got = entry["metrics"]
    assert entry["kind"] == "drafts"
    assert services.drafts.requests[0].kind == "talk" and services.drafts.requests[0].dimensions == ["政治担当", "作风建设"]
    assert got["dimension_coverage"] == 1.0  # 作风建设 warned
    assert got["topic_coverage"] == pytest.approx((2 / 4 + 1) / 2)
    assert got["cited_question_rate"] == pytest.approx(2 / 4)
    assert got["near_duplicate_rate"] == pytest.approx(1 / 4)
    assert got["format_ok_rate"] == pytest.approx(3 / 4)  # one question lacks a question mark
    why = " ".join(entry["items"][0]["why"])
    assert "missing topics: 三清单、嘴严手软" in why and "near-duplicate" in why and "badly formed" in why


def test_run_evaluation_builds_temporary_knowledge_bases(tmp_path):
    from kb.settings import load_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cmrc = tmp_path / "c.json"
    cmrc.write_text(json.dumps([{"context_id": "P1", "context_text": "生命数耗完即算为踢爆。", "title": "T",
                                 "qas": [{"query_id": "P1_Q0", "query_text": "算为什么？", "answers": ["踢爆"]}]}],
                               ensure_ascii=False), encoding="utf-8")
    qa = write_jsonl(tmp_path / "qa.jsonl", QA_ITEMS[:1])
    built = []

    class Ingest:
        def __init__(self, calls):
            self.calls = calls

        def ingest_paths(self, paths, doc_type=None, collection=None, progress=False):
            self.calls.append(("paths", paths))
            return {"added": 1, "chunks": 1, "failed": [{"path": "x.bin", "error": "unsupported"}]}

        def ingest_texts(self, items, doc_type="other", collection="default", progress=False):
            self.calls.append(("texts", items))
            return {"added": len(items), "chunks": len(items), "failed": []}

    def factory(settings):
        services = qa_services()
        services.retriever.results["算为什么？"] = [("P1", "生命数耗完即算为踢爆。")]
        services.answers.answers["算为什么？"] = Answer(question="算为什么？", answer="生命数耗完即算为踢爆[1]。",
                                                   refused=False, mode="extractive")
        services.calls = []
        services.ingest = Ingest(services.calls)
        services.home = settings.home
        built.append(services)
        return services

    logs = []
    settings = load_settings(env={}, home=str(tmp_path / "unused"))
    report = run_evaluation([load_dataset(qa), load_dataset(cmrc)], settings, corpus_dirs=[corpus],
                            progress=False, services_factory=factory, log=logs.append)
    assert list(report["datasets"]) == ["qa", "c"]
    assert len(built) == 2 and all(s.closed for s in built)
    shared, own = built
    assert shared.calls == [("paths", [corpus])]
    assert own.calls == [("texts", [("P1", "T", "生命数耗完即算为踢爆。")])]
    assert shared.home != own.home and not shared.home.exists() and not own.home.exists()
    assert report["datasets"]["c"]["metrics"]["answer_contains_gold"] == 1.0
    assert report["datasets"]["c"]["metrics"]["f1"] == pytest.approx(m.cmrc_f1("生命数耗完即算为踢爆。", ["踢爆"]))
    assert any("failed x.bin: unsupported" in line for line in logs)
    with pytest.raises(ValueError, match="needs a knowledge base"):
        run_evaluation([load_dataset(qa)], settings, services_factory=factory)


# ---------------------------------------------------------------------------------------------
# End to end: `kb eval` over real services (needs ingest, store, retrieval and answering)
# ---------------------------------------------------------------------------------------------

SEED_1 = """政治建设考察工作办法

一、考察步骤
考察分为准备与建组、通报与动员、自评与访谈、查阅与核实、分析与研判、总结与汇报、运用与反馈等7个步骤。

二、访谈对象
深度访谈的对象主要是市级领导、考察对象本人、县市区班子成员及其他人。
"""
SEED_2 = """安徽探索实行党内政治监督谈话制度

谈话主要聚焦贯彻落实重要指示批示精神、履行管党治党政治责任、推进作风建设、构建亲清新型政商关系等4方面情况。
谈话提纲中一般仅包括3至4个问题，但每个问题都要做到切中肯綮。
"""
E2E_ITEMS = [
    {"id": "e1", "question": "政治建设考察分为哪几个步骤？", "type": "procedure", "answerable": True, "answer": "…",
     "key_points": ["准备与建组", "运用与反馈"],
     "sources": [{"doc": "考察办法", "quote": "考察分为准备与建组、通报与动员、自评与访谈、查阅与核实"}]},
    {"id": "e2", "question": "深度访谈的对象主要有哪些？", "type": "list", "answerable": True, "answer": "…",
     "key_points": ["市级领导", "考察对象本人"],
     "sources": [{"doc": "考察办法", "quote": "深度访谈的对象主要是市级领导、考察对象本人"}]},
    {"id": "e3", "question": "党内政治监督谈话的提纲一般包括几个问题？", "type": "factoid", "answerable": True, "answer": "…",
     "key_points": ["3至4个问题"], "sources": [{"doc": "安徽谈话", "quote": "谈话提纲中一般仅包括3至4个问题"}]},
    {"id": "e4", "question": "火星基地的氧气储备标准是多少立方米？", "type": "unanswerable", "answerable": False,
     "answer": "", "key_points": [], "sources": []},
]


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "考察办法.txt").write_text(SEED_1, encoding="utf-8")
    (corpus / "安徽谈话.txt").write_text(SEED_2, encoding="utf-8")
    return corpus


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """No settings.yaml / KB_* leaking in from the developer's shell or working directory."""
    import os

    for name in list(os.environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def kb_main(argv: list[str]) -> tuple[int, str, str]:
    from kb.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_kb_eval_end_to_end_on_a_tiny_corpus(tmp_path, tiny_corpus, isolated_env):
    dataset = write_jsonl(tmp_path / "tiny_qa.jsonl", E2E_ITEMS)
    report_json, report_md = tmp_path / "r.json", tmp_path / "r.md"
    code, out, err = kb_main(["eval", "--corpus", str(tiny_corpus), str(dataset), "--json", str(report_json),
                              "--md", str(report_md), "--no-progress"])
    assert code in (0, 1), err
    report = json.loads(report_json.read_text(encoding="utf-8"))
    entry = report["datasets"]["tiny_qa"]
    assert entry["kind"] == "domain_qa" and entry["n_items"] == 4 and entry["errors"] == 0, entry["items"]
    for name in ("source_hit@1", "source_hit@5", "mrr@10", "ndcg@10", "key_point_recall", "refusal_rate",
                 "false_refusal_rate", "unsupported_sentence_rate"):
        assert name in entry["metrics"]
    # two tiny documents: every gold source must be retrieved within the top 5
    assert entry["metrics"]["source_hit@5"] == 1.0
    assert "| tiny_qa | domain_qa | 4 |" in out
    assert "## Worst items" in report_md.read_text(encoding="utf-8")


def test_kb_eval_impossible_threshold_exits_1_naming_the_metric(tmp_path, tiny_corpus, isolated_env):
    dataset = write_jsonl(tmp_path / "tiny_qa.jsonl", E2E_ITEMS[:2])
    gate = tmp_path / "impossible.yaml"
    gate.write_text("domain_qa:\n  min:\n    source_hit@5: 1.5\n", encoding="utf-8")
    code, _, err = kb_main(["eval", "--corpus", str(tiny_corpus), str(dataset), "--thresholds", str(gate),
                            "--no-progress"])
    assert code == 1
    assert "FAIL tiny_qa: source_hit@5 1.00 < 1.50" in err


def test_kb_eval_bad_arguments_exit_2_naming_the_file(tmp_path, tiny_corpus, isolated_env):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"id": 1, "what": "?"}\n', encoding="utf-8")
    code, _, err = kb_main(["eval", "--corpus", str(tiny_corpus), str(bad)])
    assert code == 2 and "broken.jsonl" in err and "unknown dataset kind" in err
    good = write_jsonl(tmp_path / "qa.jsonl", E2E_ITEMS[:1])
    code, _, err = kb_main(["eval", str(good)])
    assert code == 2 and "needs a knowledge base" in err
    code, _, err = kb_main(["eval", "--corpus", str(tmp_path / "nope"), str(good)])
    assert code == 2 and "nope" in err
    code, _, err = kb_main(["eval", "--corpus", str(tiny_corpus), "--limit", "0", str(good)])
    assert code == 2


def test_kb_eval_agrees_with_recomputation_from_kb_ask_batch(tmp_path, tiny_corpus, isolated_env):
    from kb.container import build_services
    from kb.settings import load_settings

    home = tmp_path / "kb"
    services = build_services(load_settings(env={}, home=str(home)))
    try:
        result = services.ingest.ingest_paths([tiny_corpus])
        assert result["added"] == 2 and not result["failed"], result
    finally:
        services.close()

    dataset = write_jsonl(tmp_path / "tiny_qa.jsonl", E2E_ITEMS)
    report_json = tmp_path / "r.json"
    code, _, err = kb_main(["eval", "--kb-home", str(home), str(dataset), "--json", str(report_json),
                            "--no-progress"])
    assert code in (0, 1), err
    evaluated = json.loads(report_json.read_text(encoding="utf-8"))["datasets"]["tiny_qa"]["metrics"]

    batch = write_jsonl(tmp_path / "batch.jsonl", [{"id": i["id"], "question": i["question"]} for i in E2E_ITEMS])
    code, out, err = kb_main(["--home", str(home), "ask", "--batch", str(batch)])
    assert code == 0, err
    answers = {a["id"]: a for a in (json.loads(line) for line in out.splitlines() if line.strip())}
    assert set(answers) == {i["id"] for i in E2E_ITEMS}

    # independent recomputation: straight from the definitions, not via eval.runner
    services = build_services(load_settings(env={}, home=str(home)))
    try:
        doc_texts = {}
        citations = verbatim = 0
        for a in answers.values():
            for c in a["citations"]:
                if c["doc_id"] not in doc_texts:
                    doc_texts[c["doc_id"]] = services.store.get_document_text(c["doc_id"]) or ""
                citations += 1
                verbatim += bool(c["quote"]) and c["quote"] in doc_texts[c["doc_id"]]
    finally:
        services.close()
    assert citations, "no citations at all: the citation agreement check would be vacuous"
    answerable = [i for i in E2E_ITEMS if i["answerable"]]
    unanswerable = [i for i in E2E_ITEMS if not i["answerable"]]
    recall = [
        0.0 if answers[i["id"]]["refused"] else
        sum(m.normalize_text(p) in m.normalize_text(m.strip_citation_markers(answers[i["id"]]["answer"]))
            for p in i["key_points"]) / len(i["key_points"])
        for i in answerable
    ]
    assert evaluated["key_point_recall"] == pytest.approx(sum(recall) / len(recall))
    assert evaluated["false_refusal_rate"] == pytest.approx(
        sum(answers[i["id"]]["refused"] for i in answerable) / len(answerable))
    assert evaluated["refusal_rate"] == pytest.approx(
        sum(answers[i["id"]]["refused"] for i in unanswerable) / len(unanswerable))
    if citations:
        assert evaluated["citation_verbatim_rate"] == pytest.approx(verbatim / citations)
    else:
        assert evaluated["citation_verbatim_rate"] is None
    sentences = sum(len(m.split_sentences(a["answer"])) for a in answers.values() if not a["refused"])
    unsupported = sum(len(a["unsupported"]) for a in answers.values() if not a["refused"])
    if sentences:
        assert evaluated["unsupported_sentence_rate"] == pytest.approx(unsupported / sentences)
