"""Ingest articles (folders, files, pages and feeds) into the chunk index: idempotent,
incremental, crash-safe.

Chunk ids are content hashes, so an ingest only embeds chunks the index lacks, deletes
chunks of changed articles that no longer exist, and (with prune) deletes articles that
left the sources read: only articles of the folders and files ingested (their id prefix)
and feed items that left their feed, never those of a file that failed to load (what the
store has of it stays until it loads). New chunks are written before stale ones are
removed, so an interrupted ingest leaves extra chunks at worst, and the next run removes
them.

Searchable first, embedded next: every new chunk goes into the catalog and its lexical
index at once (small transactions), then the embedding queue (the catalog's rows not yet
embedded) is drained in the model's batches (`embed_pending`): a new article is found by
BM25 within seconds whatever the batch, and by its vector once embedded. A kill leaves
the queue for the next ingest, or for `rag serve`'s worker (`drain`).

Syndicated copies (`rag.ingest.copies`) are grouped into stories over the whole
collection on every ingest, so adds, edits, deletes and prunes keep the groups right
(deleting an original promotes its earliest copy; a copy edited apart leaves its story).
A chunk text already embedded (here or in an earlier ingest) is not embedded again: its
stored vector is reused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from filelock import FileLock, Timeout
from tqdm import tqdm

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.index.chunks import (EMBED_BATCH, ChunkIndex, ChunkRow, chunk_row, drop_index, meta_hash,
                              open_index, queued_chunks)
from rag.index.embeddings import embedding_name, get_embeddings
from rag.index.store import StoreError, store_errors
from rag.ingest.chunking import chunk_article
from rag.ingest.copies import count_copies, fingerprint, group, text_from_chunks
from rag.records import Article
from rag.sources.files import file_part
from rag.sources.mixed import is_web_id, read_local, split_sources
from rag.sources.state import SourceState, state_path
from rag.sources.urls import WebRead, read_urls
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
    shared: int = 0          # chunks stored with a vector reused from an identical text
    copies: int = 0          # articles that are copies of another (whole collection)
    stories: int = 0         # stories that have copies (whole collection)
    pruned_articles: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_records: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    web: WebRead | None = None  # what was read from URLs (feeds, pages), when any

    def summary(self) -> str:
        if self.web is None:
            read, skipped = _count(self.files, "file"), f"{_count(len(self.skipped), 'file')} skipped"
        else:
            read = (f"{_count(self.files, 'file')}, {_count(self.web.feeds, 'feed')}, "
                    f"{_count(self.web.pages, 'page')} read ({self.web.not_modified} unchanged)")
            skipped = f"{len(self.skipped)} skipped"
        return (f"{read}, {_count(self.articles, 'article')}, {_count(self.chunks, 'chunk')}: "
                f"{self.added} added, {self.unchanged} unchanged, {self.deleted} deleted, "
                f"{self.updated} metadata updated, {self.embedded} embedded, "
                f"{self.shared} shared; {_count(self.copies, 'copy', 'copies')} of "
                f"{_count(self.stories, 'story', 'stories')}; {skipped}, "
                + (f"{_count(len(self.skipped_records), 'record')} skipped, " if self.skipped_records else "")
                + f"{self.seconds:.1f} s")


def _count(n: int, noun: str, nouns: str | None = None) -> str:
    """"1 file", "2 files", "0 copies"."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def lock_path(settings: Settings) -> Path:
    """The file that serialises ingests into one collection."""
    try:
        settings.store_path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create the store folder {settings.store_path} "
                         f"({err.strerror or err}): check its permissions and free space") from None
    return settings.store_path / f".ingest-{settings.collection}.lock"


