"""Ingest a folder of articles into the chunk index: idempotent, incremental, crash-safe.

Chunk ids are content hashes, so an ingest only embeds chunks the index lacks, deletes
chunks of changed articles that no longer exist, and (with prune) deletes articles whose
files left the folder: only articles of the folders ingested (their id prefix), and never
those of a file that failed to load (what the store has of it stays until it loads). New chunks are written before stale ones are removed, so an
interrupted ingest leaves extra chunks at worst, and the next run removes them. Vectors
are computed in the embedding model's batches and written in large ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm import tqdm

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.index.catalog import ChunkRow
from rag.index.chunks import WRITE_BATCH, ChunkIndex, chunk_row, drop_index, meta_hash, open_index
from rag.index.embeddings import embedding_name, get_embeddings
from rag.index.store import StoreError, store_errors
from rag.ingest.chunking import chunk_article
from rag.records import Article
from rag.sources.files import file_part, load_corpus
from rag.text import tokenize


DOC_ID_SCHEME = "folder-scoped-1"  # rag.sources.files' ids; older collections are rebuilt


class IngestBusyError(NewsdeskError):
    """Another ingest holds the lock for this collection."""


@dataclass
class IngestReport:
    """What an ingest did, with every skipped file and why."""

    files: int = 0
    articles: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    embedded: int = 0
    pruned_articles: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_records: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.files} files, {self.articles} articles, {self.chunks} chunks: "
                f"{self.added} added, {self.unchanged} unchanged, {self.deleted} deleted, "
                f"{self.updated} metadata updated, {self.embedded} embedded, "
                f"{len(self.skipped)} files skipped, "
                + (f"{len(self.skipped_records)} records skipped, " if self.skipped_records else "")
                + f"{self.seconds:.1f} s")


def lock_path(settings: Settings) -> Path:
    """The file that serialises ingests into one collection."""
    try:
        settings.store_path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create the store folder {settings.store_path} "
                         f"({err.strerror or err}): check its permissions and free space") from None
    return settings.store_path / f".ingest-{settings.collection}.lock"


def ingest(folder: Path, settings: Settings, prune: bool = False, rebuild: bool = False,
           progress: bool = True, wait_seconds: float = 0) -> IngestReport:
    """Bring the collection in line with the folder; returns what was done."""
    started = time.perf_counter()
    lock = FileLock(str(lock_path(settings)))
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise IngestBusyError(f"another ingest into collection {settings.collection!r} is "
                              f"running (lock {lock.lock_file}); wait for it to finish") from None
    except OSError as err:
        raise StoreError(f"cannot write the ingest lock {lock.lock_file} ({err.strerror or err}): "
                         f"check the permissions of {settings.store_path}") from None
    try:
        corpus = load_corpus(folder)
        report = IngestReport(files=corpus.files, skipped=corpus.skipped,
                              skipped_records=corpus.skipped_records, notes=corpus.notes)
        embeddings = get_embeddings(settings)
        with store_errors(settings):
            if rebuild and (moved := drop_index(settings)) is not None:
                report.notes.append((str(settings.store_path), f"the store was damaged; it was "
                                     f"moved to {moved} and built afresh"))
            index = open_index(settings, embedding_name(embeddings),
                               getattr(embeddings, "dimension", None), create=True)
            if index.catalog.meta("doc_ids") != DOC_ID_SCHEME:
                if index.count():  # ids changed: every chunk id changes, so nothing is lost
                    index.catalog.close()
                    drop_index(settings)
                    index = open_index(settings, embedding_name(embeddings),
                                       getattr(embeddings, "dimension", None), create=True)
                    report.notes.append((str(settings.store_path), "articles were stored under "
                                         "the old article ids; the collection was built afresh"))
                index.catalog.set_meta("doc_ids", DOC_ID_SCHEME)
            sync(index, corpus.articles, corpus.seen_ids, settings, report, prune, progress,
                 scopes=corpus.scopes)
        report.seconds = time.perf_counter() - started
        return report
    finally:
        lock.release()


def is_kept(doc_id: str, seen_ids: set[str]) -> bool:
    """Whether prune keeps a stored article: it was seen, or it is a record of a file
    that was seen (a file that failed to load, wholly or in part, keeps its records)."""
    return doc_id in seen_ids or file_part(doc_id) in seen_ids


def sync(index: ChunkIndex, articles: list[Article], seen_ids: set[str], settings: Settings,
         report: IngestReport, prune: bool = False, progress: bool = False,
         scopes: set[str] | None = None) -> None:
    """Make the index hold exactly the chunks of `articles`, plus the chunks of other
    stored articles unless prune removes them: with prune, an article whose id starts
    with one of `scopes` (all, when None) and is not kept by `seen_ids` goes."""
    wanted: dict[str, ChunkRow] = {}
    for article in articles:
        article_hash = meta_hash(article)
        for chunk in chunk_article(article, settings.chunk_tokens, settings.chunk_overlap):
            wanted[chunk.chunk_id] = chunk_row(article, chunk, article_hash)
    report.articles, report.chunks = len(articles), len(wanted)

    catalogued = index.catalog.states()
    # the two stores agree unless a kill came between their writes: then ask Chroma
    vectors = set(catalogued) if index.vector_count() == len(catalogued) else index.vector_ids()
    ingested_docs = {a.doc_id for a in articles}
    stale = [cid for cid, (doc_id, _) in catalogued.items() if cid not in wanted and (
        doc_id in ingested_docs or (prune and _in_scope(doc_id, scopes)
                                    and not is_kept(doc_id, seen_ids)))]
    report.pruned_articles = len({catalogued[c][0] for c in stale} - ingested_docs)
    orphans = [cid for cid in vectors - set(catalogued) if cid not in wanted]
    to_embed = [cid for cid in wanted if cid not in vectors]
    to_catalog = [cid for cid in wanted if cid in vectors and cid not in catalogued]
    to_update = [cid for cid in wanted if cid in catalogued
                 and catalogued[cid][1] != wanted[cid].meta_hash]
    report.unchanged = len(wanted) - len(to_embed) - len(to_catalog)

    if to_catalog:
        rows = [wanted[cid] for cid in to_catalog]
        index.catalog_only(rows, tokenize([r.text for r in rows]))
        report.added += len(rows)
    _embed_and_add(index, [wanted[cid] for cid in to_embed], settings, report, progress)
    if to_update:
        index.update_metadata([wanted[cid] for cid in to_update])
        report.updated += len(to_update)
    if stale or orphans:
        index.delete(stale, vectors_too=orphans)
        report.deleted += len(stale)


def _in_scope(doc_id: str, scopes: set[str] | None) -> bool:
    return scopes is None or any(doc_id.startswith(scope) for scope in scopes)


def _embed_and_add(index: ChunkIndex, rows: list[ChunkRow], settings: Settings,
                   report: IngestReport, progress: bool) -> None:
    """Embed in the model's batch size, write in the store's: few, large writes."""
    embeddings = get_embeddings(settings)
    step = settings.embedding_batch_size
    with tqdm(total=len(rows), desc="embedding", unit="chunk", disable=not progress or not rows,
              leave=False) as bar:
        for start in range(0, len(rows), WRITE_BATCH):
            part = rows[start:start + WRITE_BATCH]
            vectors: list[list[float]] = []
            for i in range(0, len(part), step):
                vectors += embeddings.embed_documents([r.text for r in part[i:i + step]])
                bar.update(min(step, len(part) - i))
            index.add(part, vectors, tokenize([r.text for r in part]))
            report.added += len(part)
            report.embedded += len(part)
