"""One fitted scorer for the extractive generator's candidate sentences.

A sentence is described by a few features (`FEATURES`): its dense similarity to the
question with the bundled e5 model (`query:` / `passage:`, the model the retriever uses
by default), whether it holds a candidate of the asked kind, the idf-weighted share of
the question's words in it, its neighbours and its passage, whether its passage holds
the names and numbers the question gives (and how many of them no passage
holds), the passage's rank, dense similarity and date
(against the newest passage), and how early it sits in its article. The probability
that it holds the answer is a logistic function of them whose weights were fitted by
`python -m eval.fit_scorer` on the calibration parts of the eval sets and stored in
`scorer_weights.json` beside this module (with the refusal threshold fitted there too).

Embedding a sentence costs ~10-50 ms here, so only the `embed_top` sentences ranked
best without the dense feature are embedded; the rest keep their partial score, which
can only lose to an embedded sentence with the same cheap features.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rag.records import cosine

WEIGHTS_PATH = Path(__file__).with_name("scorer_weights.json")
FEATURES = ("dense", "own", "window", "passage", "typed", "typed_close", "untyped",
            "named", "absent", "absent_number", "rank", "passage_dense", "recency", "lead")


class ScorerError(ValueError):
    """The weights file is missing or malformed; the message names it."""


@dataclass
class SentenceScorer:
    """Logistic scorer: p = sigmoid(bias + sum(weight * feature))."""

    weights: dict[str, float]
    bias: float
    threshold: float                      # refuse when the best probability is below it
    embed_top: int = 6                    # sentences embedded per question
    dense_mean: float = 0.8               # stands in for the dense feature before embedding
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> "SentenceScorer":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            weights = {name: float(data["weights"].get(name, 0.0)) for name in FEATURES}
            return cls(weights, float(data["bias"]), float(data["threshold"]),
                       int(data.get("embed_top", 6)), float(data.get("dense_mean", 0.8)),
                       data.get("meta", {}))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise ScorerError(f"scorer weights {path} cannot be read ({err}); refit them with "
                              "`python -m eval.fit_scorer` or reinstall the package") from err

    def to_json(self) -> str:
        return json.dumps({"weights": self.weights, "bias": self.bias, "threshold": self.threshold,
                           "embed_top": self.embed_top, "dense_mean": self.dense_mean,
                           "meta": self.meta}, indent=2) + "\n"

    def logit(self, features: dict[str, float]) -> float:
        """The score before the sigmoid; a missing dense feature counts as its mean."""
        values = dict(features)
        values.setdefault("dense", self.dense_mean)
        return self.bias + sum(self.weights[name] * values.get(name, 0.0) for name in FEATURES)

    def probability(self, features: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, self.logit(features)))))


SHORT_FEATURES = ("probability", "margin", "support", "weak", "rivals")


@dataclass
class ShortAnswerGate:
    """Whether to show a typed short answer: p = sigmoid(bias + sum(weight * feature))
    over the chosen sentence's probability, its lead over the next sentence, how many
    other passages repeat the candidate, whether its unit is a weak one (any name answers
    "who", any date "when") and how many other candidates of the asked kind the sentence
    holds; shown when p >= threshold. Fitted by `python -m eval.fit_short` on the
    calibration parts (threshold: the calibration precision it aims at)."""

    weights: dict[str, float]
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> "ShortAnswerGate":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))["short_gate"]
            return cls({name: float(data["weights"].get(name, 0.0)) for name in SHORT_FEATURES},
                       float(data["bias"]), float(data["threshold"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise ScorerError(f"short-answer gate in {path} cannot be read ({err}); refit it with "
                              "`python -m eval.fit_short --write` or reinstall the package") from err

    def probability(self, features: dict[str, float]) -> float:
        logit = self.bias + sum(self.weights[name] * features.get(name, 0.0) for name in SHORT_FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


def short_features(probability: float, next_probability: float, support: int, weak: bool,
                   rivals: int) -> dict[str, float]:
    """The gate's features (see ShortAnswerGate)."""
    return {"probability": probability, "margin": probability - next_probability,
            "support": math.log1p(support), "weak": float(weak), "rivals": math.log1p(rivals)}


class DenseSimilarity:
    """Cosine similarity of sentences to a question with an embedding model
    (LangChain `Embeddings`), caching the last questions' vectors."""

    def __init__(self, embeddings, cache_size: int = 64) -> None:
        self.embeddings = embeddings
        self._queries: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _query(self, question: str) -> list[float]:
        with self._lock:
            if question in self._queries:
                self._queries.move_to_end(question)
                return self._queries[question]
        vector = self.embeddings.embed_query(question)
        with self._lock:
            self._queries[question] = vector
            while len(self._queries) > self._cache_size:
                self._queries.popitem(last=False)
        return vector

    def __call__(self, question: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        query = self._query(question)
        documents = self.embeddings.embed_documents(list(texts))
        return [cosine(query, d) for d in documents]
