"""Fit the extractive generator's sentence scorer on the calibration parts of the eval sets.

    python -m eval.fit_scorer [--dataset seed --dataset dated --dataset rgb --dataset realtimeqa]
                              [--work-dir DIR] [--limit N] [--held-out-limit N] [--write]

For every question of every dataset, the pipeline retrieves as `rag eval` does (history,
hidden documents, as-of date); the extractive generator then describes each passage
sentence with the features of `rag.answer.extractive.scorer` (all its sentences; with
EMBED_FOR_FIT > 0 only that many best by the cheap features, which get the dense one too:
tried with 12, the dense feature chose no better on held-out and costs ~0.2-0.7 s per
answer here, so the packaged weights leave it out). A sentence is labelled positive when it contains
the record's gold answer, one of its short answers (3+ characters, not yes/no) or one of
its evidence strings (or is contained in one); unanswerable questions give negatives only.

Calibration part: ids with an odd number (RealTime QA: calibration weeks,
`eval.datasets.held_out`); the held-out part is only reported. A logistic regression
(L2, each question's sentences weighing 1 in all, features standardised) is fitted on the
calibration sentences; the refusal threshold is the highest probability at which the
best sentence of at most `--max-false-refusals` of the calibration's answerable questions
that have a positive sentence falls below it. Printed, per part and dataset: the share of
answerable questions whose best sentence is positive (of those with a positive sentence),
with the fitted scorer and with word overlap alone, false refusals and unanswerable
refused at the threshold, and a drop-one-feature table (held-out figure without each
feature; a feature that does not raise the held-out figure is dropped with --drop).
The second-sentence ratio (setting second_sentence_ratio) was chosen on the calibration
part the same way: the largest ratio with the best share of answers holding the answer.
`--write` stores the weights in rag/answer/extractive/scorer_weights.json.
Features per question are cached under --work-dir/fit_scorer/ (delete to recompute).
"""

from __future__ import annotations

import argparse
import inspect
import json
import pickle
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.optimize import minimize

from eval import metrics as M
from eval.datasets import held_out
from eval.harness import DEFAULT_WORK_DIR, eval_settings, make_desk, plan_dataset, prepare
from rag.answer.extractive.scorer import FEATURES, WEIGHTS_PATH, SentenceScorer

EMBED_FOR_FIT = 0       # sentences per question given the dense feature while fitting (12 when
                        # it was tried: it chose no better on held-out, see the weights' meta)
L2 = 1.0


@dataclass
class Probe:
    """One question's candidate sentences: features, labels, and whether typed ones exist."""

    dataset: str
    id: str
    held_out: bool
    answerable: bool
    typed_question: bool
    features: list[dict[str, float]]
    labels: list[bool]


def _label(text: str, record) -> bool:
    norm = M.normalize_evidence(text)
    if record.gold and M.contains_gold(text, record.gold):
        return True
    for short in record.short_answers:
        if len(short) >= 3 and short.lower() not in ("yes", "no") and \
                M.normalize_evidence(short) in norm:
            return True
    for evidence in record.evidence:
        e = M.normalize_evidence(evidence)
        if len(e) >= 3 and (e in norm or (len(norm) >= 20 and norm in e)):
            return True
    return False


def _plans(dataset: str, base, work_dir: Path, limits: tuple[int | None, int | None]):
    """(plan, part) pairs: RealTime QA has a corpus per part (its first `limits` questions
    of the calibration and held-out parts); the others one corpus for both."""
    if dataset == "realtimeqa" and "part" in inspect.signature(plan_dataset).parameters:
        return [(plan_dataset(dataset, base, work_dir, limit, part=part), part)
                for part, limit in zip(("calibration", "held-out"), limits)]
    return [(plan_dataset(dataset, base, work_dir), "all")]


def per_plan(dataset: str, work_dir: Path, limits: tuple[int | None, int | None], cache_name: str,
             kind: type, measure: Callable[[Any, Any], list]) -> list:
    """Items (dataclass `kind`) of each corpus of a dataset: read from
    work_dir/cache_name/<collection>.pkl, else `measure(plan, settings)` on the prepared
    eval store, then cached."""
    from rag.config import load_settings

    base = load_settings(None, None, generator="extractive").settings
    items: list = []
    for plan, _part in _plans(dataset, base, work_dir, limits):
        cache = work_dir / cache_name / f"{plan.collection}.pkl"
        if cache.is_file():
            items += [kind(**fields) for fields in pickle.loads(cache.read_bytes())]
            continue
        settings = eval_settings(base, plan, work_dir)
        prepare(plan, settings, progress=False, log=lambda m: print(m, file=sys.stderr))
        found = measure(plan, settings)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps([asdict(item) for item in found]))
        items += found
    return items


