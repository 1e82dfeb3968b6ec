"""The plain records that flow through the pipeline (no I/O, no dependencies).

sources → Article · ingest → Chunk · index/search → Passage (with `Filters`) · answer →
Citation. `Span` is a piece of an article's text with its offsets. `cosine` is the
measure of a passage's `dense_similarity`.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Article:
    """One article: its normalised text and what is known about it."""

    doc_id: str
    text: str
    title: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    byline: str | None = None
    path: str = ""

    @property
    def content_hash(self) -> str:
        """sha256 of the text, to spot duplicates and changes."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Span:
    """A piece of text and where it sits in the article."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, ready to embed and store."""

    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass
class Passage:
    """A retrieved chunk: its text, where it sits in its article, and its scores."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    title: str
    date: str | None
    source: str | None
    url: str | None
    score: float = 0.0
    dense_similarity: float = 0.0
    bm25_score: float = 0.0
    n: int = 0
    story_id: str = ""   # the copy group (syndicated story) the article belongs to
    copies: list[dict] = field(default_factory=list)  # other articles carrying this text


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (a passage's `dense_similarity`, the index's
    measure: 1 - cosine distance); 0.0 when either is all zeros."""
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@dataclass
class Citation:
    """A checked citation: passage n, and the exact article text that backs the claim."""

    n: int
    doc_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    quote: str
    start: int
    end: int
    chunk_id: str = ""
    copies: list[dict] = field(default_factory=list)  # {doc_id,title,source,date,url} each


def date_int(value: str) -> int:
    """YYYY-MM-DD as the integer YYYYMMDD (the stored filter column); ValueError otherwise."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(f"date filter {value!r} must look like YYYY-MM-DD")
    return int(value.replace("-", ""))


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to a date range (inclusive, YYYY-MM-DD), some sources, and/or
    leave some articles out (as if they were not in the corpus)."""

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    exclude_doc_ids: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for value in (self.date_from, self.date_to):
            if value:
                date_int(value)

    @property
    def active(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources or self.exclude_doc_ids)

    def conditions(self) -> list[tuple[str, str, Any]]:
        """The one translation of the filters: (stored column, operator, value) triples,
        all of which a chunk must meet; the operators are >=, <=, in and not in. The
        catalog (SQL), the store (Chroma `where`) and `allows` each spell these."""
        found: list[tuple[str, str, Any]] = []
        if self.date_from:
            found.append(("date_int", ">=", date_int(self.date_from)))
        if self.date_to:
            found.append(("date_int", "<=", date_int(self.date_to)))
        if self.sources:
            found.append(("source", "in", list(self.sources)))
        if self.exclude_doc_ids:
            found.append(("doc_id", "not in", sorted(self.exclude_doc_ids)))
        return found

    def allows(self, date: str | None, source: str | None, doc_id: str) -> bool:
        """Whether a chunk with this date, source and article passes."""
        row = {"date_int": date_int(date) if date else 0, "source": source, "doc_id": doc_id}
        return all(_MEETS[op](row[column], value) for column, op, value in self.conditions())


_MEETS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
    "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}
