"""The chunk index: the one owner of the chunk record format.

A chunk lives in two places that this module keeps in step: its vector (with a copy of
its record as metadata, so the vector store alone can rebuild everything) in Chroma,
and its record, filter columns and content words in the SQLite catalog
(`rag.index.catalog`), which is the authority on what exists. Everything else asks this
module: ingest writes rows, search reads passages, the page reads facts.

Searchable first, embedded next: a new chunk's catalog row and content words are written
at once with `embedded = 0` (BM25 finds it from then on), and its vector follows; the
row is marked embedded in the catalog after Chroma holds the vector. The rows waiting
for vectors are the embedding queue, persisted in the catalog (`pending_rows`), so a
kill between the two writes leaves them for the next ingest or `rag serve`'s worker.
Catalog rows are deleted before vectors (a deleted chunk is never returned: dense hits
are looked up in the catalog). An ingest that finds the counts apart reconciles them
from Chroma's ids.

Chunks whose texts are the same once whitespace and quote marks are normalised share a
`text_key`: ingest embeds such a text once and stores the same vector under each chunk's
id. Each row also names its story (`story_id`, the copy group of its article), which
lives only in the catalog: groups change as articles come and go, vectors do not.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from collections.abc import Set
from typing import Any, Iterator, Sequence

import numpy as np

from rag.config import Settings
from rag.index.catalog import COLUMNS, Catalog, CatalogError, ChunkRow  # ChunkRow: owned here
from rag.index.store import (DIM_KEY, EmptyIndexError, Store, drop_collection, forget_client,
                             open_store, store_address, store_errors)
from rag.records import Article, Chunk, Filters, Passage

PAGE = 5000
WRITE_BATCH = 5000            # chunks per Chroma call (its embedded limit is ~5,400)
LEXICAL_BATCH = 200           # chunks per catalog transaction of the searchable-first write
EMBED_BATCH = 256             # queued chunks embedded, then written, at a time
REVISION_CHECK_SECONDS = 1.0  # how often a reader looks for another process's ingest
DENSE_OVERFETCH_SHARE = 0.3   # filters letting at least this share through: over-fetch
MAX_ALLOWED_IDS = 50_000      # narrower filters hand Chroma the allowed ids; wider use `where`
_revisions_written: dict[str, int] = {}  # catalog path -> last revision this process wrote
_client_generation: dict[str, int] = {}  # store path -> how often this process reopened it
_warm_ups: dict[str, threading.Thread] = {}  # store path -> thread loading its vector index
_CHROMA_META = [c for c in COLUMNS if c not in ("chunk_id", "text", "text_key", "story_id")]
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
                         "\u00bb": '"', "\u2033": '"'})


def catalog_path(settings: Settings) -> Path:
    """Where the collection's catalog lives: beside the embedded store (or, with a
    server store, in the local store_path folder)."""
    return settings.store_path / f"{settings.collection}.catalog.sqlite3"


def stored_path(article: Article) -> str:
    """The article's file as stored: absolute, so that one corpus named two ways
    ("corpus" and "/home/me/news/corpus") is one set of metadata, not a rewrite."""
    return os.path.abspath(article.path) if article.path else ""


def meta_hash(article: Article) -> str:
    """A hash of the article's metadata: a change re-writes metadata, not vectors."""
    fields = [article.title, article.date, article.source, article.url, article.byline,
              stored_path(article)]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def text_key(text: str) -> str:
    """The hash of a chunk's text with whitespace runs and quote marks normalised: chunks
    with the same key are embedded once."""
    plain = re.sub(r"\s+", " ", text.translate(_QUOTES)).strip()
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()[:32]


def chunk_row(article: Article, chunk: Chunk, article_hash: str | None = None) -> ChunkRow:
    """The stored record of one chunk of an article."""
    return ChunkRow(chunk_id=chunk.chunk_id, doc_id=article.doc_id, chunk_index=chunk.index,
                    start_char=chunk.start, end_char=chunk.end, text=chunk.text,
                    title=article.title, date=article.date or "",
                    date_int=int(article.date.replace("-", "")) if article.date else 0,
                    source=article.source or "", url=article.url or "",
                    byline=article.byline or "", path=stored_path(article),
                    meta_hash=article_hash or meta_hash(article), text_key=text_key(chunk.text),
                    story_id=article.doc_id)