def ingest(sources: Path | str | Sequence[Path | str], settings: Settings, prune: bool = False,
           rebuild: bool = False, progress: bool = True, wait_seconds: float = 0,
           embed: bool = True) -> IngestReport:
    """Bring the collection in line with the sources (folders, article files, http(s) URLs
    of pages or RSS/Atom feeds); returns what was done, with every source skipped and why.

    With prune, a folder's articles whose files left it, a file's records that left it
    and a feed's items that left the feed are deleted; nothing else is. Every article is
    searchable (lexically) before any is embedded; embed=False stops there, leaving the
    vectors to the next ingest or `rag serve`'s worker (as a kill at that point would)."""
    started = time.perf_counter()
    chosen = split_sources(sources)
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
        corpus = read_local(chosen)
        report = IngestReport(files=corpus.files, skipped=corpus.skipped,
                              skipped_records=corpus.skipped_records, notes=corpus.notes)
        embeddings = get_embeddings(settings)
        with store_errors(settings):
            if rebuild:
                if (moved := drop_index(settings)) is not None:
                    report.notes.append((str(settings.store_path), f"the store was damaged; it "
                                         f"was moved to {moved} and built afresh"))
                SourceState.remove(settings)
            index = _open_current(settings, embeddings, report)
            articles, seen_ids, scopes = corpus.articles, set(corpus.seen_ids), set(corpus.scopes)
            state = None
            batches = IngestReport()
            if chosen.urls:
                indexed = {doc_id for doc_id, _ in index.states().values()}
                state = SourceState.load(state_path(settings))
                web_ids = {doc_id for doc_id in indexed if is_web_id(doc_id)}
                if state.damaged or (web_ids and not state.path.exists()):
                    state.rebuild(web_ids)
                    report.notes.append((str(state.path), state.damaged or (
                        "the sources state was missing; it was rebuilt from the index: feeds "
                        "and pages are fetched again in full")))

                def write_batch(batch: list[Article]) -> None:
                    """Store a batch of articles read from the web, then the state that
                    led to them: a kill later keeps them."""
                    _add_counts(batches, _sync_batch(index, batch, settings))
                    state.save()

                report.web = read_urls(chosen.urls, settings, state, indexed, prune,
                                       progress=progress, on_batch=write_batch)
                report.skipped += report.web.skipped
                report.notes += report.web.notes
                taken = {a.doc_id for a in articles}
                articles = articles + [a for a in report.web.articles[report.web.written:]
                                       if a.doc_id not in taken]
                seen_ids |= report.web.seen_ids
                scopes |= report.web.left_ids  # a feed answers for the items that left it
            sync(index, articles, seen_ids, settings, report, prune, progress, scopes=scopes)
            _add_counts(report, batches)
            if state is not None:
                state.save()
            if embed:
                embed_pending(index, settings, report, progress)
        report.seconds = time.perf_counter() - started
        return report
    finally:
        lock.release()


def _sync_batch(index: ChunkIndex, batch: list[Article], settings: Settings) -> IngestReport:
    """Store a batch of articles (nothing pruned); what was done."""
    done = IngestReport()
    sync(index, batch, {a.doc_id for a in batch}, settings, done)
    return done


def _add_counts(report: IngestReport, more: IngestReport) -> None:
    for name in ("articles", "chunks", "added", "updated", "deleted", "unchanged", "embedded",
                 "shared"):
        setattr(report, name, getattr(report, name) + getattr(more, name))


def _open_current(settings: Settings, embeddings, report: IngestReport) -> ChunkIndex:
    """The collection's index, built afresh (and noted) when its articles were stored
    under an older article-id scheme: every chunk id changes with the ids anyway."""
    dimension = getattr(embeddings, "dimension", None)
    index = open_index(settings, embedding_name(embeddings), dimension, create=True)
    if index.meta("doc_ids") != DOC_ID_SCHEME:
        if index.count():
            index.close()
            drop_index(settings)
            SourceState.remove(settings)  # pages and feeds are read again in full
            index = open_index(settings, embedding_name(embeddings), dimension, create=True)
            report.notes.append((str(settings.store_path), "articles were stored under the old "
                                 "article ids; the collection was built afresh (articles read "
                                 "from URLs come back with the next `rag sync`)"))
        index.set_meta("doc_ids", DOC_ID_SCHEME)
    return index


def is_kept(doc_id: str, seen_ids: set[str]) -> bool:
    """Whether prune keeps a stored article: it was seen, or it is a record of a file
    that was seen (a file that failed to load, wholly or in part, keeps its records)."""
    return doc_id in seen_ids or file_part(doc_id) in seen_ids


def sync(index: ChunkIndex, articles: list[Article], seen_ids: set[str], settings: Settings,
         report: IngestReport, prune: bool = False, progress: bool = False,
         scopes: set[str] | None = None) -> None:
    """Make the index hold exactly the chunks of `articles`, plus the chunks of other
    stored articles unless prune removes them: with prune, an article in one of `scopes`
    (all, when None; see `_in_scope`) and not kept by `seen_ids` goes. Each chunk is
    stored in its article's story. New chunks are written searchable and queued for
    embedding (`embed_pending` embeds them)."""
    wanted: dict[str, ChunkRow] = {}
    for article in articles:
        article_hash = meta_hash(article)
        for chunk in chunk_article(article, settings.chunk_tokens, settings.chunk_overlap):
            wanted[chunk.chunk_id] = chunk_row(article, chunk, article_hash)
    report.articles, report.chunks = len(articles), len(wanted)

    catalogued = index.states()
    embedded = set(catalogued) - index.pending_ids()
    # the two stores agree unless a kill came between their writes: then ask Chroma
    vectors = embedded if index.vector_count() == len(embedded) else index.vector_ids()
    ingested_docs = {a.doc_id for a in articles}
    stale = [cid for cid, (doc_id, _) in catalogued.items() if cid not in wanted and (
        doc_id in ingested_docs or (prune and _in_scope(doc_id, scopes)
                                    and not is_kept(doc_id, seen_ids)))]
    report.pruned_articles = len({catalogued[c][0] for c in stale} - ingested_docs)
    gone = {catalogued[c][0] for c in stale} - ingested_docs

    orphans = [cid for cid in vectors - set(catalogued) if cid not in wanted]
    to_queue = [cid for cid in wanted if cid not in vectors and cid not in catalogued]
    to_catalog = [cid for cid in wanted if cid in vectors and cid not in catalogued]
    to_update = [cid for cid in wanted if cid in catalogued
                 and catalogued[cid][1] != wanted[cid].meta_hash]
    report.unchanged = len(wanted) - len(to_queue) - len(to_catalog)

    if to_queue:
        rows = [wanted[cid] for cid in to_queue]
        index.add_searchable(rows, tokenize([r.text for r in rows]))
        report.added += len(rows)
    if to_catalog:
        rows = [wanted[cid] for cid in to_catalog]
        index.catalog_only(rows, tokenize([r.text for r in rows]))
        report.added += len(rows)
    if to_update:
        index.update_metadata([wanted[cid] for cid in to_update])
        report.updated += len(to_update)
    if stale or orphans:
        index.delete(stale, vectors_too=orphans)
        report.deleted += len(stale)
    # copies are grouped after the write (new rows start as their own story), so that
    # grouping the whole collection never delays an article's being searchable
    stories = _stories(index, wanted, ingested_docs | gone, settings)
    report.copies, report.stories = count_copies(stories)
    stored = index.story_ids()
    index.set_story_ids({doc_id: story for doc_id, story in stories.items()
                         if doc_id in stored and stored[doc_id] != story})


