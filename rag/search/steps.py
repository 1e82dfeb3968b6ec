"""Post-retrieval steps: functions applied, in order, to the fused candidates before the
top k go to the generator (collapse syndicated copies, prefer recent articles, rerank).

A step takes the candidates (best first), the `Query` and the settings, and returns
candidates in a new order or fewer of them. `STEPS` is the one registry: the settings
check (`post_retrieval`) reads it, and the answer JSON names the steps that ran.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from rag.config import ConfigError, Settings
from rag.records import Filters, Passage
from rag.search.copies import collapse_copies


@dataclass
class Query:
    """What a step may know about the question being answered."""

    question: str
    filters: Filters = Filters()
    top_k: int = 5
    as_of: str | None = None   # answer as if on this date (YYYY-MM-DD); None: today
    extra: dict[str, Any] = field(default_factory=dict)


Step = Callable[[list[Passage], Query, Settings], list[Passage]]


def per_article_limit(passages: list[Passage], query: Query, settings: Settings) -> list[Passage]:
    """At most `max_passages_per_article` passages from one article, so that one long
    article cannot fill the top k."""
    taken: Counter[str] = Counter()
    kept = []
    for passage in passages:
        taken[passage.doc_id] += 1
        if taken[passage.doc_id] <= settings.max_passages_per_article:
            kept.append(passage)
    return kept


from rag.search.time import time_rank  # noqa: E402  (its module needs Query, above)

STEPS: dict[str, Step] = {
    "per_article_limit": per_article_limit,
    "collapse_copies": collapse_copies,
    "time_rank": time_rank,
}


def make_steps(names: list[str]) -> list[tuple[str, Step]]:
    """The configured steps, in order; an unknown name fails at start-up."""
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ConfigError(f"setting post_retrieval names unknown step(s) {', '.join(unknown)}; "
                          f"known steps: {', '.join(sorted(STEPS))}")
    return [(name, STEPS[name]) for name in names]
