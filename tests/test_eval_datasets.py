"""Eval datasets: the JSONL format is validated, the seed set matches its article, and the
RGB adapter forms its corpus and answerable/unanswerable sets as its README says."""

import json

import pytest

from eval import rgb
from eval.datasets import SEED_PATH, DatasetError, check_evidence, load_jsonl, write_jsonl
from eval.gate import ThresholdsError, check, load_thresholds
from rag.sources.files import load_file
from tests.conftest import REPO, SEED_ARTICLE


def _write(tmp_path, *records):
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


GOOD = {"id": "q1", "question": "Who?", "reference_answer": "Him.", "answerable": True,
        "evidence": ["Him"]}


def test_seed_set_loads_with_its_documented_counts():
    records = load_jsonl(SEED_PATH)
    assert len(records) == 44
    assert sum(r.answerable for r in records) == 34
    assert sum(bool(r.history) for r in records) == 6


def test_every_seed_evidence_string_is_in_the_article_text_or_its_metadata():
    article = load_file(SEED_ARTICLE)[0]
    assert check_evidence(load_jsonl(SEED_PATH), {article.doc_id: article}) == []


def test_evidence_missing_from_the_article_is_reported_with_the_record_id(tmp_path):
    article = load_file(SEED_ARTICLE)[0]
    record = dict(GOOD, evidence=["Lavrov resigned"], doc_ids=[article.doc_id])
    problems = check_evidence(load_jsonl(_write(tmp_path, record)), {article.doc_id: article})
    assert len(problems) == 1 and problems[0].startswith("q1: evidence not found")


def test_a_missing_field_is_named_with_file_and_line(tmp_path):
    path = _write(tmp_path, GOOD, {k: v for k, v in GOOD.items() if k != "evidence"} | {"id": "q2"})
    with pytest.raises(DatasetError, match=r"set.jsonl line 2: missing field\(s\) evidence"):
        load_jsonl(path)


def test_a_duplicate_id_is_rejected(tmp_path):
    with pytest.raises(DatasetError, match="id 'q1' already used on line 1"):
        load_jsonl(_write(tmp_path, GOOD, GOOD))


def test_an_unknown_field_is_rejected_naming_it(tmp_path):
    with pytest.raises(DatasetError, match="unknown field\\(s\\) answr"):
        load_jsonl(_write(tmp_path, dict(GOOD, answr="x")))


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="bad.jsonl line 2: malformed JSON"):
        load_jsonl(path)


def test_answerable_must_be_a_boolean(tmp_path):
    with pytest.raises(DatasetError, match="'answerable' must be true or false"):
        load_jsonl(_write(tmp_path, dict(GOOD, answerable="yes")))


def test_written_records_load_back_unchanged(tmp_path):
    records = load_jsonl(SEED_PATH)
    write_jsonl(records, tmp_path / "copy.jsonl")
    assert load_jsonl(tmp_path / "copy.jsonl") == records


# --- RGB adapter, on made-up records in RGB's shape (no RGB data in the repo) ----

INSTANCES = [
    {"id": 0, "query": "Who acquired Instagram?", "answer": "Facebook",
     "positive": ["Facebook bought Instagram in 2012 for one billion dollars."],
     "negative": ["Instagram is a photo sharing app with filters and stories.", "Tiny."]},
    {"id": 1, "query": "Who acquired WhatsApp?", "answer": [["Facebook", "Meta"]],
     "positive": ["WhatsApp was acquired by Facebook in February 2014."],
     "negative": ["WhatsApp was founded by Jan Koum and Brian Acton in 2009."]},
]


def test_rgb_answerable_records_carry_the_gold_answer_and_its_spellings():
    plan = rgb.build("rgb-answerable", INSTANCES)
    assert [r.id for r in plan.records] == ["rgb-0", "rgb-1"]
    second = plan.records[1]
    assert second.answerable and second.gold == [["Facebook", "Meta"]]
    assert second.evidence == ["Facebook", "Meta"] and second.evidence_mode == "any"


def test_rgb_unanswerable_records_hide_the_positives_and_any_snippet_with_the_answer():
    plan = rgb.build("rgb-unanswerable", INSTANCES)
    first = plan.records[0]
    assert not first.answerable
    # its own positive, and query 1's positive, which also says "Facebook"
    assert set(first.exclude_doc_ids) == {rgb.snippet_doc_id(INSTANCES[0]["positive"][0]),
                                          rgb.snippet_doc_id(INSTANCES[1]["positive"][0])}


def test_rgb_corpus_skips_snippets_too_short_to_be_articles(tmp_path):
    plan = rgb.build("rgb", INSTANCES)
    assert "Tiny." not in plan.snippets and len(plan.snippets) == 4
    path = rgb.write_corpus(plan.snippets, tmp_path / "corpus-all")
    articles = load_file(path)
    assert {a.doc_id for a in articles} == {rgb.snippet_doc_id(s) for s in plan.snippets}


def test_rgb_limit_shrinks_the_corpus_to_the_asked_queries():
    plan = rgb.build("rgb", INSTANCES, limit=2)
    assert [r.id for r in plan.records] == ["rgb-0", "rgb-0-u"]
    assert plan.label == "1q" and len(plan.snippets) == 2


def test_rgb_folder_is_found_beside_the_repository():
    assert rgb.default_rgb_dir() == (REPO.parent / "shared" / "datasets" / "rgb").resolve()


# --- thresholds file -------------------------------------------------------------


def test_the_shipped_thresholds_have_a_seed_table():
    bars = load_thresholds("seed")
    assert bars["min"]["hit_at_k"] > 0 and "false_refusal_rate" in bars["max"]


def test_a_dataset_without_thresholds_is_an_error_naming_it():
    with pytest.raises(ThresholdsError, match="no thresholds for dataset 'nope'"):
        load_thresholds("nope")


def test_gate_failures_name_the_metric_and_the_gap():
    failures = check({"hit_at_k": 0.7, "false_refusal_rate": 0.3, "faithfulness": None},
                     {"min": {"hit_at_k": 0.9, "faithfulness": 0.8}, "max": {"false_refusal_rate": 0.15}})
    messages = [f.message() for f in failures]
    assert messages == ["hit_at_k = 0.700, below the minimum 0.9 by 0.200",
                        "faithfulness was not measured (needs >= 0.8)",
                        "false_refusal_rate = 0.300, above the maximum 0.15 by 0.150"]


def test_gate_passes_metrics_on_or_over_their_bars():
    assert check({"hit_at_k": 0.9, "false_refusal_rate": 0.15},
                 {"min": {"hit_at_k": 0.9}, "max": {"false_refusal_rate": 0.15}}) == []