def _stories(index: ChunkIndex, wanted: dict[str, ChunkRow], skip: set[str],
             settings: Settings) -> dict[str, str]:
    """doc id -> story id for every article the collection will hold: those being
    ingested (from their chunks) and the stored ones that stay (from the catalog)."""
    spans: dict[str, list[tuple[int, str]]] = {}
    dates: dict[str, str] = {}
    for row in wanted.values():
        spans.setdefault(row.doc_id, []).append((row.start_char, row.text))
        dates[row.doc_id] = row.date
    prints = [fingerprint(doc_id, dates[doc_id], text_from_chunks(parts), settings.copy_shingle_words)
              for doc_id, parts in spans.items()]
    for doc_id, date, parts in index.article_spans(skip=skip | set(spans)):
        prints.append(fingerprint(doc_id, date, text_from_chunks(parts), settings.copy_shingle_words))
    return group(prints, settings.copy_threshold)


def _in_scope(doc_id: str, scopes: set[str] | None) -> bool:
    """Whether a source read now answers for a stored article: a folder scope (`name/`)
    for the files under it, a file's id for its records, a URL for itself."""
    if scopes is None:
        return True
    if is_web_id(doc_id):
        return doc_id in scopes
    return any(doc_id.startswith(scope) if scope.endswith("/") else file_part(doc_id) == scope
               for scope in scopes)


def embed_pending(index: ChunkIndex, settings: Settings, report: IngestReport,
                  progress: bool = False, stop=None) -> None:
    """Drain the embedding queue (chunks written searchable, not yet embedded), oldest
    first, `EMBED_BATCH` at a time: each batch's vectors are stored, then its rows marked
    embedded, so a kill loses one batch's work at most. A text already stored, or met
    earlier in the batch, is not embedded again. `stop` (an Event) ends it between batches."""
    embeddings = get_embeddings(settings)
    step = settings.embedding_batch_size
    total = index.pending_count()
    with tqdm(total=total, desc="embedding", unit="chunk", disable=not progress or not total,
              leave=False) as bar:
        while not (stop is not None and stop.is_set()):
            part = index.pending_rows(EMBED_BATCH)
            if not part:
                return
            known = index.vectors_for_texts([r.text_key for r in part]) \
                if settings.share_identical_chunks else {}
            new: dict[str, str] = {}  # text key -> text, to embed
            for row in part:
                if row.text_key not in known:
                    new.setdefault(row.text_key if settings.share_identical_chunks
                                   else row.chunk_id, row.text)
            keys, texts = list(new), list(new.values())
            computed: dict[str, list[float]] = {}
            for i in range(0, len(texts), step):
                got = embeddings.embed_documents(texts[i:i + step])
                computed.update(zip(keys[i:i + step], got))
                bar.update(len(got))
            if settings.share_identical_chunks:
                vectors = [known.get(r.text_key) or computed[r.text_key] for r in part]
            else:
                vectors = [computed[r.chunk_id] for r in part]
            bar.update(len(part) - len(texts))
            index.add_vectors(part, vectors)
            report.embedded += len(texts)
            report.shared += len(part) - len(texts)


def drain(settings: Settings, stop=None) -> int:
    """Embed the collection's queued chunks if no ingest holds the lock (`rag serve`'s
    worker, after a killed or embed=False ingest); returns the chunks embedded. Cheap
    when the queue is empty: only the catalog is read."""
    if not queued_chunks(settings):
        return 0
    lock = FileLock(str(lock_path(settings)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return 0  # the ingest holding it embeds the queue itself
    try:
        embeddings = get_embeddings(settings)
        with store_errors(settings):
            index = open_index(settings, embedding_name(embeddings),
                               getattr(embeddings, "dimension", None))
            index.ready_to_write()
            done = IngestReport()
            embed_pending(index, settings, done, stop=stop)
        return done.embedded + done.shared
    finally:
        lock.release()
