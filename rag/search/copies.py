"""Syndicated copies at answer time: where else a passage ran, and one passage per copy.

`attach_copies` (run by the retriever on every candidate) fills each passage's `copies`:
the other articles of its story (the copy group made at ingest, `rag.ingest.copies`)
that carry the passage: at least `PASSAGE_OVERLAP` of its shingles, in one house style
(`rag.housestyle`: "11 p.m."/"11pm", "88 per cent"/"88%", "pollworkers", datelines and
notes aside), are in the article, and no sentence of it comes back there with another
figure or name (a copy that changed a fact is not a copy of that passage).

`collapse_copies` (a post-retrieval step, on by default) keeps one passage of a passage
and its copies, at the best rank of them: the story original's passage when it was
retrieved (else the earliest-dated one), which lists the others in `copies`. Copies of
one wire story then cannot fill the top k and crowd out other sources, while an
article's own passages, and a copy's passages that differ, stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.housestyle import house_words, overlap, shingles_of, story_paragraphs
from rag.index.chunks import ChunkIndex
from rag.records import Passage
from rag.search.query import Query, Step, register_step
from rag.text import comparable_words, split_sentences

PASSAGE_OVERLAP = 0.6     # share of a passage's shingles an article must hold to carry it
SHINGLE_WORDS = 5
NEAR_SENTENCE = 0.6       # a sentence sharing this share of its words with one of the
                          # article's is that sentence, maybe changed
_NAME = re.compile(r"(?<=\w[\s,;:(\"“'‘])([A-Z][a-z]+)")


@register_step("collapse_copies")
class CollapseCopies(Step):
    """The `collapse_copies` step (see `collapse_copies`)."""

    def __call__(self, passages: list[Passage], query: Query) -> list[Passage]:
        return collapse_copies(passages)


def _original_first(passage: Passage) -> tuple:
    """Sort key: the story's original article, then the earliest-dated."""
    return (not (passage.story_id and passage.doc_id == passage.story_id),
            passage.date or "9999")


def collapse_copies(passages: list[Passage]) -> list[Passage]:
    """Passages best first, one of each passage and its copies (the original's)."""
    kept: list[Passage] = []
    for passage in passages:
        listed = {c["doc_id"] for c in passage.copies}
        same = next((i for i, k in enumerate(kept) if k.doc_id in listed), None)
        if same is None:
            kept.append(passage)
        elif _original_first(passage) < _original_first(kept[same]):
            kept[same] = passage   # the original's passage takes the copy's place
    return kept


def facts(sentence: str) -> set[str]:
    """The figures and names of a sentence (house style), which a copy must not change."""
    numbers = {w for w in house_words(sentence) if w.isdigit()}
    names = {w for m in _NAME.findall(sentence) for w in comparable_words(m)}
    return numbers | names


def changed_fact(sentence: str, other: str) -> bool:
    """Whether `other` says `sentence` with a figure or name put in the place of another
    (a word-level diff replacing a fact by a fact); added or dropped words, reordered
    clauses and house spellings are not a change of fact."""
    mine, theirs = house_words(sentence), house_words(other)
    known = facts(sentence) | facts(other)
    matcher = SequenceMatcher(a=mine, b=theirs, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "replace" and known & set(mine[a0:a1]) and known & set(theirs[b0:b1]):
            return True
    return False


@dataclass(frozen=True)
class _Text:
    """What `carries` compares, read once per text: shingles, house words run together,
    and each sentence with its house words (joined and as a set)."""

    shingles: set[int]
    joined: str
    sentences: list[tuple[str, str, set[str]]]


def _read(text: str) -> _Text:
    words = house_words(text)
    sentences = [(s, "".join(w), set(w)) for s in _sentences(text) for w in [house_words(s)]]
    return _Text(shingles_of(words, SHINGLE_WORDS), "".join(words), sentences)


def carries(article_chunks: list[str], passage_text: str) -> bool:
    """Whether an article (its chunks' texts) carries the passage: holds PASSAGE_OVERLAP
    of its shingles, and no sentence of the passage is there with another figure or name."""
    return _carries(_read("\n".join(article_chunks)), _read(passage_text))


def _carries(article: _Text, passage: _Text) -> bool:
    if overlap(passage.shingles, article.shingles) < PASSAGE_OVERLAP:
        return False
    for sentence, joined, mine in passage.sentences:
        if joined in article.joined:
            continue
        best = max(article.sentences, key=lambda t: _share(mine, t[2]), default=None)
        if best is not None and _share(mine, best[2]) >= NEAR_SENTENCE \
                and changed_fact(sentence, best[0]):
            return False
    return True


def _sentences(text: str) -> list[str]:
    """The story's sentences (notes and datelines aside); a piece split off after an
    abbreviation ("Oct. 8, with ...") joins the sentence before it."""
    found: list[str] = []
    for sentence in split_sentences("\n\n".join(story_paragraphs(text))):
        if found and sentence.text[:1].isdigit() or found and sentence.text[:1].islower():
            found[-1] += " " + sentence.text
        else:
            found.append(sentence.text)
    return found


def _share(words: set[str], other: set[str]) -> float:
    return len(words & other) / len(words) if words else 0.0


def attach_copies(passages: list[Passage], index: ChunkIndex) -> list[Passage]:
    """Set each passage's `copies` ({doc_id, title, source, date, url} of the other
    articles carrying its text, original first; [] when none)."""
    stories = index.story_articles([p.story_id for p in passages if p.story_id])
    others = {p.chunk_id: [m for m in stories.get(p.story_id, []) if m["doc_id"] != p.doc_id]
              for p in passages}
    texts = index.article_texts([m["doc_id"] for members in others.values() for m in members])
    read: dict[str, _Text] = {}   # each article read once, whichever passages it is compared with
    for passage in passages:
        members = others[passage.chunk_id]
        for member in members:
            if member["doc_id"] not in read:
                read[member["doc_id"]] = _read("\n".join(texts.get(member["doc_id"], [])))
        mine = _read(passage.text) if members else None
        passage.copies = [dict(m) for m in members if mine and _carries(read[m["doc_id"]], mine)]
    return passages
