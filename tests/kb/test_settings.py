"""kb.settings: defaults < settings.yaml < KB_* environment < keyword overrides; unknown keys rejected."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kb.settings import Settings, load_settings

NO_FILE = "/nonexistent/kb-test-settings.yaml"


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment(tmp_path):
    settings = load_settings(NO_FILE, env={})
    assert isinstance(settings, Settings)
    assert settings.embedder.mode == "hash"
    assert settings.llm.mode == "none"
    assert settings.chroma.url is None
    assert settings.retrieval.dense_weight["hash"] == 0.0
    assert settings.retrieval.dense_weight["mock"] == 0.0
    assert settings.home.is_absolute()


def test_yaml_file_is_read(tmp_path):
    path = write_yaml(
        tmp_path,
        f"home: {tmp_path / 'from-yaml'}\nretrieval:\n  top_k: 9\nllm:\n  model: qwen-test\n",
    )
    settings = load_settings(path, env={})
    assert settings.home == (tmp_path / "from-yaml").resolve()
    assert settings.retrieval.top_k == 9
    assert settings.llm.model == "qwen-test"
    assert settings.retrieval.candidate_k == 50  # untouched fields keep their defaults


def test_environment_overrides_yaml(tmp_path):
    path = write_yaml(
        tmp_path,
        f"home: {tmp_path / 'from-yaml'}\nchroma:\n  url: http://yaml:1\nllm:\n  mode: none\n",
    )
    env = {
        "KB_HOME": str(tmp_path / "from-env"),
        "KB_CHROMA_URL": "http://chroma.local:8001",
        "KB_LLM__MODE": "mock",
    }
    settings = load_settings(path, env=env)
    assert settings.home == (tmp_path / "from-env").resolve()
    assert settings.chroma.url == "http://chroma.local:8001"
    assert settings.llm.mode == "mock"


def test_single_underscore_section_names(tmp_path):
    env = {"KB_LLM_BASE_URL": "http://llm.local:9000/v1", "KB_EMBEDDER_MODE": "mock"}
    settings = load_settings(NO_FILE, env=env)
    assert settings.llm.base_url == "http://llm.local:9000/v1"
    assert settings.embedder.mode == "mock"


def test_environment_values_are_typed_and_structured(tmp_path):
    env = {"KB_RETRIEVAL__TOP_K": "7", "KB_RETRIEVAL__DENSE_WEIGHT": '{"mock": 1.0}'}
    settings = load_settings(NO_FILE, env=env)
    assert settings.retrieval.top_k == 7
    assert settings.retrieval.dense_weight == {"mock": 1.0}


def test_kb_settings_names_the_file(tmp_path):
    path = write_yaml(tmp_path, "retrieval:\n  top_k: 3\n")
    settings = load_settings(env={"KB_SETTINGS": str(path)})
    assert settings.retrieval.top_k == 3


def test_keyword_overrides_win_over_environment(tmp_path):
    settings = load_settings(
        NO_FILE, env={"KB_HOME": str(tmp_path / "env")}, home=str(tmp_path / "kw"), retrieval__top_k=2
    )
    assert settings.home == (tmp_path / "kw").resolve()
    assert settings.retrieval.top_k == 2


def test_other_environment_variables_are_ignored(tmp_path):
    settings = load_settings(NO_FILE, env={"HOME": "/elsewhere", "PATH": "/bin", "KB_NOT_A_SETTING": "x"})
    assert settings.home != Path("/elsewhere")


def test_unknown_yaml_key_is_rejected_with_its_name(tmp_path):
    path = write_yaml(tmp_path, "retrieval:\n  top_kk: 3\n")
    with pytest.raises(ValidationError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert "top_kk" in message
    assert "retrieval" in message
    assert "xtra" in message  # pydantic: "Extra inputs are not permitted"


def test_unknown_top_level_section_is_rejected(tmp_path):
    path = write_yaml(tmp_path, "retreival:\n  top_k: 3\n")
    with pytest.raises(ValidationError, match="retreival"):
        load_settings(path, env={})


def test_unknown_double_underscore_environment_key_is_rejected(tmp_path):
    with pytest.raises(ValidationError, match="no_such_field"):
        load_settings(NO_FILE, env={"KB_LLM__NO_SUCH_FIELD": "1"})


def test_invalid_value_is_rejected(tmp_path):
    with pytest.raises(ValidationError, match="embedder"):
        load_settings(NO_FILE, env={"KB_EMBEDDER__MODE": "word2vec"})


def test_settings_file_must_hold_a_mapping(tmp_path):
    path = write_yaml(tmp_path, "- just\n- a list\n")
    with pytest.raises(ValueError, match="mapping"):
        load_settings(path, env={})


def test_derived_paths_live_under_home(tmp_path):
    settings = load_settings(NO_FILE, env={}, home=str(tmp_path / "kb"))
    for path in (settings.chroma_dir, settings.index_dir, settings.users_file, settings.audit_db, settings.lock_file):
        assert path.is_relative_to(settings.home)


def test_load_settings_does_not_create_home(tmp_path):
    load_settings(NO_FILE, env={}, home=str(tmp_path / "kb"))
    assert not (tmp_path / "kb").exists()
