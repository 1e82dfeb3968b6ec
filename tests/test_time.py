"""Time in questions: parsing each form, filters from it, and the time_rank step."""

from datetime import date

import pytest

from rag.answer.timeline import extractive_timeline, label_dates, spoken_date
from rag.answer.generators import Draft
from rag.config import Settings
from rag.records import Filters, Passage
from rag.search.query import Query
from rag.search.steps import STEPS, make_steps
from rag.search.time import (CHRONOLOGICAL, NEWEST, RELEVANCE, interpret_time, time_filters,
                             TimeRank, topic_question)

AS_OF = "2024-06-12"  # a Wednesday


def span(question: str, as_of: str | None = AS_OF, **kw) -> tuple:
    found = interpret_time(question, as_of, **kw)
    return found.date_from, found.date_to, found.order


@pytest.mark.parametrize("question, expected", [
    ("What happened on June 3, 2024?", ("2024-06-03", "2024-06-03", RELEVANCE)),
    ("What happened on 3rd of June?", ("2024-06-03", "2024-06-03", RELEVANCE)),
    ("What was reported on 2024-06-03?", ("2024-06-03", "2024-06-03", RELEVANCE)),
    ("What happened in January 2022?", ("2022-01-01", "2022-01-31", RELEVANCE)),
    ("What happened between 10 and 12 May?", ("2024-05-10", "2024-05-12", RELEVANCE)),
    ("What happened from June 3 to June 5?", ("2024-06-03", "2024-06-05", RELEVANCE)),
    ("Events of June 3-5, 2024", ("2024-06-03", "2024-06-05", RELEVANCE)),
])
def test_absolute_dates_and_ranges_are_read(question, expected):
    assert span(question) == expected


@pytest.mark.parametrize("question, expected", [
    ("What did the union say yesterday?", ("2024-06-11", "2024-06-11", RELEVANCE)),
    ("What was agreed last week?", ("2024-06-03", "2024-06-09", RELEVANCE)),
    ("What happened this week?", ("2024-06-10", "2024-06-12", RELEVANCE)),
    ("What happened this year?", ("2024-01-01", "2024-06-12", RELEVANCE)),
    ("What happened last month?", ("2024-05-01", "2024-05-31", RELEVANCE)),
    ("What did they say three days ago?", ("2024-06-09", "2024-06-09", RELEVANCE)),
    ("What did they say 2 weeks ago?", ("2024-05-27", "2024-06-02", RELEVANCE)),
])
def test_relative_expressions_count_from_the_as_of_date(question, expected):
    assert span(question) == expected


def test_relative_expressions_count_from_today_without_as_of():
    found = interpret_time("What happened yesterday?", today=date(2025, 3, 2))
    assert (found.date_from, found.as_of) == ("2025-03-01", None)


@pytest.mark.parametrize("question", [
    "What is the latest on the strike?", "What is the most recent figure?",
    "Who runs the company now?", "Who is currently in charge?", "Is the bridge still closed?"])
def test_recency_words_ask_for_the_newest_first(question):
    found = interpret_time(question, AS_OF)
    assert found.order == NEWEST and found.date_from is None and found.date_to is None


@pytest.mark.parametrize("question", [
    "How did the flood unfold?", "How has the strike developed?", "How did the talks evolve?",
    "Timeline of the recall", "What has happened with the strike since May 13?"])
def test_timeline_questions_are_chronological(question):
    assert interpret_time(question, AS_OF).order == CHRONOLOGICAL


def test_since_a_date_starts_the_timeline_there():
    assert span("What has happened with the strike since May 13?") == ("2024-05-13", None, CHRONOLOGICAL)


def test_by_a_date_keeps_what_was_known_then_newest_first():
    assert span("How many had been evacuated by June 3?") == (None, "2024-06-03", NEWEST)


def test_a_date_without_a_year_is_the_latest_one_up_to_the_newest_article():
    found = interpret_time("What happened on May 13?", today=date(2026, 11, 29), newest="2024-06-12")
    assert found.date_from == "2024-05-13"


