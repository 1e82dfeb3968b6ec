"""Find passages for a question: dense (Chroma) and BM25 (catalog) candidates, filtered,
fused by weighted reciprocal rank, then the post-retrieval steps, then the top k.

Dense scores exist for embedded chunks, BM25 scores for every chunk: a chunk still in
the embedding queue (`rag.index.chunks`) is found lexically, and its missing dense rank
is taken to be its lexical rank (so that waiting for a vector does not push it below
embedded chunks that match the words less well). The retrieval says how many articles
are not embedded yet. With nothing queued, fusion is exactly dense + BM25.

Nothing is held in memory per collection: both candidate lists are read from disk per
question, so a new process answers at once and sees every ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.config import Settings
from rag.index.chunks import ChunkIndex, open_index
from rag.index.embeddings import embedding_name, get_embeddings
from rag.index.store import EmptyIndexError, StoreError, store_address, store_errors
from rag.records import Filters, Passage
from rag.search.copies import attach_copies
from rag.search.query import Query
from rag.search.steps import make_steps
from rag.text import tokenize

RRF_K = 60


@dataclass
class Retrieval:
    """The passages for the generator, numbered from 1, and the steps that shaped them."""

    passages: list[Passage]
    steps: list[str] = field(default_factory=list)
    not_embedded: int = 0   # articles found lexically only, their vectors still queued
    query_vector: list[float] | None = None  # the question's embedding (None: not searched)


class Retriever:
    """Hybrid search over one collection; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.steps = make_steps(settings)
        self.embeddings = get_embeddings(settings)
        self.index: ChunkIndex = open_index(settings, embedding_name(self.embeddings),
                                            getattr(self.embeddings, "dimension", None))

    def reconfigure(self, settings: Settings) -> None:
        """Use other search settings (weights, steps) over the same store and model."""
        self.settings = settings
        self.steps = make_steps(settings)

    def dense(self, question: str, k: int, filters: Filters = Filters()) -> list[Passage]:
        """Nearest chunks to the question's embedding."""
        return self.index.dense(self.embeddings.embed_query(question), k, filters)

    def lexical(self, question: str, k: int, filters: Filters = Filters()) -> list[Passage]:
        """Best BM25 chunks for the question's content words (the most frequent left out
        beyond `lexical_max_postings`)."""
        return self.index.lexical(tokenize([question])[0], k, filters,
                                  self.settings.lexical_max_postings or None)

    def search(self, question: str, top_k: int | None = None,
               filters: Filters = Filters()) -> list[Passage]:
        """Fused passages, best first, numbered from 1."""
        return self.retrieve(question, top_k, filters).passages

    def retrieve(self, question: str, top_k: int | None = None, filters: Filters = Filters(),
                 query: Query | None = None, query_vector: list[float] | None = None) -> Retrieval:
        """Fused candidates → post-retrieval steps → top k, numbered from 1; `query_vector`
        is the question's embedding when an earlier retrieval of it has one."""
        try:
            return self._retrieve(question, top_k, filters, query, query_vector)
        except EmptyIndexError:
            raise
        except StoreError:
            if self.settings.store != "embedded":
                raise  # a server's client holds no state to renew: it works once it is back
            self.index.reopen()  # another process rebuilt the collection under us
            return self._retrieve(question, top_k, filters, query, query_vector)

    def _retrieve(self, question: str, top_k: int | None, filters: Filters,
                  query: Query | None, query_vector: list[float] | None) -> Retrieval:
        top_k = self.settings.top_k if top_k is None else top_k
        with store_errors(self.settings):
            self.index.stay_current()
            if self.index.is_empty():
                raise EmptyIndexError(f"no articles in collection {self.settings.collection!r} of "
                                      f"{store_address(self.settings)}: run `rag ingest "
                                      f"{self.settings.corpus_dir}`")
            if top_k <= 0:
                return Retrieval([], not_embedded=self.index.not_embedded())
            pool = max(self.settings.candidates, top_k)
            if query_vector is None:
                query_vector = self.embeddings.embed_query(question)
            dense = self.index.dense(query_vector, pool, filters)
            lexical = self.lexical(question, pool, filters)
            not_embedded = self.index.not_embedded()
            rankings: list[list[Passage | None]] = [list(dense), list(lexical)]
            weights = [1.0, self.settings.bm25_weight]
            if not_embedded:  # stand-ins for the dense ranks of queued chunks
                queued = self.index.pending_among([p.chunk_id for p in lexical])
                rankings.append([p if p.chunk_id in queued else None for p in lexical])
                weights.append(1.0)
        passages = fuse(rankings, pool, weights)
        with store_errors(self.settings):
            attach_copies(passages, self.index)
        query = query or Query(question=question, filters=filters, top_k=top_k)
        ran = []
        for step in self.steps:
            passages = step(passages, query)
            ran.append(step.name)
        return Retrieval(number(passages[:top_k]), ran, not_embedded, query_vector)


def fuse(rankings: list[list[Passage | None]], top_k: int,
         weights: list[float] | None = None) -> list[Passage]:
    """Weighted reciprocal rank fusion; keeps each chunk's dense similarity and BM25 score
    (a None holds a rank no chunk takes). Returns the best `top_k`, numbered from 1."""
    fused: dict[str, Passage] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, passage in enumerate(ranking):
            if passage is None:
                continue
            kept = fused.setdefault(passage.chunk_id, passage)
            kept.score += weight / (RRF_K + rank + 1)
            kept.dense_similarity = max(kept.dense_similarity, passage.dense_similarity)
            kept.bm25_score = max(kept.bm25_score, passage.bm25_score)
    return number(sorted(fused.values(), key=lambda p: p.score, reverse=True)[:top_k])


def number(passages: list[Passage]) -> list[Passage]:
    """Number passages 1..n in their order (the `[n]` the generator cites)."""
    for n, passage in enumerate(passages, start=1):
        passage.n = n
    return passages
