"""The cold-ask warm-up (rag.index.chunks.warm_up): the question's query waits for the
thread loading the vector index, nothing is left running, answers do not change, and a
server store or a reopened store is handled."""

from __future__ import annotations

import json
import socket

from click.testing import CliRunner

from rag.cli import main
from rag.index import chunks
from rag.index.chunks import open_index, warm_up
from rag.index.embeddings import embedding_name, get_embeddings

QUESTION = "What did Lavrov demand?"


class _Recording(dict):
    """A `_warm_ups` table that remembers every thread put in it."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list = []

    def __setitem__(self, key, thread) -> None:
        self.started.append(thread)
        super().__setitem__(key, thread)


def _answer_json(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def test_ask_waits_for_its_warm_up_and_answers_as_without_it(seeded_settings, desk, monkeypatch):
    table = _Recording()
    monkeypatch.setattr(chunks, "_warm_ups", table)
    env = {"NEWSDESK_CORPUS_DIR": str(seeded_settings.corpus_dir),
           "NEWSDESK_STORE_PATH": str(seeded_settings.store_path), "NEWSDESK_CONFIG": None}
    run = CliRunner().invoke(main, ["ask", "--json", QUESTION], env=env)
    assert run.exit_code == 0, run.output
    assert [t.name for t in table.started] == ["chroma-warm-up"]
    assert not table and not table.started[0].is_alive()  # joined by the question's query
    expected = desk.answer(QUESTION).to_dict()
    assert _answer_json(json.loads(run.output)) == _answer_json(expected)


def test_a_server_store_is_not_warmed_up(seeded_settings, monkeypatch):
    table = _Recording()
    monkeypatch.setattr(chunks, "_warm_ups", table)
    with socket.socket() as probe:   # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = seeded_settings.with_changes(store="server", chroma_port=port)
    model = get_embeddings(server)
    warm_up(server, embedding_name(model), model.dimension)  # no connection tried: no error
    assert table.started == []


def test_reopening_the_store_waits_for_its_warm_up(seeded_settings, monkeypatch):
    table = _Recording()
    monkeypatch.setattr(chunks, "_warm_ups", table)
    model = get_embeddings(seeded_settings)
    warm_up(seeded_settings, embedding_name(model), model.dimension)
    index = open_index(seeded_settings, embedding_name(model), model.dimension)
    index.reopen()
    assert len(table.started) == 1 and not table and not table.started[0].is_alive()
    assert index.dense(model.embed_query(QUESTION), 3)
