"""The Chroma store: embedded on disk by default, or a `chroma run` server.

The collection records the embedding model's name and dimension; opening it with another
embedding model is an error that says to re-ingest. Only `rag.index.chunks` uses it.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from rag.config import Settings
from rag.errors import NewsdeskError

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


@contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Turn a lost or failing Chroma into StoreError naming its address (no traceback).
    Nothing is cached across the failure: once the server is back, calls work again."""
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
        if isinstance(err, ChromaError):
            raise StoreError(f"{store_address(settings)}: {err}") from None
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
    except Exception as err:  # chromadb raises ValueError/ConnectionError variants
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
    meta = collection.metadata or {}
    stored, stored_dim = meta.get(MODEL_KEY), meta.get(DIM_KEY)
    if stored is None:
        return
    if stored != model_name or (dim is not None and stored_dim not in (None, dim)):
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


def drop_collection(settings: Settings) -> None:
    """Delete the collection (for `rag ingest --rebuild`)."""
    client = connect(settings)
    try:
        client.delete_collection(settings.collection)
    except Exception as err:
        if "does not exist" not in str(err).lower():
            raise
