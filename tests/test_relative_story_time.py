"""A relative expression ("the previous week", "yesterday") read against the story the
question names when reading it against the as-of date (or today) leaves no article
(rag.search.time: story_time, plan_story_time, story_time_note); the empty filter is
still explained when no story matches."""

from __future__ import annotations

from datetime import date

from rag.records import Filters, Passage
from rag.search.time import (TimeInterpretation, explain_empty, interpret_time, is_relative,
                             plan_story_time, spoken_date, story_time, story_time_note)

TODAY = date(2026, 12, 7)   # a Monday
QUESTION = "What happened in the Dunmore mayoral race in the previous week?"
TOPIC = "What happened in the Dunmore mayoral race in the ?"


def report(day: str, text: str, similarity: float = 0.9, title: str = "Dunmore mayoral race"
           ) -> Passage:
    doc = f"election-{day}.md"
    return Passage(chunk_id=f"{doc}:0", doc_id=doc, text=text, start=0, end=len(text),
                   title=title, date=day, source="Dunmore Courier", url=None,
                   dense_similarity=similarity)


STORY = [report("2023-10-09", "Dunmore mayoral count resumes after a power cut."),
         report("2023-10-15", "Marsh re-elected Dunmore mayor by 212 votes after a recount."),
         report("2023-10-24", "Marsh sworn in as Dunmore mayor for a second term.")]


def test_the_previous_week_of_a_story_is_the_week_before_its_latest_report():
    asked = interpret_time(QUESTION, today=TODAY)
    assert (asked.date_from, asked.date_to) == ("2026-11-30", "2026-12-06")

    found = story_time(asked, [p.date for p in STORY], today=TODAY)

    assert (found.date_from, found.date_to) == ("2023-10-16", "2023-10-22")   # Mon–Sun
    assert found.read_against == "2023-10-24" and found.expression == "previous week"
    assert found.restrict and found.as_of is None
    assert found.to_dict()["read_against"] == "2023-10-24"


def test_yesterday_of_a_story_is_the_day_before_its_latest_report():
    found = story_time(interpret_time("Who won the Dunmore race yesterday?", today=TODAY),
                       ["2023-10-15", "2023-10-16"], today=TODAY)
    assert (found.date_from, found.date_to, found.read_against) == (
        "2023-10-15", "2023-10-15", "2023-10-16")


def test_an_as_of_date_the_user_gave_keeps_anchoring_the_words():
    asked = interpret_time(QUESTION, as_of="2023-10-30")
    assert (asked.date_from, asked.date_to) == ("2023-10-23", "2023-10-29")
    assert story_time(asked, [p.date for p in STORY]) is None
    assert plan_story_time(asked, Filters(), lambda f: STORY, TOPIC, 0.5) is None


def test_the_story_time_never_reads_past_today():
    found = story_time(interpret_time(QUESTION, today=date(2023, 10, 20)),
                       [p.date for p in STORY], today=date(2023, 10, 20))
    assert found.read_against == "2023-10-15"
    assert (found.date_from, found.date_to) == ("2023-10-02", "2023-10-08")


def test_only_relative_expressions_are_read_again():
    assert is_relative(interpret_time(QUESTION, today=TODAY))
    assert is_relative(interpret_time("What happened three days ago?", today=TODAY))
    for absolute in ("What happened on June 3, 2024?", "What happened in January 2022?",
                     "What is the latest on the Dunmore race?", "Who won Wimbledon in 2019?"):
        found = interpret_time(absolute, today=TODAY)
        assert not is_relative(found), absolute
        assert story_time(found, [p.date for p in STORY], today=TODAY) is None, absolute
    assert story_time(None, ["2023-10-24"]) is None


def test_the_story_the_question_names_sets_the_time_it_is_read_against():
    asked = interpret_time(QUESTION, today=TODAY)
    searched: list[Filters] = []

    def search(filters: Filters) -> list[Passage]:
        searched.append(filters)
        return STORY + [report("2023-11-30", "Eastfield bakery wins a bread prize.", 0.9, "Bakery")]

    interpretation, filters = plan_story_time(asked, Filters(), search, TOPIC, 0.5)

    assert searched == [Filters()]   # looked for the story without the expression's dates
    assert interpretation.read_against == "2023-10-24"   # the bakery is another story
    assert (filters.date_from, filters.date_to) == ("2023-10-16", "2023-10-22")


def test_no_story_when_nothing_found_is_close_enough_or_the_user_set_dates():
    asked = interpret_time(QUESTION, today=TODAY)
    far = [report(p.date, p.text, similarity=0.2) for p in STORY]
    assert plan_story_time(asked, Filters(), lambda f: far, TOPIC, 0.5) is None
    assert plan_story_time(asked, Filters(), lambda f: [], TOPIC, 0.5) is None
    own_dates = Filters(date_from="2026-11-01", date_to="2026-11-30")
    assert plan_story_time(asked, own_dates, lambda f: STORY, TOPIC, 0.5) is None


def test_the_answer_says_what_the_words_were_read_against():
    found = story_time(interpret_time(QUESTION, today=TODAY), [p.date for p in STORY], TODAY)
    note = story_time_note(found)
    assert note == ('No article is dated "previous week" read against today; read against '
                    "this story's latest report (October 24, 2023), that is from "
                    "October 16, 2023 to October 22, 2023.")
    assert story_time_note(interpret_time(QUESTION, today=TODAY)) is None
    assert story_time_note(None) is None


def test_an_empty_filter_without_a_story_is_still_explained():
    asked = interpret_time("What did the port strike cost last week?", today=TODAY)
    assert plan_story_time(asked, Filters(), lambda f: [], "port strike cost", 0.5) is None
    text = explain_empty(asked, "2023-10-24")
    assert "from November 30, 2026 to December 6, 2026" in text
    assert "read against today" in text and "October 24, 2023" in text


def test_one_spoken_date_for_answers_and_explanations():
    from rag.answer import timeline

    assert timeline.spoken_date is spoken_date
    assert spoken_date("2023-10-09") == "October 9, 2023"
    assert spoken_date(None) == "undated" and spoken_date("soon") == "soon"
    assert TimeInterpretation(None, None, None, None).to_dict()["read_against"] is None


def test_day_notes_give_each_day_word_its_date_against_the_article():
    from rag.answer.timeline import day_notes

    monday = report("2023-10-16", "Reyes conceded on Sunday afternoon. He spoke again on Sunday "
                    "afternoon, and the council meets on Friday, officials said yesterday.")
    assert day_notes(monday) == (
        'Days meant (article dated Monday, October 16, 2023): "on Sunday afternoon" = Sunday, '
        'October 15, 2023; "on Friday" = Friday, October 13, 2023; "yesterday" = Sunday, '
        "October 15, 2023")
    assert day_notes(report("2023-10-16", "Marsh leads by 212 votes.")) is None
    undated = Passage(chunk_id="u:0", doc_id="u", text="It ended yesterday.", start=0, end=19,
                      title="t", date=None, source=None, url=None)
    assert day_notes(undated) is None


def test_what_happened_to_a_story_over_a_past_week_asks_for_its_chronology():
    from rag.search.time import CHRONOLOGICAL, RELEVANCE

    story = interpret_time(QUESTION, as_of="2023-10-16")
    assert story.order == CHRONOLOGICAL and story.restrict
    assert (story.date_from, story.date_to) == ("2023-10-09", "2023-10-15")
    assert interpret_time("What happened last week?", as_of="2023-10-16").order == RELEVANCE
    assert interpret_time("What did Marsh say in the previous week?",
                          as_of="2023-10-16").order == RELEVANCE