def to_passage(row: ChunkRow) -> Passage:
    """A stored row as a passage (scores zero)."""
    return Passage(chunk_id=row.chunk_id, doc_id=row.doc_id, text=row.text, start=row.start_char,
                   end=row.end_char, title=row.title, date=row.date or None,
                   source=row.source or None, url=row.url or None,
                   story_id=row.story_id or row.doc_id)


_CHROMA_OPS = {">=": "$gte", "<=": "$lte", "in": "$in", "not in": "$nin"}


def _chroma_where(filters: Filters) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = [{column: {_CHROMA_OPS[op]: value}}
                                     for column, op, value in filters.conditions()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _batches(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


class ChunkIndex:
    """Chroma vectors plus the SQLite catalog of one collection; safe to share between
    threads for reading. Writing is ingest's, under its lock."""

    def __init__(self, settings: Settings, model_name: str, dim: int | None,
                 create: bool = False) -> None:
        self.settings = settings
        self.model_name, self.dim = model_name, dim
        self.store: Store = open_store(settings, model_name, dim, create=create)
        self.catalog = Catalog(catalog_path(settings))
        self._lock = threading.Lock()
        self._seen_revision = self.catalog.revision
        self._checked_at = time.monotonic()
        self._facts: tuple[int | None, dict[str, Any]] = (None, {})   # (catalog revision, facts)
        self._generation = _client_generation.get(str(settings.store_path), 0)
        if not create and self.catalog.is_empty() and self.store.count() > 0:
            raise EmptyIndexError(
                f"collection {settings.collection!r} of {store_address(settings)} has no "
                f"catalog yet (made by an older Newsdesk): run `rag ingest` once; nothing is "
                "embedded again")

    # -- facts -----------------------------------------------------------------------
    @property
    def revision(self) -> int:
        return self.catalog.revision

    def count(self, filters: Filters = Filters()) -> int:
        """Chunks stored (passing the filters)."""
        return self.catalog.count(filters)

    def is_empty(self) -> bool:
        """Whether no chunk is stored (cheap at any size)."""
        return self.catalog.is_empty()

    def newest_date(self) -> str | None:
        """The newest article's date (from the catalog's date index), or None."""
        return self.catalog.newest_date()

    def facts(self) -> dict[str, Any]:
        """Chunks, articles, sources and the date range of the collection, read once per
        catalog revision (they read the whole table: 0.8 s at a million chunks)."""
        revision = self.catalog.revision
        if self._facts[0] != revision:
            self._facts = (revision, self.catalog.facts())
        return dict(self._facts[1])

    def not_embedded(self) -> int:
        """Articles with chunks still waiting for their vectors (found lexically only)."""
        return self.catalog.pending_counts()[1]

    def pending_count(self) -> int:
        """Chunks still waiting for their vectors."""
        return self.catalog.pending_counts()[0]

    def pending_ids(self) -> set[str]:
        """Ids of the chunks still waiting for their vectors."""
        return self.catalog.pending_ids()

    def pending_among(self, chunk_ids: list[str]) -> set[str]:
        """Those of these chunks still waiting for their vectors."""
        return self.catalog.pending_among(chunk_ids)

    def pending_rows(self, limit: int = EMBED_BATCH) -> list[ChunkRow]:
        """The oldest `limit` chunks of the embedding queue."""
        return self.catalog.pending_rows(limit)

    def newest_articles(self, limit: int) -> list[tuple[str, str]]:
        """(title, source) of the newest articles, newest first."""
        return self.catalog.newest_articles(limit)

    def last_change(self) -> float | None:
        """When the collection was last written (seconds since the epoch), or None."""
        return self.catalog.last_change()

    def match_count(self, words: list[str]) -> int:
        """Chunks holding any of the words (BM25's candidates before ranking)."""
        return self.catalog.match_count(words)

    def bounded_words(self, words: list[str], max_postings: int | None) -> list[str]:
        """The words BM25 uses within a budget of matched chunks (`Catalog.bounded_words`)."""
        return self.catalog.bounded_words(words, max_postings)

    def iter_rows(self, batch: int = 5000) -> Iterator[list[ChunkRow]]:
        """Every stored row, in pages of `batch`."""
        return self.catalog.iter_rows(batch)

    def states(self) -> dict[str, tuple[str, str]]:
        """chunk id -> (doc id, metadata hash) of every stored chunk."""
        return self.catalog.states()

    def article_spans(self, skip: Set[str] = frozenset(), only: Set[str] | None = None
                      ) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
        """(doc id, date, [(start, text) of each chunk]) of every stored article not in
        `skip`, or only of the articles `only` names."""
        return self.catalog.article_spans(skip, only)

    def meta(self, key: str) -> str | None:
        """A value recorded with the collection (e.g. the article-id scheme), or None."""
        return self.catalog.meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.catalog.set_meta(key, value)

    def close(self) -> None:
        """Close this thread's catalog connection (before the collection is dropped)."""
        self.catalog.close()

    # -- reading ---------------------------------------------------------------------
    def stay_current(self) -> None:
        """See another process's ingest: an embedded Chroma keeps its vectors in memory and
        does not see another process's writes, so it is reopened when the revision moves."""
        if time.monotonic() - self._checked_at < REVISION_CHECK_SECONDS:
            return
        with self._lock:
            self._checked_at = time.monotonic()
            revision = self.catalog.revision
            if revision == self._seen_revision:
                return
            self._seen_revision = revision
            if self.settings.store == "embedded" and not self._current():
                self.reopen()

    def _current(self) -> bool:
        """Whether this process wrote the last revision through the Chroma instance this
        index holds (another index of the process may have reopened it since)."""
        path = str(self.settings.store_path)
        return (_revisions_written.get(str(self.catalog.path)) == self.catalog.revision
                and _client_generation.get(path, 0) == self._generation)

    def reopen(self) -> None:
        """Open the embedded Chroma afresh (after another process rebuilt or changed it)."""
        _await_warm_up(self.settings)
        forget_client(self.settings)
        path = str(self.settings.store_path)
        _client_generation[path] = self._generation = _client_generation.get(path, 0) + 1
        self.store = open_store(self.settings, self.model_name, self.dim)

    def ready_to_write(self) -> None:
        """Before a long-lived process (`rag serve`'s worker) writes: reopen an embedded
        Chroma that another process changed since this one last wrote."""
        with self._lock:
            if self.settings.store == "embedded" and not self._current():
                self.reopen()
            self._seen_revision = self.catalog.revision

    def dense(self, vector: Sequence[float], k: int, filters: Filters = Filters()) -> list[Passage]:
        """Nearest chunks by cosine similarity, filters applied, best first.

        Filters are read from the catalog's indexed columns: a broad filter over-fetches
        neighbours and keeps the allowed ones; a narrow one hands Chroma the allowed ids;
        Chroma's own `where` is the fallback (it grows slow with the collection)."""
        if k <= 0:
            return []
        if not filters.active:
            return self._nearest(vector, k, filters)
        total, allowed = self.catalog.count(), self.catalog.count(filters)
        if allowed == 0:
            return []
        share = allowed / max(1, total)
        if share >= DENSE_OVERFETCH_SHARE:
            fetch = min(total, int(2 * k / share) + 1)
            passages = self._nearest(vector, fetch, filters)
            if len(passages) >= k or fetch >= total:
                return passages[:k]
        ids = self.catalog.allowed_ids(filters, MAX_ALLOWED_IDS)
        if ids == []:  # the allowed chunks all wait for their vectors
            return []
        if ids is not None:
            try:
                return self._nearest(vector, min(k, len(ids)), filters, ids=ids)
            except Exception:  # an id this reader's vector index does not hold yet
                pass
        return self._nearest(vector, k, filters, where=_chroma_where(filters))

    def _nearest(self, vector: Sequence[float], k: int, filters: Filters, **narrow: Any) -> list[Passage]:
        _await_warm_up(self.settings)
        with store_errors(self.settings):
            got = self.store.collection.query(query_embeddings=[list(vector)], n_results=k,
                                              include=["distances"], **narrow)
        ids, distances = got["ids"][0], got["distances"][0]
        rows = self.catalog.rows(list(ids))  # deleted chunks are absent: never answered from
        passages = []
        for chunk_id, distance in zip(ids, distances):
            row = rows.get(chunk_id)
            if row is None or not filters.allows(row.date or None, row.source or None, row.doc_id):
                continue
            passage = to_passage(row)
            passage.dense_similarity = 1.0 - float(distance)
            passages.append(passage)
        return passages

    def lexical(self, words: list[str], k: int, filters: Filters = Filters(),
                max_postings: int | None = None) -> list[Passage]:
        """Best chunks by BM25 over their content words, filters applied, best first; with
        `max_postings` the most frequent words are dropped until the chunks the rest
        match add up to at most that many (`Catalog.bounded_words`)."""
        passages = []
        for row, score in self.catalog.search_words(words, k, filters, max_postings):
            passage = to_passage(row)
            passage.bm25_score = score
            passages.append(passage)
        return passages

    # -- writing (ingest) -------------------------------------------------------------
    def vector_ids(self) -> set[str]:
        """Every chunk id in Chroma, paged (for reconciling after a kill)."""
        found: set[str] = set()
        offset = 0
        while True:
            page = self.store.collection.get(include=[], limit=PAGE, offset=offset)
            found.update(page["ids"])
            if len(page["ids"]) < PAGE:
                return found
            offset += PAGE

    def vectors(self, chunk_ids: list[str]) -> dict[str, list[float]]:
        """The stored vectors of these chunks (absent ones are left out)."""
        found: dict[str, list[float]] = {}
        for part in _batches(list(dict.fromkeys(chunk_ids)), PAGE):
            got = self.store.collection.get(ids=part, include=["embeddings"])
            for chunk_id, vector in zip(got["ids"], got["embeddings"]):
                found[chunk_id] = list(vector)
        return found

    def vectors_for_texts(self, keys: list[str]) -> dict[str, list[float]]:
        """text key -> the vector already stored for a chunk with that text."""
        holders = self.catalog.chunks_with_keys(list(dict.fromkeys(keys)))
        stored = self.vectors(list(holders.values()))
        return {key: stored[cid] for key, cid in holders.items() if cid in stored}

    def story_ids(self) -> dict[str, str]:
        """doc id -> story id of every stored article."""
        return self.catalog.story_ids()

    def set_story_ids(self, stories: dict[str, str]) -> None:
        """Move stored articles to other stories (catalog only: vectors do not change)."""
        if stories:
            self.catalog.set_story_ids(stories)
            self._wrote()

    def story_articles(self, story_ids: list[str]) -> dict[str, list[dict]]:
        """story id -> its articles' {doc_id, title, source, date, url}, original first."""
        return self.catalog.story_articles(story_ids)

    def article_texts(self, doc_ids: list[str]) -> dict[str, list[str]]:
        """doc id -> its chunks' texts, in order."""
        return self.catalog.article_texts(doc_ids)

    def vector_count(self) -> int:
        return self.store.count()

    def add(self, rows: list[ChunkRow], vectors: Any, words: list[list[str]]) -> None:
        """Write new chunks whose vectors are known (e.g. a benchmark's store): vectors
        (with their records as metadata), then catalog rows, marked embedded."""
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(rows), WRITE_BATCH):
            part = rows[start:start + WRITE_BATCH]
            self._upsert(part, vectors[start:start + WRITE_BATCH])
            self.catalog.put(part, words[start:start + WRITE_BATCH])
        self._wrote()

    def _upsert(self, rows: list[ChunkRow], vectors: Any) -> None:
        """Vectors into Chroma, with their records as metadata."""
        self.store.collection.upsert(
            ids=[r.chunk_id for r in rows], embeddings=vectors, documents=[r.text for r in rows],
            metadatas=[{c: getattr(r, c) for c in _CHROMA_META} for r in rows])

    def add_searchable(self, rows: list[ChunkRow], words: list[list[str]]) -> None:
        """Write new chunks to the catalog and the lexical index at once, in small
        transactions (each searchable as soon as it commits), queued for embedding."""
        for start in range(0, len(rows), LEXICAL_BATCH):
            self.catalog.put(rows[start:start + LEXICAL_BATCH],
                             words[start:start + LEXICAL_BATCH], embedded=False)
            self._wrote()

    def add_vectors(self, rows: list[ChunkRow], vectors: Any) -> None:
        """Store the vectors of queued chunks (with their records as metadata), then mark
        them embedded in the catalog."""
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(rows), WRITE_BATCH):
            part = rows[start:start + WRITE_BATCH]
            self._upsert(part, vectors[start:start + WRITE_BATCH])
            self.catalog.mark_embedded([r.chunk_id for r in part])
        self._wrote()

    def catalog_only(self, rows: list[ChunkRow], words: list[list[str]]) -> None:
        """Catalog rows for chunks whose vectors Chroma already holds."""
        for start in range(0, len(rows), WRITE_BATCH):
            self.catalog.put(rows[start:start + WRITE_BATCH], words[start:start + WRITE_BATCH])
        self._wrote()

    def update_metadata(self, rows: list[ChunkRow]) -> None:
        """New article metadata for unchanged chunks, in Chroma (those it holds: a queued
        chunk takes its metadata from the catalog when embedded) and the catalog."""
        queued = self.catalog.pending_ids() if rows else set()
        for part in _batches(rows, WRITE_BATCH):
            stored = [r for r in part if r.chunk_id not in queued]
            if stored:
                self.store.collection.update(
                    ids=[r.chunk_id for r in stored],
                    metadatas=[{c: getattr(r, c) for c in _CHROMA_META} for r in stored])
            self.catalog.update_metadata(part)
        self._wrote()

    def delete(self, chunk_ids: list[str], vectors_too: Sequence[str] = ()) -> None:
        """Remove chunks: catalog rows first, then their vectors (and `vectors_too`, vectors
        with no catalog row, left by a killed ingest)."""
        for part in _batches(chunk_ids, WRITE_BATCH):
            self.catalog.delete(part)
        for part in _batches(list(dict.fromkeys([*chunk_ids, *vectors_too])), WRITE_BATCH):
            self.store.collection.delete(ids=part)
        self.catalog.bump_revision()
        self._wrote()

    def _wrote(self) -> None:
        revision = self.catalog.revision
        _revisions_written[str(self.catalog.path)] = revision
        self._seen_revision = revision


