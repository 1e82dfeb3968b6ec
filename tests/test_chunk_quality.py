"""The chunk-settings comparison of `rag eval` reports counts each question that changed."""

import json

import pytest

from eval.bench.chunk_quality import compare


def _report(path, overlap, outcomes):
    results = [{"id": qid, "refused": refused, "scores": {"hit_at_k": hit, "answer_accuracy": right}}
               for qid, hit, right, refused in outcomes]
    overall = {"answerable": len(results), "unanswerable": 0, "hit_at_k": 0.5, "mrr": 0.5,
               "answer_accuracy": 0.5, "false_refusal_rate": 0.0, "refusal_accuracy": None}
    settings = {"chunk_tokens": 160, "chunk_overlap": overlap}
    path.write_text(json.dumps({"dataset": "realtimeqa", "settings": settings,
                                "summary": {"overall": overall}, "results": results}))
    return path


def test_changes_are_counted_per_question_even_when_an_id_repeats(tmp_path):
    base = _report(tmp_path / "a.json", 40, [("q1", 1.0, 1.0, False), ("q1", 1.0, 0.0, False),
                                              ("q2", 0.0, 0.0, True)])
    other = _report(tmp_path / "b.json", 0, [("q1", 1.0, 0.0, True), ("q1", 1.0, 1.0, False),
                                             ("q2", 1.0, 0.0, True)])
    first, second = compare([base, other])
    assert first.startswith("realtimeqa   160/40") and "changed" not in first
    assert "160/0" in second and "changed: hit +1/-0, right +1/-1, refused +1/-0" in second


def test_reports_of_different_questions_are_not_compared(tmp_path):
    base = _report(tmp_path / "a.json", 40, [("q1", 1.0, 1.0, False)])
    other = _report(tmp_path / "b.json", 0, [("q2", 1.0, 1.0, False)])
    with pytest.raises(SystemExit, match="other questions"):
        compare([base, other])
