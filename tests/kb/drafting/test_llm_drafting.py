"""The language-model path against the fake OpenAI-compatible server: the model adapts the bank
questions; every question it writes is verified, and anything that fails is replaced."""
import json

from kb.container import build_services
from kb.models import DraftRequest
from tests.conftest import make_settings
from tests.kb.drafting.conftest import check_invariants, questions_of


def test_llm_draft_verified_replaced_and_fallback(small_kb, tmp_path):
    from tests.fakes.openai_server import FakeOpenAIServer

    good = [
        {"text": "请您谈谈县委书记在整治不担当不作为中处理正职和副职的情况", "follow_ups": ["能否举一个具体事例？"],
         "purpose": "核实问责是否触及正职", "cite": [1]},
        {"text": "请谈谈这件根本不在资料里的事", "follow_ups": [], "purpose": "无", "cite": [9]},
    ]
    req = DraftRequest(kind="interview", target="县委书记", interviewee="班子成员", dimensions=["政治担当"], count=2)
    with FakeOpenAIServer([{"content": json.dumps(good, ensure_ascii=False)}], workdir=tmp_path) as server:
        settings = make_settings(small_kb.settings.home, llm__mode="openai", llm__base_url=server.base_url, llm__timeout=2)
        services = build_services(settings)
        try:
            draft = services.drafts.draft(req)
            questions = questions_of(draft)
            assert len(questions) == 2
            assert questions[0].origin == "llm" and questions[0].text.endswith("？")
            assert questions[0].citations and all(c.verified for c in questions[0].citations)
            assert questions[1].origin == "extractive"  # the one citing [9] was replaced
            assert any("[9]" in w for w in draft.warnings)
            prompt = server.requests()[0]["messages"][-1]["content"]
            assert "政治担当" in prompt and "<资料>" in prompt
            assert "问题库中选出的问题" in prompt  # the model adapts the bank's questions

            server.set_script([{"status": 500, "message": "boom"}])
            failed = services.drafts.draft(req)
            assert [q.origin for q in questions_of(failed)] == ["extractive", "extractive"]
            assert any("语言模型调用失败" in w for w in failed.warnings)
            check_invariants(services, failed, ["政治担当"])

            server.set_script([{"content": "这不是 JSON"}])
            garbled = services.drafts.draft(req)
            assert all(q.origin == "extractive" for q in questions_of(garbled))
            assert any("无法解析" in w for w in garbled.warnings)

            # a question the cited material does not back is not taken
            unrelated = [{"text": "请谈谈网络安全和信息化工作的安排", "follow_ups": ["有哪些措施？"], "purpose": "了解", "cite": [1]}]
            server.set_script([{"content": json.dumps(unrelated, ensure_ascii=False)}])
            off = services.drafts.draft(req)
            assert all(q.origin == "extractive" for q in questions_of(off))
            assert any("对不上" in w for w in off.warnings)
        finally:
            services.close()


def test_llm_talk_outline_keeps_its_shape(small_kb, tmp_path):
    from tests.fakes.openai_server import FakeOpenAIServer

    items = [{"text": "对照失责必问的要求，你作为县委书记，本地区整治不担当不作为时问责副职多、正职少的问题怎样解决",
              "follow_ups": ["准备怎样压实正职责任？"], "purpose": "谈清问责是否触及正职", "cite": [1]}]
    req = DraftRequest(request="市委书记与某县委书记开展党内政治监督谈话，重点谈政治担当和民主集中制，写明整改要求")
    with FakeOpenAIServer([{"content": json.dumps(items, ensure_ascii=False)}], workdir=tmp_path) as server:
        settings = make_settings(small_kb.settings.home, llm__mode="openai", llm__base_url=server.base_url, llm__timeout=2)
        services = build_services(settings)
        try:
            draft = services.drafts.draft(req)
            check_invariants(services, draft, [])
            assert draft.sections[-1].dimension == "整改要求"
            assert draft.speaker == "市委书记" and draft.target == "县委书记"
        finally:
            services.close()
