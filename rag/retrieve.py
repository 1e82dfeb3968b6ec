"""Find passages for a question: dense (Chroma) and BM25 candidates, fused by reciprocal rank.

The BM25 index is built from the collection's chunks once per process and rebuilt only
when an ingest has bumped the collection's revision. Filters (date range, sources) apply
to both lists before fusion. `HybridRetriever` exposes the same search to LangChain.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np
import Stemmer
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.config import Settings
from rag.embeddings import embedding_name, get_embeddings
from rag.store import EmptyIndexError, Store, open_store, store_address, store_errors

RRF_K = 60
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
REVISION_CHECK_SECONDS = 1.0
_stemmer = Stemmer.Stemmer("english")


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to a date range (inclusive, YYYY-MM-DD) and/or some sources."""

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()

    def where(self) -> dict[str, Any] | None:
        """The Chroma `where` clause for these filters."""
        clauses: list[dict[str, Any]] = []
        if self.date_from:
            clauses.append({"date_int": {"$gte": _date_int(self.date_from)}})
        if self.date_to:
            clauses.append({"date_int": {"$lte": _date_int(self.date_to)}})
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, meta: dict[str, Any]) -> bool:
        """Whether a chunk's metadata passes (same rule as `where`)."""
        date_int = int(meta.get("date_int") or 0)
        if self.date_from and date_int < _date_int(self.date_from):
            return False
        if self.date_to and date_int > _date_int(self.date_to):
            return False
        return not self.sources or meta.get("source") in self.sources


def _date_int(value: str) -> int:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"date filter {value!r} must look like YYYY-MM-DD")
    return int(value.replace("-", ""))


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

    @classmethod
    def from_chroma(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> "Passage":
        return cls(chunk_id=chunk_id, doc_id=str(meta.get("doc_id", "")), text=text,
                   start=int(meta.get("start", 0)), end=int(meta.get("end", 0)),
                   title=str(meta.get("title", "")), date=meta.get("date") or None,
                   source=meta.get("source") or None, url=meta.get("url") or None)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stemmed word tokens without English stop words (shared with answering)."""
    return bm25s.tokenize(texts, stopwords="english_plus", stemmer=_stemmer, return_ids=False,
                          show_progress=False)


@dataclass
class _LexicalIndex:
    revision: int
    ids: list[str]
    texts: list[str]
    metas: list[dict[str, Any]]
    bm25: bm25s.BM25 | None
    checked_at: float = field(default_factory=time.monotonic)


class Retriever:
    """Hybrid search over one collection; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embeddings = get_embeddings(settings)
        self.store: Store = open_store(settings, embedding_name(self.embeddings),
                                       getattr(self.embeddings, "dimension", None))
        self._index: _LexicalIndex | None = None
        self._lock = threading.Lock()

    def _lexical(self) -> _LexicalIndex:
        """The BM25 index, rebuilt when the collection's revision changed."""
        with self._lock:
            index = self._index
            if index and time.monotonic() - index.checked_at < REVISION_CHECK_SECONDS:
                return index
            self.store.refresh()
            revision = self.store.revision
            if index and index.revision == revision:
                index.checked_at = time.monotonic()
                return index
            self._index = self._build(revision)
            return self._index

    def _build(self, revision: int) -> _LexicalIndex:
        ids, texts, metas = [], [], []
        offset, page = 0, 5000
        while True:
            got = self.store.collection.get(include=["documents", "metadatas"],
                                            limit=page, offset=offset)
            ids += got["ids"]
            texts += got["documents"]
            metas += [m or {} for m in got["metadatas"]]
            if len(got["ids"]) < page:
                break
            offset += page
        bm25 = None
        if texts:
            bm25 = bm25s.BM25()
            bm25.index(tokenize(texts), show_progress=False)
        return _LexicalIndex(revision, ids, texts, metas, bm25)

    def dense(self, query_vector: list[float], k: int, filters: Filters) -> list[Passage]:
        """Nearest chunks by cosine similarity, filters applied by Chroma."""
        if k <= 0:
            return []
        got = self.store.collection.query(query_embeddings=[query_vector], n_results=k,
                                          where=filters.where(),
                                          include=["documents", "metadatas", "distances"])
        passages = []
        for chunk_id, text, meta, distance in zip(got["ids"][0], got["documents"][0],
                                                  got["metadatas"][0], got["distances"][0]):
            passage = Passage.from_chroma(chunk_id, text, meta or {})
            passage.dense_similarity = 1.0 - float(distance)
            passages.append(passage)
        return passages

    def lexical(self, question: str, k: int, filters: Filters) -> list[Passage]:
        """Best BM25 chunks, filters applied by a weight mask."""
        index = self._lexical()
        if index.bm25 is None or k <= 0:
            return []
        tokens = tokenize([question])
        if not tokens[0]:
            return []
        mask = None
        if filters.where() is not None:
            mask = np.array([filters.allows(m) for m in index.metas], dtype=np.float32)
        k = min(k, len(index.ids))
        docs, scores = index.bm25.retrieve(tokens, k=k, weight_mask=mask, show_progress=False)
        passages = []
        for position, score in zip(docs[0], scores[0]):
            if score <= 0:
                continue
            passage = Passage.from_chroma(index.ids[position], index.texts[position],
                                          index.metas[position])
            passage.bm25_score = float(score)
            passages.append(passage)
        return passages

    def search(self, question: str, top_k: int | None = None,
               filters: Filters = Filters()) -> list[Passage]:
        """Fused dense + BM25 passages, best first, numbered from 1."""
        top_k = self.settings.top_k if top_k is None else top_k
        with store_errors(self.settings):
            if not self._lexical().ids:
                raise EmptyIndexError(f"no articles in collection {self.settings.collection!r} of "
                                      f"{store_address(self.settings)}: run `rag ingest "
                                      f"{self.settings.corpus_dir}`")
            if top_k <= 0:
                return []
            pool = max(self.settings.candidates, top_k)
            dense = self.dense(self.embeddings.embed_query(question), pool, filters)
            lexical = self.lexical(question, pool, filters)
        return fuse([dense, lexical], top_k)


def fuse(rankings: list[list[Passage]], top_k: int) -> list[Passage]:
    """Reciprocal rank fusion; keeps each chunk's dense similarity and BM25 score."""
    fused: dict[str, Passage] = {}
    for ranking in rankings:
        for rank, passage in enumerate(ranking):
            kept = fused.setdefault(passage.chunk_id, passage)
            kept.score += 1.0 / (RRF_K + rank + 1)
            kept.dense_similarity = max(kept.dense_similarity, passage.dense_similarity)
            kept.bm25_score = max(kept.bm25_score, passage.bm25_score)
    best = sorted(fused.values(), key=lambda p: p.score, reverse=True)[:top_k]
    for n, passage in enumerate(best, start=1):
        passage.n = n
    return best


class HybridRetriever(BaseRetriever):
    """LangChain face of `Retriever`: documents carry the passage in metadata."""

    retriever: Any
    filters: Filters = Filters()
    top_k: int | None = None

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=p.text, metadata={"passage": p})
                for p in self.retriever.search(query, self.top_k, self.filters)]