def probe(dataset: str, work_dir: Path, limits: tuple[int | None, int | None]) -> list[Probe]:
    from eval.harness import ask
    from rag.answer.extractive import ExtractiveGenerator
    from rag.answer.pipeline import Newsdesk, topic_question   # the generator's question

    def measure(plan, settings) -> list[Probe]:
        desk = make_desk(settings)
        generator = ExtractiveGenerator(settings, similarity=False)
        desk = Newsdesk(settings, generator=generator) if hasattr(desk, "retriever") else desk
        scorer = ExtractiveGenerator(settings)
        found = []
        for i, record in enumerate(plan.records):
            answer = ask(desk, record, None)
            if not answer.passages:
                found.append(Probe(dataset, record.id, held_out(record.id), record.answerable,
                                   False, [], []))
                continue
            topic = topic_question(answer.standalone_question, answer.time)
            sentences, wanted_type, _ = scorer.score(topic, answer.passages, embed_top=EMBED_FOR_FIT)
            kept = [s for s in sentences if "dense" in s.features or not EMBED_FOR_FIT]
            found.append(Probe(dataset, record.id, held_out(record.id), record.answerable,
                               wanted_type is not None, [s.features for s in kept],
                               [record.answerable and _label(s.span.text, record) for s in kept]))
            print(f"\r{plan.name}: {i + 1}/{len(plan.records)}", end="", file=sys.stderr)
        print(file=sys.stderr)
        return found

    return per_plan(dataset, work_dir, limits, "fit_scorer", Probe, measure)


def _matrix(probes: list[Probe], features: tuple[str, ...]):
    rows, labels, weights = [], [], []
    for p in probes:
        for f, y in zip(p.features, p.labels):
            rows.append([f.get(name, 0.0) for name in features])
            labels.append(float(y))
            weights.append(1.0 / len(p.features))
    return np.array(rows), np.array(labels), np.array(weights)


def fit(probes: list[Probe], features: tuple[str, ...]) -> tuple[dict[str, float], float]:
    """Logistic regression weights (raw feature scale) and bias."""
    x, y, w = _matrix(probes, features)
    return fit_logistic(x, y, w, features)


def fit_logistic(x, y, w, features: tuple[str, ...]) -> tuple[dict[str, float], float]:
    """L2 logistic regression on standardised features (rows `x`, labels `y`, row
    weights `w`); the weights and bias returned are on the raw feature scale."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = (x - mean) / std

    def loss(theta):
        logits = z @ theta[1:] + theta[0]
        p = 1 / (1 + np.exp(-np.clip(logits, -30, 30)))
        nll = -(w * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum()
        grad_logit = w * (p - y)
        grad = np.concatenate([[grad_logit.sum()], z.T @ grad_logit])
        grad[1:] += L2 * theta[1:]
        return nll + 0.5 * L2 * (theta[1:] ** 2).sum(), grad

    theta = minimize(loss, np.zeros(len(features) + 1), jac=True, method="L-BFGS-B").x
    weights = theta[1:] / std
    bias = theta[0] - float((weights * mean).sum())
    return {name: float(v) for name, v in zip(features, weights)}, float(bias)


def _scorer(weights: dict[str, float], bias: float, threshold: float, embed_top: int,
            dense_mean: float) -> SentenceScorer:
    return SentenceScorer({n: weights.get(n, 0.0) for n in FEATURES}, bias, threshold,
                          embed_top, dense_mean)


def decide(p: Probe, scorer: SentenceScorer) -> tuple[float, bool]:
    """As the generator does: pre-rank by the cheap features, the top `embed_top` get the
    dense one; (best probability, whether the best sentence is positive)."""
    if not p.features:
        return 0.0, False
    order = sorted(range(len(p.features)), key=lambda i: scorer.logit(
        {k: v for k, v in p.features[i].items() if k != "dense"}), reverse=True)
    scored = []
    for rank, i in enumerate(order):
        f = p.features[i] if rank < scorer.embed_top else {
            k: v for k, v in p.features[i].items() if k != "dense"}
        scored.append((scorer.probability(f), p.labels[i]))
    best = max(scored, key=lambda t: t[0])
    if p.typed_question and not any(f["typed"] for f in p.features):
        return 0.0, False
    return best


def figures(probes: list[Probe], scorer: SentenceScorer) -> dict[str, float | None]:
    answerable = [p for p in probes if p.answerable]
    findable = [p for p in answerable if any(p.labels)]
    unanswerable = [p for p in probes if not p.answerable]
    decided = {p.id: decide(p, scorer) for p in probes}
    right = [decided[p.id][1] and decided[p.id][0] >= scorer.threshold for p in findable]
    return {
        "questions": len(probes), "findable": len(findable),
        "best_positive": M.mean(decided[p.id][1] for p in findable),
        "answered_right": M.mean(right),
        "false_refusals": M.mean(decided[p.id][0] < scorer.threshold for p in answerable),
        "unanswerable_refused": M.mean(decided[p.id][0] < scorer.threshold for p in unanswerable),
    }


def choose_threshold(probes: list[Probe], scorer: SentenceScorer, max_false: float) -> float:
    best = [decide(p, scorer)[0] for p in probes if p.answerable and any(p.labels)]
    if not best:
        return 0.0
    return float(np.quantile(best, max_false)) * 0.999


def latency(datasets: list[str], work_dir: Path, rounds: int = 3) -> None:
    """Print the warm p50/p95 (ms) of a whole answer and of the generator alone over the
    datasets' questions: each question asked once to warm up, then `rounds` times."""
    import time

    from eval.harness import ask
    from rag.config import load_settings

    base = load_settings(None, None, generator="extractive").settings
    for dataset in datasets:
        plan = _plans(dataset, base, work_dir, (None, None))[0][0]
        settings = eval_settings(base, plan, work_dir)
        prepare(plan, settings, progress=False, log=lambda m: None)
        desk = make_desk(settings)
        totals, generates = [], []
        for record in plan.records:
            ask(desk, record, None)                       # warm: caches, first-use loads
            for _ in range(rounds):
                started = time.perf_counter()
                answer = ask(desk, record, None)
                totals.append((time.perf_counter() - started) * 1000)
                if "generate" in answer.timings_ms:
                    generates.append(answer.timings_ms["generate"])
        print(f"{dataset}: answer p50 {M.percentile(totals, 50):.0f} ms, p95 "
              f"{M.percentile(totals, 95):.0f} ms; generate p50 {M.percentile(generates, 50):.0f} ms "
              f"({len(plan.records)} questions x {rounds}, warm)")


