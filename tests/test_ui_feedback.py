"""The feedback log becomes a dataset of questions to review; standalone questions
are not rewritten as follow-ups."""

from __future__ import annotations

import json

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


def test_a_question_pointing_back_is_still_joined_to_the_previous_one():
    history = [{"role": "user", "content": "What did Lavrov demand?"}]

    condensed = ExtractiveGenerator(Settings()).condense("And what did Blinken say about it?", history)

    assert condensed == "And what did Blinken say about it? (What did Lavrov demand?)"
