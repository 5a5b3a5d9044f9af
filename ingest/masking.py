"""Optional masking of person names (张三书记 → 某某书记) before documents enter the knowledge base.

Inspection reports name the people being inspected; masking keeps them out of the index. Names are found
with jieba's part-of-speech tags (``nr``) plus patterns for "surname + title" (李书记, 王县长) and
"surname + 某" (王某某, 张某). jieba's dictionary tags many ordinary words as ``nr`` (权威, 杜绝, 建立健全,
廉政, 明白 …), so a tagged word is only masked when it also looks like a Chinese name: it starts with a
common surname, has a name's length, and is not a frequent dictionary word.
"""
from __future__ import annotations

import logging
import re

# Common single-character surnames. Characters that double as everyday function words or as parts of
# administrative words (于 向 和 党 区 关 任 全 常 安 时 代 班 …) are deliberately left out: "向县长汇报",
# "区委书记", "有关同志", "现任书记" must not be masked.
_SINGLE_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程苏魏吕丁"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛阎闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
    "武戴莫孔汤易乔赖文庞樊兰殷施洪翟柯倪鲁葛伍柏左祝柴邢滕章岳萧耿储晏辛骆凌梅窦宁裴邬华聂盛舒詹童管祁"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒", "夏侯", "端木")

# Titles that follow a surname in "李书记 / 王县长 / 赵主任 / 刘同志" (the title itself is kept).
_TITLES = frozenset(
    "书记 副书记 县长 副县长 市长 副市长 区长 副区长 省长 副省长 主任 副主任 部长 副部长 局长 副局长 "
    "厅长 副厅长 处长 副处长 科长 副科长 主席 副主席 同志 镇长 副镇长 乡长 副乡长 组长 副组长 秘书长 "
    "总经理 董事长 校长 院长 委员".split()
)

# Public figures whose names are part of the policy language being quoted ("习近平新时代中国特色社会主义思想"),
# not people under inspection; masking them would garble the texts the answers must cite verbatim.
_PUBLIC_NAMES = frozenset(
    "习近平 毛泽东 邓小平 江泽民 胡锦涛 周恩来 刘少奇 朱德 陈云 任弼时 马克思 恩格斯 列宁 焦裕禄 孔繁森 杨善洲 谷文昌".split()
)

# Words tagged as names by jieba's HMM in policy texts that are not names (施策 from 精准施策, 严三实 from 三严三实).
_NOT_NAMES = frozenset("施策 严三实 范围广 高标准 高质量 高水平 严要求 江山 万家 金融 石油 方案 方面 文明 安全".split())

_NAME_TAGS = ("nr", "nrfg")
_MAX_DICT_FREQ = 5  # dictionary words tagged nr with a higher frequency are ordinary words (权威, 明白, 杜绝 …)
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_SURNAME_MOU = re.compile(
    "(?P<name>(?:" + "|".join(_COMPOUND_SURNAMES) + "|[" + "".join(sorted(_SINGLE_SURNAMES)) + "])某{1,2})"
    r"(?![些种个项一地处方市县区省乡镇村局厅所级类次天年月日时])"
)


def mask_person_names(text: str, placeholder: str = "某某") -> str:
    """Replace person names with ``placeholder``, keeping title words (张三书记 → 某某书记)."""
    if not text:
        return text
    spans = _name_spans(text)
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in _merge(spans):
        out.append(text[last:start])
        out.append(placeholder)
        last = end
    out.append(text[last:])
    return "".join(out)


def _name_spans(text: str) -> list[tuple[int, int]]:
    try:
        import jieba
        import jieba.posseg as posseg
    except ImportError as exc:  # jieba is a core dependency; say so plainly if it is missing
        raise ImportError("name masking needs jieba: pip install -e .") from exc
    jieba.setLogLevel(logging.WARNING)

    spans = [m.span("name") for m in _SURNAME_MOU.finditer(text)]
    tokens: list[tuple[int, str, str]] = []
    offset = 0
    for pair in posseg.cut(text):
        tokens.append((offset, pair.word, pair.flag))
        offset += len(pair.word)
    freq = jieba.dt.FREQ  # filled by the first cut

    for index, (start, word, flag) in enumerate(tokens):
        if _is_surname(word) and _title_follows(tokens, index):
            spans.append((start, start + len(word)))
        elif flag in _NAME_TAGS and _looks_like_name(word, freq, titled=_title_follows(tokens, index)):
            spans.append((start, start + len(word)))
    return spans


def _is_surname(word: str) -> bool:
    return word in _SINGLE_SURNAMES or word in _COMPOUND_SURNAMES


def _title_follows(tokens: list[tuple[int, str, str]], index: int) -> bool:
    following = [word for _, word, _ in tokens[index + 1 : index + 3]]
    if not following:
        return False
    if following[0] in _TITLES:
        return True
    return following[0] == "副" and len(following) > 1 and ("副" + following[1]) in _TITLES


def _looks_like_name(word: str, freq: dict, titled: bool = False) -> bool:
    if "某" in word or word in _PUBLIC_NAMES or word in _NOT_NAMES or not _CJK.match(word):
        return False
    # a tagged name directly before a title ("张建国书记") is a person even when the dictionary
    # happens to list the name as a word
    if freq.get(word, 0) > _MAX_DICT_FREQ and not titled:
        return False
    if word[:2] in _COMPOUND_SURNAMES:
        return 3 <= len(word) <= 4
    return word[0] in _SINGLE_SURNAMES and 2 <= len(word) <= 3


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
