"""Retrieval quality alone, and the fit of the retrieval weights.

`rag eval` answers every question; this module only retrieves (the same way: the
pipeline's `Newsdesk._prepare`, with the question's as-of date and time plan) and
scores the passages with the harness's own relevance rule, so the retrieval figures
are the ones `rag eval` reports (hit@k, MRR@k), at a fraction of the cost.

    python -m eval.bench.retrieval_fit measure --dataset rgb
    python -m eval.bench.retrieval_fit measure --dataset realtimeqa --part held-out
    python -m eval.bench.retrieval_fit fit --dataset realtimeqa --part calibration \\
        --grid recency_weight=0,0.5,1,2 --grid recency_half_life_days=7,30,180

`fit` tries every combination of the given settings on the chosen part (dense and BM25
candidates are computed once per question and reused: the weights act after them) and
prints hit@k and MRR per combination, best first. Fit on `--part calibration`, then
report `measure --part held-out` with the chosen values (set them in rag/config.py).
The eval store is the one `rag eval` keeps under --work-dir (ingested here if missing).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any


def _plan(dataset: str, work_dir: Path, limit: int | None, part: str):
    import inspect

    from eval.datasets import select_part
    from eval.harness import plan_dataset
    from rag.config import Settings

    base = Settings()
    if "part" in inspect.signature(plan_dataset).parameters:
        plan = plan_dataset(dataset, base, work_dir, limit, part=part)
    else:
        plan = plan_dataset(dataset, base, work_dir, limit)
    plan.records = select_part(plan.records, part)
    return plan, base


def open_desk(dataset: str, work_dir: Path, limit: int | None, part: str, ingest: bool,
              **overrides: Any):
    """(records, desk) over the eval collection of the dataset."""
    from eval.harness import eval_settings, prepare
    from rag.answer import Newsdesk

    plan, base = _plan(dataset, work_dir, limit, part)
    settings = eval_settings(base, plan, work_dir, **overrides)
    if ingest:
        prepare(plan, settings, progress=False, log=lambda m: print(m, file=sys.stderr))
    return plan.records, Newsdesk(settings)


def cache_candidates(desk) -> None:
    """Memoise the dense and BM25 candidate lists of the desk's retriever (the weights
    being fitted act after them), handing out fresh copies of the passages."""
    import copy

    retriever = desk.retriever
    for name in ("dense", "lexical"):
        original = getattr(retriever, name)
        memo: dict = {}

        def cached(question, k, filters=None, _original=original, _memo=memo):
            from rag.records import Filters

            filters = filters if filters is not None else Filters()
            key = (question, k, repr(filters), retriever.settings.lexical_max_postings)
            if key not in _memo:
                _memo[key] = _original(question, k, filters)
            return copy.deepcopy(_memo[key])

        setattr(retriever, name, cached)


def score(records, desk, k: int | None = None) -> dict[str, Any]:
    """hit@k and MRR@k of the desk's retrieval on the answerable records with evidence."""
    from eval import metrics as M
    from eval.harness import _passage_relevant
    from rag.records import Filters

    k = k or desk.settings.top_k
    hits, rrs, times, misses = [], [], [], []
    for record in records:
        if not (record.answerable and record.evidence):
            continue
        filters = Filters(exclude_doc_ids=frozenset(record.exclude_doc_ids))
        started = time.perf_counter()
        _, _, retrieval, _, _ = desk._prepare(record.question, record.history or None, k,
                                             filters, record.as_of, {})
        times.append(time.perf_counter() - started)
        relevant = [_passage_relevant(p, record) for p in retrieval.passages]
        hits.append(M.hit_at_k(relevant, k))
        rrs.append(M.reciprocal_rank(relevant, k))
        if not hits[-1]:
            misses.append(record.id)
    n = len(hits)
    times.sort()
    return {"n": n, "hit_at_k": sum(hits) / max(1, n), "mrr": sum(rrs) / max(1, n),
            "retrieve_p50_ms": 1000 * times[len(times) // 2] if times else None,
            "misses": misses}


def apply(desk, values: dict[str, Any]) -> None:
    """Give the desk's retriever (and its steps) these settings."""
    settings = desk.settings.model_copy(update=values)
    desk.settings = settings
    desk.retriever.reconfigure(settings)


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.retrieval_fit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["measure", "fit"])
    parser.add_argument("--dataset", default="seed")
    parser.add_argument("--part", default="all", choices=["all", "calibration", "held-out"])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--work-dir", type=Path, default=Path(".newsdesk/eval"))
    parser.add_argument("--no-ingest", action="store_true",
                        help="Use the eval store as it is (it must exist).")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="A setting for every run (repeatable).")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                        help="fit: a setting and the values to try (repeatable).")
    parser.add_argument("--json", action="store_true", help="Print JSON lines.")
    args = parser.parse_args(argv)
    fixed = {name: _value(v) for name, v in (s.split("=", 1) for s in args.set)}
    records, desk = open_desk(args.dataset, args.work_dir, args.limit, args.part,
                              not args.no_ingest)
    if fixed:
        apply(desk, fixed)
    label = f"{args.dataset}/{args.part}" + (f"/{args.limit}q" if args.limit else "")
    if args.command == "measure":
        got = score(records, desk, args.top_k)
        print(json.dumps({"set": label, **fixed, **got}) if args.json else
              f"{label}: n={got['n']} hit@k={got['hit_at_k']:.3f} MRR={got['mrr']:.3f} "
              f"retrieve p50 {got['retrieve_p50_ms']:.0f} ms; misses: {' '.join(got['misses'])}")
        return 0
    grid = [(name, [_value(v) for v in values.split(",")])
            for name, values in (g.split("=", 1) for g in args.grid)]
    cache_candidates(desk)
    rows = []
    for combo in itertools.product(*[values for _, values in grid]):
        values = dict(zip([name for name, _ in grid], combo))
        apply(desk, {**fixed, **values})
        got = score(records, desk, args.top_k)
        rows.append((got["hit_at_k"], got["mrr"], values))
        if args.json:
            print(json.dumps({"set": label, **values, "hit_at_k": got["hit_at_k"],
                              "mrr": got["mrr"]}), flush=True)
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    if not args.json:
        for hit, mrr, values in rows:
            print(f"hit@k {hit:.3f}  MRR {mrr:.3f}  {values}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