def test_a_bare_year_names_an_event_and_only_boosts():
    found = interpret_time("Who won Wimbledon in 2019?", AS_OF)
    assert (found.date_from, found.date_to, found.restrict) == ("2019-01-01", "2019-12-31", False)


def test_no_time_in_the_question_and_no_as_of_means_no_interpretation():
    assert interpret_time("Who met in Geneva?") is None
    assert interpret_time("What may happen to the talks?") is None


def test_as_of_alone_is_reported_without_dates():
    found = interpret_time("Who met in Geneva?", AS_OF)
    assert found.to_dict() == {"expression": None, "date_from": None, "date_to": None,
                               "as_of": AS_OF, "order": RELEVANCE, "read_against": None}


def test_a_malformed_as_of_date_is_refused_with_the_format():
    for bad in ("June 3", "2024-02-30"):
        with pytest.raises(ValueError, match="as_of .* YYYY-MM-DD"):
            interpret_time("What happened?", bad)


def test_time_words_inside_a_name_are_not_time():
    question = "Newspapers, including the USA TODAY Network, dropped which comic strip?"
    assert interpret_time(question, AS_OF).date_from is None
    assert interpret_time("Who hosts Last Week Tonight?", AS_OF).date_from is None
    assert span("Today, who leads the talks?") == ("2024-06-12", "2024-06-12", RELEVANCE)
    assert span("Who said on USA Today that talks resumed yesterday?")[:2] == \
        ("2024-06-11", "2024-06-11")


def test_a_named_day_restricts_retrieval_with_two_days_for_later_reports():
    filters = time_filters(Filters(), interpret_time("What happened on June 3?", AS_OF))
    assert (filters.date_from, filters.date_to) == ("2024-06-03", "2024-06-05")


def test_a_relative_period_of_days_also_holds_the_days_before_it():
    # "this week" asked on Wednesday June 12 is June 10-12, and the 7 days before it
    this_week = interpret_time("What happened this week?", AS_OF)
    widened = time_filters(Filters(), this_week, margin_days=7)
    assert (widened.date_from, widened.date_to) == ("2024-06-03", "2024-06-12")
    assert time_filters(Filters(), this_week).date_from == "2024-06-10"   # no margin
    # a period named by its dates and a single day keep their bounds
    month = interpret_time("What happened in January 2022?", AS_OF)
    assert time_filters(Filters(), month, margin_days=7).date_from == "2022-01-01"
    yesterday = interpret_time("What happened yesterday?", AS_OF)
    assert time_filters(Filters(), yesterday, margin_days=7).date_from == "2024-06-11"
    timeline = interpret_time("How did the strike unfold this week?", AS_OF)   # its own events
    assert time_filters(Filters(), timeline, margin_days=7).date_from == "2024-06-10"
    # the time_rank step ranks the margin's articles with the period's, by relevance
    pool = [_passage("older", "2024-05-20", "Port Alder bus drivers struck.", 0.040),
            _passage("margin", "2024-06-05", "Port Alder bus drivers went on strike.", 0.030),
            _passage("week", "2024-06-11", "Port Alder buses ran late.", 0.020)]
    query = Query(question="What happened this week?", as_of=AS_OF, extra={"time": this_week})
    assert [p.doc_id for p in TimeRank(margin_days=7)(list(pool), query)] == \
        ["margin", "week", "older"]
    assert [p.doc_id for p in TimeRank(margin_days=0)(list(pool), query)] == \
        ["week", "older", "margin"]
    assert Settings().time_margin_days == 7


def test_the_users_own_date_filter_wins_over_the_question():
    mine = Filters(date_from="2024-01-01", date_to="2024-01-31")
    filters = time_filters(mine, interpret_time("What happened on June 3?", None))
    assert (filters.date_from, filters.date_to) == ("2024-01-01", "2024-01-31")


