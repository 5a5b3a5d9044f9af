"""身份证号 and phone numbers replaced by a placeholder (kb/data/masking_numbers.yaml), as part of masking:
a number identifies a person as surely as the name does, and inspection reports print both (名册,
公示, 举报电话, 联系人).

What is masked:
  - an 18-digit 身份证号 (the last character may be X) whose birth date is a date and whose check digit
    (GB 11643) is right, anywhere; after a cue word (身份证号：…) also one with a wrong check digit, and
    a 15-digit one;
  - a mobile number (1[3-9] and 9 digits, spaces or dashes between the groups allowed, +86 allowed);
  - a landline with its area code (0351-4728365, （0351）6627019, 010 12345678, an extension 转8012);
  - after a cue word (电话：, 手机, 传真 …), any run of 7–20 digits, spaces, dashes and brackets.
Amounts (13500000000元), dates (20240315), 统一社会信用代码 (letters inside) and 文号 are left alone: a
number followed by 元/万/亿/% is no phone, and a run joined to letters or more digits is no 身份证号.
"""
from __future__ import annotations

import re
from importlib import resources

import yaml


def _load() -> dict:
    data = yaml.safe_load(resources.files("kb").joinpath("data/masking_numbers.yaml").read_text(encoding="utf-8"))
    return data


_DATA = _load()
ID_PLACEHOLDER: str = _DATA["id_placeholder"]
PHONE_PLACEHOLDER: str = _DATA["phone_placeholder"]

_CUE_GAP = r"(?:[：:]|号码|为|是)?\s*"  # between a cue and its number: "身份证号：", "电话号码为 "
_ID_CUES = "|".join(sorted(map(re.escape, _DATA["id_cues"]), key=len, reverse=True))
_PHONE_CUES = "|".join(sorted(map(re.escape, _DATA["phone_cues"]), key=len, reverse=True))

_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_ID18 = re.compile(rf"(?<![0-9A-Za-z])[1-9]\d{{5}}(?:18|19|20)\d{{2}}{_DATE}\d{{3}}[\dXx](?![0-9A-Za-z])")
_ID_AFTER_CUE = re.compile(
    rf"(?:{_ID_CUES}){_CUE_GAP}(?P<number>[1-9]\d{{16}}[\dXx]|[1-9]\d{{7}}{_DATE}\d{{3}})(?![0-9A-Za-z])"
)
_NOT_AN_AMOUNT = r"(?!\s*[元万亿%‰])"
_MOBILE = re.compile(rf"(?<![\d.])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{{4}}){{2}}(?![\d.]){_NOT_AN_AMOUNT}")
_EXTENSION = r"(?:(?:转|-|－|ext\.?\s*)\d{1,5}(?!\d))?"
_LANDLINE = re.compile(
    rf"(?:[（(]0\d{{2,3}}[）)][\s-]?|(?<![\d.])0\d{{2,3}}[-－—\s]?)[2-9]\d{{6,7}}(?![\d.]){_EXTENSION}{_NOT_AN_AMOUNT}"
)
_PHONE_AFTER_CUE = re.compile(
    rf"(?:{_PHONE_CUES}){_CUE_GAP}(?P<number>[（(+]?\d[\d\s\-－()（）]{{5,18}}\d)(?![\d.]){_EXTENSION}{_NOT_AN_AMOUNT}"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_ok(number: str) -> bool:
    """GB 11643 check digit of an 18-character 身份证号."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return "10X98765432"[total % 11] == number[17].upper()


def number_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, placeholder) of every 身份证号 and phone number in the text, not overlapping."""
    spans: list[tuple[int, int, str]] = []
    for m in _ID18.finditer(text):
        if id_check_ok(m.group(0)):
            spans.append((m.start(), m.end(), ID_PLACEHOLDER))
    for m in _ID_AFTER_CUE.finditer(text):
        spans.append((m.start("number"), m.end("number"), ID_PLACEHOLDER))
    for pattern in (_MOBILE, _LANDLINE):
        spans += [(m.start(), m.end(), PHONE_PLACEHOLDER) for m in pattern.finditer(text)]
    spans += [(m.start("number"), m.end(), PHONE_PLACEHOLDER) for m in _PHONE_AFTER_CUE.finditer(text)]
    out: list[tuple[int, int, str]] = []
    for start, end, placeholder in sorted(spans, key=lambda s: (s[0], -s[1])):
        if out and start < out[-1][1]:
            if end > out[-1][1]:  # overlapping shapes of one number: the longer reading
                out[-1] = (out[-1][0], end, out[-1][2])
            continue
        out.append((start, end, placeholder))
    return out


def mask_numbers(text: str) -> str:
    spans = number_spans(text)
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end, placeholder in spans:
        parts += [text[last:start], placeholder]
        last = end
    parts.append(text[last:])
    return "".join(parts)
