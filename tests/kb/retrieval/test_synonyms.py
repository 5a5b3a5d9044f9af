import time
from pathlib import Path

import pytest

from kb.retrieval.synonyms import SYNONYMS_FILE, Thesaurus, _normalize

# Words that occur in nearly every document: as expansions they only dilute a BM25 query.
TOO_COMMON = {"政治", "工作", "问题", "情况", "规定", "内容", "方面", "有关", "进行"}


def _entry_lines(path: Path) -> list[tuple[int, list[str], list[str]]]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        left, right = line.split("=>")
        rows.append((lineno, [f.strip() for f in left.split("|")], [t.strip() for t in right.split(",")]))
    return rows


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "synonyms.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_parses_and_is_large_enough():
    thesaurus = Thesaurus.load()
    rows = _entry_lines(SYNONYMS_FILE)
    assert 400 <= len(rows) <= 700
    assert len(thesaurus) > 1000  # distinct colloquial forms


def test_shipped_entries_are_well_formed():
    for lineno, forms, terms in _entry_lines(SYNONYMS_FILE):
        assert all(forms) and all(terms), f"line {lineno}: empty item"
        normalized_terms = {_normalize(t) for t in terms}
        own = {f for f in forms if _normalize(f) in normalized_terms}
        assert not own, f"line {lineno}: {own} expands to itself"
        common = TOO_COMMON & set(terms)
        assert not common, f"line {lineno}: over-common expansion {common}"


def test_every_form_has_an_expansion():
    thesaurus = Thesaurus.load()
    for form in thesaurus.forms:
        equivalents = thesaurus.equivalents(form)
        assert equivalents and all(equivalents), form
        assert form not in equivalents


@pytest.mark.parametrize(
    "question, expected",
    [
        ("跟书记坐下来聊一场要多久", {"谈话", "访谈", "时间", "小时"}),
        ("会上被同事当面数落", {"批评"}),
        ("书记往上走为什么难", {"提拔", "晋升", "原因"}),
        ("稿子改了多少遍", {"材料", "修改"}),
        ("罚多少钱，会不会坐牢", {"罚款", "有期徒刑", "拘役"}),
        ("这事谁管？不允许的话怎么办", {"主管部门", "禁止", "不得"}),
        ("一把手收礼吃请", {"主要负责人", "收受礼品礼金", "违规吃喝"}),
        # an abbreviation asked, the full name written (and back): 中组部 = 中央组织部, WTO = 世贸组织
        ("中组部印发了哪些文件", {"中央组织部"}),
        ("我国哪一年加入WTO", {"世界贸易组织", "世贸组织"}),
        ("加入世贸组织以后出口增长了多少", {"wto"}),
    ],
)
def test_expansions_of_plain_questions(question, expected):
    expansions = Thesaurus.load().expansions(question)
    assert expected <= set(expansions), expansions


def test_expansions_have_no_duplicates_and_nothing_already_in_text():
    text = "会上被批评，挨批后写检讨，批评意见有几条"
    expansions = Thesaurus.load().expansions(text)
    assert len(expansions) == len(set(expansions))
    assert all(term not in text for term in expansions)
    assert "批评" not in expansions  # already in the text


def test_official_words_block_single_character_forms_inside_them():
    thesaurus = Thesaurus.load()
    assert "修改" not in thesaurus.expansions("整改落实情况")
    assert "表示" not in thesaurus.expansions("作出说明")
    assert "批评" not in thesaurus.expansions("报上级批准")
    assert "修改" in thesaurus.expansions("这份东西改了三次")


def test_longest_form_wins(tmp_path):
    path = _write(tmp_path, "聊 => 谈话\n坐下来聊 => 访谈\n")
    thesaurus = Thesaurus.load(path)
    assert thesaurus.expansions("坐下来聊吧") == ["访谈"]
    assert thesaurus.expansions("随便聊") == ["谈话"]


def test_equivalents_and_merge_of_repeated_forms(tmp_path):
    path = _write(tmp_path, "# c\n\n老大|头儿 => 一把手\n老大 => 主要负责人,一把手\n! 老大难\n")
    thesaurus = Thesaurus.load(path)
    assert thesaurus.equivalents("老大") == {"一把手", "主要负责人"}
    assert thesaurus.equivalents("头儿") == {"一把手"}
    assert thesaurus.equivalents("不存在") == set()
    assert thesaurus.expansions("老大难") == []  # protected word, not the form inside it


def test_full_width_input_is_normalized(tmp_path):
    path = _write(tmp_path, "gdp => 地区生产总值\n")
    assert Thesaurus.load(path).expansions("ＧＤＰ增速") == ["地区生产总值"]


def test_load_is_cached():
    assert Thesaurus.load() is Thesaurus.load(SYNONYMS_FILE)


@pytest.mark.parametrize(
    "bad_line",
    [
        "没有箭头的行",
        "a => b => c",
        " => 谈话",
        "聊| => 谈话",
        "聊 => ",
        "聊 => 谈话,,访谈",
        "聊 => 聊,谈话",
        "! 老大|",
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line):
    path = _write(tmp_path, f"# header\n聊 => 谈话\n{bad_line}\n")
    with pytest.raises(ValueError, match=rf"synonyms\.txt:3\b"):
        Thesaurus.load(path)


def test_wrong_encoding_and_empty_and_missing_file(tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("聊 => 谈话\n".encode("gbk"))
    with pytest.raises(ValueError, match="gbk.txt: not valid UTF-8"):
        Thesaurus.load(bad)
    with pytest.raises(ValueError, match="no entries"):
        Thesaurus.load(_write(tmp_path, "# only comments\n"))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        Thesaurus.load(tmp_path / "missing.txt")


def test_expansions_are_fast():
    thesaurus = Thesaurus.load()
    question = "请问跟书记坐下来聊一场要多久，会上被同事当面数落后当场什么反应，稿子前后改了多少遍？"
    thesaurus.expansions(question)
    start = time.perf_counter()
    for _ in range(200):
        thesaurus.expansions(question)
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.002, f"{per_call * 1e6:.0f} µs per call"
