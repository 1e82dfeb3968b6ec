"""Syndicated copies: group the articles that carry one story.

A wire story is republished with a new headline, a trimmed or reordered body, house
spellings ("cease-fire"/"ceasefire"), an editor's note or another dateline. Each article
becomes a set of word shingles (after spelling normalisation) summarised by a MinHash
(`datasketch`); MinHash LSH proposes candidate pairs, and a pair is a copy when its
estimated containment (shared shingles over the smaller article's) reaches
`copy_threshold`, so a trimmed copy matches its fuller original. Copies are grouped
transitively into a story whose original is the earliest-dated article (tie: the longest,
then the smallest doc id); the story id is the original's doc id.

Grouping is for display and collapsing only: chunks share a vector only when their texts
match (`rag.index.chunks.text_key`), so a copy that changed a fact keeps its own chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH

from rag.text import comparable_words

NUM_PERM = 128
CANDIDATE_JACCARD = 0.3   # LSH band threshold: low, so trimmed copies become candidates


def shingles(text: str, size: int) -> set[bytes]:
    """The article's overlapping runs of `size` words (the whole text when shorter)."""
    tokens = comparable_words(text)
    if len(tokens) <= size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i:i + size]).encode() for i in range(len(tokens) - size + 1)}


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
    size: int          # distinct shingles
    minhash: MinHash


def fingerprint(doc_id: str, date: str | None, text: str, shingle_words: int) -> Fingerprint:
    """The article's MinHash over its shingles."""
    found = shingles(text, shingle_words)
    minhash = MinHash(num_perm=NUM_PERM, seed=1)
    if found:
        minhash.update_batch(list(found))
    return Fingerprint(doc_id, date or "", len(text.strip()), len(found), minhash)


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated containment: shared shingles over the smaller article's shingles."""
    if not a.size or not b.size:
        return 0.0
    jaccard = float(np.mean(a.minhash.hashvalues == b.minhash.hashvalues))
    shared = jaccard * (a.size + b.size) / (1.0 + jaccard)
    return min(1.0, shared / min(a.size, b.size))


def _original_key(item: Fingerprint) -> tuple:
    return (item.date == "", item.date, -item.length, item.doc_id)


def group(fingerprints: Iterable[Fingerprint], threshold: float) -> dict[str, str]:
    """doc id -> story id (the doc id of its group's original) for every article."""
    items = {f.doc_id: f for f in fingerprints}
    parent = {doc_id: doc_id for doc_id in items}

    def root(doc_id: str) -> str:
        while parent[doc_id] != doc_id:
            parent[doc_id] = parent[parent[doc_id]]
            doc_id = parent[doc_id]
        return doc_id

    lsh = MinHashLSH(threshold=CANDIDATE_JACCARD, num_perm=NUM_PERM)
    for doc_id, item in items.items():
        if item.size:
            lsh.insert(doc_id, item.minhash, check_duplication=False)
    for doc_id, item in items.items():
        if not item.size:
            continue
        for other in lsh.query(item.minhash):
            if other > doc_id and similarity(item, items[other]) >= threshold:
                parent[root(other)] = root(doc_id)
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
