"""Person names in Chinese text, as facts both ingest and answering use: the name lists
(``kb/data/masking.yaml``: surnames, titles, public names, words of a name's shape that are no names),
the affiliation in a person's title, and the names a sentence gives a person by its structure.

Masking (``ingest/masking.py``) builds its name finder on these lists; answering (``kb/answering/binding.py``)
asks whether a sentence names someone and reads a sentence without the affiliations in people's titles.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

MASKING_FILE = Path(__file__).resolve().parents[1] / "data" / "masking.yaml"


def _load_lists() -> dict:
    data = yaml.safe_load(MASKING_FILE.read_text(encoding="utf-8"))

    def words(value) -> frozenset[str]:
        return frozenset(value.split() if isinstance(value, str) else value)

    return {
        "single": frozenset("".join(data["single_surnames"].split())),
        "cue_only": frozenset("".join(data["cue_only_surnames"].split())),
        "compound": tuple(data["compound_surnames"]),
        "titles": words(data["titles"]),
        "public": words(data["public_names"]),
        "not_names": words(data["not_names"]),
        "name_headers": tuple(data["name_headers"]),
        "collective": words(data["collective_words"]),
        "org_suffixes": frozenset(data["org_suffixes"]),
        "list_leads": tuple(data["list_lead_cues"]),
        "person_roles": tuple(data["person_roles"]),
        "placeholders": tuple(data["placeholders"]),
    }


NAME_LISTS = _load_lists()
SINGLE_SURNAMES = NAME_LISTS["single"]
CUE_ONLY_SURNAMES = NAME_LISTS["cue_only"]
COMPOUND_SURNAMES = NAME_LISTS["compound"]
TITLES = NAME_LISTS["titles"]
PUBLIC_NAMES = NAME_LISTS["public"]
NOT_NAMES = NAME_LISTS["not_names"]

CJK_NAME = "[\u4e00-\u9fff]"
ANY_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + "".join(sorted(SINGLE_SURNAMES | CUE_ONLY_SURNAMES)) + "])"
# an affiliation, title and name before 同志: "市委组织部副部长林振华同志", "干部一科科长万里同志"
_AFFILIATION = re.compile(
    rf"{CJK_NAME}{{0,12}}?(?:{'|'.join(sorted(TITLES - {'同志'}, key=len, reverse=True))}){ANY_SURNAME}{CJK_NAME}{{1,3}}?同志(?!们)"
)
# a name before 同志 (not 同志们): "干部一科科长万里同志"
_BEFORE_COMRADE = re.compile(rf"(?P<name>{ANY_SURNAME}{CJK_NAME}{{1,3}}?)同志(?!们)")
# a person column's value in a row sentence (ingest/tables.py): "联系人：郑浩然，" "带队领导：蒋立平。"
_PERSON_CELL = re.compile(
    "(?:" + "|".join(map(re.escape, NAME_LISTS["name_headers"] + NAME_LISTS["person_roles"])) + rf")[：:]\s*(?P<name>{CJK_NAME}{{2,4}}?)(?=[，,；;。|\s]|$)"
)


def without_affiliations(text: str) -> str:
    """The text without the affiliations in people's titles: "考察组由市委组织部副部长林振华同志任组长"
    → "考察组由任组长". The 市委组织部 there is where the person works, not what the sentence is about."""
    return _AFFILIATION.sub("", text)


def person_mentions(text: str) -> list[str]:
    """Names a sentence gives a person by its structure, not by jieba's tags: the word before 同志
    ("干部一科科长万里同志"), and the value of a person column in a table row sentence ("联系人：郑浩然")
    — of a name's shape (a surname, two to four characters), collective words left out."""
    found = [m.group("name") for pattern in (_BEFORE_COMRADE, _PERSON_CELL) for m in pattern.finditer(text)]
    return [n for n in found if n not in NAME_LISTS["collective"] and n not in NOT_NAMES and n not in PUBLIC_NAMES
            and (n[:2] in COMPOUND_SURNAMES or n[0] in SINGLE_SURNAMES or n[0] in CUE_ONLY_SURNAMES)]
