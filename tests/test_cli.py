"""The `rag` command end to end in a fresh process, as a user runs it."""

import json
import shutil

import pytest

from rag.sources.files import load_file
from tests.conftest import REPO, SEED_ARTICLE
from tests.support.cli import run_rag


@pytest.fixture
def workdir(tmp_path):
    """A folder with its own corpus and store, and no settings file (defaults apply)."""
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    return tmp_path


def test_ingest_twice_then_ask_json_follows_the_contract(workdir):
    first = run_rag("ingest", "corpus", cwd=workdir)
    second = run_rag("ingest", "corpus", cwd=workdir)
    assert first.returncode == 0 and " 0 embedded" not in first.stdout
    assert "0 added" in second.stdout and "0 embedded" in second.stdout
    result = run_rag("ask", "What did Lavrov demand?", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    text = load_file(SEED_ARTICLE)[0].text
    assert not data["refused"] and "NATO" in data["answer"]
    assert data["citations"] and all(text[c["start"]:c["end"]] == c["quote"] for c in data["citations"])


def test_asking_before_ingesting_says_how_to_ingest(workdir):
    result = run_rag("ask", "What did Lavrov demand?", cwd=workdir)
    assert result.returncode == 1
    assert "rag ingest" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_setting_fails_before_any_work(workdir):
    (workdir / "newsdesk.toml").write_text("[default]\ntop_k = -3\n")
    result = run_rag("ask", "What did Lavrov demand?", cwd=workdir)
    assert result.returncode == 1 and "top_k" in result.stderr and "Traceback" not in result.stderr


def test_chat_answers_a_follow_up_in_the_terminal(workdir):
    run_rag("ingest", "corpus", "--quiet", cwd=workdir)
    result = run_rag("chat", cwd=workdir,
                     input="What did Lavrov demand?\nAnd what did Blinken say about it?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("[1]") >= 2 and "Blinken" in result.stdout
