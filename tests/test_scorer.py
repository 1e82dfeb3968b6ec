"""The extractive generator's fitted sentence scorer: its weights file, the dense
similarity with the bundled model, and the fitting script's regression."""

import json

import numpy as np
import pytest

from eval.fit_scorer import Probe, choose_threshold, decide, fit
from rag.answer.extractive.scorer import (FEATURES, WEIGHTS_PATH, DenseSimilarity, ScorerError,
                                          SentenceScorer)
from rag.config import Settings
from rag.index.embeddings import get_embeddings


def test_the_packaged_weights_name_every_feature_and_a_threshold():
    data = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert set(data["weights"]) == set(FEATURES)
    scorer = SentenceScorer.load()
    assert 0.0 <= scorer.threshold < 1.0 and scorer.embed_top >= 0
    assert "fit_scorer" in data["meta"].get("command", ""), "weights must come from the fitting script"


def test_a_broken_weights_file_is_named_in_the_error(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text("{\"weights\": {}}", encoding="utf-8")
    with pytest.raises(ScorerError, match="weights.json.*eval.fit_scorer"):
        SentenceScorer.load(path)


def test_a_missing_dense_feature_counts_as_its_mean():
    scorer = SentenceScorer({name: 1.0 for name in FEATURES}, -2.0, 0.1, dense_mean=0.5)
    assert scorer.logit({"own": 1.0}) == pytest.approx(-2.0 + 1.0 + 0.5)
    assert scorer.probability({"own": 1.0, "dense": 0.9}) > scorer.probability({"own": 1.0, "dense": 0.1})


def test_the_bundled_model_finds_the_sentence_that_answers_in_other_words():
    similarity = DenseSimilarity(get_embeddings(Settings()))
    question = "What is happening at the port of Felixstowe?"
    scores = similarity(question, [
        "Dock workers at Felixstowe walked out on Monday, halting container traffic.",
        "The council approved a new library budget for the next school year."])
    assert scores[0] > scores[1]


def _probe(id_: str, rows: list[tuple[float, bool]], held: bool = False,
           answerable: bool = True) -> Probe:
    features = [{"own": own, "dense": 0.8, "typed": 0.0} for own, _ in rows]
    return Probe("toy", id_, held, answerable, False, features, [y for _, y in rows])


def test_the_fit_gives_the_telling_feature_a_positive_weight_and_ranks_with_it():
    rng = np.random.default_rng(0)
    probes = []
    for i in range(40):
        good = float(rng.uniform(0.5, 1.0))
        probes.append(_probe(f"q{i}", [(good, True)] + [(float(rng.uniform(0, 0.6)), False)
                                                          for _ in range(4)]))
    weights, bias = fit(probes, ("own", "dense"))
    assert weights["own"] > 1.0
    scorer = SentenceScorer({n: weights.get(n, 0.0) for n in FEATURES}, bias, 0.0, embed_top=3)
    assert np.mean([decide(p, scorer)[1] for p in probes]) > 0.8
    threshold = choose_threshold(probes, scorer, 0.05)
    refused = np.mean([decide(p, scorer)[0] < threshold for p in probes])
    assert 0.0 < threshold < 1.0 and refused <= 0.05
