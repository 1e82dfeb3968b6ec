"""The feedback log becomes a dataset of questions to review; standalone questions
are not rewritten as follow-ups."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from eval.datasets import load_jsonl
from rag.answer.extractive import ExtractiveGenerator
from rag.config import Settings

ENTRY = {"time": "2026-11-29T08:00:00+00:00", "rating": "down", "comment": "wrong person",
         "question": "What did Lavrov demand?", "answer": "He demanded a reply. [1]",
         "refused": False,
         "citations": [{"n": 1, "doc_id": "000_3ff6c92db07b6aa6", "quote": "He demanded a reply.",
                        "start": 0, "end": 20}],
         "settings": {"top_k": 5}}


def test_rag_eval_from_feedback_writes_a_dataset_of_questions_to_review(tmp_path):
    from eval.cli import eval_command

    log = tmp_path / "feedback.jsonl"
    log.write_text(json.dumps(ENTRY) + "\n" + json.dumps({**ENTRY, "rating": "up"}) + "\n",
                   encoding="utf-8")
    out = tmp_path / "review.jsonl"

    result = CliRunner().invoke(eval_command, ["--from-feedback", str(log), "--out", str(out)])

    assert result.exit_code == 0, result.output
    records = load_jsonl(out)
    assert [r.question for r in records] == ["What did Lavrov demand?"] * 2
    assert {tuple(r.tags[:2]) for r in records} == {("feedback", "down"), ("feedback", "up")}
    assert records[0].evidence == ["He demanded a reply."] and "needs-review" in records[0].tags


def test_rag_eval_from_a_missing_feedback_log_says_where_it_looked(tmp_path):
    from eval.cli import eval_command

    result = CliRunner().invoke(eval_command, ["--from-feedback", str(tmp_path / "none.jsonl")])

    assert result.exit_code == 1 and "none.jsonl does not exist" in result.output


def test_a_question_that_names_its_people_is_not_rewritten_after_other_questions():
    history = [{"role": "user", "content": "What did Lavrov demand?"},
               {"role": "assistant", "content": "..."},
               {"role": "user", "content": "What did Blinken call the talks?"},
               {"role": "assistant", "content": "..."}]
    question = "Where did Blinken and Lavrov hold their talks?"

    assert ExtractiveGenerator(Settings()).condense(question, history) == question


def test_a_question_pointing_back_gets_the_earlier_topic_not_the_earlier_question():
    history = [{"role": "user", "content": "What did Lavrov demand?"}]

    condensed = ExtractiveGenerator(Settings()).condense("And what did Blinken say about it?", history)

    assert condensed == "What did Blinken say about it? (Lavrov demand)"


def test_a_follow_up_that_names_its_subject_loses_only_its_connective():
    history = [{"role": "user", "content": "What did Lavrov demand?"},
               {"role": "assistant", "content": "Lavrov demanded a written reply."}]

    assert ExtractiveGenerator(Settings()).condense("And what did Blinken say?", history) == \
        "What did Blinken say?"


def test_a_follow_up_to_a_follow_up_takes_the_topic_of_the_first():
    history = [{"role": "user", "content": "Who lost the Dunmore mayoral election?"},
               {"role": "assistant", "content": "..."},
               {"role": "user", "content": "And when did he concede?"}]

    condensed = ExtractiveGenerator(Settings()).condense("Why?", history)

    assert "Dunmore" in condensed and "When did he concede?" not in condensed


@pytest.mark.parametrize("message", ["🤔🤔🤔", "thanks", "Thank you!", "ok", "?!"])
def test_a_message_that_is_not_a_question_gets_a_short_reply(message):
    from rag.answer.followup import small_talk

    reply = small_talk(message)
    assert reply and len(reply) < 120


@pytest.mark.parametrize("message", ["Thanks, and what did he say?", "What did Lavrov demand?",
                                     "Blinken"])
def test_a_question_gets_no_small_talk_reply(message):
    from rag.answer.followup import small_talk

    assert small_talk(message) is None
