"""Syndicated copies: group the articles that carry one story.

A wire story is republished with a new headline, a trimmed or reordered body, a
rewritten first sentence, house style ("11 p.m."/"11pm", "88 per cent"/"88%",
"dock workers"/"dockworkers", "cease-fire"/"ceasefire", curly or straight quotes), an
editor's note, a byline or credit line, another dateline, a day later. Articles are
compared by their shingles in one house style (`rag.housestyle`: those edits taken out,
compound words matched by space-free character shingles).

Two articles are copies when their containment reaches `copy_threshold`: shared shingles
over the smaller article's, or over either article's leading paragraphs after its lede
(`LEAD_WORDS` words), so a rewritten lede, an added note or a cut ending does not split
a story. Candidate pairs come from an inverted index of shingles, and
containment is then counted exactly. Copies are grouped transitively into a story whose
original is the earliest-dated article (tie: the longest, then the smallest doc id); the
story id is the original's doc id.

Grouping is for display and collapsing only: chunks share a vector only when their texts
match (`rag.index.chunks.text_key`), so a copy that changed a fact keeps its own chunk.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from rag.housestyle import (house_words, overlap, paragraph_words, shingles, shingles_of,  # noqa: F401
                            story_paragraphs)

LEAD_WORDS = 120          # the leading paragraphs: whole paragraphs up to this many words
MIN_LEAD_WORDS = 40       # fewer words after the lede than this: no lead to compare
COMMON_SHINGLE = 50       # a shingle in more articles than this proposes no pairs
MIN_SHARED = 3            # a candidate pair shares at least this many shingles


def lead_shingles(text: str, size: int) -> set[int]:
    """The shingles of the leading paragraphs after the lede (the first paragraph, which
    a republishing outlet often rewrites): whole paragraphs up to LEAD_WORDS words; none
    when fewer than MIN_LEAD_WORDS words follow the lede."""
    words: list[str] = []
    for paragraph in story_paragraphs(text)[1:]:
        if len(words) >= LEAD_WORDS:
            break
        words += paragraph_words(paragraph)
    return shingles_of(words, size) if len(words) >= MIN_LEAD_WORDS else set()


def text_from_chunks(spans: list[tuple[int, str]]) -> str:
    """An article's text put back together from its chunks (start offset, text): the
    same words whether read from the file or from the catalog."""
    length = max((start + len(text) for start, text in spans), default=0)
    buffer = [" "] * length
    for start, text in spans:
        buffer[start:start + len(text)] = text
    return "".join(buffer)


@dataclass
class Fingerprint:
    """What grouping needs of one article."""

    doc_id: str
    date: str          # YYYY-MM-DD or ""
    length: int        # characters of text: the more complete copy is the longer one
    shingles: set[int] = field(default_factory=set)
    lead: set[int] = field(default_factory=set)

    @property
    def size(self) -> int:
        return len(self.shingles)


def fingerprint(doc_id: str, date: str | None, text: str, shingle_words: int) -> Fingerprint:
    """The article's shingles, whole and of its leading paragraphs."""
    return Fingerprint(doc_id, date or "", len(text.strip()), shingles(text, shingle_words),
                       lead_shingles(text, shingle_words))


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Containment: shared shingles over the smaller article's, or the larger share of
    either article's leading paragraphs found in the other."""
    if not a.shingles or not b.shingles:
        return 0.0
    whole = len(a.shingles & b.shingles) / min(len(a.shingles), len(b.shingles))
    return max(whole, overlap(a.lead, b.shingles), overlap(b.lead, a.shingles))


def _original_key(item: Fingerprint) -> tuple:
    return (item.date == "", item.date, -item.length, item.doc_id)


def _candidates(items: dict[str, Fingerprint]) -> set[tuple[str, str]]:
    """Pairs of articles sharing at least MIN_SHARED uncommon shingles."""
    postings: dict[int, list[str]] = {}
    for doc_id, item in items.items():
        for shingle in item.shingles:
            postings.setdefault(shingle, []).append(doc_id)
    shared: Counter = Counter()
    for docs in postings.values():
        if 1 < len(docs) <= COMMON_SHINGLE:
            for i, one in enumerate(docs):
                for other in docs[i + 1:]:
                    shared[(one, other) if one < other else (other, one)] += 1
    return {pair for pair, count in shared.items() if count >= MIN_SHARED}


def group(fingerprints: Iterable[Fingerprint], threshold: float) -> dict[str, str]:
    """doc id -> story id (the doc id of its group's original) for every article."""
    items = {f.doc_id: f for f in fingerprints}
    parent = {doc_id: doc_id for doc_id in items}

    def root(doc_id: str) -> str:
        while parent[doc_id] != doc_id:
            parent[doc_id] = parent[parent[doc_id]]
            doc_id = parent[doc_id]
        return doc_id

    for one, other in sorted(_candidates(items)):
        if similarity(items[one], items[other]) >= threshold:
            parent[root(other)] = root(one)
    members: dict[str, list[Fingerprint]] = {}
    for doc_id, item in items.items():
        members.setdefault(root(doc_id), []).append(item)
    stories = {}
    for group_items in members.values():
        original = min(group_items, key=_original_key).doc_id
        for item in group_items:
            stories[item.doc_id] = original
    return stories


def count_copies(stories: dict[str, str]) -> tuple[int, int]:
    """(copies, stories with copies): articles that are not their story's original, and
    the stories that have any."""
    copies = [doc_id for doc_id, story in stories.items() if doc_id != story]
    return len(copies), len({stories[doc_id] for doc_id in copies})
