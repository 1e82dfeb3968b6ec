"""Citation checking: markers must name passages the model saw; quotes must be article text."""

from rag.answer.citations import check_citations

from rag.text import normalise_markers
from rag.records import Passage

ARTICLE = ("Lavrov said the ball was in Washington’s court. Russia’s demands include halting "
           "NATO’s eastward expansion. Blinken called the talks frank and substantial.")


def _passages():
    cut = ARTICLE.index(" Blinken")
    first = Passage(chunk_id="c1", doc_id="d", text=ARTICLE[:cut], start=0, end=cut,
                    title="T", date="2022-01-21", source="Reuters", url=None, n=1)
    second_start = ARTICLE.index("Blinken")
    second = Passage(chunk_id="c2", doc_id="d", text=ARTICLE[second_start:], start=second_start,
                     end=len(ARTICLE), title="T", date="2022-01-21", source="Reuters", url=None, n=2)
    return [first, second]


def test_a_marker_for_a_passage_the_model_was_not_given_is_removed_and_reported():
    text, citations, check = check_citations(
        "Russia demands a halt to NATO's eastward expansion [1][7].", _passages())
    assert "[7]" not in text and "[1]" in text
    assert check.removed == [7]
    assert [c.n for c in citations] == [1]


def test_every_quote_is_the_article_text_at_its_offsets():
    _, citations, _ = check_citations(
        "Russia wants NATO's expansion halted [1]. Blinken called the talks frank [2].", _passages())
    assert {c.n for c in citations} == {1, 2}
    for c in citations:
        assert ARTICLE[c.start:c.end] == c.quote


def test_the_quote_is_the_passage_sentence_that_supports_the_claim():
    _, citations, _ = check_citations("Russia demands NATO's eastward expansion stop [1].", _passages())
    assert citations[0].quote == "Russia’s demands include halting NATO’s eastward expansion."


def test_an_uncited_sentence_gets_the_passage_that_supports_it():
    text, citations, check = check_citations("Blinken called the talks frank and substantial.", _passages())
    assert text.endswith("[2]") and check.added == [2]
    assert citations[0].quote.startswith("Blinken called the talks")


def test_an_unsupported_uncited_sentence_stays_uncited():
    text, citations, check = check_citations("The weather in Geneva was mild.", _passages())
    assert "[" not in text and citations == [] and check.added == []


def test_marker_spellings_are_normalised():
    assert normalise_markers("A [1, 2]. B [Passage 3].") == "A [1][2]. B [3]."
    assert normalise_markers("He said “yes.” [4] Then") == "He said “yes [4].” Then"


def test_a_marker_after_an_ellipsis_stays_with_its_sentence():
    assert normalise_markers("The count went up... [1] Then") == "The count went up [1]... Then"
    text, _, _ = check_citations("Russia’s demands include halting NATO’s eastward expansion... [1]",
                                 _passages())
    assert text.count("[1]") == 1 and not text.startswith("[")
