"""Ingest a folder of articles into the store: idempotent, incremental, crash-safe.

Chunk ids are content hashes, so an ingest only embeds chunks the store lacks, deletes
chunks of changed articles that no longer exist, and (with prune) deletes articles whose
files left the folder. New chunks are written before stale ones are removed, so an
interrupted ingest leaves extra chunks at worst, and the next run removes them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from filelock import FileLock, Timeout
from tqdm import tqdm

from rag.articles import SUPPORTED_SUFFIXES, Article, ArticleError, load_file
from rag.chunking import Chunk, chunk_article
from rag.config import Settings
from rag.embeddings import embedding_name, get_embeddings
from rag.store import Store, drop_collection, open_store, store_errors

PAGE = 5000


class IngestBusyError(Exception):
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
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.files} files, {self.articles} articles, {self.chunks} chunks: "
                f"{self.added} added, {self.unchanged} unchanged, {self.deleted} deleted, "
                f"{self.updated} metadata updated, {self.embedded} embedded, "
                f"{len(self.skipped)} files skipped, {self.seconds:.1f} s")


def find_files(folder: Path) -> list[Path]:
    """Article files under folder, sorted; hidden files and folders are ignored."""
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder {folder} does not exist")
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _doc_id(path: Path, folder: Path, taken: set[str]) -> str:
    relative = path.relative_to(folder)
    doc_id = relative.with_suffix("").as_posix()
    return relative.as_posix() if doc_id in taken else doc_id


def load_corpus(folder: Path, report: IngestReport) -> tuple[list[Article], set[str]]:
    """Good articles of the folder (duplicates dropped) and the ids of every file seen."""
    articles: list[Article] = []
    seen_ids: set[str] = set()
    by_hash: dict[str, str] = {}
    for path in find_files(folder):
        report.files += 1
        doc_id = _doc_id(path, folder, seen_ids)
        seen_ids.add(doc_id)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            report.skipped.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            loaded = load_file(path, doc_id)
        except ArticleError as err:
            report.skipped.append((str(path), str(err).removeprefix(f"{path}: ")))
            continue
        for article in loaded:
            seen_ids.add(article.doc_id)
            first = by_hash.setdefault(article.content_hash, article.path)
            if first != article.path:
                report.skipped.append((article.path, f"same text as {first}; not ingested twice"))
                continue
            articles.append(article)
    return articles, seen_ids


def _metadata(article: Article, chunk: Chunk, meta_hash: str) -> dict[str, Any]:
    date_int = int(article.date.replace("-", "")) if article.date else 0
    return {"doc_id": article.doc_id, "title": article.title, "date": article.date or "",
            "date_int": date_int, "source": article.source or "", "url": article.url or "",
            "byline": article.byline or "", "path": article.path, "start": chunk.start,
            "end": chunk.end, "index": chunk.index, "meta_hash": meta_hash}


def _meta_hash(article: Article) -> str:
    fields = [article.title, article.date, article.source, article.url, article.byline, article.path]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def _existing(store: Store) -> dict[str, dict[str, Any]]:
    """chunk id -> metadata for everything in the collection, read in pages."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = store.collection.get(include=["metadatas"], limit=PAGE, offset=offset)
        for chunk_id, meta in zip(page["ids"], page["metadatas"]):
            found[chunk_id] = meta or {}
        if len(page["ids"]) < PAGE:
            return found
        offset += PAGE


def _batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def lock_path(settings: Settings) -> Path:
    """The file that serialises ingests into one collection."""
    settings.store_path.mkdir(parents=True, exist_ok=True)
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
    try:
        report = IngestReport()
        articles, seen_ids = load_corpus(folder, report)
        embeddings = get_embeddings(settings)
        with store_errors(settings):
            if rebuild:
                drop_collection(settings)
            dim = getattr(embeddings, "dimension", None)
            store = open_store(settings, embedding_name(embeddings), dim, create=True)
            _sync(store, articles, seen_ids, settings, report, prune, progress)
        report.seconds = time.perf_counter() - started
        return report
    finally:
        lock.release()


def _sync(store: Store, articles: list[Article], seen_ids: set[str], settings: Settings,
          report: IngestReport, prune: bool, progress: bool) -> None:
    existing = _existing(store)
    wanted: dict[str, tuple[Chunk, dict[str, Any]]] = {}
    for article in articles:
        meta_hash = _meta_hash(article)
        for chunk in chunk_article(article, settings.chunk_tokens, settings.chunk_overlap):
            wanted[chunk.chunk_id] = (chunk, _metadata(article, chunk, meta_hash))
    report.articles, report.chunks = len(articles), len(wanted)

    ingested_docs = {a.doc_id for a in articles}
    stale = [cid for cid, meta in existing.items() if cid not in wanted and (
        meta.get("doc_id") in ingested_docs or (prune and meta.get("doc_id") not in seen_ids))]
    report.pruned_articles = len({existing[c].get("doc_id") for c in stale} - ingested_docs)
    to_add = [cid for cid in wanted if cid not in existing]
    to_update = [cid for cid in wanted if cid in existing
                 and existing[cid].get("meta_hash") != wanted[cid][1]["meta_hash"]]
    report.unchanged = len(wanted) - len(to_add)

    embeddings = get_embeddings(settings)
    with tqdm(total=len(to_add), desc="embedding", unit="chunk", disable=not progress or not to_add,
              leave=False) as bar:
        for batch in _batches(to_add, settings.embedding_batch_size):
            texts = [wanted[cid][0].text for cid in batch]
            vectors = embeddings.embed_documents(texts)
            store.collection.upsert(ids=batch, embeddings=vectors, documents=texts,
                                    metadatas=[wanted[cid][1] for cid in batch])
            report.added += len(batch)
            report.embedded += len(batch)
            bar.update(len(batch))
    for batch in _batches(to_update, PAGE):
        store.collection.update(ids=batch, metadatas=[wanted[cid][1] for cid in batch])
        report.updated += len(batch)
    for batch in _batches(stale, PAGE):
        store.collection.delete(ids=batch)
        report.deleted += len(batch)
    if to_add or to_update or stale:
        store.bump_revision()
