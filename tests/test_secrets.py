"""Secrets: an API key (or the chat page's password) set through the environment or the
settings file is used, and never appears in `rag config`, error messages, tracebacks,
logs or the chat page, even when the model server rejects it and echoes it back.
The model server is a fake of the OpenAI API on 127.0.0.1 answering 401.
"""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from rag.answer import Newsdesk
from rag.config import ConfigError, describe, load_settings
from rag.answer.generators import ModelError
from tests.support.cli import run_rag
from tests.support.reliability import FakeOpenAI, isolated_env, send

KEY = "sk-live-SECRET-4f9a1c77e2b04d8d9b1e"
PASSWORD = "hunter2-SECRET-password"
LAVROV = "What did Lavrov demand?"


def _reject_and_echo(handler, body) -> None:
    """What api.openai.com does with a bad key, but echoing all of it back."""
    sent = handler.headers.get("Authorization", "")
    send(handler, 401, {"error": {"message": f"Incorrect API key provided: {sent}",
                                  "type": "invalid_request_error", "code": "invalid_api_key"}})


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY not in text and KEY[8:24] not in text, "the API key leaked"
        assert PASSWORD not in text, "the ui_auth password leaked"


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "NEWSDESK_API_KEY"])
def test_rag_config_masks_a_key_from_the_environment(seeded_settings, tmp_path, variable):
    env = isolated_env(seeded_settings, **{variable: KEY, "NEWSDESK_UI_AUTH": f"desk:{PASSWORD}"})
    run = run_rag("config", env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    _assert_no_secret(run.stdout, run.stderr)
    assert "api_key" in run.stdout and "****** (set)" in run.stdout


def test_rag_config_masks_a_key_from_the_settings_file(seeded_settings, tmp_path):
    (tmp_path / "newsdesk.toml").write_text(
        f'[default]\napi_key = "{KEY}"\nui_auth = "desk:{PASSWORD}"\n'
        f'[profiles.openai]\ngenerator = "openai"\n', encoding="utf-8")
    run = run_rag("--profile", "openai", "config", settings=seeded_settings, cwd=tmp_path,
                  timeout=120)
    assert run.returncode == 0, run.stderr
    _assert_no_secret(run.stdout, run.stderr)
    assert run.stdout.count("****** (set)") == 2


def test_a_settings_error_next_to_a_key_does_not_print_the_key(tmp_path):
    path = tmp_path / "newsdesk.toml"
    path.write_text(f'[default]\napi_key = "{KEY}"\ntemperature = "hot"\n'
                    f'ui_auth = "{PASSWORD}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    _assert_no_secret(str(err.value), "".join(traceback.format_exception(err.value)))
    assert "temperature" in str(err.value)


def test_settings_objects_never_show_the_key(seeded_settings):
    settings = seeded_settings.with_changes(api_key=KEY, ui_auth=f"desk:{PASSWORD}")
    rows = describe(load_settings(None, None, api_key=KEY, ui_auth=f"desk:{PASSWORD}"))
    _assert_no_secret(repr(settings), str(settings), settings.model_dump_json(),
                      str(settings.model_dump()), repr(rows))
    assert settings.resolved_api_key() == KEY


@pytest.fixture
def rejecting_model():
    with FakeOpenAI(_reject_and_echo) as fake:
        yield fake


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_a_rejected_key_is_not_in_the_error_its_traceback_or_the_logs(
        seeded_settings, rejecting_model, caplog, stream):
    settings = seeded_settings.with_changes(generator="openai", api_key=KEY,
                                            base_url=rejecting_model.base_url)
    caplog.set_level(logging.DEBUG)  # every logger, httpx and openai included
    desk = Newsdesk(settings)
    with pytest.raises(ModelError) as err:
        if stream:
            list(desk.stream(LAVROV))
        else:
            desk.answer(LAVROV)
    assert "rejected the API key (401)" in str(err.value)
    assert rejecting_model.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}", \
        "the key from the settings was not the one sent"
    _assert_no_secret(str(err.value), repr(err.value), caplog.text,
                      "".join(traceback.format_exception(err.value)))


def test_the_cli_with_debug_logging_does_not_print_a_rejected_key(seeded_settings, rejecting_model,
                                                                   tmp_path):
    settings = seeded_settings.with_changes(generator="openai", api_key=KEY,
                                            base_url=rejecting_model.base_url)
    env = isolated_env(settings, OPENAI_API_KEY=KEY, OPENAI_LOG="debug",
                       NEWSDESK_GENERATOR="openai", NEWSDESK_BASE_URL=rejecting_model.base_url)
    run = run_rag("ask", LAVROV, env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: model server at {rejecting_model.base_url} rejected the "
                           "API key"), run.stderr
    assert "DEBUG" in run.stderr, "OPENAI_LOG=debug should have logged the requests"
    _assert_no_secret(run.stdout, run.stderr)
    assert rejecting_model.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}"


@pytest.mark.slow
def test_the_chat_page_and_its_api_never_show_the_key(seeded_settings, rejecting_model, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from tests.ui_fixtures import free_port, serving

    settings = seeded_settings.with_changes(generator="openai", api_key=KEY,
                                            base_url=rejecting_model.base_url,
                                            ui_port=free_port())
    with serving(settings) as url:
        pages = [httpx.get(url + path, timeout=30).text
                 for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json")]
        with pytest.raises(AppError) as err:
            Client(url, verbose=False).predict(LAVROV, None, None, None, api_name="/ask")
    _assert_no_secret(*pages, str(err.value))
    assert "rejected the API key" in str(err.value)
