"""Find passages for a question: dense (Chroma) and BM25 candidates, fused by reciprocal rank.

The BM25 index is built from the collection's chunks once per process and rebuilt only
when an ingest has bumped the collection's revision. Filters (date range, sources) apply
to both lists before fusion.
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

from rag.config import Settings
from rag.embeddings import embedding_name, get_embeddings
from rag.store import (EmptyIndexError, Store, StoreError, forget_client, open_store, store_address,
                       store_errors)

RRF_K = 60
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
REVISION_CHECK_SECONDS = 1.0
DENSE_OVERFETCH_SHARE = 0.3  # filters letting at least this share through: over-fetch, post-filter
BACKGROUND_REBUILD_CHUNKS = 20_000  # from this size a changed collection's BM25 index is rebuilt in the background
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

    def __post_init__(self) -> None:
        # filter columns as arrays: a mask over 100k chunks costs ~1 ms, not a Python loop
        self.date_ints = np.fromiter((int(m.get("date_int") or 0) for m in self.metas),
                                     dtype=np.int64, count=len(self.metas))
        self.source_codes: dict[Any, int] = {}
        self.sources = np.fromiter((self.source_codes.setdefault(m.get("source"), len(self.source_codes))
                                    for m in self.metas), dtype=np.int32, count=len(self.metas))

    def allowed(self, filters: "Filters") -> np.ndarray | None:
        """Which chunks pass the filters (same rule as `Filters.allows`); None: no filters."""
        if filters.where() is None:
            return None
        keep = np.ones(len(self.ids), dtype=bool)
        if filters.date_from:
            keep &= self.date_ints >= _date_int(filters.date_from)
        if filters.date_to:
            keep &= self.date_ints <= _date_int(filters.date_to)
        if filters.sources:
            codes = [self.source_codes[s] for s in filters.sources if s in self.source_codes]
            keep &= np.isin(self.sources, codes)
        return keep


class Retriever:
    """Hybrid search over one collection; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embeddings = get_embeddings(settings)
        self.store: Store = open_store(settings, embedding_name(self.embeddings),
                                       getattr(self.embeddings, "dimension", None))
        self._index: _LexicalIndex | None = None
        self._lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None

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
            if index and self.settings.store == "embedded" and self.store.changed_by_another_process():
                self._reopen_store()  # else dense search misses the other process's chunks
            if index and len(index.ids) >= BACKGROUND_REBUILD_CHUNKS:
                # rebuilding takes seconds at this size (~18 s at 100k chunks): answer from
                # the previous index meanwhile instead of stalling the next question
                index.checked_at = time.monotonic()
                if self._rebuilding is None:
                    # not a daemon: a process exiting mid-rebuild waits for it (a daemon
                    # thread still inside Chroma at interpreter exit crashed the process)
                    self._rebuilding = threading.Thread(target=self._rebuild, args=(revision,),
                                                        name="bm25-rebuild")
                    self._rebuilding.start()
                return index
            self._index = self._build(revision)
            return self._index

    def _rebuild(self, revision: int) -> None:
        try:
            index = self._build(revision)
            with self._lock:
                if self._index is not None and self._index.revision < revision:
                    self._index = index
        except Exception as err:  # the next revision check tries again
            logging.getLogger(__name__).warning("BM25 index rebuild failed: %s", err)
        finally:
            with self._lock:
                self._rebuilding = None

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
        """Nearest chunks by cosine similarity, filters applied.

        Chroma's `where` grows with the collection (~300 ms per query at 100k chunks on a
        2-core machine), so filters are evaluated on the in-memory index columns: a broad
        filter over-fetches unfiltered neighbours and keeps the allowed ones, a narrow one
        asks Chroma to search only the allowed ids; `where` is the fallback."""
        if k <= 0:
            return []
        if filters.where() is None:
            return self._nearest(query_vector, k)
        index = self._lexical()
        allowed = index.allowed(filters)
        n_allowed = int(allowed.sum())
        if n_allowed == 0:  # nothing as of the index; chunks newer than it may still match
            return self._nearest(query_vector, k, where=filters.where())
        share = n_allowed / max(1, len(index.ids))
        if share >= DENSE_OVERFETCH_SHARE:
            fetch = min(len(index.ids), int(2 * k / share) + 1)
            passages = self._nearest(query_vector, fetch, keep=filters.allows)
            if len(passages) >= k or fetch >= len(index.ids):
                return passages[:k]
        ids = [index.ids[i] for i in np.flatnonzero(allowed)]
        try:
            return self._nearest(query_vector, min(k, n_allowed), ids=ids)
        except Exception:  # an id deleted since the index was read: let Chroma filter
            return self._nearest(query_vector, k, where=filters.where())

    def _nearest(self, query_vector: list[float], k: int, keep=None, **narrow: Any) -> list[Passage]:
        got = self.store.collection.query(query_embeddings=[query_vector], n_results=k,
                                          include=["documents", "metadatas", "distances"], **narrow)
        passages = []
        for chunk_id, text, meta, distance in zip(got["ids"][0], got["documents"][0],
                                                  got["metadatas"][0], got["distances"][0]):
            if keep is not None and not keep(meta or {}):
                continue
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
        allowed = index.allowed(filters)
        mask = None if allowed is None else allowed.astype(np.float32)
        scores = index.bm25.get_scores(tokens[0], weight_mask=mask)
        # top k among the matching chunks only: bm25s' argpartition over every chunk, most
        # of them scoring 0, took ~8 ms at 100k chunks
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            matching = matching[np.argpartition(-scores[matching], k - 1)[:k]]
        matching = matching[np.argsort(-scores[matching], kind="stable")]
        passages = []
        for position, score in zip(matching, scores[matching]):
            passage = Passage.from_chroma(index.ids[position], index.texts[position],
                                          index.metas[position])
            passage.bm25_score = float(score)
            passages.append(passage)
        return passages

    def search(self, question: str, top_k: int | None = None,
               filters: Filters = Filters()) -> list[Passage]:
        """Fused dense + BM25 passages, best first, numbered from 1."""
        try:
            return self._search(question, top_k, filters)
        except EmptyIndexError:
            raise
        except StoreError:
            if self.settings.store != "embedded":
                raise  # a server's client holds no state to renew: it works once it is back
            self._reopen()
            return self._search(question, top_k, filters)

    def _reopen(self) -> None:
        """Open the embedded store afresh: once another process has rebuilt the collection,
        this process's cached Chroma instance fails to read it ("Nothing found on disk")."""
        with self._lock:
            self._reopen_store()
            self._index = None

    def _reopen_store(self) -> None:
        forget_client(self.settings)
        self.store = open_store(self.settings, embedding_name(self.embeddings),
                                getattr(self.embeddings, "dimension", None))

    def _search(self, question: str, top_k: int | None, filters: Filters) -> list[Passage]:
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
        return fuse([dense, lexical], top_k, [1.0, self.settings.bm25_weight])


def fuse(rankings: list[list[Passage]], top_k: int, weights: list[float] | None = None) -> list[Passage]:
    """Weighted reciprocal rank fusion; keeps each chunk's dense similarity and BM25 score."""
    fused: dict[str, Passage] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, passage in enumerate(ranking):
            kept = fused.setdefault(passage.chunk_id, passage)
            kept.score += weight / (RRF_K + rank + 1)
            kept.dense_similarity = max(kept.dense_similarity, passage.dense_similarity)
            kept.bm25_score = max(kept.bm25_score, passage.bm25_score)
    best = sorted(fused.values(), key=lambda p: p.score, reverse=True)[:top_k]
    for n, passage in enumerate(best, start=1):
        passage.n = n
    return best
