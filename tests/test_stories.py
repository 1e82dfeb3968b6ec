"""End to end over the frozen `stories` set's articles (eval/datasets/stories, read-only)
in a real store: conflicts and corrections in the answer, "when" answers read against
the article's date, and an empty time filter explained."""

from __future__ import annotations

import pytest

from tests.support.settings import EVAL_SETS, ingested_copy

STORIES = EVAL_SETS / "stories"


@pytest.fixture(scope="module")
def stories_desk(tmp_path_factory):
    from rag.answer.pipeline import Newsdesk

    return Newsdesk(ingested_copy(STORIES, tmp_path_factory.mktemp("stories")))


def test_the_answer_names_the_turnout_conflict_and_cites_both_outlets(stories_desk):
    answer = stories_desk.answer("What was the turnout in the Dunmore mayoral election?",
                                 as_of="2023-10-25").to_dict()
    assert [c["about"] for c in answer["conflicts"]] == ["turnout"]
    values = answer["conflicts"][0]["values"]
    assert {v["text"] for v in values} == {"61.4 per cent", "57.8%"}
    assert set(values[0]) == {"text", "n", "source", "date"}
    assert "Reports differ on turnout" in answer["answer"]
    cited = {c["n"] for c in answer["citations"]}
    assert {v["n"] for v in values} <= cited


def test_the_corrected_figure_is_said_with_the_one_it_corrects(stories_desk):
    answer = stories_desk.answer("How many unopened postal ballots were found at the Civic Hall?",
                                 as_of="2023-10-25").to_dict()
    assert "1,410 postal ballots, corrected from 1,140" in answer["answer"]
    assert answer["conflicts"][0]["kind"] == "correction"


def test_an_answer_without_disagreement_has_an_empty_conflicts_list(stories_desk):
    answer = stories_desk.answer("Who is the returning officer in Dunmore?", as_of="2023-10-25")
    assert answer.to_dict()["conflicts"] == []


@pytest.mark.parametrize("question, day", [
    ("When was the Dunmore mayoral count halted?", "Sunday, October 8, 2023"),
    ("When did Tomas Reyes concede?", "Sunday, October 15, 2023"),
    ("When did the recount end?", "Saturday, October 14, 2023"),
    ("When was Helena Marsh sworn in for her second term?", "Monday, October 23, 2023"),
])
def test_a_when_answer_gives_the_day_the_article_means_not_its_dateline(stories_desk, question, day):
    answer = stories_desk.answer(question, as_of="2023-10-25")
    assert answer.answer.startswith(day), answer.answer
    assert answer.citations and not answer.refused


def test_an_empty_time_filter_is_explained_with_its_range_and_the_newest_article(stories_desk):
    answer = stories_desk.answer("What happened in the Dunmore mayoral race in the previous week?",
                                 as_of="2023-10-03")
    assert answer.refused and answer.outcome.value == "refused-no-passages"
    assert "from September 25, 2023 to October 1, 2023" in answer.answer
    assert "as-of date October 3, 2023" in answer.answer
    assert "newest article is dated October 24, 2023" in answer.answer


def test_the_timeline_is_a_chronology_over_the_whole_story_one_event_a_day(stories_desk):
    import re
    answer = stories_desk.answer("How did the Dunmore election count unfold?", as_of="2023-10-25")
    days = re.findall(r"(?:^|\] )(\w+ \d{1,2}, \d{4}):", answer.answer)
    assert days[0] == "October 9, 2023" and days[-1] == "October 24, 2023"
    assert len(days) == len(set(days)) >= 5
    assert "DUNMORE" not in answer.answer and "(Lakeside Wire) –" not in answer.answer
    docs = [c.doc_id for c in answer.citations]
    assert not any(doc.endswith("-copy.md") for doc in docs)


def test_copies_of_the_wire_story_give_one_passage_listing_the_others(stories_desk):
    passages = stories_desk.answer("Why was counting in the Dunmore election stopped?",
                                   as_of="2023-10-25").passages
    wire = [p for p in passages if p.doc_id.endswith("lakesidewire.md") and "power cut" in p.text]
    assert wire and {c["source"] for c in wire[0].copies} == {"Dunmore Courier", "Eastfield Gazette"}
    assert not any(p.doc_id.endswith("-copy.md") for p in passages)