def open_index(settings: Settings, model_name: str, dim: int | None, create: bool = False) -> ChunkIndex:
    """Open (or with create=True, create) the collection's chunk index."""
    with store_errors(settings):
        return ChunkIndex(settings, model_name, dim, create=create)


def warm_up(settings: Settings, model_name: str, dim: int | None) -> None:
    """Open an embedded store's collection and load its vector index on a thread, for a
    cold `rag ask`: Chroma reads its HNSW index at the first query (0.25-0.3 s of one core
    at 100k chunks, outside the GIL), so a throwaway query started here overlaps that load
    with what the process does before its real query (importing the answer stage,
    embedding the question). Chroma keeps one instance per store path, so the index the
    question opens next finds the vectors loaded; its first query waits for this thread.
    Does nothing for a server store or a store without a catalog (nothing to load)."""
    if settings.store != "embedded" or not catalog_path(settings).is_file():
        return
    with store_errors(settings):
        store = open_store(settings, model_name, dim)
        dim = dim or int(store.metadata.get(DIM_KEY) or 0)
    if not dim:
        return
    probe = [[1.0] + [0.0] * (dim - 1)]

    def load() -> None:
        try:
            store.collection.query(query_embeddings=probe, n_results=1, include=[])
        except Exception:  # noqa: BLE001 - the question's own query reports the store's errors
            pass

    # not a daemon: a process that ends before its query waits for the load to finish
    # rather than exiting while the thread is inside Chroma's native code (that can crash)
    thread = threading.Thread(target=load, name="chroma-warm-up")
    _warm_ups[str(settings.store_path)] = thread
    thread.start()