def test_as_of_keeps_only_articles_published_on_or_before_it():
    filters = time_filters(Filters(date_to="2024-12-31"), interpret_time("Who met?", "2024-06-05"))
    assert filters.date_to == "2024-06-05" and filters.date_from is None


def test_topic_question_drops_time_words_only_when_there_are_some():
    assert topic_question("Who met in Geneva?", None) == "Who met in Geneva?"
    found = interpret_time("What is the latest on the Port Alder bus strike?", AS_OF)
    assert topic_question("What is the latest on the Port Alder bus strike?", found) == \
        "What is the on the Port Alder bus strike?"


def _passage(doc: str, day: str | None, text: str, score: float) -> Passage:
    return Passage(chunk_id=f"{doc}:0", doc_id=doc, text=text, start=0, end=len(text),
                   title=doc, date=day, source=None, url=None, score=score)


POOL = [_passage("mid", "2024-05-17", "Talks on the Port Alder bus strike broke down.", 0.030),
        _passage("old", "2024-05-10", "Port Alder bus drivers began a strike over pay.", 0.029),
        _passage("flood", "2024-06-12", "Millbrook flood orders were lifted.", 0.028),
        _passage("new", "2024-05-24", "Port Alder bus strike ends as drivers ratify the deal.", 0.020)]


def _rank(question: str, as_of: str | None = AS_OF, top_k: int = 3) -> list[str]:
    query = Query(question=question, top_k=top_k, as_of=as_of)
    return [p.doc_id for p in TimeRank.from_settings(Settings())(list(POOL), query)]


def test_recency_puts_the_topics_newest_article_first_not_another_storys():
    assert _rank("What is the latest on the Port Alder bus strike?") == ["new", "mid", "old", "flood"]


def test_timelines_come_out_oldest_first():
    assert _rank("How did the Port Alder bus strike unfold?", top_k=4) == ["old", "mid", "new", "flood"]


def test_a_named_day_comes_first_with_reports_a_day_or_two_later():
    assert _rank("What happened in the strike talks on May 16?")[:1] == ["mid"]


def test_no_time_in_the_question_leaves_the_order_alone():
    assert _rank("What did Port Alder bus drivers want?", as_of=None) == ["mid", "old", "flood", "new"]


def test_time_rank_is_a_registered_step_and_on_by_default():
    assert STEPS["time_rank"] is TimeRank and "time_rank" in Settings().post_retrieval
    steps = make_steps(Settings())
    assert [s.name for s in steps] == ["collapse_copies", "time_rank"]
    assert steps[1].report_lag_days == Settings().time_report_lag_days


def test_extractive_timeline_lists_dated_events_in_order_from_distinct_articles():
    passages = [_passage("c", "2024-05-24", "Drivers ratified the Port Alder bus deal.", 0.1),
                _passage("a", "2024-05-10", "Port Alder bus drivers walked out.", 0.1),
                _passage("a-copy", "2024-05-10", "Port Alder bus drivers walked out.", 0.1),
                _passage("x", "2024-06-12", "Millbrook flood orders were lifted.", 0.1)]
    for n, p in enumerate(passages, start=1):
        p.n = n
    draft = extractive_timeline("How did the Port Alder bus strike unfold?", passages, 6)
    assert draft.text == ("May 10, 2024: Port Alder bus drivers walked out. [2] "
                          "May 24, 2024: Drivers ratified the Port Alder bus deal. [1]")


def test_facts_from_different_dates_say_which_date_they_are_from():
    passages = [_passage("a", "2024-06-03", "1,200 were evacuated.", 0.1),
                _passage("b", "2024-06-05", "2,500 were evacuated.", 0.1)]
    passages[0].n, passages[1].n = 1, 2
    labelled = label_dates(Draft("1,200 were evacuated. [1] 2,500 were evacuated. [2]"), passages)
    assert labelled.text == ("As of June 3, 2024: 1,200 were evacuated. [1] "
                             "As of June 5, 2024: 2,500 were evacuated. [2]")
    same_day = label_dates(Draft("1,200 were evacuated. [1] 2,500 were evacuated. [1]"), passages)
    assert same_day.text == "1,200 were evacuated. [1] 2,500 were evacuated. [1]"


