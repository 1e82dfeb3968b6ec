"""Answer types: what a question asks for, and the candidates a sentence holds."""

import pytest

from rag.answer.extractive.answer_types import (DATE, MONEY, NAME, NUMBER, PLACE, answer_type, asked_noun,
                                     candidates, is_new, words_of)


@pytest.mark.parametrize("question, wanted", [
    ("Who won the women's singles Wimbledon in 2019?", NAME),
    ("Whom did Blinken meet in Berlin?", NAME),
    ("Whose court did Lavrov say the ball was in?", NAME),
    ("When was Splatoon 2 released?", DATE),
    ("What year did OpenAI start?", DATE),
    ("What is the release date of Cyberpunk 2077?", DATE),
    ("How many Western military instructors were sent?", NUMBER),
    ("How much did Google acquire YouTube for?", MONEY),
    ("What was Tesla's revenue in Q1 2021?", MONEY),
    ("Where did Blinken and Lavrov hold their talks?", PLACE),
    ("Which city hosted the olympic games in 2012?", PLACE),
    ("Which movie won Best Picture at the 90th Academy Awards?", NAME),
    ("What company acquired Instagram?", NAME),
    ("Super Bowl 2021 location", PLACE),
])
def test_the_question_form_gives_the_answer_type(question, wanted):
    assert answer_type(question) == wanted


@pytest.mark.parametrize("question", [
    "What did Lavrov demand?", "How did Lavrov describe the meeting?",
    "Did the talks produce a breakthrough?", "Why did Blinken sweep across Europe?"])
def test_questions_answered_by_any_phrase_have_no_type(question):
    assert answer_type(question) is None


def _found(sentence):
    return {(c.kind, c.text) for c in candidates(sentence)}


def test_calendar_dates_checked_by_dateutil_and_relative_dates_are_found():
    found = _found("Splatoon 2 was released on July 21, 2017, and a patch follows next month.")
    assert (DATE, "July 21, 2017") in found and (DATE, "next month") in found
    assert not any("February 30" in text for _, text in _found("Due on February 30, 2021."))


def test_weekdays_keep_their_preposition():
    assert (DATE, "on Friday") in _found("The diplomats failed to agree on Friday.")


def test_money_keeps_currency_and_scale():
    assert (MONEY, "$10.4 billion") in _found("Tesla reported revenue of $10.4 billion in Q1.")


def test_numbers_keep_their_unit():
    found = _found("Officials counted 46 percent more and 300 troops arrived.")
    assert (NUMBER, "46 percent") in found and (NUMBER, "300 troops") in found
    assert any(kind == NUMBER and text.startswith("hundreds") for kind, text in
               _found("They are sending hundreds of Western military instructors."))


def test_names_are_capitalised_runs_without_leading_function_words_or_titles():
    found = _found("After the vote, Director Garry Marshall's film beat Niels B. Christiansen.")
    assert (NAME, "Garry Marshall") in found
    assert any(kind == NAME and text.startswith("Niels B.") for kind, text in found)
    assert not any(text in ("After", "Director") for _, text in found)


def test_a_name_after_in_or_at_is_a_place_and_a_nationality_adjective_is_no_name():
    found = _found("Top Russian diplomats met in Geneva on Friday.")
    assert (PLACE, "Geneva") in found
    assert not any(text == "Russian" for _, text in found)


def test_candidates_the_question_already_names_are_not_new():
    question = words_of("Who is the CEO of Lego?")
    [lego, ceo] = [c for c in candidates("Lego Group sales grew under Niels Christiansen.")
                   if c.kind == NAME]
    assert not is_new(lego, question) and is_new(ceo, question)


def test_a_title_inside_a_capitalised_run_separates_the_names():
    names = [c.text for c in candidates("Tesla CEO Elon Musk said so.") if c.kind == NAME]
    assert names == ["Tesla", "Elon Musk"]


@pytest.mark.parametrize("question, noun", [
    ("In which Geneva hotel did Blinken and Lavrov meet?", "hotel"),
    ("Did they hold a summit, and what was its outcome?", "outcome"),
    ("Which news agency reported the meeting?", "agency"),
    ("What is the name of Microsoft's AR headset?", None),
    ("What did Lavrov demand?", None)])
def test_the_noun_a_which_or_what_question_asks_about(question, noun):
    assert asked_noun(question) == noun


def test_places_are_read_from_pytz_on_first_use():
    from rag.answer.extractive.answer_types import place_class

    assert place_class("in France") == "country" and place_class("Texas") == "state"
    assert place_class("the Tokyo") == "city" and place_class("Lavrov") is None
