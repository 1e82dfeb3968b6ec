"""Answering with the offline default: cited answers, refusals, follow-ups, filters, limits."""

import pytest

from rag.answer import QuestionError
from rag.sources.files import load_file
from rag.records import Filters
from tests.conftest import SEED_ARTICLE

ARTICLE_TEXT = load_file(SEED_ARTICLE)[0].text


def _assert_citations_verified(answer):
    given = {p.n for p in answer.passages}
    for c in answer.citations:
        assert c.n in given
        assert ARTICLE_TEXT[c.start:c.end] == c.quote
        assert f"[{c.n}]" in answer.answer


def test_lavrov_answer_names_nato_and_the_written_response(desk):
    answer = desk.answer("What did Lavrov demand?")
    assert not answer.refused
    assert "NATO" in answer.answer and "written response" in answer.answer
    assert answer.citations
    _assert_citations_verified(answer)


def test_a_question_the_articles_cannot_answer_is_refused_without_citations(desk):
    answer = desk.answer("Who won the 2022 World Cup?")
    assert answer.refused and answer.citations == []
    assert "don't say" in answer.answer


def test_a_follow_up_is_made_standalone_from_the_conversation(desk):
    history = [{"role": "user", "content": "What did Lavrov demand?"},
               {"role": "assistant", "content": "A written response from the United States."}]
    answer = desk.answer("And what did Blinken say about it?", history)
    assert "Lavrov" in answer.standalone_question
    assert not answer.refused and "Blinken" in answer.answer
    _assert_citations_verified(answer)


def test_a_date_filter_outside_the_articles_leaves_nothing_to_cite(desk):
    answer = desk.answer("What did Lavrov demand?", filters=Filters(date_from="2023-01-01"))
    assert answer.passages == [] and answer.refused


def test_a_source_filter_keeps_only_that_source(desk):
    assert desk.answer("What did Lavrov demand?", filters=Filters(sources=("AP",))).refused
    kept = desk.answer("What did Lavrov demand?", filters=Filters(sources=("Reuters",)))
    assert kept.passages and all(p.source == "Reuters" for p in kept.passages)


def test_top_k_limits_the_passages_given_to_the_generator(desk):
    assert len(desk.answer("What did Blinken warn?", top_k=2).passages) == 2


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 100_000])
def test_empty_or_huge_questions_get_a_clear_message(desk, question):
    with pytest.raises(QuestionError):
        desk.answer(question)


def test_streaming_yields_text_then_the_same_checked_answer(desk):
    events = list(desk.stream("What did Blinken call the talks?"))
    pieces, final = events[:-1], events[-1]
    assert all(isinstance(p, str) for p in pieces)
    assert final.answer.startswith("".join(pieces).split(" [")[0][:20])
    assert final.to_dict()["answer"] == desk.answer("What did Blinken call the talks?").answer


def test_the_json_contract_has_every_field(desk):
    data = desk.answer("What did Lavrov demand?").to_dict()
    assert {"question", "answer", "refused", "citations", "passages", "generator",
            "timings_ms"} <= set(data)
    citation = data["citations"][0]
    assert {"n", "doc_id", "title", "date", "source", "url", "quote", "start", "end"} <= set(citation)
    assert {"n", "doc_id", "chunk_id", "score", "text"} <= set(data["passages"][0])
    assert data["generator"] == "extractive" and {"retrieve", "total"} <= set(data["timings_ms"])
