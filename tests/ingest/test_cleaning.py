"""Junk cleaner: scraped-page junk goes, every sentence (and every gold quote) stays verbatim."""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from ingest.cleaning import clean_text

# Junk strings found in the five seed documents; none may survive cleaning.
SEED_JUNK = [
    "扫一扫",
    "预览阅读已结束",
    "此资料由网络收集而来",
    "如有侵权",
    "您可通过新浪首页",
    "已收藏",
    "知道了",
    "责编",
    "文章关键词",
    "首页 >",
    "中国共产党新闻网>>",
    "主办单位",
    "技术支持:湖南红网",
    "ICP备",
    "位来访者",
    "欢迎您访问",
]


def comparable(text: str) -> str:
    """Full-/half-width punctuation folded (NFKC) and all whitespace removed, for quote matching."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def seed_texts(shared_dir: Path) -> dict[str, str]:
    seeds = shared_dir / "corpus" / "seeds"
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(seeds.glob("*.txt"))}


def test_junk_lines_are_dropped_and_counted():
    text = "\n".join(
        [
            "首页 > 新闻中心 > 正文",
            "关于开展专题民主生活会的通知",
            "微信“扫一扫”添加“学习大国”",
            "各级党委要认真组织。",
            "分享到：微信 微博 QQ空间",
            "文章关键词: 民主生活会",
            "已收藏!",
            "知道了",
            "您可通过新浪首页(www.sina.com.cn)顶部 “我的收藏”, 查看所有收藏过的文章。",
            "主办单位:中共某省委组织部",
            "ICP备案号:湘ICP备17016663号-1",
            "版权所有 © 2020 某某网",
            "您是第 位来访者",
            "- 2 -",
        ]
    )
    result = clean_text(text)
    assert result.text == "关于开展专题民主生活会的通知\n各级党委要认真组织。"
    assert result.removed_lines == 12
    assert "微信“扫一扫”添加“学习大国”" in result.removed


def test_junk_fragment_is_cut_and_the_sentence_kept():
    result = clean_text("要加强跟踪督促,推动形成闭环。(责编:任一林、马昌)\n第二段正文（责任编辑：张三）。")
    assert result.text == "要加强跟踪督促,推动形成闭环。\n第二段正文。"
    assert result.removed_lines == 0
    assert result.removed == ["(责编:任一林、马昌)", "（责任编辑：张三）"]


def test_watermark_glued_to_a_line_end_is_cut():
    line = "形成政治建设考察常态长效机制。”省委组织部有关负责人透露。 此资料由网络收集而来,如有侵权请告知上传者立即删除。资料共分享,我们负责传递知识。"
    result = clean_text(line)
    assert result.text == "形成政治建设考察常态长效机制。”省委组织部有关负责人透露。"


def test_a_line_that_is_only_an_editor_credit_is_counted_as_removed():
    result = clean_text("正文。\n(责编:任一林、马昌)\n下一段。")
    assert result.text == "正文。\n下一段。"
    assert result.removed_lines == 1


def test_whitespace_is_normalised_and_nothing_else():
    text = "\ufeff标题\u3000\u3000\r\n\r\n\r\n\r\n　　第一段\xa0正文。  \n\n\n第二段\t内容。\r\n\n"
    assert clean_text(text).text == "标题\n\n  第一段 正文。\n\n第二段\t内容。"


@pytest.mark.parametrize(
    "sentence",
    [
        "依法维护版权所有人的合法权益,加强知识产权保护。",
        "群众通过手机扫一扫即可反映问题,拓宽了监督渠道。",
        "要把分享经验做法作为交流研讨的重要内容。",
        "首页内容要突出政治建设考察的重点。",
        "年龄>35岁的干部占比较高。",
        "2020年",
        "欢迎来到新时代,奋斗正当时。",
        "一是考察程序不够优化。目前,县区为书记任免需通过省委常委会审议。",
    ],
)
def test_legitimate_sentences_are_kept(sentence):
    result = clean_text(sentence)
    assert result.text == sentence.strip()
    assert result.removed_lines == 0 and result.removed == []


def test_seed_gold_quotes_survive_cleaning(shared_dir):
    texts = {doc: comparable(clean_text(raw).text) for doc, raw in seed_texts(shared_dir).items()}
    quotes = []
    for name in ("domain_qa_dev.jsonl", "domain_drafts_dev.jsonl"):
        for line in (shared_dir / "eval" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                quotes.extend((s["doc"], s["quote"]) for s in json.loads(line).get("sources", []))
    assert len(quotes) > 40
    missing = [(doc, quote) for doc, quote in quotes if comparable(quote) not in texts[doc]]
    assert missing == []


def test_no_junk_remains_in_cleaned_seeds(shared_dir):
    texts = seed_texts(shared_dir)
    assert len(texts) == 5
    total_removed = 0
    for doc, raw in texts.items():
        result = clean_text(raw)
        total_removed += result.removed_lines
        left = [junk for junk in SEED_JUNK if junk in result.text]
        assert left == [], f"{doc}: junk left {left}"
        # the document's first real line (its title or heading) is not junk and must stay
        first = next(line.strip() for line in raw.splitlines() if line.strip() and not line.startswith("首页") and ">>" not in line)
        assert comparable(first) in comparable(result.text)
    assert total_removed >= 15
