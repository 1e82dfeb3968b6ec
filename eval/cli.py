"""`rag eval`: score the question answering against reference Q&A, and gate on it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from eval.gate import THRESHOLDS_PATH
from eval.harness import DEFAULT_WORK_DIR
from eval.report import REPORTS_DIR

from rag.cli import GeneratorChoice  # the names in the generator registry


def _err(message: str) -> None:
    click.echo(message, err=True)


@click.command("eval")
@click.option("--dataset", default="seed", show_default=True,
              metavar="seed|dated|rgb|rgb-answerable|rgb-unanswerable|realtimeqa|PATH",
              help="Reference questions: the hand-written seed set (eval/datasets/seed.jsonl, "
                   "over corpus_dir), the dated set (eval/datasets/dated.jsonl: dates, "
                   "recency, as-of, timelines; over its own corpus eval/datasets/dated/), RGB from ../shared/datasets/rgb (its own corpus and "
                   "collection; `rgb` = answerable + unanswerable), RealTime QA from "
                   "../shared/datasets/realtimeqa (each question as of its date; its own "
                   "corpus and collection; split by week), or a JSON Lines file in "
                   "the eval/datasets format (over corpus_dir).")
@click.option("--gate", is_flag=True,
              help="Exit 1 when a metric misses its bar in the thresholds file, naming each "
                   "metric and by how much.")
@click.option("--generator", "generators", multiple=True, type=GeneratorChoice(),
              help="Generator to evaluate (default: the configured one). Repeat to compare "
                   "generators on the same questions.")
@click.option("--top-k", type=click.IntRange(0, 50), help="Passages given to the generator.")
@click.option("--limit", type=click.IntRange(1), metavar="N",
              help="Only the first N questions (for RGB the corpus shrinks to their snippets; "
                   "for RealTime QA to their articles, the first N of --part).")
@click.option("--part", type=click.Choice(["all", "calibration", "held-out"]), default="all",
              show_default=True,
              help="Only the questions `python -m eval.calibrate` fits the refusal thresholds "
                   "on, or only those it holds out (even-numbered ids; RealTime QA: by week), to report on unseen "
                   "questions.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              default=REPORTS_DIR, show_default="eval/reports",
              help="Where <run>.json, the Markdown report and the PNG plot go.")
@click.option("--judge", is_flag=True,
              help="Also grade correctness and faithfulness with the configured chat model "
                   "(opt-in; reported, never gated).")
@click.option("--reuse-store", is_flag=True,
              help="Answer from the configured store and collection as they are (no ingest), "
                   "e.g. to check what `rag ask` uses. Default: ingest the corpus into an "
                   "isolated eval store under --work-dir, leaving yours untouched.")
@click.option("--corpus", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Corpus folder for seed/PATH datasets (default: corpus_dir).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_WORK_DIR, show_default=True,
              help="Eval store and RGB corpus cache.")
@click.option("--thresholds", "thresholds_path", type=click.Path(dir_okay=False, path_type=Path),
              default=THRESHOLDS_PATH, show_default="eval/thresholds.toml",
              help="Thresholds file for --gate.")
@click.option("--from-feedback", "from_feedback", type=click.Path(dir_okay=False, path_type=Path),
              help="Instead of evaluating: turn the chat page's feedback log (feedback_path, "
                   "JSON Lines) into a dataset of questions to review, written to --out.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("eval/datasets/feedback-review.jsonl"), show_default=True,
              help="Where --from-feedback writes the dataset.")
@click.option("--no-plot", is_flag=True, help="Skip the PNG plot.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def eval_command(ctx: click.Context, dataset: str, gate: bool, generators: tuple[str, ...],
                 top_k: int | None, limit: int | None, part: str, report_dir: Path, judge: bool,
                 reuse_store: bool, corpus: Path | None, work_dir: Path, thresholds_path: Path,
                 no_plot: bool, quiet: bool, from_feedback: Path | None = None,
                 out: Path = Path("eval/datasets/feedback-review.jsonl")) -> None:
    """Ask the reference questions, score the answers, write reports; --gate checks the bars.

    Metrics: hit@k, MRR and evidence recall of retrieval; exact match and token F1
    against the reference (SQuAD rules) and, for RGB, answer accuracy (answer contains
    the gold answer); citation precision and recall; quotes equal to the article text;
    faithfulness (answer sentences supported by the passages they cite); refusal
    accuracy on unanswerable questions and false-refusal rate on answerable ones; p50
    and p95 latency per stage. Reports go to --report-dir.
    """
    from eval.datasets import select_part
    if from_feedback is not None:
        from eval.datasets import DatasetError
        from eval.feedback import feedback_to_dataset

        try:
            count = feedback_to_dataset(from_feedback, out)
        except DatasetError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"wrote {count} question(s) to review to {out} (from {from_feedback}); "
                   f"correct their reference answers, then `rag eval --dataset {out}`")
        return
    from eval.gate import check, load_thresholds
    from eval.harness import eval_settings, evaluate, plan_dataset, prepare
    from eval.report import label, terminal_report, write_reports
    from rag.config import load_settings

    obj = ctx.obj or {}
    config_file, profile = obj.get("config_file"), obj.get("profile")
    progress = not quiet
    base = load_settings(config_file, profile).settings
    plan = plan_dataset(dataset, base, work_dir, limit, corpus, part)
    plan.records = select_part(plan.records, part)
    if reuse_store and plan.rgb:
        raise click.UsageError("--reuse-store does not apply to RGB, which always uses its own "
                               "collection")
    bars = load_thresholds(plan.name, thresholds_path) if gate else None
    run_settings = [eval_settings(load_settings(config_file, profile, generator=g, top_k=top_k).settings,
                                  plan, work_dir, reuse_store)
                    for g in (dict.fromkeys(generators) or [base.generator])]

    started = time.perf_counter()
    articles = prepare(plan, run_settings[0], reuse_store, progress=progress and sys.stderr.isatty(),
                       log=_err)
    ingest_seconds = time.perf_counter() - started
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs = []
    for settings in run_settings:
        grader = None
        if judge:
            from eval.judge import Judge

            grader = Judge(settings)
        run = evaluate(plan, settings, articles, top_k, progress, grader, log=_err)
        run.name = f"{stamp}-{plan.name}-{settings.generator}"
        run.ingest_seconds = 0.0 if reuse_store else ingest_seconds
        if bars is not None:
            failures = check(run.summary["overall"], bars)
            run.gate = {"thresholds": str(thresholds_path), "passed": not failures,
                        "failures": [f.message(f"{label(f.metric, run.top_k)} ({f.metric})")
                                     for f in failures]}
        runs.append(run)

    click.echo(terminal_report(runs))
    written = write_reports(runs, report_dir, make_plot=not no_plot)
    click.echo("\nreports: " + ", ".join(str(p) for p in written.values()))
    if bars is None:
        return
    failed = [r for r in runs if not r.gate["passed"]]
    for run in runs:
        if run.gate["passed"]:
            click.echo(f"gate passed: {plan.name} with {run.generator} meets every bar in "
                       f"{thresholds_path}")
    for run in failed:
        _err(f"gate FAILED: {plan.name} with {run.generator} missed "
             f"{len(run.gate['failures'])} bar(s) in {thresholds_path}:")
        for message in run.gate["failures"]:
            _err(f"  {message}")
    if failed:
        ctx.exit(1)