def fit_arguments(description: str) -> argparse.ArgumentParser:
    """The options every fitting script shares: datasets, work dir, RealTime QA's limits."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", action="append")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--limit", type=int, default=None,
                        help="RealTime QA: the first N calibration questions (and their articles)")
    parser.add_argument("--held-out-limit", type=int, default=None,
                        help="RealTime QA: the first N held-out questions")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = fit_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--embed-top", type=int, default=3)
    parser.add_argument("--max-false-refusals", type=float, default=0.05)
    parser.add_argument("--drop", action="append", default=[], help="leave a feature out")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--latency", action="store_true",
                        help="only measure the warm answer latency of the current code")
    args = parser.parse_args(argv)
    datasets = args.dataset or ["seed", "dated", "rgb", "realtimeqa"]
    if args.latency:
        latency(args.dataset or ["seed", "dated"], args.work_dir)
        return 0
    probes = []
    for name in datasets:
        probes += probe(name, args.work_dir, (args.limit, args.held_out_limit))
    calibration = [p for p in probes if not p.held_out]
    features = tuple(f for f in FEATURES if f not in args.drop)
    weights, bias = fit(calibration, features)
    dense = [f["dense"] for p in calibration for f in p.features if "dense" in f]
    dense_mean = float(np.mean(dense)) if dense else 0.8
    scorer = _scorer(weights, bias, 0.0, args.embed_top, dense_mean)
    scorer.threshold = choose_threshold(calibration, scorer, args.max_false_refusals)
    overlap = _scorer({"own": 1.0, "window": 0.5, "passage": 0.25}, 0.0, 0.0, 0, dense_mean)

    print("weights:", json.dumps({k: round(v, 3) for k, v in weights.items()}),
          "bias", round(bias, 3), "threshold", round(scorer.threshold, 3))
    print(f"{'part':<12}{'dataset':<12}{'n':>4}{'findable':>9}{'best+':>7}{'overlap':>8}"
          f"{'right':>7}{'falseref':>9}{'unans.ref':>10}")
    for part, chosen in (("calibration", calibration), ("held-out", [p for p in probes if p.held_out])):
        for name in datasets + ["all"]:
            group = [p for p in chosen if name == "all" or p.dataset == name]
            if not group:
                continue
            f, o = figures(group, scorer), figures(group, overlap)
            fmt = lambda v: "   -" if v is None else f"{v:.2f}"
            print(f"{part:<12}{name:<12}{f['questions']:>4}{f['findable']:>9}{fmt(f['best_positive']):>7}"
                  f"{fmt(o['best_positive']):>8}{fmt(f['answered_right']):>7}"
                  f"{fmt(f['false_refusals']):>9}{fmt(f['unanswerable_refused']):>10}")
    held = [p for p in probes if p.held_out]
    print("drop one feature: held-out best+ (all datasets)",
          f"{figures(held, scorer)['best_positive']:.3f} with all")
    for name in features:
        w, b = fit(calibration, tuple(f for f in features if f != name))
        s = _scorer(w, b, 0.0, args.embed_top, dense_mean)
        cal, out = figures(calibration, s)["best_positive"], figures(held, s)["best_positive"]
        print(f"  without {name:<14} calibration {cal:.3f}  held-out {out:.3f}")
    if args.write:
        previous = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8")).get("meta", {}) \
            if WEIGHTS_PATH.is_file() else {}
        scorer.meta = {**{k: v for k, v in previous.items() if k in ("dropped", "second_sentence_ratio")},
                       "fitted_on": [f"{d} calibration part" for d in datasets],
                       "sentences": int(sum(len(p.features) for p in calibration)),
                       "max_false_refusals": args.max_false_refusals,
                       "command": "python -m eval.fit_scorer " + " ".join(argv or sys.argv[1:])}
        stored = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8")) if WEIGHTS_PATH.is_file() else {}
        written = json.loads(scorer.to_json())
        if "short_gate" in stored:   # eval.fit_short's gate; refit it after the scorer
            written["short_gate"] = stored["short_gate"]
        WEIGHTS_PATH.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
