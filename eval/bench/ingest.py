"""Ingest at the store's speed: writing chunks whose vectors are already known (what
`rag ingest` does after its embedding model, e.g. with OpenAI or a GPU server) against
Chroma's own `collection.add` of the same chunks, vectors, texts and metadata.

"Ours" is the write half of rag/ingest/sync.py `_embed_and_add`: `rag.text.tokenize` of
the texts (the catalog's BM25 words) plus `ChunkIndex.add` (Chroma upserts in batches of
5,000, then the catalog's rows and FTS5 words in one transaction per batch). Each
measurement runs in a fresh process into a fresh store; the two kinds alternate.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.common import Report, log, peak_rss_mb, run_worker, size_label, worker_main


def worker(spec: dict) -> dict:
    from eval.bench.common import make_settings
    from eval.bench.stores import base_material, synthetic
    from rag.index.chunks import _CHROMA_META, WRITE_BATCH, open_index
    from rag.index.store import connect
    from rag.text import tokenize

    rows, vectors, model_name, dim = base_material(spec["articles"])
    chunks, vecs, _ = synthetic(rows, vectors, spec["size"])
    work = Path(tempfile.mkdtemp(prefix="newsdesk-bench-ingest-"))
    profile = cProfile.Profile() if spec.get("profile") else None
    try:
        settings = make_settings(store_path=work / "chroma", collection="ingest")
        if spec["kind"] == "chroma":
            client = connect(settings)
            collection = client.create_collection("ingest", embedding_function=None,
                                                  configuration={"hnsw": {"space": "cosine"}})
            metadatas = [{c: getattr(r, c) for c in _CHROMA_META} for r in chunks]
            ids, texts = [r.chunk_id for r in chunks], [r.text for r in chunks]
            started, cpu = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            for i in range(0, len(chunks), WRITE_BATCH):
                collection.add(ids=ids[i:i + WRITE_BATCH], embeddings=vecs[i:i + WRITE_BATCH],
                               documents=texts[i:i + WRITE_BATCH], metadatas=metadatas[i:i + WRITE_BATCH])
            count = collection.count()
        else:
            index = open_index(settings, model_name, dim, create=True)
            started, cpu = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            words = tokenize([r.text for r in chunks])
            index.add(chunks, vecs, words)
            count = index.count()
        if profile:
            profile.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {"kind": spec["kind"], "size": spec["size"], "seconds": seconds, "cpu_s": cpu,
           "count": count, "peak_rss_mb": peak_rss_mb()}
    if profile:
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(25)
        out["profile"] = text.getvalue()
    return out


def bench_ingest(report: Report, sizes: list[int], articles: int) -> None:
    """Chroma add and ours at each size, alternating (three rounds, ABA, from 5k to
    20k chunks; one round otherwise)."""
    details: dict[str, dict] = {}
    for size in sizes:
        rounds = 3 if 5_000 <= size <= 20_000 else 1
        label = size_label(size)
        runs: dict[str, list[dict]] = {"chroma": [], "ours": []}
        for r in range(rounds):
            for kind in (("chroma", "ours") if r % 2 == 0 else ("ours", "chroma")):
                log(f"ingest: {kind}, {label} chunks (round {r + 1}/{rounds})")
                runs[kind].append(run_worker("eval.bench.ingest", {
                    "kind": kind, "size": size, "articles": articles}, timeout=3 * 3600))
        details[str(size)] = runs
        chroma = statistics.median(r["seconds"] for r in runs["chroma"])
        ours = statistics.median(r["seconds"] for r in runs["ours"])
        how = (f"fresh process, fresh store, {label} synthetic chunks with precomputed 384-d "
               f"vectors; median of {rounds}, alternating")
        report.add(f"ingest.{label}.chroma_add_s", f"[ingest {label}] Chroma collection.add",
                   chroma, "s", how + "; collection.add(ids, embeddings, documents, metadatas) "
                   "in batches of 5,000")
        report.add(f"ingest.{label}.ours_s", f"[ingest {label}] tokenize + ChunkIndex.add", ours,
                   "s", how + "; rag.text.tokenize + ChunkIndex.add (Chroma upsert + SQLite "
                   "catalog with FTS5 words)")
        report.add(f"ingest.{label}.chroma_chunks_per_s", f"[ingest {label}] Chroma add, chunks/s",
                   size / chroma, "1/s", "as above")
        report.add(f"ingest.{label}.ours_chunks_per_s", f"[ingest {label}] ours, chunks/s",
                   size / ours, "1/s", "as above")
        report.add(f"ingest.{label}.ratio", f"[ingest {label}] ours / Chroma add", ours / chroma,
                   "x", f"ingest.{label}.ours_s / ingest.{label}.chroma_add_s, same run", "<= 1.5",
                   lambda v: v <= 1.5)
        cpu = (statistics.median(r["cpu_s"] for r in runs["ours"])
               / statistics.median(r["cpu_s"] for r in runs["chroma"]))
        report.add(f"ingest.{label}.ratio_cpu", f"[ingest {label}] ours / Chroma add (CPU time)", cpu,
                   "x", "same runs, process CPU time of all threads (less sensitive to other "
                   "processes' load than wall time)", "<= 1.5", lambda v: v <= 1.5)
    report.details["ingest"] = details


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    worker_main(worker)