def test_the_previous_week_of_a_past_story_is_read_against_that_story_when_today_finds_nothing(
        stories_desk):
    answer = stories_desk.answer("What happened in the Dunmore mayoral race in the previous week?")
    data = answer.to_dict()
    assert not answer.refused and answer.citations
    assert data["time"]["read_against"] == "2023-10-24"
    assert (data["time"]["date_from"], data["time"]["date_to"]) == ("2023-10-16", "2023-10-22")
    assert answer.answer.startswith('No article is dated "previous week" read against today; '
                                    "read against this story's latest report (October 24, 2023)")
    assert all("2023-10-16" <= c.date <= "2023-10-24" for c in answer.citations)


def test_a_relative_question_naming_no_story_keeps_the_empty_filter_explained(stories_desk):
    answer = stories_desk.answer("What did the Rotterdam port strike cost the shippers last week?")
    assert answer.refused and answer.to_dict()["time"]["read_against"] is None
    assert "read against today" in answer.answer and "newest article is dated October 24, 2023" \
        in answer.answer


def test_the_story_time_note_is_streamed_first(stories_desk):
    events = list(stories_desk.stream("What happened in the Dunmore mayoral race in the previous week?"))
    assert events[0].startswith('No article is dated "previous week" read against today')
    assert events[-1].answer.startswith(events[0].strip())


@pytest.fixture
def model_desk(stories_desk):
    """The stories store answered by an OpenAI model (the fake server on 127.0.0.1)."""
    from rag.answer.pipeline import Newsdesk
    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI("The count was halted on Sunday, October 8, 2023 [1].") as fake:
        settings = stories_desk.settings.with_changes(generator="openai", base_url=fake.base_url,
                                                      api_key="sk-test-not-real")
        yield Newsdesk(settings), fake


def _prompt(fake) -> str:
    return fake.requests[-1]["body"]["messages"][-1]["content"]


def _days_meant(prompt: str, title: str) -> str:
    """The "Days meant" line the prompt gives after the passage titled `title`."""
    block = prompt.split(title, 1)[1].split("\n\n[", 1)[0]
    return next(line for line in block.splitlines() if line.startswith("Days meant"))


@pytest.mark.parametrize("streaming", [True, False])
def test_a_streaming_model_is_given_the_date_a_day_word_means(model_desk, streaming):
    desk, fake = model_desk
    question = "When was the Dunmore mayoral count halted?"
    if streaming:
        events = list(desk.stream(question, as_of="2023-10-25"))
        answer = events[-1]
        assert fake.requests[-1]["body"].get("stream") is True
    else:
        answer = desk.answer(question, as_of="2023-10-25")
    line = _days_meant(_prompt(fake), "Power cut halts Dunmore mayoral count")
    assert line.startswith("Days meant (article dated Monday, October 9, 2023): ")
    assert '"the night before" = Sunday, October 8, 2023' in line
    assert answer.answer.startswith("The count was halted on Sunday, October 8, 2023")
    assert answer.citations and not answer.refused


def test_a_model_timeline_is_given_the_dates_day_words_mean(model_desk):
    desk, fake = model_desk
    desk.answer("How did the Dunmore election count unfold?", as_of="2023-10-25")
    prompt = _prompt(fake)
    assert '"the night before" = Sunday, October 8, 2023' in _days_meant(
        prompt, "Power cut halts Dunmore mayoral count")
    assert '"on Sunday afternoon" = Sunday, October 15, 2023' in _days_meant(
        prompt, "Reyes concedes Dunmore mayoral race")


def test_the_previous_week_of_the_as_of_date_is_told_as_a_dated_list_of_that_week(stories_desk):
    import re
    answer = stories_desk.answer("What happened in the Dunmore mayoral race in the previous week?",
                                 as_of="2023-10-16")
    days = re.findall(r"(?:^|\] )(\w+ \d{1,2}, \d{4}):", answer.answer)
    assert len(days) >= 3 and days[0] == "October 9, 2023" and days[-1] == "October 15, 2023"
    assert "by 212 votes" in answer.answer and "a lead of 555" in answer.answer
    assert all("2023-10-09" <= c.date <= "2023-10-15" for c in answer.citations)
