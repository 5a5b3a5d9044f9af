from pathlib import Path

import pytest

from kb.drafting.criteria import (
    CRITERIA_FILE,
    STEP_NAMES,
    CriteriaError,
    CriteriaFramework,
    chinese_numeral,
)
from kb.models import FIVE_POLITICS, INTERVIEWEE_GROUPS

SEEDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "seeds"
SEED_IDS = {
    "政治建设考察深度访谈提纲与考察实录",
    "以党的政治建设为统领提高领导班子整体功能",
    "区委书记在市县党政正职座谈会上的访谈提纲",
    "安徽探索实行党内政治监督谈话制度",
    "山西省市县党委班子专题民主生活会情况通报",
}


@pytest.fixture(scope="module")
def framework() -> CriteriaFramework:
    return CriteriaFramework.load()


def test_default_path_is_package_data():
    assert CRITERIA_FILE == Path(__file__).resolve().parents[3] / "kb" / "data" / "criteria.yaml"
    assert CRITERIA_FILE.is_file()


def test_five_dimensions_present_with_content(framework):
    assert framework.five_politics == list(FIVE_POLITICS)
    for name in FIVE_POLITICS:
        dim = framework.dimensions[name]
        assert len(dim.meaning) >= 40, name
        assert 5 <= len(dim.observation_points) <= 8, name
        assert 4 <= len(dim.typical_problems) <= 8, name
        assert 4 <= len(dim.interview_angles) <= 6, name
        assert dim.keywords and dim.sources and dim.aliases, name
        assert set(dim.sources_by_field) == {"meaning", "observation_points", "typical_problems", "interview_angles"}


def test_focus_areas_requested_by_the_brief_are_present(framework):
    for name in ("作风建设", "亲清政商关系", "全面从严治党", "民主集中制", "政治生态", "选人用人"):
        assert name in framework.focus_areas


def test_typical_problems_carry_seed_findings(framework):
    担当 = "".join(framework.dimensions["政治担当"].typical_problems)
    assert "问责副职多、正职少" in 担当 and "嘴严手软" in 担当
    assert "政绩观" in "".join(framework.dimensions["政治定力"].typical_problems)
    assert "形式主义" in framework.dimensions["作风建设"].meaning


def test_steps_interviewees_and_talk_outline(framework):
    assert tuple(s.name for s in framework.steps) == STEP_NAMES
    assert all(s.description for s in framework.steps)
    assert tuple(framework.interviewees) == INTERVIEWEE_GROUPS
    team = framework.interviewees["班子成员"]
    assert "书记" in team.phrasing and team.ask_about
    talk = framework.talk_outline
    assert (talk.question_min, talk.question_max) == (3, 4)
    assert len(talk.focus_areas) == 4
    assert any("总体评价" in s.text for s in talk.structure)
    assert any("三清单" in r.text for r in talk.rectification)


def test_every_source_is_a_seed_document_id(framework):
    ids = framework.source_ids()
    assert set(ids) <= SEED_IDS
    assert set(ids) == SEED_IDS  # every seed contributes something
    for step in framework.steps:
        assert step.sources
    for group in framework.interviewees.values():
        assert group.sources


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/corpus/seeds not available (run next to the shared data)")
def test_source_ids_name_existing_seed_files(framework):
    for doc_id in framework.source_ids():
        assert (SEEDS / f"{doc_id}.txt").is_file(), doc_id


