"""Eval reports: a terminal table, eval/reports/<run>.json, a Markdown report and a PNG.

Several runs over the same questions (one per generator) share one Markdown report and
one plot, with a column (or a row of panels) per run.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from eval.harness import EvalRun

REPORTS_DIR = Path(__file__).resolve().parent / "reports"

# (summary key, label, format); "{k}" is replaced by the run's top-k.
METRICS: list[tuple[str, str, str]] = [
    ("hit_at_k", "hit@{k}", "ratio"),
    ("mrr", "MRR@{k}", "ratio"),
    ("evidence_recall", "evidence recall", "ratio"),
    ("answer_accuracy", "answer accuracy (contains gold)", "ratio"),
    ("gold_retrieved", "gold answer in the passages (answerable)", "ratio"),
    ("answer_accuracy_retrieved", "answer accuracy when the gold was retrieved", "ratio"),
    ("em", "exact match (short answer)", "ratio"),
    ("f1", "token F1 (short answer)", "ratio"),
    ("answer_f1", "token F1 (whole answer)", "ratio"),
    ("citation_precision", "citation precision", "ratio"),
    ("citation_recall", "citation recall", "ratio"),
    ("quote_validity", "quotes equal article text", "ratio"),
    ("faithfulness", "faithfulness (verbatim, cited)", "ratio"),
    ("short_answer_precision", "short-answer precision (contains gold, shown)", "ratio"),
    ("short_answers_right", "short answers right (count)", "count"),
    ("short_answers_shown", "short answers shown (count)", "count"),
    ("citations_after_as_of", "citations dated after as-of", "ratio"),
    ("leading_fragments", "answers led by an unverified fragment (count)", "count"),
    ("refusal_accuracy", "refusal accuracy (unanswerable)", "ratio"),
    ("false_refusal_rate", "false-refusal rate (answerable)", "ratio"),
    ("false_refusal_rate_retrieved", "false-refusal rate when the gold was retrieved", "ratio"),
    ("decision_accuracy", "answer/refuse decision accuracy", "ratio"),
    ("judge_correct", "LLM judge: correct", "ratio"),
    ("judge_faithful", "LLM judge: faithful", "ratio"),
    ("latency_retrieve_p50_ms", "retrieve p50 (ms)", "ms"),
    ("latency_retrieve_p95_ms", "retrieve p95 (ms)", "ms"),
    ("latency_generate_p50_ms", "generate p50 (ms)", "ms"),
    ("latency_generate_p95_ms", "generate p95 (ms)", "ms"),
    ("latency_total_p50_ms", "total p50 (ms)", "ms"),
    ("latency_total_p95_ms", "total p95 (ms)", "ms"),
]
TAG_METRICS = [("hit_at_k", "hit@{k}"), ("f1", "F1"), ("answer_accuracy", "accuracy"),
               ("decision_accuracy", "decision acc."), ("citation_precision", "cit. precision"),
               ("faithfulness", "faithfulness")]


def label(key: str, k: int) -> str:
    for name, text, _ in METRICS:
        if name == key:
            return text.format(k=k)
    for name, text in TAG_METRICS:
        if name == key:
            return text.format(k=k)
    return key


def _fmt(value: Any, kind: str = "ratio") -> str:
    if value is None:
        return "n/a"
    if kind in ("ms", "count"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def _shown_metrics(runs: Sequence[EvalRun]) -> list[tuple[str, str, str]]:
    return [m for m in METRICS if any(r.summary["overall"].get(m[0]) is not None for r in runs)]


def _heading(run: EvalRun) -> str:
    return f"{run.generator}" + (f" ({run.settings.get('model')})" if run.generator != "extractive" else "")


def table_rows(runs: Sequence[EvalRun]) -> list[list[str]]:
    """Metric rows with one value column per run."""
    k = runs[0].top_k
    rows = [["metric"] + [_heading(r) for r in runs]]
    rows.append(["questions (answerable/unanswerable)"] + [
        f"{r.summary['overall']['questions']} ({r.summary['overall']['answerable']}/"
        f"{r.summary['overall']['unanswerable']})" for r in runs])
    for key, text, kind in _shown_metrics(runs):
        rows.append([text.format(k=k)] + [_fmt(r.summary["overall"].get(key), kind) for r in runs])
    return rows


def tag_rows(run: EvalRun) -> list[list[str]]:
    """Per-tag rows: n and the main metrics."""
    rows = [["tag", "n"] + [text.format(k=run.top_k) for _, text in TAG_METRICS]]
    for tag, values in run.summary["per_tag"].items():
        rows.append([tag, str(values["questions"])] + [_fmt(values.get(key)) for key, _ in TAG_METRICS])
    return rows


def render_table(rows: list[list[str]]) -> str:
    """Rows as an aligned plain-text table."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def terminal_report(runs: Sequence[EvalRun]) -> str:
    first = runs[0]
    head = (f"dataset {first.dataset}: {first.summary['overall']['questions']} questions, "
            f"top-k {first.top_k}, profile {first.profile}")
    timing = "; ".join(f"{r.generator}: {r.seconds:.1f} s "
                       f"({r.summary['overall']['questions'] / max(r.seconds, 1e-9):.1f} q/s, "
                       f"{r.cpu_seconds:.1f} s CPU)" for r in runs)
    parts = [head, f"time (excluding ingest): {timing}", "", render_table(table_rows(runs))]
    for run in runs:
        parts += ["", f"per question tag ({_heading(run)}):", render_table(tag_rows(run))]
    return "\n".join(parts)


def _markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return "\n".join(out)


