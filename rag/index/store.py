"""The Chroma store: embedded on disk by default, or a `chroma run` server.

The collection records the embedding model's name and dimension; opening it with another
embedding model is an error that says to re-ingest. Only `rag.index.chunks` uses it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.index.embeddings import same_vectors

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_connect_lock = threading.Lock()
MODEL_KEY, DIM_KEY = "embedding_model", "embedding_dim"


class StoreError(NewsdeskError):
    """The store cannot be used; the message says where it is and what to do."""


class EmptyIndexError(StoreError):
    """Nothing has been ingested into the collection yet."""


def store_address(settings: Settings) -> str:
    """Where the store lives, for messages."""
    if settings.store == "server":
        return f"Chroma server http://{settings.chroma_host}:{settings.chroma_port}"
    return f"embedded store {settings.store_path}"


def storage_problem(err: BaseException, where: str, folder: object) -> str | None:
    """One line saying what is wrong with a store file and what to do, for the SQLite,
    file-system and Chroma errors a damaged, read-only or full store gives; else None."""
    text = " ".join(str(err).split()).lower()
    number = getattr(err, "errno", None)
    if number == errno.ENOSPC or "disk is full" in text or "no space left" in text:
        return f"{where}: the disk is full; free some space and run the command again"
    if number in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text \
            or "read-only" in text or "permission denied" in text:
        return (f"{where} cannot be written (read-only); check the permissions of {folder} "
                "(the user running Newsdesk must be able to write there)")
    if "malformed" in text or "not a database" in text or "file is encrypted" in text \
            or "database corrupt" in text or "database disk image" in text:
        return f"{where} is damaged ({str(err)[:80]}); rebuild it with `rag ingest --rebuild`"
    if isinstance(err, sqlite3.OperationalError) and "unable to open" in text:
        return (f"{where} cannot be opened ({str(err)[:80]}); check the permissions of {folder} "
                "or rebuild it with `rag ingest --rebuild`")
    return None


@contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Turn a lost, failing, damaged, read-only or full store into StoreError naming its
    address and what to do (no traceback). Nothing is cached across the failure: once the
    server is back, calls work again."""
    try:
        yield
    except StoreError:
        raise
    except Exception as err:
        import httpx
        from chromadb.errors import ChromaError

        if isinstance(err, (httpx.TransportError, ConnectionError)):
            raise StoreError(f"{store_address(settings)} is not reachable ({type(err).__name__}); "
                             "check that it is running: requests work again once it is back") from None
        if settings.store == "embedded" and isinstance(err, (ChromaError, sqlite3.Error, OSError)):
            problem = storage_problem(err, store_address(settings), settings.store_path)
            if problem:
                raise StoreError(problem) from None
        if isinstance(err, ChromaError):
            raise StoreError(f"{store_address(settings)}: {' '.join(str(err).split())[:300]}") from None
        if isinstance(err, OSError):
            problem = storage_problem(err, store_address(settings), settings.store_path)
            if problem:
                raise StoreError(problem) from None
        raise


def forget_client(settings: Settings) -> None:
    """Drop this process's cached Chroma instance of an embedded store, so that the next
    `connect()` reads the folder afresh (chromadb 1.5.x keeps one per path)."""
    if settings.store == "embedded":
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(str(settings.store_path), None)


def connect(settings: Settings) -> Any:
    """A Chroma client for the settings, telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.store == "embedded":
        settings.store_path.mkdir(parents=True, exist_ok=True)
        with _connect_lock:  # chromadb caches one instance per path but starts it unlocked
            return chromadb.PersistentClient(path=str(settings.store_path), settings=chroma_settings)
    try:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                   settings=chroma_settings)
    except ValueError as err:  # chromadb's heartbeat got an answer that is not Chroma's
        if "could not connect to a chroma server" not in str(err).lower():
            raise StoreError(f"{store_address(settings)} answered, but not as a Chroma server "
                             "(another program listens on that port?): check chroma_host and "
                             "chroma_port, or start Chroma on a free port") from None
        raise StoreError(f"{store_address(settings)} is not reachable; start it with `chroma run "
                         f"--host {settings.chroma_host} --port {settings.chroma_port} "
                         "--path <folder>`") from None
    except Exception as err:  # chromadb raises ConnectionError variants
        raise StoreError(f"{store_address(settings)} is not reachable ({type(err).__name__}); "
                         f"start it with `chroma run --host {settings.chroma_host} "
                         f"--port {settings.chroma_port} --path <folder>`") from None


@dataclass
class Store:
    """A connected collection and the facts recorded with it."""

    settings: Settings
    client: Any
    collection: Any

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.collection.metadata or {})

    def count(self) -> int:
        return int(self.collection.count())


def _check_model(collection: Any, settings: Settings, model_name: str, dim: int | None) -> None:
    """The collection's recorded embedding model must be the settings' one; an empty
    collection (a first ingest that failed on the model) takes the settings' model."""
    meta = collection.metadata or {}
    stored, stored_dim = meta.get(MODEL_KEY), meta.get(DIM_KEY)
    if stored is None:
        return
    if not same_vectors(stored, model_name) or (dim is not None and stored_dim not in (None, dim)):
        if collection.count() == 0:
            collection.modify(metadata={**meta, MODEL_KEY: model_name, DIM_KEY: dim or 0})
            return
        raise StoreError(
            f"collection {settings.collection!r} in {store_address(settings)} was built with "
            f"{stored} (dim {stored_dim}) but the settings use {model_name} (dim {dim}); "
            f"re-ingest with `rag ingest --rebuild` or choose another collection")


def open_store(settings: Settings, model_name: str, dim: int | None,
               create: bool = False) -> Store:
    """Open (or with create=True, create) the collection for the given embedding model."""
    client = connect(settings)
    try:
        if create:
            collection = client.get_or_create_collection(
                settings.collection, embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={MODEL_KEY: model_name, DIM_KEY: dim or 0})
        else:
            collection = client.get_collection(settings.collection, embedding_function=None)
    except StoreError:
        raise
    except Exception as err:
        if not create and "does not exist" in str(err).lower():
            raise EmptyIndexError(
                f"no articles in collection {settings.collection!r} of {store_address(settings)}: "
                f"run `rag ingest {settings.corpus_dir}`") from None
        raise StoreError(f"{store_address(settings)}: {err}") from None
    _check_model(collection, settings, model_name, dim)
    return Store(settings, client, collection)


def drop_collection(settings: Settings) -> Path | None:
    """Delete the collection (for `rag ingest --rebuild`). A damaged embedded store is
    moved aside whole (into `damaged-<time>/` in the store folder) so that the rebuild
    starts afresh and nothing is deleted; returns that folder, else None."""
    try:
        client = connect(settings)
        client.delete_collection(settings.collection)
    except Exception as err:
        if "does not exist" in str(err).lower():
            return None
        if settings.store != "embedded" or "is damaged" not in (storage_problem(err, "", "") or ""):
            raise
        return _move_damaged_store(settings)
    return None


def _move_damaged_store(settings: Settings) -> Path:
    folder = Path(settings.store_path)
    aside = folder / f"damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    aside.mkdir(exist_ok=True)
    for item in folder.iterdir():
        if item.name.startswith("chroma.sqlite3") or (item.is_dir() and _is_segment(item.name)):
            item.rename(aside / item.name)
    forget_client(settings)
    return aside


def _is_segment(name: str) -> bool:
    """Whether a store folder entry is one of Chroma's segment folders (named by a UUID)."""
    try:
        uuid.UUID(name)
        return True
    except ValueError:
        return False
