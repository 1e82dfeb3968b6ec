"""Model generators: OpenAI (faked, it is outside the machine) and a real local llama.cpp server."""

import socket

import pytest

from rag.answer import Newsdesk
from rag.sources.files import load_file
from rag.answer.generators import ModelError
from tests.conftest import SEED_ARTICLE
from tests.support.fake_openai import fake_openai

ARTICLE_TEXT = load_file(SEED_ARTICLE)[0].text


def _desk(seeded_settings, **overrides):
    return Newsdesk(seeded_settings.with_changes(**overrides))


def _openai_settings(seeded_settings, base_url):
    return dict(generator="openai", api_key="sk-test-not-real", base_url=base_url)


def test_a_marker_for_a_passage_never_given_is_removed_from_the_model_answer(seeded_settings):
    reply = ("Lavrov wanted a written response to Russia's security demands [1][9]. "
             "Russia's demands include halting NATO's eastward expansion [2].")
    with fake_openai(reply) as (fake, url):
        answer = _desk(seeded_settings, **_openai_settings(seeded_settings, url)).answer(
            "What did Lavrov demand?")
    assert not answer.refused and "[9]" not in answer.answer
    assert 9 in answer.citation_check["removed"]
    given = {p.n for p in answer.passages}
    assert answer.citations and all(c.n in given for c in answer.citations)
    assert all(ARTICLE_TEXT[c.start:c.end] == c.quote for c in answer.citations)
    sent = fake.requests[-1]["body"]["messages"]
    assert "[1]" in sent[-1]["content"], "the passages are numbered in the prompt"


def test_the_model_saying_not_in_articles_is_a_refusal(seeded_settings):
    with fake_openai("NOT IN ARTICLES") as (_, url):
        answer = _desk(seeded_settings, **_openai_settings(seeded_settings, url)).answer(
            "What did Lavrov say about the weather in Geneva?")
    assert answer.refused and answer.citations == []


def test_a_streamed_model_answer_is_checked_like_a_plain_one(seeded_settings):
    reply = "Blinken called the talks frank and substantial [1]."
    with fake_openai(reply) as (_, url):
        events = list(_desk(seeded_settings, **_openai_settings(seeded_settings, url)).stream(
            "What did Blinken call the talks?"))
    assert "".join(e for e in events if isinstance(e, str)).strip() == reply
    final = events[-1]
    assert final.citations and all(ARTICLE_TEXT[c.start:c.end] == c.quote for c in final.citations)


def test_a_rejected_key_is_reported_without_the_key(seeded_settings):
    with fake_openai(status=401) as (_, url):
        desk = _desk(seeded_settings, **_openai_settings(seeded_settings, url))
        with pytest.raises(ModelError) as err:
            desk.answer("What did Lavrov demand?")
    assert "API key" in str(err.value) and "sk-test-not-real" not in str(err.value)


def test_a_model_server_that_is_down_is_named_in_the_error(seeded_settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    desk = _desk(seeded_settings, generator="openai-compatible", base_url=url, request_timeout=5)
    with pytest.raises(ModelError, match=f"127.0.0.1:{port}"):
        desk.answer("What did Lavrov demand?")


@pytest.mark.slow
def test_a_real_local_llm_answer_comes_back_through_the_chain_with_checked_citations(seeded_settings):
    from tests.support.llm_server import MODEL_NAME, running_llm_server

    with running_llm_server() as url:
        desk = _desk(seeded_settings, generator="openai-compatible", base_url=url,
                     model=MODEL_NAME, max_tokens=120, request_timeout=120)
        answer = desk.answer("What did Lavrov demand?")
        history = [{"role": "user", "content": "What did Lavrov demand?"},
                   {"role": "assistant", "content": answer.answer}]
        follow_up = desk.answer("And what did Blinken say about it?", history)
    assert answer.generator == "openai-compatible" and answer.timings_ms["generate"] > 0
    assert answer.answer.strip()
    given = {p.n for p in answer.passages}
    for result in (answer, follow_up):
        assert all(c.n in given or c.n in {p.n for p in result.passages} for c in result.citations)
        assert all(ARTICLE_TEXT[c.start:c.end] == c.quote for c in result.citations)
        markers = {int(m) for m in __import__("re").findall(r"\[(\d+)\]", result.answer)}
        assert markers <= {p.n for p in result.passages}
    assert follow_up.standalone_question.strip()