@pytest.mark.parametrize(
    "query, expected",
    [
        ("政治担当", "政治担当"),
        ("担当", "政治担当"),
        ("政治担当方面", "政治担当"),
        ("担当方面的情况", "政治担当"),
        ("能力", "政治能力"),
        (" 政治 忠诚 ", "政治忠诚"),
        ("自律", "政治自律"),
        ("选拔任用", "选人用人"),
        ("亲清", "亲清政商关系"),
        ("作风建设", "作风建设"),
        ("天气", None),
        ("", None),
    ],
)
def test_dimension_resolves_aliases(framework, query, expected):
    dim = framework.dimension(query)
    assert (dim.name if dim else None) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("请围绕政治担当和政治自律起草提纲", ["政治担当", "政治自律"]),
        ("重点看自律，其次看担当", ["政治自律", "政治担当"]),
        ("了解民主集中制执行情况", ["民主集中制"]),
        ("整治不担当不作为时存在“嘴严手软”", ["政治担当"]),
        ("该县政绩观存在偏差，债务风险较高", ["政治定力"]),  # keywords only
        ("今天天气很好", []),
    ],
)
def test_find_dimensions(framework, text, expected):
    assert framework.find_dimensions(text) == expected


def test_find_dimensions_prefers_long_names_over_their_parts(framework):
    # “亲清政商关系” must not also count as a separate alias hit elsewhere.
    assert framework.find_dimensions("构建亲清政商关系") == ["亲清政商关系"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("市委书记", "市级领导"),
        ("副市长", "市级领导"),
        ("考察对象本人", "考察对象本人"),
        ("县委副书记", "班子成员"),
        ("常务副县长", "班子成员"),
        ("县委组织部长", "班子成员"),
        ("县纪委副书记", "其他干部群众"),
        ("县委组织部副部长", "其他干部群众"),
        ("乡镇党委书记", "其他干部群众"),
        ("对县纪委副书记等其他干部的补充访谈", "其他干部群众"),
        ("面向班子成员", "班子成员"),
        ("考察对象所在县的班子成员", "班子成员"),
        ("张三", None),
    ],
)
def test_interviewee_group(framework, text, expected):
    assert framework.interviewee_group(text) == expected


def test_interviewee_group_same_post_as_target_is_self(framework):
    assert framework.interviewee_group("县委书记", target="县委书记") == "考察对象本人"
    assert framework.interviewee_group("县长", target="县委书记") == "班子成员"


def test_to_markdown_has_a_heading_per_dimension(framework):
    md = framework.to_markdown()
    assert md.startswith("# 政治建设考察“五个政治”评价框架\n")
    for i, name in enumerate(FIVE_POLITICS, 1):
        assert f"## {chinese_numeral(i)}、{name}\n" in md
    for name in framework.focus_areas:
        assert f"、{name}\n" in md
    assert "### 内涵" in md and "### 观察要点" in md and "考察步骤" in md and "谈话提纲" in md
    for line in md.splitlines():
        if line and not line.startswith("#"):
            assert line.startswith(("- ", "1", "2", "3", "4", "5", "6", "7")) or line.endswith("。"), line


def test_chinese_numeral():
    assert [chinese_numeral(n) for n in (1, 9, 10, 11, 20, 21, 99)] == ["一", "九", "十", "十一", "二十", "二十一", "九十九"]
    with pytest.raises(ValueError):
        chinese_numeral(0)


def test_load_reports_bad_files(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(CriteriaError, match="nope.yaml"):
        CriteriaFramework.load(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("dimensions: [\n", encoding="utf-8")
    with pytest.raises(CriteriaError, match="invalid YAML"):
        CriteriaFramework.load(broken)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("title: 政治".encode("gbk"))
    with pytest.raises(CriteriaError, match="UTF-8"):
        CriteriaFramework.load(latin1)
    incomplete = tmp_path / "incomplete.yaml"
    text = CRITERIA_FILE.read_text(encoding="utf-8").replace("  - name: 政治自律", "  - name: 政治自觉")
    incomplete.write_text(text, encoding="utf-8")
    with pytest.raises(CriteriaError, match="政治自律"):
        CriteriaFramework.load(incomplete)
    no_provenance = tmp_path / "no_provenance.yaml"
    no_provenance.write_text(
        CRITERIA_FILE.read_text(encoding="utf-8").replace("    source: [政治建设考察深度访谈提纲与考察实录]\n", "", 1),
        encoding="utf-8",
    )
    with pytest.raises(CriteriaError, match="step 准备与建组 needs 'source'"):
        CriteriaFramework.load(no_provenance)
