"""Remove scraped-page junk (share prompts, site footers, editor credits, breadcrumbs) from text.

The cleaner never rewrites a sentence: it drops whole junk lines, cuts junk fragments out of a line
(e.g. "(责编：张三)" at a line end) and normalises whitespace. Everything else is kept byte for byte,
because answers cite verbatim quotes of the cleaned text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class CleanResult:
    text: str
    removed_lines: int
    removed: list[str] = field(default_factory=list)  # removed lines / fragments, for summaries and debugging


# Link words of a site footer / toolbar; a line made only of these is navigation, not content.
_FOOTER_LINK = (
    r"(?:联系我们|关于我们|网站地图|网站声明|法律声明|隐私政策|使用帮助|帮助中心|意见反馈|加入收藏|"
    r"设为首页|返回顶部|回到顶部|打印本页|关闭窗口|【打印】|【关闭】|\[打印\]|\[关闭\]|打印|关闭|纠错)"
)
_SHARE_TARGET = r"(?:微信|微博|新浪微博|腾讯微博|QQ空间|QQ好友|QQ|朋友圈|人人网|豆瓣|更多)"

# One table of junk patterns. Each is searched in every (stripped) line: the match is cut out, and when
# nothing but whitespace/punctuation is left the whole line is dropped. Patterns for whole-line junk are
# anchored with ^…$ and length-bounded, so a long real paragraph that merely mentions a word never matches.
JUNK_PATTERNS: list[re.Pattern[str]] = [
    # --- share / QR-code prompts: 微信“扫一扫”添加…, 扫描二维码…, 分享到：微信 微博 ---
    re.compile(r'^(?:请)?(?:用|打开)?(?:手机)?(?:微信|手机)\s*[“"「]?扫一扫[”"」]?.{0,40}$'),
    re.compile(r'^[“"「]?扫一扫[”"」]?\s*(?:添加|关注|分享|在手机|下载|打开|二维码).{0,40}$'),
    re.compile(r"^.{0,10}(?:扫描|扫码|长按|识别)(?:下方|上方|图中|左侧|右侧)?二维码.{0,40}$"),
    re.compile(r"^(?:分享到|分享至)\s*[:：]?.{0,40}$"),
    re.compile(rf"^{_SHARE_TARGET}(?:[\s|/、，,]+{_SHARE_TARGET})+$", re.IGNORECASE),
    # --- document-sharing site watermarks: 预览阅读已结束…, 此资料由网络收集而来… (often glued to a line end) ---
    re.compile(r"预览(?:阅读)?已结束[^。！!\n]{0,60}[。！!]?"),
    re.compile(r"此资料由网络收集而来.{0,40}?删除[。.!！]?(?:\s*资料共分享.{0,20}?传递知识[。.!！]?)?"),
    re.compile(r"如有侵权[,，]?\s*请(?:告知|联系)[^。！!\n]{0,30}删除[。.!！]?"),
    # --- portal UI left-overs: favourites dialog of sina.com.cn and similar ---
    re.compile(r"^(?:已收藏|收藏成功|取消收藏|知道了|我知道了)[!！。]?$"),
    re.compile(r"^您可通过新浪首页.{0,80}$"),
    re.compile(r"^.{0,30}查看所有收藏过的文章.{0,10}$"),
    # --- editor credits: (责编：…) / （责任编辑：…） anywhere, or a credit line of its own ---
    re.compile(r"[(（]\s*(?:责编|责任编辑|编辑|审核|校对|编审)\s*[:：][^()（）\n]{1,40}[)）]"),
    re.compile(r"^[【\[]?\s*(?:责编|责任编辑|审核|校对)\s*[:：].{1,30}$"),
    # --- article keywords / tags boxes ---
    re.compile(r"^(?:文章)?关键[词字]\s*[:：].{0,60}$"),
    re.compile(r"^标签\s*[:：].{0,60}$"),
    # --- breadcrumbs: 首页 > 栏目 > 标题 >, 当前位置：…, 中国共产党新闻网>>反腐倡廉 ---
    re.compile(r"^(?:当前位置|您的位置|您现在的位置|所在位置)\s*[:：].{0,100}$"),
    re.compile(r"^(?:首页|主页|网站首页)\s*(?:>>?|›|»|＞|→)\s*.{0,100}$"),
    re.compile(r"^[^\s>»›。，,；;！!？?]{1,20}(?:\s*(?:>>|»|›|＞＞)\s*[^>»›\n]{1,40}){1,6}\s*(?:>>?|»|›)?$"),
    # --- site footers: 主办单位, ICP备/ICP证, 公网安备, 版权所有, visitor counters, footer link rows ---
    re.compile(
        r"^(?:主办单位|承办单位|协办单位|主办|承办|技术支持|技术支撑|运行维护|网站维护|网站标识码)\s*[:：].{0,80}$"
    ),
    re.compile(r"^.{0,60}(?:ICP备|ICP证|公网安备|网安备).{0,60}$", re.IGNORECASE),
    re.compile(r"^.{0,40}版权所有(?:\s*[:：©(（]|\s|$).{0,80}$"),  # not 版权所有人 in a sentence
    re.compile(r"^(?:copyright|©|\(c\)).{0,100}$", re.IGNORECASE),
    re.compile(r"^您是(?:本站)?第\s*[\d,，]*\s*位(?:来访者|访问者|访客)[。！!]?$"),
    re.compile(r"^欢迎(?:您)?(?:访问|光临).{0,30}$"),
    re.compile(rf"^{_FOOTER_LINK}(?:\s*[|｜/·丨]?\s*{_FOOTER_LINK})*$"),
    re.compile(r"^[【\[]?\s*字[体号]\s*[:：].{0,20}$"),  # 【字体：大 中 小】
    # --- pagination: bare page numbers, "- 3 -", 第1页 共3页, 上一页 1 2 下一页, 上一篇：… ---
    re.compile(r"^[-—–－\s]*\d{1,4}[-—–－\s]*$"),
    re.compile(r"^第\s*\d+\s*页(?:\s*[/,，]?\s*共\s*\d+\s*页)?$"),
    re.compile(r"^(?:上一页|下一页|首页|尾页|末页)(?:[\s\d]*(?:上一页|下一页|首页|尾页|末页))*[\s\d]*$"),
    re.compile(r"^(?:上一篇|下一篇)\s*[:：].{0,80}$"),
]

# Space-like characters turned into a plain space, and invisible ones removed (whitespace normalisation only).
_SPACE_TRANSLATION = {
    **{ord(c): " " for c in "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"},
    **{ord(c): None for c in "\u200b\u200c\u200d\u2060\ufeff"},
}

_NOTHING_LEFT = re.compile(r"^[\s\W_]*$")


def clean_text(text: str) -> CleanResult:
    """Drop junk lines, cut junk fragments, normalise whitespace; never rewrite a sentence."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_SPACE_TRANSLATION)
    kept_lines: list[str] = []
    removed: list[str] = []
    removed_lines = 0
    for line in text.split("\n"):
        core = line.strip()
        if not core:
            kept_lines.append("")
            continue
        indent = line[: len(line) - len(line.lstrip())]
        fragments: list[str] = []
        remaining = core
        for pattern in JUNK_PATTERNS:
            if pattern.search(remaining):
                fragments.extend(m.group(0) for m in pattern.finditer(remaining))
                remaining = pattern.sub("", remaining)
        if not fragments:
            kept_lines.append(indent + core)
            continue
        if _NOTHING_LEFT.match(remaining):
            removed.append(core)
            removed_lines += 1
            continue
        removed.extend(f.strip() for f in fragments if f.strip())
        kept_lines.append(indent + remaining.rstrip())
    return CleanResult(text=_collapse_blank_lines(kept_lines), removed_lines=removed_lines, removed=removed)


def _collapse_blank_lines(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