def test_spoken_dates_read_naturally():
    assert spoken_date("2024-06-03") == "June 3, 2024" and spoken_date(None) == "undated"


def test_a_bare_year_stays_in_the_question_it_belongs_to():
    question = "Who won the women's singles Wimbledon in 2019?"
    assert topic_question(question, interpret_time(question, AS_OF)) == question


def test_latest_answers_from_the_newest_report_and_falls_back_when_it_is_silent():
    from rag.answer.extractive import ExtractiveGenerator
    from rag.answer.timeline import latest_draft

    passages = [_passage("new", "2024-05-24", "Port Alder bus drivers ratified the deal.", 0.1),
                _passage("old", "2024-05-13", "Ruth Okafor mediates the Port Alder bus talks.", 0.1)]
    passages[0].n, passages[1].n = 1, 2
    writer = ExtractiveGenerator(Settings())
    assert latest_draft(writer, "What did Port Alder bus drivers do?", passages).text.endswith("[1]")
    assert latest_draft(writer, "Who mediates the Port Alder bus talks?", passages).text.endswith("[2]")


def test_recency_is_one_on_the_as_of_day_and_halves_each_half_life():
    from rag.search.time import recency

    assert recency("2024-06-12", AS_OF, 30) == 1.0
    assert abs(recency("2024-05-13", AS_OF, 30) - 0.5) < 1e-9
    assert recency("2024-06-13", AS_OF, 30) == 0.0 and recency(None, AS_OF, 30) == 0.0


def test_with_an_as_of_date_a_fresh_report_overtakes_an_equally_relevant_old_one():
    pool = [_passage("old", "2021-06-10", "Port Alder bus drivers went on strike.", 0.030),
            _passage("fresh", "2024-06-10", "Port Alder bus drivers went on strike again.", 0.028),
            _passage("undated", None, "Port Alder buses.", 0.029)]
    step = TimeRank(recency_weight=0.5, recency_half_life_days=30)
    ranked = step(list(pool), Query(question="Why did Port Alder bus drivers strike?", as_of=AS_OF))
    assert [p.doc_id for p in ranked] == ["fresh", "old", "undated"]
    assert [p.score for p in pool] == [0.030, 0.028, 0.029]  # the candidates are not altered
    unchanged = TimeRank(recency_weight=0.5)(list(pool), Query(question="Why did they strike?"))
    assert [p.doc_id for p in unchanged] == ["old", "fresh", "undated"]  # no as-of: no recency
    off = TimeRank(recency_weight=0.0)(list(pool), Query(question="Why?", as_of=AS_OF))
    assert [p.doc_id for p in off] == ["old", "fresh", "undated"]


# -- issue 20: day words in articles, read against the article's date ----------------------

def test_day_words_are_read_against_the_articles_own_date():
    from datetime import date
    from rag.answer.timeline import day_words
    cases = [("halted it at 11 p.m. the night before", "2023-10-09", date(2023, 10, 8)),
             ("the council voted last Tuesday", "2023-10-20", date(2023, 10, 17)),
             ("was sworn in on Monday", "2023-10-24", date(2023, 10, 23)),
             ("conceded on Sunday afternoon", "2023-10-16", date(2023, 10, 15)),
             ("the recount that ended on Saturday", "2023-10-15", date(2023, 10, 14)),
             ("talks broke down yesterday", "2024-05-17", date(2024, 5, 16)),
             ("the committee will meet on Wednesday", "2023-10-09", date(2023, 10, 11)),
             ("a fire on Thursday of last week", "2023-10-16", date(2023, 10, 12)),
             ("the vote on Monday", "2023-10-09", date(2023, 10, 9))]
    for sentence, written, meant in cases:
        assert [d for _, d, _ in day_words(sentence, written)] == [meant], sentence
    assert day_words("on Sunday", None) == []
