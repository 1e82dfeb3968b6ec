"""A short answer is shown only when it is right: a typed question (who, when, where, how
many/much, which/what + a noun of a known kind) and a candidate of that kind whose unit
fits the question's noun; otherwise none, and the answer is the sentence alone (issue 24)."""

import pytest

from rag.answer.extractive import ExtractiveGenerator
from rag.answer.extractive.answer_types import asked_unit, candidates, fits, kind_of_unit
from rag.answer.extractive.scorer import ShortAnswerGate, short_features
from rag.answer.extractive.short_answers import short_answer_for
from rag.config import Settings
from rag.records import Passage, Span


def _reports(*texts: str) -> list[Passage]:
    return [Passage(chunk_id=f"doc{n}-1", doc_id=f"doc{n}", text=text, start=0, end=len(text),
                    title="A story", date="2024-05-20", source="Wire", url=None, n=n,
                    dense_similarity=0.9) for n, text in enumerate(texts, start=1)]


def _short(question: str, sentence: str, start: int = 0) -> str | None:
    span = short_answer_for(question, Span(start, start + len(sentence), sentence))
    return span.text if span is not None else None


# the bad cases, each generalised: a candidate of the wrong unit gives no short answer
@pytest.mark.parametrize("question, sentence", [
    ("What pay rise did the dock workers get?",
     "The dock workers went on strike on Monday after talks failed."),
    ("How many firefighters fought the blaze?",
     "Nine water bombers fought the blaze over the weekend."),
    ("How many soldiers were sent to the border?",
     "The army sent 300 tanks to the border on Friday."),
    ("How much did the new stadium cost?",
     "The new stadium has 60,000 seats and opened in 2021 with 12 stands."),
    ("How many people were evacuated?",
     "The river crested at 7.4 metres and 12 buildings were evacuated."),
    ("Which app did the governor ban from state devices?",
     "The governor of South Dakota banned it from state devices, citing China."),
    ("Which country did Blinken visit?",
     "Blinken met Sergei Lavrov on Friday."),
    ("What year did the company start?",
     "The company started on a Friday in a garage."),
    ("When did the talks end?",
     "The talks ended without a breakthrough, officials said."),
])
def test_a_candidate_of_the_wrong_unit_gives_no_short_answer(question, sentence):
    assert _short(question, sentence) is None


@pytest.mark.parametrize("question, sentence, short", [
    ("What pay rise did the dock workers get?",
     "The dock workers accepted a 6.5% pay rise over two years.", "6.5%"),
    ("How many firefighters fought the blaze?",
     "Nine water bombers and 300 firefighters fought the blaze.", "300 firefighters"),
    ("How many soldiers were sent to the border?",
     "The army sent 300 troops to the border on Friday.", "300 troops"),
    ("How many people were evacuated?",
     "About 2,500 residents were evacuated from the town.", "2,500 residents"),
    ("How much did the new stadium cost?",
     "The stadium, with 60,000 seats, cost $1.2 billion to build.", "$1.2 billion"),
    ("Which country did Blinken visit on Wednesday?",
     "Blinken met officials in Germany on Wednesday.", "Germany"),
    ("What year did the company start?",
     "The company started in a garage in 1998.", "in 1998"),
    ("How old was the winner?",
     "The winner, aged 91, said the prize was a surprise.", "91"),
])
def test_a_candidate_of_the_asked_unit_is_the_short_answer(question, sentence, short):
    assert _short(question, sentence) == short


@pytest.mark.parametrize("question", [
    "What is the latest on the port strike?",
    "What did Lavrov demand?",
    "Why did Blinken sweep across Europe?",
    "What happened at the port of Felixstowe?",
])
def test_an_untyped_question_gets_no_short_answer(question):
    assert asked_unit(question) is None
    assert _short(question, "The port strike ended on Monday with a 6.5% pay rise for "
                            "Lavrov's 300 workers, Blinken said in Europe.") is None


MURRAY = ["Andy Murray beat Novak Djokovic.", "Andy Murray is the champion."]


def test_a_sentence_missing_the_questions_year_gives_no_short_answer():
    question = "Who won the men's singles at Wimbledon in 2013?"
    assert _short(question, "Novak Djokovic won the men's singles at Wimbledon in 2011.") is None
    assert _short(question, "Andy Murray won the men's singles at Wimbledon in 2013.") == "Andy Murray"


