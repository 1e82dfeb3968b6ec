"""Post-retrieval steps: applied, in order, to the fused candidates before the top k go to
the generator (collapse syndicated copies, prefer recent articles, rerank).

A step is a `rag.search.query.Step` registered by name (`register_step`); `STEPS` is the
one registry: the settings check (`make_steps`, for `post_retrieval`) reads it, and the
answer JSON names the steps that ran. This module loads the built-in steps, so importing
it makes every one of them known.
"""

from __future__ import annotations

from collections import Counter

import rag.search.copies  # noqa: F401  (registers collapse_copies)
import rag.search.time  # noqa: F401  (registers time_rank)
from rag.config import ConfigError, Settings
from rag.records import Passage
from rag.search.query import STEPS, Query, Step, register_step

__all__ = ["STEPS", "Query", "Step", "PerArticleLimit", "make_steps", "register_step"]


@register_step("per_article_limit")
class PerArticleLimit(Step):
    """At most `max_passages_per_article` passages from one article, so that one long
    article cannot fill the top k."""

    def __init__(self, max_per_article: int = 2) -> None:
        self.max_per_article = max_per_article

    @classmethod
    def from_settings(cls, settings: Settings) -> "PerArticleLimit":
        return cls(settings.max_passages_per_article)

    def __call__(self, passages: list[Passage], query: Query) -> list[Passage]:
        taken: Counter[str] = Counter()
        kept = []
        for passage in passages:
            taken[passage.doc_id] += 1
            if taken[passage.doc_id] <= self.max_per_article:
                kept.append(passage)
        return kept


def make_steps(settings: Settings) -> list[Step]:
    """The configured steps, in order, each built from the settings; an unknown name fails
    at start-up."""
    names = settings.post_retrieval
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ConfigError(f"setting post_retrieval names unknown step(s) {', '.join(unknown)}; "
                          f"known steps: {', '.join(sorted(STEPS))}")
    return [STEPS[name].from_settings(settings) for name in names]
