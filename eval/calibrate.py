"""Calibrate the refusal thresholds (min_relevance, min_term_coverage) on the eval sets.

    python -m eval.calibrate [--dataset seed --dataset rgb] [--max-false-refusals 0.1]

The offline pipeline refuses by evidence: when no retrieved sentence both covers the
question (with its neighbours, `min_term_coverage` of the question's idf-weighted
content words) and holds a candidate of the question's answer type; the best passage's
dense similarity below `min_relevance` is a backstop. This script retrieves once per
question (same condensing, retrieval and hidden documents as `rag eval`), runs the
extractive generator at every coverage value of a grid, and scores every
(min_relevance, min_term_coverage) pair: refusal accuracy on unanswerable questions and
false-refusal rate on answerable ones, per dataset.

Each dataset is split in two: questions whose id holds an even number (seed-002,
rgb-4 and its unanswerable twin rgb-4-u) are held out; the thresholds are fitted on
the others (the calibration part) and reported on both. The choice maximises the mean
refusal accuracy over the datasets' calibration parts while every one's false-refusal
rate stays at or below --max-false-refusals (ties: the lower, less strict thresholds).
It writes calibration-<stamp>.md/.json/.png to the report folder; set the chosen values
as the defaults in rag/config.py (or in newsdesk.toml) and re-run `rag eval --dataset
seed` before updating eval/thresholds.toml.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from eval import metrics as M
from eval.datasets import held_out
from eval.harness import DEFAULT_WORK_DIR, eval_settings, make_desk, plan_dataset, prepare
from eval.report import REPORTS_DIR

RELEVANCE_GRID = [round(0.70 + 0.01 * i, 2) for i in range(26)]      # 0.70 .. 0.95
COVERAGE_GRID = [round(0.05 * i, 2) for i in range(21)]               # 0.00 .. 1.00


@dataclass
class Probe:
    """One question's retrieval and the generator's verdict at each coverage value."""

    id: str
    answerable: bool
    relevance: float
    has_passages: bool
    refused_at: dict[float, bool]       # coverage -> the generator refused
    correct: bool | None                # answer right when given (RGB rule / F1 >= 0.5)


def probe_dataset(dataset: str, limit: int | None, work_dir: Path, progress: bool) -> list[Probe]:
    from rag.answer.citations import check_citations
    from rag.answer.extractive import ExtractiveGenerator
    from rag.answer.outcome import draft_outcome
    from rag.config import load_settings
    from rag.records import Filters

    base = load_settings(None, None, generator="extractive").settings
    plan = plan_dataset(dataset, base, work_dir, limit)
    settings = eval_settings(base, plan, work_dir)
    prepare(plan, settings, progress=progress, log=lambda m: print(m, file=sys.stderr))
    desk = make_desk(settings)
    generators = {c: ExtractiveGenerator(settings.model_copy(update={"min_term_coverage": c}))
                  for c in COVERAGE_GRID}
    probes = []
    for record in tqdm(plan.records, desc=f"probe {plan.name}", disable=not progress, file=sys.stderr):
        standalone = desk.generator.condense(record.question, record.history)
        passages = desk.retriever.search(
            standalone, filters=Filters(exclude_doc_ids=frozenset(record.exclude_doc_ids)))
        relevance = max((p.dense_similarity for p in passages), default=0.0)
        refused_at = {}
        answer_text, short = "", ""
        for c, generator in generators.items():
            draft = generator.generate(standalone, passages) if passages else None
            text = check_citations(draft.text, passages)[0] if draft and not draft.refused else ""
            refused = draft is None or draft_outcome(draft, text).refused
            if not refused:
                if not answer_text:
                    answer_text = M.strip_markers(text)
                    short = draft.short_answer.text if draft.short_answer else answer_text
            refused_at[c] = refused
        correct = None
        references = [r for r in [*record.short_answers, record.reference_answer] if r]
        if record.answerable and answer_text:
            if record.gold is not None:
                correct = M.contains_gold(answer_text, record.gold)
            elif references:
                correct = M.token_f1(short, references) >= 0.5
        probes.append(Probe(record.id, record.answerable, relevance, bool(passages), refused_at, correct))
    return probes


def score(probes: list[Probe], min_relevance: float, coverage: float) -> dict[str, float | None]:
    from rag.answer.outcome import retrieval_outcome

    refused = {p.id: (retrieval_outcome(p.has_passages, p.relevance, min_relevance) is not None
                      or p.refused_at[coverage]) for p in probes}
    answerable = [p for p in probes if p.answerable]
    unanswerable = [p for p in probes if not p.answerable]
    return {"refusal_accuracy": M.share([refused[p.id] for p in unanswerable]),
            "false_refusal_rate": M.share([refused[p.id] for p in answerable]),
            "answered_correct": M.share([not refused[p.id] and bool(p.correct) for p in answerable])}


def split(probes_by_set: dict[str, list[Probe]]) -> tuple[dict[str, list[Probe]], dict[str, list[Probe]]]:
    """(calibration parts, held-out parts) of each dataset's probes."""
    return ({n: [p for p in ps if not held_out(p.id)] for n, ps in probes_by_set.items()},
            {n: [p for p in ps if held_out(p.id)] for n, ps in probes_by_set.items()})