def test_the_gate_trusts_a_name_other_reports_repeat():
    """Any name answers "who": the fitted gate gives a name that two other passages
    repeat a higher chance of being shown than one a single sentence gives, and a strong
    unit (a count, an amount) more than a weak one at the same sentence probability."""
    gate = ShortAnswerGate.load()
    alone, repeated = short_features(0.4, 0.2, 0, True, 0), short_features(0.4, 0.2, 2, True, 0)
    assert gate.probability(repeated) > gate.probability(alone)
    assert gate.probability(short_features(0.4, 0.2, 0, False, 0)) > gate.probability(alone)
    assert gate.probability(short_features(0.6, 0.1, 0, False, 0)) > \
        gate.probability(short_features(0.3, 0.1, 0, False, 0))


def test_the_generator_counts_the_passages_repeating_a_short_answer():
    question = "Who won the men's singles at Wimbledon in 2013?"
    sentence = "Andy Murray won the men's singles at Wimbledon in 2013."
    generator = ExtractiveGenerator(Settings(), similarity=False)
    passages = _reports(sentence, *MURRAY)
    sentences, _, _ = generator.score(question, passages)
    short = short_answer_for(question, sentences[0].span)
    assert short is not None and short.text == "Andy Murray"
    features = generator.short_features(question, sentences, passages, short)
    assert features["support"] == short_features(0, 0, 2, True, 0)["support"]
    assert features["weak"] == 1.0 and features["rivals"] == 0.0


def test_a_person_is_preferred_to_a_country_for_who():
    sentence = "Antony Blinken warned Russia after the talks in Geneva."
    assert _short("Who warned after the talks?", sentence) == "Antony Blinken"


def test_the_short_answer_is_in_article_offsets():
    sentence = "The dock workers accepted a 6.5% pay rise over two years."
    span = short_answer_for("What pay rise did the dock workers get?",
                            Span(1000, 1000 + len(sentence), sentence))
    assert (span.start, span.end) == (1000 + sentence.index("6.5%"), 1000 + sentence.index("6.5%") + 4)


def test_the_asking_sentence_of_a_quiz_question_decides_the_unit():
    question = ("A new California fast-food law, which takes effect next year, could soon raise "
                "the minimum wage. Which state has the highest minimum wage?")
    assert asked_unit(question) == "state" and kind_of_unit("state") == "place"
    assert _short(question, "Washington now has the highest minimum wage, at $16.28.") == "Washington"


def test_a_place_keeps_its_article():
    assert _short("Where was Sam Bankman-Fried arrested?",
                  "Sam Bankman-Fried was arrested in the Bahamas on Monday.") == "the Bahamas"


def test_a_rise_is_an_amount_said_to_rise():
    question = "How much have gas prices increased over the past year?"
    assert _short(question, "Gas hit $4.96 a gallon on Wednesday.") is None
    assert _short(question, "Gas prices rose 60% over the past year.") == "60%"


def test_fits_with_a_noun_checks_the_unit_and_without_one_only_the_kind():
    [water, firefighters] = [c for c in candidates("The nine water bombers and 300 firefighters came.")
                             if c.kind == "number"]
    assert fits(water, "number") and fits(firefighters, "number")      # the old signature
    assert not fits(water, "number", noun="firefighters")
    assert fits(firefighters, "number", noun="firefighters")


def _passage(text: str) -> Passage:
    return Passage(chunk_id="doc-1", doc_id="doc", text=text, start=0, end=len(text),
                   title="Port strike", date="2024-05-20", source="Wire", url=None, n=1,
                   dense_similarity=0.9)


def test_an_answer_without_a_verified_short_answer_starts_with_its_sentence():
    text = ("Dock workers at the port of Felixstowe went on strike on Monday. "
            "The union said the strike would last eight days.")
    draft = ExtractiveGenerator(Settings(min_term_coverage=0.3)).generate(
        "What pay rise did the dock workers get?", [_passage(text)])
    assert draft.short_answer is None
    assert draft.refused or draft.text.startswith(("Dock workers", "The union"))