def markdown_report(runs: Sequence[EvalRun], plot_name: str | None, json_names: Sequence[str]) -> str:
    first = runs[0]
    lines = [f"# Eval: {first.dataset}, {', '.join(r.generator for r in runs)}", "",
             f"Started {first.started}; {first.summary['overall']['questions']} questions; "
             f"top-k {first.top_k}; profile `{first.profile}`; collection "
             f"`{first.settings.get('collection')}` in `{first.settings.get('store_path')}`.", ""]
    for run in runs:
        lines.append(f"- `{run.generator}`: {run.seconds:.1f} s for the questions "
                     f"(ingest {run.ingest_seconds:.1f} s); details in `{json_names[runs.index(run)]}`")
    lines += ["", "## Metrics", "", _markdown_table(table_rows(runs)), ""]
    for run in runs:
        if run.gate is not None:
            verdict = "passed" if run.gate["passed"] else "FAILED"
            lines += [f"**Gate ({run.generator}): {verdict}**"
                      + (":" if run.gate["failures"] else "."), ""]
            lines += [f"- {f}" for f in run.gate["failures"]] + [""]
    for run in runs:
        lines += [f"## Per question tag ({_heading(run)})", "", _markdown_table(tag_rows(run)), ""]
    if plot_name:
        lines += ["## Plot", "", f"![metrics per tag and latency]({plot_name})", ""]
    for run in runs:
        misses = [r for r in run.results if not r.scores.get("decision_correct")
                  or r.scores.get("hit_at_k") == 0.0]
        lines += [f"## Questions to look at ({_heading(run)}): {len(misses)}", ""]
        for r in misses[:40]:
            why = []
            if r.answerable and r.refused:
                why.append("refused but answerable")
            if not r.answerable and not r.refused:
                why.append("answered but unanswerable")
            if r.scores.get("hit_at_k") == 0.0:
                why.append("no evidence retrieved")
            if r.error:
                why.append(f"error: {r.error}")
            answer = " ".join(r.answer.split())[:160]
            lines.append(f"- `{r.id}` ({', '.join(why)}): {r.question} → {answer}")
        lines.append("")
    lines += ["## Metric definitions", "",
              "See `eval/harness.py` (module docstring) and `eval/datasets/README.md`.", ""]
    return "\n".join(lines)


def plot(runs: Sequence[EvalRun], path: Path) -> Path:
    """PNG: per run, the main metrics per question tag and the latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(runs), 2, figsize=(14, 4.8 * len(runs)), squeeze=False,
                             gridspec_kw={"width_ratios": [2.2, 1]})
    for row, run in enumerate(runs):
        ax = axes[row][0]
        tags = list(run.summary["per_tag"])
        shown = [(key, text.format(k=run.top_k)) for key, text in TAG_METRICS
                 if any(run.summary["per_tag"][t].get(key) is not None for t in tags)]
        x = np.arange(len(tags))
        width = 0.8 / max(len(shown), 1)
        for i, (key, text) in enumerate(shown):
            values = [run.summary["per_tag"][t].get(key) for t in tags]
            ax.bar(x + i * width - 0.4 + width / 2, [v if v is not None else 0 for v in values],
                   width, label=text)
        counts = [run.summary["per_tag"][t]["questions"] for t in tags]
        ax.set_xticks(x, [f"{t}\n(n={n})" for t, n in zip(tags, counts)], fontsize=8)
        ax.set_ylim(0, 1.22)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_title(f"{run.dataset} / {_heading(run)}: metrics per question tag")
        ax.legend(fontsize=7, ncol=len(shown), loc="upper center")
        ax.grid(axis="y", alpha=0.3)

        ax = axes[row][1]
        stages = [s for s in ("retrieve", "generate", "total")
                  if any(s in r.timings_ms for r in run.results)]
        data = [[r.timings_ms[s] for r in run.results if s in r.timings_ms] for s in stages]
        if data:
            ax.boxplot(data, tick_labels=stages, showfliers=True)
            jitter = np.random.default_rng(0)
            for i, values in enumerate(data, start=1):
                ax.scatter(i + jitter.uniform(-0.15, 0.15, len(values)), values, s=6, alpha=0.4)
        flat = [v for values in data for v in values if v > 0]
        if flat and max(flat) / min(flat) > 100:
            ax.set_yscale("log")
        ax.set_ylabel("ms")
        ax.set_title("latency per stage")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_json(run: EvalRun) -> dict[str, Any]:
    return {"name": run.name, "dataset": run.dataset, "generator": run.generator,
            "profile": run.profile, "started": run.started, "seconds": round(run.seconds, 3),
            "cpu_seconds": round(run.cpu_seconds, 3),
            "ingest_seconds": round(run.ingest_seconds, 3), "top_k": run.top_k,
            "settings": run.settings, "summary": run.summary, "gate": run.gate,
            "results": [asdict(r) for r in run.results]}


def write_reports(runs: Sequence[EvalRun], report_dir: Path = REPORTS_DIR,
                  make_plot: bool = True) -> dict[str, Path]:
    """Write <run>.json per run, and one Markdown report and PNG plot for all of them."""
    report_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    json_names = []
    for run in runs:
        path = report_dir / f"{run.name}.json"
        path.write_text(json.dumps(run_json(run), ensure_ascii=False, indent=1), encoding="utf-8")
        written[f"json:{run.generator}"] = path
        json_names.append(path.name)
    base = runs[0].name if len(runs) == 1 else runs[0].name.removesuffix(runs[0].generator) + "compare"
    plot_path = None
    if make_plot:
        plot_path = plot(runs, report_dir / f"{base}.png")
        written["plot"] = plot_path
    md = report_dir / f"{base}.md"
    md.write_text(markdown_report(runs, plot_path.name if plot_path else None, json_names),
                  encoding="utf-8")
    written["markdown"] = md
    return written
