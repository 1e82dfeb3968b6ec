"""Syndicated copies at answer time: where else a passage ran, and one passage per copy.

`attach_copies` (run by the retriever on every candidate) fills each passage's `copies`:
the other articles of its story (the copy group made at ingest, `rag.ingest.copies`)
that carry every sentence of the passage, compared as `rag.text.comparable_words` so
house spellings do not matter; a copy that changed a figure in the passage is not listed.

`collapse_copies` (a post-retrieval step, on by default) keeps the best-ranked of a
passage and its copies: a passage is dropped when an article already kept carries its
text. Copies of one wire story then cannot fill the top k and crowd out other sources,
while an article's own passages, and a copy's passages that differ, stay.
"""

from __future__ import annotations

from rag.index.chunks import ChunkIndex
from rag.records import Passage
from rag.search.query import Query, Step, register_step
from rag.text import comparable_words, split_sentences


@register_step("collapse_copies")
class CollapseCopies(Step):
    """The `collapse_copies` step (see `collapse_copies`)."""

    def __call__(self, passages: list[Passage], query: Query) -> list[Passage]:
        return collapse_copies(passages)


def collapse_copies(passages: list[Passage]) -> list[Passage]:
    """Passages best first, without those whose text an already kept article carries."""
    kept_docs: set[str] = set()
    kept = []
    for passage in passages:
        if any(copy["doc_id"] in kept_docs for copy in passage.copies):
            continue
        kept.append(passage)
        kept_docs.add(passage.doc_id)
    return kept


def _comparable(text: str) -> str:
    return " " + " ".join(comparable_words(text)) + " "


def carries(article_chunks: list[str], passage_text: str) -> bool:
    """Whether an article (its chunks' texts) holds every sentence of the passage."""
    article = _comparable("\n".join(article_chunks))
    sentences = [_comparable(s.text) for s in split_sentences(passage_text)]
    sentences = [s for s in sentences if s.strip()]
    return bool(sentences) and all(s in article for s in sentences)


def attach_copies(passages: list[Passage], index: ChunkIndex) -> list[Passage]:
    """Set each passage's `copies` ({doc_id, title, source, date, url} of the other
    articles carrying its text, original first; [] when none)."""
    stories = index.story_articles([p.story_id for p in passages if p.story_id])
    others = {p.chunk_id: [m for m in stories.get(p.story_id, []) if m["doc_id"] != p.doc_id]
              for p in passages}
    texts = index.article_texts([m["doc_id"] for members in others.values() for m in members])
    for passage in passages:
        passage.copies = [dict(m) for m in others[passage.chunk_id]
                          if carries(texts.get(m["doc_id"], []), passage.text)]
    return passages
