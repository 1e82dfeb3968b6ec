"""The fresh sets (eval/datasets/unseen*, eval/datasets/stories*, eval/datasets/science*): written
before any change to the answerer or the story features and frozen since; their format and
evidence hold, the story set has the wire copies, correction, conflict and relative days it was
written for, and the science set its verbatim golds, as-of dates and follow-ups."""

import hashlib
import re
from datetime import date
from pathlib import Path

import pytest

from eval.datasets import DATASETS_DIR, check_evidence, load_jsonl
from eval.fresh_sets import copy_pairs, shingle_overlap
from rag.sources.files import load_corpus

# sha256 over each set's JSONL file and its articles (python: see _digest). The sets are
# frozen: a fresh set is never edited after its "before" score; write a new set instead.
FROZEN = {
    "unseen": "1e0e565977717271ae3fb0d454be635a17e6d10902a7d59833848f6c3e7b77d5",
    "stories": "c52c285c2e83e613d52e55666ac342dfa9294ef6a731392bd726a92918b56f7f",
    "science": "c5ed60820968b387bfad824babcde2b17fcb04633fa7039a10b62902dd473461",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DATE = re.compile(r"(January|February|March|April|May|June|July|August|September|October|"
                   r"November|December) (\d{1,2}), (\d{4})")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def _digest(name: str) -> str:
    sha = hashlib.sha256()
    for path in [DATASETS_DIR / f"{name}.jsonl", *sorted((DATASETS_DIR / name).glob("*.md"))]:
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def _set(name: str):
    records = load_jsonl(DATASETS_DIR / f"{name}.jsonl")
    articles = {a.doc_id: a for a in load_corpus(Path(DATASETS_DIR / name)).articles}
    return records, articles


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_a_fresh_set_is_not_edited_after_its_before_score(name):
    assert _digest(name) == FROZEN[name], (
        f"eval/datasets/{name}.jsonl or eval/datasets/{name}/ changed; the fresh sets are frozen "
        "(eval/datasets/README.md, 'Fresh sets'): revert the edit and write a new set instead")


@pytest.mark.parametrize("name, questions, unanswerable",
                         [("unseen", 37, 8), ("stories", 28, 6), ("science", 40, 8)])
def test_a_fresh_set_has_its_documented_size_and_every_evidence_in_its_articles(
        name, questions, unanswerable):
    records, articles = _set(name)
    assert len(records) == questions and len(articles) == 13
    assert sum(not r.answerable for r in records) == unanswerable
    assert check_evidence(records, articles) == []


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_articles_carry_front_matter_dated_as_their_file_names(name):
    _, articles = _set(name)
    for doc_id, article in articles.items():
        assert article.title and article.source and article.byline, doc_id
        assert article.date and article.date in doc_id, doc_id
    assert len({a.source for a in articles.values()}) >= 3


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_answerable_records_have_short_answers_and_gold_unanswerable_ones_nothing(name):
    records, articles = _set(name)
    for record in records:
        if not record.answerable:
            assert record.evidence == [] and record.doc_ids == [] and not record.short_answers
            assert "unanswerable" in record.tags and record.gold is None, record.id
            continue
        assert record.doc_ids and record.gold is not None, record.id
        if "relative-day" in record.tags:
            continue  # their short answers are the resolved dates (checked below)
        texts = [articles[d].text for d in record.doc_ids]
        for short in record.short_answers:
            assert any(short in text for text in texts), f"{record.id}: {short!r} not verbatim"


def test_relative_day_answers_name_the_weekday_of_their_resolved_date_not_the_dateline():
    records, articles = _set("stories")
    relative = [r for r in records if "relative-day" in r.tags]
    assert len(relative) >= 6
    for record in relative:
        first = record.short_answers[0]
        day = date(int((m := _DATE.search(first)).group(3)), MONTHS.index(m.group(1)) + 1,
                   int(m.group(2)))
        assert WEEKDAYS[day.weekday()] in first.split(",")[0], record.id
        datelines = {articles[d].date for d in record.doc_ids}
        assert day.isoformat() not in datelines or record.id == "stories-001", record.id


def test_the_wire_story_is_carried_by_three_outlets_with_house_edits():
    _, articles = _set("stories")
    wire = [a for d, a in articles.items() if "2023-10-09-lakesidewire" in d
            or d.endswith("-copy.md")]
    assert len({a.source for a in wire}) == 3 and len({a.date for a in wire}) == 2
    assert copy_pairs(wire) == 3                     # each pair overlaps as copies do
    texts = " ".join(a.text for a in wire)
    for a_style, b_style in (("11 p.m.", "11pm"), ("poll workers", "pollworkers"),
                             ("backup", "back-up"), ("88 per cent", "88%")):
        assert a_style in texts and b_style in texts
    assert "Editor's note" in texts
    turnout = [a for d, a in articles.items() if "turnout" in d]
    assert max(shingle_overlap(w.text, t.text) for w in wire for t in turnout) < 0.6
    assert copy_pairs(wire + turnout) == 3        # independent reports of the same night are not copies


def test_the_correction_conflict_and_as_of_records_point_at_what_they_test():
    records, articles = _set("stories")
    by_tag = {t: [r for r in records if t in r.tags] for t in ("correction", "conflict", "as-of")}
    correction = [r for r in by_tag["correction"] if r.answerable][0]
    assert any(articles[d].text.startswith("Correction:") for d in correction.doc_ids)
    conflict = by_tag["conflict"][0]
    docs = [articles[d] for d in conflict.doc_ids]
    assert len({a.source for a in docs}) == 2 and len({a.date for a in docs}) == 1
    for record in by_tag["as-of"]:
        assert all(articles[d].date <= record.as_of for d in record.doc_ids), record.id


def test_science_golds_are_verbatim_and_its_as_of_and_follow_up_records_are_well_formed():
    records, articles = _set("science")
    for record in records:
        if record.answerable:
            texts = [articles[d].text.lower() for d in record.doc_ids]
            for spellings in record.gold:       # each gold needs one spelling in its articles
                assert any(s.lower() in t for s in spellings for t in texts), record.id
        if record.as_of:
            assert all(articles[d].date <= record.as_of for d in record.doc_ids), record.id
        if "followup" in record.tags:
            assert record.history and record.history[-1]["role"] == "assistant", record.id
    kinds = {t for r in records for t in r.tags}
    assert {"who", "when", "where", "why", "which", "recency", "as-of", "followup"} <= kinds
    assert sum(1 for r in records if r.as_of) >= 2 and sum(1 for r in records if r.history) >= 2
    he_said = [r for r in records if "quote" in r.tags
               and any(e.endswith("he said.") for e in r.evidence)]
    assert len(he_said) >= 1                      # a quote attributed by 'he said' after a name
    # the as-of unanswerable question is answerable without its date (science-014 / -039)
    timed = [r for r in records if not r.answerable and r.as_of]
    assert timed and all(any(o.answerable and o.question == r.question and not o.as_of
                             for o in records) for r in timed)
