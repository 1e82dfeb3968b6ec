"""The dated eval set: its format (as_of), its size and coverage, and its own corpus."""

import pytest

from eval.datasets import DATED_CORPUS, DATED_PATH, DatasetError, check_evidence, load_jsonl, parse_record
from eval.harness import plan_dataset
from rag.config import Settings
from rag.sources.files import load_corpus

TIME_TAGS = {"time", "recency", "as-of", "timeline"}


def _record(**extra):
    return {"id": "d-1", "question": "Who?", "reference_answer": "", "answerable": False,
            "evidence": [], **extra}


def test_a_record_may_be_asked_as_of_a_date():
    assert parse_record(_record(as_of="2024-06-03"), "x").as_of == "2024-06-03"
    assert parse_record(_record(), "x").as_of is None


@pytest.mark.parametrize("bad", ["June 3", "2024-6-3", "2024-13-01", 20240603])
def test_an_as_of_that_is_not_a_date_names_the_field(bad):
    with pytest.raises(DatasetError, match="as_of"):
        parse_record(_record(as_of=bad), "dated.jsonl line 1")


def test_the_dated_set_covers_time_stories_copies_and_refusals():
    records = load_jsonl(DATED_PATH)
    articles = {a.doc_id: a for a in load_corpus(DATED_CORPUS).articles}
    assert len(records) >= 30 and len(articles) >= 15
    assert sum(1 for r in records if TIME_TAGS & set(r.tags)) >= 10
    assert all(any(tag in r.tags for r in records) for tag in TIME_TAGS)
    assert sum(1 for r in records if not r.answerable) >= 5
    assert len({doc.split("-")[0] for doc in articles}) >= 3
    assert any(doc.endswith("-copy.md") for doc in articles)
    assert all(a.date for a in articles.values())
    assert check_evidence(records, articles) == []


def test_the_dated_plan_uses_its_own_corpus_not_corpus_dir(tmp_path):
    plan = plan_dataset("dated", Settings(corpus_dir=tmp_path), tmp_path)
    assert plan.name == "dated" and plan.corpus_dir == DATED_CORPUS
