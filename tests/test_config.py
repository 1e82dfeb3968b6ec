"""Settings: layered, typed, validated at start-up, with their origins shown and secrets masked."""

import pytest

from rag.config import ConfigError, describe, load_settings

TOML = """
[default]
profile = "local"
top_k = 4

[profiles.local]
generator = "extractive"

[profiles.ollama]
generator = "openai-compatible"
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.2"
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    for name in ("NEWSDESK_PROFILE", "NEWSDESK_TOP_K", "OPENAI_API_KEY", "NEWSDESK_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "newsdesk.toml"
    path.write_text(TOML)
    return path


def test_a_profile_switches_the_generator_by_configuration_alone(config_file):
    loaded = load_settings(config_file, "ollama")
    assert loaded.settings.generator == "openai-compatible"
    assert loaded.settings.base_url == "http://127.0.0.1:11434/v1"
    assert loaded.sources["generator"].endswith("[profiles.ollama]")


def test_environment_overrides_the_file_and_says_so(config_file, monkeypatch):
    monkeypatch.setenv("NEWSDESK_TOP_K", "9")
    loaded = load_settings(config_file)
    assert loaded.settings.top_k == 9 and loaded.sources["top_k"] == "environment"


def test_a_wrong_value_fails_at_start_up_naming_the_setting_and_its_origin(config_file, monkeypatch):
    monkeypatch.setenv("NEWSDESK_TOP_K", "many")
    with pytest.raises(ConfigError, match=r"top_k \(from environment\)"):
        load_settings(config_file)


def test_an_unknown_setting_is_named(config_file):
    config_file.write_text(TOML + "\n[profiles.typo]\ngenrator = 'openai'\n")
    with pytest.raises(ConfigError, match="unknown setting 'genrator'"):
        load_settings(config_file, "typo")


def test_an_unknown_profile_lists_the_known_ones(config_file):
    with pytest.raises(ConfigError, match="known: local, ollama"):
        load_settings(config_file, "vllm")


def test_openai_without_a_key_fails_at_start_up(config_file):
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        load_settings(config_file, generator="openai")


def test_openai_compatible_without_base_url_fails_at_start_up(config_file):
    with pytest.raises(ConfigError, match="base_url"):
        load_settings(config_file, generator="openai-compatible")


def test_exposing_the_page_needs_authentication(config_file):
    with pytest.raises(ConfigError, match="ui_auth"):
        load_settings(config_file, ui_host="0.0.0.0")
    assert load_settings(config_file, ui_host="0.0.0.0", ui_auth="ed:secret").settings.ui_host == "0.0.0.0"


def test_the_api_key_is_never_shown(config_file, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-123")
    loaded = load_settings(config_file, generator="openai")
    shown = " ".join(f"{n} {v} {o}" for n, v, o in describe(loaded))
    assert "sk-very-secret-123" not in shown and "****" in shown
    assert "sk-very-secret-123" not in repr(loaded.settings)


def test_a_broken_settings_file_is_named(tmp_path):
    path = tmp_path / "newsdesk.toml"
    path.write_text("[default\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)
