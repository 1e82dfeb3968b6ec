"""Reliability II (issue 13), the command line: embedding-server failures without the key
(item 1), terminal escapes in file names (8), settings files of the wrong shape (9) and
the small ones (10: `--top-k -5`, disk full, empty date and source).

Real `rag` subprocesses, a real HTTP server on 127.0.0.1 playing the embeddings API.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_rag
from tests.support.mounts import in_private_mounts
from tests.support.reliability import (FakeOpenAI, isolated_env, make_settings,
                                       seed_text, send)

KEY = "sk-proj-reliability2-SECRETKEY-9f8e7d6c5b4a"


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:8]]


class EmbeddingServer:
    """Plays the OpenAI embeddings API; `mode` chooses the answer: ok, 401 (echoing the
    key it was sent, as OpenAI does), 500, 400 or garbage."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.fake = FakeOpenAI(self._reply)

    def _reply(self, handler, body: dict) -> None:
        sent = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.mode == "401":
            send(handler, 401, {"error": {"message": f"Incorrect API key provided: {sent}. You "
                                          "can find your API key at https://x.test/keys.",
                                          "type": "invalid_request_error", "code": "invalid_api_key"}})
        elif self.mode in ("500", "400"):
            send(handler, int(self.mode), {"error": {"message": f"failed for key {sent}",
                                                     "type": "server_error"}})
        elif self.mode == "garbage":
            send(handler, 200, f"<html>{sent}</html>", "text/html")
        else:
            inputs = body.get("input") or []
            inputs = [inputs] if isinstance(inputs, str) else inputs
            send(handler, 200, {"object": "list", "model": body.get("model", "m"),
                                "data": [{"object": "embedding", "index": i,
                                          "embedding": _vector(str(t))} for i, t in enumerate(inputs)],
                                "usage": {"prompt_tokens": 1, "total_tokens": 1}})


@pytest.fixture
def embedding_server():
    server = EmbeddingServer()
    with server.fake:
        yield server


def _remote_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir(parents=True, exist_ok=True)
    (settings.corpus_dir / "seed.md").write_text(seed_text(), encoding="utf-8")
    return isolated_env(settings, NEWSDESK_EMBEDDING="openai-compatible",
                        NEWSDESK_EMBEDDING_BASE_URL=base_url, NEWSDESK_EMBEDDING_MODEL="embed-test",
                        NEWSDESK_API_KEY=KEY, NEWSDESK_REQUEST_TIMEOUT="5")


def _assert_one_clean_line(run: subprocess.CompletedProcess, *words: str) -> None:
    output = run.stdout + run.stderr
    assert KEY not in output and KEY[-12:] not in output, output
    assert "Traceback" not in output, output
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 1 and len(errors) == 1, output
    for word in words:
        assert word in errors[0], errors[0]


@pytest.mark.slow
def test_a_key_the_embedding_server_rejects_and_echoes_is_never_printed_by_ingest_ask_or_serve(
        tmp_path, embedding_server):
    env = _remote_env(tmp_path, embedding_server.fake.base_url)
    built = run_rag("ingest", "--quiet", env=env, timeout=120)
    assert built.returncode == 0, built.stderr
    embedding_server.mode = "401"
    (Path(env["NEWSDESK_CORPUS_DIR"]) / "new.txt").write_text("A new article about a summit "
                                                              "in Vienna on energy prices.")
    for args in (["ingest", "--quiet"], ["ask", "Who met in Geneva?"],
                 ["serve", "--port", "9"]):  # serve ingests first, so it meets the server
        _assert_one_clean_line(run_rag(*args, env=env, timeout=120), embedding_server.fake.base_url,
                               "rejected the API key", "api_key")
    assert all(r["headers"].get("authorization") == f"Bearer {KEY}"
               for r in embedding_server.fake.requests), "the server was not sent the key"


@pytest.mark.slow
@pytest.mark.parametrize("mode,words", [("500", ["HTTP 500"]), ("400", ["HTTP 400"]),
                                        ("garbage", ["not an OpenAI embeddings response"])])
def test_an_embedding_server_failing_otherwise_gives_one_line_without_the_key(
        tmp_path, embedding_server, mode, words):
    embedding_server.mode = mode
    run = run_rag("ingest", "--quiet", env=_remote_env(tmp_path, embedding_server.fake.base_url),
                  timeout=120)
    _assert_one_clean_line(run, embedding_server.fake.base_url, *words)


