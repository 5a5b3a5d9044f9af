"""现行有效 / 已修订 / 已废止 of every stored document (issue #28 item 4).

Read at ingest from a document itself (``facts``): its version date (a 公文's 成文日期, a law's latest
通过/修正/修订/公布 date in its 题注, a date in its file name), a status it declares (``【时效性】已废止``),
and the titles it repeals or revises (``《X》同时废止``, ``关于修改《X》的决定``). Decided over the whole
registry after every change (``decide``), within one collection (a restricted collection never names
what another holds):

- a declared status stands;
- a later version under the same title → 已修订, the latest one is 现行有效;
- a 废止 (修订) notice naming the title, dated on or after the document → 已废止 (已修订).

Old records (before these fields) are dated by their 成文日期 or the date in their name; their text is
not read again for notices until they are re-ingested.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ingest.identity import norm_title

CURRENT, REVISED, REPEALED = "现行有效", "已修订", "已废止"
VALIDITY = (CURRENT, REVISED, REPEALED)

_ISO = re.compile(r"[(（]((?:19|20)\d{2})-(\d{2})-(\d{2})[)）]")
_CN_DATE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ENACTED = re.compile(r"通过|修正|修订|修改|公布|施行|发布|印发")
_DECLARED = re.compile(r"(?:时效性|效力状态|效力级别状态|有效性)\s*[】\]:：]?\s*(现行有效|有效|已修订|已修正|已修改|已废止|废止|失效|已失效)")
_SENTENCE = re.compile(r"[^。；;\n]+")
_BOOK = re.compile(r"《([^《》]{2,80})》")
_REPEAL = re.compile(r"废止|停止执行|不再执行|同时失效")
_REVISE = re.compile(r"修改《|修订《|对《[^》]{2,80}》(?:[^。]{0,12})?(?:作|进行|予以)(?:如下|了)?(?:修改|修订)|《[^》]{2,80}》[^。]{0,20}修订后重新(?:印发|发布)")


def _iso(y: str, m: str, d: str) -> str:
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


def version_date(text: str, meta: dict[str, Any] | None = None, name: str = "") -> str:
    """The date that orders versions of one title: 成文日期, the latest enactment date in the first
    lines (a law's 题注), or a date in the file name."""
    meta = meta or {}
    if meta.get("issued_on"):
        return str(meta["issued_on"])
    head = (text or "")[:800]
    dates = [_iso(*m.groups()) for m in _CN_DATE.finditer(head) if _ENACTED.search(head[m.end() : m.end() + 60])]
    if dates:
        return max(dates)
    m = _ISO.search(name or "")
    return _iso(*m.groups()) if m else ""


def declared(text: str) -> str:
    m = _DECLARED.search((text or "")[:1500])
    if not m:
        return ""
    word = m.group(1)
    return REPEALED if ("废止" in word or "失效" in word) else REVISED if ("修" in word) else CURRENT


def notices(text: str, own_title: str = "") -> list[list[str]]:
    """[title, 已废止 | 已修订] for every title this document repeals or revises."""
    out: list[list[str]] = []
    own = norm_title(own_title)
    for m in _SENTENCE.finditer(text or ""):
        sentence = m.group(0)
        if "《" not in sentence:
            continue
        kind = REPEALED if _REPEAL.search(sentence) else REVISED if _REVISE.search(sentence) else ""
        if not kind:
            continue
        for book in _BOOK.findall(sentence):
            if norm_title(book) and norm_title(book) != own and [book, kind] not in out:
                out.append([book, kind])
    return out[:50]


def facts(text: str, title: str, meta: dict[str, Any], name: str) -> dict[str, str]:
    """Registry fields a document's validity is decided from (read once, at ingest)."""
    named = notices(text, title)
    return {
        "version_date": version_date(text, meta, name),
        "declared_validity": declared(text),
        "notices": json.dumps(named, ensure_ascii=False) if named else "",
    }


def _date_of(doc_id: str, meta: dict[str, Any]) -> str:
    if meta.get("version_date"):
        return str(meta["version_date"])
    if meta.get("issued_on"):
        return str(meta["issued_on"])
    for name in (doc_id, str(meta.get("source") or "")):
        m = _ISO.search(name)
        if m:
            return _iso(*m.groups())
    return ""


def _label(meta: dict[str, Any], date: str) -> str:
    title = f"《{meta.get('title', '')}》"
    if meta.get("doc_number"):
        return f"{title}（{meta['doc_number']}）"
    return f"{title}{date[:4]}年" if date else title


def decide(registry: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """doc_id → {"validity", "superseded_by", "validity_note"} for every document."""
    out = {d: {"validity": CURRENT, "superseded_by": "", "validity_note": ""} for d in registry}
    dates = {d: _date_of(d, m) for d, m in registry.items()}
    groups: dict[tuple[str, str], list[str]] = {}
    for d, m in registry.items():
        key = norm_title(m.get("title", ""))
        if key:
            groups.setdefault((m.get("collection", "default"), key), []).append(d)
    # a later version of the same title
    for members in groups.values():
        dated = [d for d in members if dates[d]]
        if len(dated) < 2:
            continue
        latest = max(dates[d] for d in dated)
        current = sorted(d for d in dated if dates[d] == latest)[0]
        for d in dated:
            if dates[d] < latest:
                out[d] = {"validity": REVISED, "superseded_by": current,
                          "validity_note": f"{REVISED}，现行版本：{_label(registry[current], latest)}"}
    # a 废止 / 修订 notice in the knowledge base
    for n, meta in registry.items():
        try:
            named = json.loads(meta.get("notices") or "[]")
        except ValueError:
            continue
        for title, kind in named:
            for d in groups.get((meta.get("collection", "default"), norm_title(title)), []):
                if d == n or (dates[d] and dates[n] and dates[d] > dates[n]):
                    continue
                if out[d]["validity"] == REVISED and kind == REVISED:
                    continue  # a later version in the knowledge base names the current text already
                if out[d]["validity"] == REPEALED:
                    continue
                verb = "废止" if kind == REPEALED else "修订"
                out[d] = {"validity": kind, "superseded_by": n,
                          "validity_note": f"{kind}，见{_label(meta, dates[n])}{'' if kind == REPEALED else '（' + verb + '）'}"}
    # what a document declares of itself
    for d, meta in registry.items():
        own = meta.get("declared_validity") or ""
        if own in (REVISED, REPEALED) and out[d]["validity"] == CURRENT:
            out[d] = {"validity": own, "superseded_by": "", "validity_note": own}
    return out


def changes(registry: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The registry fields to rewrite: only documents whose validity changed."""
    decided = decide(registry)
    return {
        d: v for d, v in decided.items()
        if any((registry[d].get(k) or "") != (v[k] or "") for k in v)
        and not (not registry[d].get("validity") and v["validity"] == CURRENT and not v["superseded_by"])
    }