def _await_warm_up(settings: Settings) -> None:
    """Wait for this store's warm-up query, if one is running (one load, not two at once)."""
    thread = _warm_ups.pop(str(settings.store_path), None)
    if thread is not None:
        thread.join()


def queued_chunks(settings: Settings) -> int:
    """Chunks of the collection waiting for vectors, read from the catalog alone (no
    vector store opened, nothing written): 0 when there is no catalog yet, or one being
    created, or one made before the queue existed (all of its rows are embedded)."""
    path = catalog_path(settings)
    if not path.is_file():
        return 0
    catalog = Catalog(path, read_only=True)
    try:
        return catalog.pending_counts()[0]
    except (sqlite3.OperationalError, CatalogError):
        return 0
    finally:
        catalog.close()


def lexical_doc_ids(settings: Settings, words: list[str], k: int) -> list[str]:
    """Doc ids of the k best BM25 chunks for the words, read from the catalog alone and
    read-only (for watching another process's ingest, as `eval.bench.progressive` does);
    [] while there is no catalog or it is being created."""
    path = catalog_path(settings)
    if not path.is_file():
        return []
    catalog = Catalog(path, read_only=True)
    try:
        return [row.doc_id for row, _ in catalog.search_words(words, k, Filters())]
    except (sqlite3.OperationalError, CatalogError):
        return []
    finally:
        catalog.close()


def drop_index(settings: Settings) -> Path | None:
    """Delete the collection and its catalog (`rag ingest --rebuild`); returns where a
    damaged embedded store was moved aside, if it was."""
    _await_warm_up(settings)
    with store_errors(settings):
        moved = drop_collection(settings)
    path = catalog_path(settings)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _revisions_written.pop(str(path), None)
    return moved
