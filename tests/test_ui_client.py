"""The chat page's JSON endpoint (`/ask`) through gradio_client, against a live server.

Each module serves the page on a free 127.0.0.1 port over a private copy of corpus/.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

from tests.ui_fixtures import (LAVROV, article_text, free_port, serving, ui_settings,  # noqa: F401
                               ui_url)

import pytest  # noqa: E402
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture(scope="module")
def client(ui_url) -> Client:
    return Client(ui_url, verbose=False)


def ask(client: Client, question: str, history=None, top_k=None, filters=None) -> dict:
    return client.predict(question, history, top_k, filters, api_name="/ask")


def test_lavrov_question_gets_an_answer_citing_quotes_that_are_in_the_article(client, ui_settings):
    result = ask(client, LAVROV)

    assert result["refused"] is False
    assert result["citations"], result
    quotes = " ".join(c["quote"] for c in result["citations"])
    assert "written response" in quotes or "NATO" in quotes
    for citation in result["citations"]:
        text = article_text(ui_settings, citation["doc_id"])
        assert text[citation["start"]:citation["end"]] == citation["quote"]
        assert citation["title"] == "Blinken and Lavrov wrap up talks in Geneva"
        assert citation["date"] == "2022-01-21" and citation["source"] == "Reuters"


def test_every_marker_in_the_answer_names_a_citation(client):
    result = ask(client, LAVROV)

    markers = {int(n) for n in re.findall(r"\[(\d+)\]", result["answer"])}
    assert markers, result["answer"]
    assert markers <= {c["n"] for c in result["citations"]}


def test_follow_up_question_is_understood_from_the_conversation(client):
    first = ask(client, LAVROV)
    history = [{"role": "user", "content": LAVROV},
               {"role": "assistant", "content": first["answer"]}]

    follow_up = ask(client, "And what did Blinken say about it?", history=history)

    assert "Lavrov" in follow_up["standalone_question"]
    assert follow_up["refused"] is False
    assert any("Blinken" in c["quote"] for c in follow_up["citations"])


def test_question_the_articles_do_not_answer_is_refused_not_an_error(client):
    result = ask(client, "Who won the 2022 World Cup?")

    assert result["refused"] is True
    assert result["citations"] == []
    assert "don't say" in result["answer"]


def test_date_filter_outside_the_articles_dates_finds_nothing(client):
    result = ask(client, LAVROV, filters={"date_from": "2023-01-01"})

    assert result["passages"] == [] and result["refused"] is True


def test_source_filter_keeps_only_that_source(client):
    kept = ask(client, LAVROV, filters={"sources": ["Reuters"]})
    dropped = ask(client, LAVROV, filters={"sources": ["Associated Press"]})

    assert kept["passages"] and all(p["source"] == "Reuters" for p in kept["passages"])
    assert dropped["passages"] == []


def test_top_k_limits_the_passages_read(client):
    assert len(ask(client, LAVROV, top_k=2)["passages"]) == 2


def test_malformed_date_filter_gets_a_clear_message(client):
    with pytest.raises(AppError, match="YYYY-MM-DD"):
        ask(client, LAVROV, filters={"date_from": "last week"})


def test_empty_question_gets_a_clear_message(client):
    with pytest.raises(AppError, match="question is empty"):
        ask(client, "   ")


# Eight questions on different parts of the article, each with a phrase its cited
# quotes must contain (from the hand-written seed set, eval/datasets/seed.jsonl).
CONCURRENT = [
    ("What did Lavrov demand?", "written response"),
    ("What did Blinken call the talks?", "frank and substantial"),
    ("What did Blinken say he expected to share with Russia next week?", "in writing next week"),
    ("What worries did Lavrov say Russia had?", "made-up threats"),
    ("What did Lavrov say about a possible summit between Putin and Biden?", "summit"),
    ("Where was Blinken on Wednesday and what did he do there?", "In Kiev on Wednesday"),
    ("Which officials did Blinken meet in Berlin on Thursday?", "German, French and British"),
    ("When did Sherman and Ryabkov meet?", "Sherman"),
]


@pytest.mark.slow
def test_eight_concurrent_questions_get_their_own_correct_answers(ui_url):
    clients = [Client(ui_url, verbose=False) for _ in CONCURRENT]

    def run(job):
        client, (question, _) = job
        started = time.perf_counter()
        return ask(client, question), time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(len(CONCURRENT)) as pool:
        results = list(pool.map(run, zip(clients, CONCURRENT)))
    wall = time.perf_counter() - started

    for (question, phrase), (result, _) in zip(CONCURRENT, results):
        assert result["question"] == question
        assert result["refused"] is False, question
        assert any(phrase in c["quote"] for c in result["citations"]), (question, result["answer"])
    assert len({r["answer"] for r, _ in results}) == len(CONCURRENT)
    slowest = max(seconds for _, seconds in results)
    print(f"\n8 concurrent questions: {wall:.2f} s wall, slowest {slowest:.2f} s")


def test_model_server_down_message_names_its_address_and_what_to_do(ui_settings):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = ui_settings.model_copy(update={"generator": "openai-compatible", "base_url": dead,
                                              "model": "nothing", "ui_port": free_port()})
    with serving(settings) as url:
        with pytest.raises(AppError) as caught:
            ask(Client(url, verbose=False), LAVROV)

    message = str(caught.value)
    assert dead in message
    assert "rag --profile local serve" in message
    assert "Traceback" not in message


def test_empty_index_message_says_how_to_ingest(tmp_path, ui_settings):
    settings = ui_settings.model_copy(update={"store_path": tmp_path / "empty-store",
                                              "ui_port": free_port()})
    with serving(settings) as url:
        with pytest.raises(AppError, match="rag ingest"):
            ask(Client(url, verbose=False), LAVROV)


def test_page_with_ui_auth_needs_the_password(ui_settings):
    settings = ui_settings.model_copy(update={"ui_port": free_port()})
    settings.ui_auth = "ann:correct horse"
    with serving(settings) as url:
        with pytest.raises(Exception):
            Client(url, verbose=False)
        signed_in = Client(url, auth=("ann", "correct horse"), verbose=False)
        assert ask(signed_in, LAVROV)["refused"] is False


def test_starting_the_page_connects_to_nothing_but_itself(ui_settings, monkeypatch):
    import socket
    import urllib.request

    looked_up, connected = [], []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        connected.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    settings = ui_settings.model_copy(update={"ui_port": free_port()})
    with serving(settings) as url:
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"Newsdesk" in page.read()

    local = {"127.0.0.1", "localhost", "::1"}
    assert {str(h) for h in looked_up} <= local, looked_up
    assert {a[0] for a in connected if isinstance(a, tuple)} <= local, connected


@pytest.mark.parametrize("top_k", [-1, 0, 51, 2.5])
def test_api_rejects_top_k_outside_1_to_50_naming_it(client, top_k):
    with pytest.raises(AppError) as caught:
        ask(client, LAVROV, top_k=top_k)

    assert "top_k must be a whole number from 1 to 50" in str(caught.value)
    assert "AttributeError" not in str(caught.value)


def test_api_rejects_filters_that_are_not_an_object_naming_it(client):
    with pytest.raises(AppError) as caught:
        ask(client, LAVROV, filters="notadict")

    assert "filters must be a JSON object" in str(caught.value)
    assert "Something went wrong" not in str(caught.value)


def test_api_rejects_an_unknown_filter_naming_the_known_ones(client):
    with pytest.raises(AppError) as caught:
        ask(client, LAVROV, filters={"outlet": "Reuters"})

    assert "unknown filter(s) outlet; known: date_from, date_to, sources" in str(caught.value)


def test_api_rejects_a_malformed_date_filter_naming_the_format(client):
    with pytest.raises(AppError) as caught:
        ask(client, LAVROV, filters={"date_from": "yesterday"})

    assert "YYYY-MM-DD" in str(caught.value)