def grid(probes_by_set: dict[str, list[Probe]]) -> list[dict[str, Any]]:
    rows = []
    for r in RELEVANCE_GRID:
        for c in COVERAGE_GRID:
            row: dict[str, Any] = {"min_relevance": r, "min_term_coverage": c}
            for name, probes in probes_by_set.items():
                for key, value in score(probes, r, c).items():
                    row[f"{name}.{key}"] = value
            rows.append(row)
    return rows


def choose(rows: list[dict[str, Any]], names: list[str], max_frr: float) -> dict[str, Any] | None:
    def ok(row):
        return all((row[f"{n}.false_refusal_rate"] or 0) <= max_frr for n in names)

    def mean_ra(row):
        return M.mean(row[f"{n}.refusal_accuracy"] for n in names) or 0.0

    feasible = [row for row in rows if ok(row)]
    if not feasible:
        return None
    return max(feasible, key=lambda row: (round(mean_ra(row), 6), -row["min_relevance"],
                                          -row["min_term_coverage"]))


def plot(rows: list[dict[str, Any]], probes_by_set: dict[str, list[Probe]], chosen: dict | None,
         current: tuple[float, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(probes_by_set)
    fig, axes = plt.subplots(2, len(names), figsize=(6.5 * len(names), 10), squeeze=False)
    shown_c = [c for c in COVERAGE_GRID if 0.2 <= c <= 0.8 and round(c * 20) % 2 == 0]
    for col, name in enumerate(names):
        ax = axes[0][col]
        for c in shown_c:
            pts = sorted((row[f"{name}.false_refusal_rate"], row[f"{name}.refusal_accuracy"])
                         for row in rows if row["min_term_coverage"] == c)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=f"coverage {c:.1f}")
        for label, point, marker in (("current", current, "x"),
                                     ("chosen", (chosen["min_relevance"], chosen["min_term_coverage"])
                                      if chosen else None, "*")):
            if point is None:
                continue
            row = next((r for r in rows if r["min_relevance"] == point[0]
                        and r["min_term_coverage"] == point[1]), None)
            if row:
                ax.scatter([row[f"{name}.false_refusal_rate"]], [row[f"{name}.refusal_accuracy"]],
                           s=160, marker=marker, color="black", zorder=5,
                           label=f"{label} ({point[0]:.2f}, {point[1]:.2f})")
        ax.set_xlabel("false-refusal rate (answerable)")
        ax.set_ylabel("refusal accuracy (unanswerable)")
        ax.set_title(f"{name}: sweeping min_relevance {RELEVANCE_GRID[0]}..{RELEVANCE_GRID[-1]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax = axes[1][col]
        probes = probes_by_set[name]
        ax.hist([[p.relevance for p in probes if p.answerable],
                 [p.relevance for p in probes if not p.answerable]],
                bins=30, label=["answerable", "unanswerable"], alpha=0.8)
        ax.set_xlabel("best passage dense similarity (relevance)")
        ax.set_title(f"{name}: relevance by question kind")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", action="append",
                        help="seed, rgb, ... (repeatable; default seed and rgb)")
    parser.add_argument("--limit", type=int, help="first N questions of each dataset")
    parser.add_argument("--max-false-refusals", type=float, default=0.05)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--report-dir", type=Path, default=REPORTS_DIR)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from eval.rgb import rgb_available
    from rag.config import load_settings

    names = args.dataset or (["seed", "rgb"] if rgb_available() else ["seed"])
    current_settings = load_settings(None, None).settings
    current = (current_settings.min_relevance, current_settings.min_term_coverage)
    all_probes = {name: probe_dataset(name, args.limit, args.work_dir, not args.quiet)
                  for name in names}
    probes_by_set, held = split(all_probes)
    rows = grid(probes_by_set)
    held_rows = grid(held)
    chosen = choose(rows, names, args.max_false_refusals)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.report_dir.mkdir(parents=True, exist_ok=True)
    base = args.report_dir / f"calibration-{stamp}"
    plot(rows, probes_by_set, chosen, current, base.with_suffix(".png"))
    base.with_suffix(".json").write_text(json.dumps(
        {"datasets": names, "max_false_refusals": args.max_false_refusals, "current": current,
         "chosen": chosen, "grid": rows, "held_out_grid": held_rows,
         "probes": {n: [p.__dict__ | {"refused_at": {str(k): v for k, v in p.refused_at.items()},
                                      "held_out": held_out(p.id)}
                        for p in ps] for n, ps in all_probes.items()}}, indent=1),
        encoding="utf-8")

    def line(row: dict[str, Any]) -> str:
        parts = [f"min_relevance {row['min_relevance']:.2f}, "
                 f"min_term_coverage {row['min_term_coverage']:.2f}:"]
        def figure(value: float | None) -> str:   # None: the part has no such question
            return "-" if value is None else f"{value:.3f}"

        for n in names:
            parts.append(f"{n} refusal acc {figure(row[f'{n}.refusal_accuracy'])} / false refusals "
                         f"{figure(row[f'{n}.false_refusal_rate'])} / answered right "
                         f"{figure(row[f'{n}.answered_correct'])}")
        return " ".join(parts[:1]) + "\n    " + "\n    ".join(parts[1:])

    def at(table: list[dict[str, Any]], point: tuple[float, float]) -> dict[str, Any] | None:
        return next((r for r in table if (r["min_relevance"], r["min_term_coverage"]) == point),
                    None)

    now = at(rows, current)
    out = [f"# Refusal calibration {stamp}", "",
           f"datasets: {', '.join(f'{n} ({len(p)} calibration + {len(held[n])} held-out questions)' for n, p in probes_by_set.items())}; "
           f"constraint: false-refusal rate <= {args.max_false_refusals} on each", ""]
    if now:
        out += ["current defaults (calibration part):", "    " + line(now),
                "current defaults (held-out part):", "    " + line(at(held_rows, current)), ""]
    out += ["chosen on the calibration part:",
            "    " + (line(chosen) if chosen else "none meets the constraint"), ""]
    if chosen:
        point = (chosen["min_relevance"], chosen["min_term_coverage"])
        out += ["the same thresholds on the held-out part:", "    " + line(at(held_rows, point)), ""]
    out += ["best refusal accuracy reachable at each false-refusal budget:"]
    for budget in (0.0, 0.05, 0.10, 0.15, 0.20, 0.30):
        best = choose(rows, names, budget)
        out.append(f"  <= {budget:.2f}: " + (line(best) if best else "none"))
    out += ["", "per coverage value, the best min_relevance under the constraint:"]
    for c in COVERAGE_GRID:
        best = choose([r for r in rows if r["min_term_coverage"] == c], names, args.max_false_refusals)
        out.append(f"  coverage {c:.2f}: " + (line(best) if best else "none"))
    text = "\n".join(out)
    base.with_suffix(".md").write_text(text + f"\n\n![curves]({base.with_suffix('.png').name})\n",
                                       encoding="utf-8")
    print(text)
    print(f"\nwritten: {base}.md, .json, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
