"""The one place that decides whether an answer is given or refused, and why.

Every surface reads the typed `Outcome` (the answer JSON's `outcome` field) instead of
matching the refusal sentence.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.answer.generators.base import Draft


class Outcome(str, Enum):
    """How a question ended: answered, or refused and at which stage."""

    ANSWERED = "answered"
    NO_PASSAGES = "refused-no-passages"      # retrieval found nothing (or top_k is 0)
    NOT_RELEVANT = "refused-not-relevant"    # the best passage is below min_relevance
    BY_EVIDENCE = "refused-by-evidence"      # the generator found no supporting sentence
    BY_MODEL = "refused-by-model"            # the model said the passages lack the answer
    EMPTY = "refused-empty"                  # the draft held no text once its markers were checked

    @property
    def refused(self) -> bool:
        return self is not Outcome.ANSWERED


def retrieval_outcome(has_passages: bool, relevance: float, min_relevance: float) -> Outcome | None:
    """The refusal decided before any generator runs, or None to go on and generate."""
    if not has_passages:
        return Outcome.NO_PASSAGES
    if relevance < min_relevance:
        return Outcome.NOT_RELEVANT
    return None


def draft_outcome(draft: "Draft | None", checked_text: str) -> Outcome:
    """The outcome of a generator's draft whose markers were checked into `checked_text`."""
    if draft is None:
        return Outcome.NOT_RELEVANT
    if draft.refused:
        return draft.reason or Outcome.BY_EVIDENCE
    if not checked_text.strip():
        return Outcome.EMPTY
    return Outcome.ANSWERED