@pytest.mark.slow
def test_an_embedding_server_that_is_down_gives_one_line_naming_it(tmp_path):
    from tests.support.reliability import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    run = run_rag("ingest", "--quiet", env=_remote_env(tmp_path, url), timeout=120)
    _assert_one_clean_line(run, url, "not reachable", "embedding_base_url")


# -- item 8: file names that drive the terminal ------------------------------------------
@pytest.mark.slow
def test_ingest_prints_file_names_with_terminal_escapes_and_newlines_escaped(tmp_path):
    settings = make_settings(tmp_path)
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    (folder / "seed.md").write_text(seed_text(), encoding="utf-8")
    hostile = "\x1b]0;owned\x07\x1b[2Jreport.txt"
    forged = "a\nskipped FORGED: line.txt"
    (folder / hostile).write_text("")  # empty: skipped, so its name is printed
    (folder / forged).write_text("")
    run = run_rag("ingest", "--quiet", settings=settings, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stderr + run.stdout and "\x07" not in run.stderr
    assert "\\x1b]0;owned\\x07\\x1b[2Jreport.txt" in run.stderr
    assert not any(line.startswith("skipped FORGED") for line in run.stderr.splitlines())
    assert "a\\nskipped FORGED: line.txt" in run.stderr


def test_an_error_naming_a_hostile_folder_is_escaped(tmp_path):
    settings = make_settings(tmp_path)
    run = run_rag("ingest", str(tmp_path / "no\x1b[2Jsuch"), settings=settings, timeout=120)
    assert run.returncode == 1 and "\x1b" not in run.stderr and "no\\x1b[2Jsuch" in run.stderr


# -- item 9: settings files of the wrong shape -------------------------------------------
@pytest.mark.parametrize("toml,named", [
    ("default = 5\n", "`default`"),
    ('profiles = "x"\n', "`profiles`"),
    ("[profiles]\nlocal = 3\n", "profile 'local'"),
    ('[default]\nprofile = ["a"]\n', "`profile`"),
    ('[profiles.local]\nprofile = 7\n', "`profile`"),
])
def test_a_settings_file_of_the_wrong_shape_is_one_error_naming_the_setting(tmp_path, toml, named):
    path = tmp_path / "newsdesk.toml"
    path.write_text(toml)
    run = run_rag("--config", str(path), "config", settings=make_settings(tmp_path), timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith(f"error: {path}") and named in run.stderr


# -- item 10: the small ones -------------------------------------------------------------
@pytest.mark.parametrize("value", ["-5", "0"])
def test_a_top_k_below_one_is_a_usage_error_not_a_refusal(tmp_path, value):
    run = run_rag("ask", "Who met?", "--top-k", value, settings=make_settings(tmp_path),
                  timeout=120)
    assert run.returncode == 2 and "--top-k" in run.stderr and "refus" not in run.stdout.lower()


def test_a_citation_without_date_or_source_prints_no_empty_brackets(capsys):
    from rag.cli import _print_answer
    from rag.records import Citation

    class Shown:
        answer = "Talks ended [1]."
        short_answer = None
        citations = [Citation(n=1, doc_id="d", title="Talks", date=None, source=None, url=None,
                              quote="Talks ended.", start=0, end=12)]

    _print_answer(Shown())
    printed = capsys.readouterr().out
    assert "()" not in printed and "  [1] Talks: “Talks ended.”" in printed


@pytest.mark.slow
def test_a_full_disk_during_ingest_says_the_disk_is_full(tmp_path):
    """A real full file system: the store folder is a 64 kB tmpfs."""
    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir(parents=True)
    (settings.corpus_dir / "seed.md").write_text(seed_text(), encoding="utf-8")
    settings.store_path.mkdir()
    prefix = in_private_mounts(f"mount -t tmpfs -o size=64k tmpfs '{settings.store_path}' && exec")
    run = run_rag("ingest", "--quiet", settings=settings, prefix=prefix)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    (line,) = [x for x in run.stderr.splitlines() if x.startswith("error:")]
    assert "disk is full" in line and "free some space" in line
