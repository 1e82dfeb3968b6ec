"""Fit the gate that decides whether the extractive answer shows its short answer.

    python -m eval.fit_short [--dataset realtimeqa --dataset rgb ...] [--limit N]
                             [--held-out-limit N] [--precision 0.85] [--write]

For every question of every dataset the pipeline retrieves and scores sentences as
`rag eval` does; when the answer would not be refused and its best sentence gives a
typed short answer (`short_answer_for`: a candidate of the asked kind and unit), the
candidate is described by the gate's features (`rag.answer.extractive.scorer.
SHORT_FEATURES`: the sentence's probability, its lead over the next sentence, how many
other passages repeat the candidate, a weak unit, rival candidates in the sentence) and
labelled right when it contains the record's gold answer (RGB's rule) or one of its
short answers. A logistic regression is fitted on the calibration parts (RealTime QA:
its calibration weeks; the others: odd ids, `eval.datasets.held_out`); the threshold is
the lowest at which the calibration precision of the shown short answers reaches
`--precision`. Printed per part and dataset: candidates, right ones, shown, shown right,
precision and recall, beside the rule the gate replaced (a weak unit needs two other
passages repeating it). `--write` stores the gate in scorer_weights.json.
Candidates are cached under --work-dir/fit_short/ (delete to recompute).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval import metrics as M
from eval.fit_scorer import fit_arguments, fit_logistic, per_plan
from eval.harness import make_desk
from rag.answer.extractive.scorer import SHORT_FEATURES, WEIGHTS_PATH, ShortAnswerGate


@dataclass
class ShortCandidate:
    """One question's would-be short answer, its gate features and whether it is right."""

    dataset: str
    id: str
    held_out: bool
    text: str
    features: dict[str, float]
    right: bool


def is_right(text: str, record) -> bool:
    """The candidate holds the gold answer, or equals / holds one of the short answers."""
    if record.gold:
        return M.contains_gold(text, record.gold)
    norm = M.normalize_evidence(text)
    return any(len(a) >= 3 and (M.normalize_evidence(a) in norm or norm in M.normalize_evidence(a))
               for a in record.short_answers)


def collect(dataset: str, work_dir: Path, limits: tuple[int | None, int | None]) -> list[ShortCandidate]:
    from eval.datasets import held_out
    from eval.harness import ask
    from rag.answer.extractive.short_answers import short_answer_for
    from rag.answer.pipeline import topic_question

    def measure(plan, settings) -> list[ShortCandidate]:
        desk = make_desk(settings)
        generator = desk.generator
        found = []
        for record in plan.records:
            if not record.answerable or not (record.gold or record.short_answers):
                continue
            answer = ask(desk, record, None)
            if answer.refused or not answer.passages:
                continue
            topic = topic_question(answer.standalone_question, answer.time)
            sentences, _, _ = generator.score(topic, answer.passages)
            if not sentences:
                continue
            best = sentences[0]
            short = short_answer_for(topic, best.span,
                                     antecedent=best.antecedent[0] if best.antecedent else None)
            if short is None:
                continue
            features = generator.short_features(topic, sentences, answer.passages, short)
            found.append(ShortCandidate(dataset, record.id, held_out(record.id), short.text,
                                        features, is_right(short.text, record)))
        return found

    return per_plan(dataset, work_dir, limits, "fit_short", ShortCandidate, measure)


def fit(candidates: list[ShortCandidate]) -> tuple[dict[str, float], float]:
    x = np.array([[c.features[name] for name in SHORT_FEATURES] for c in candidates])
    y = np.array([float(c.right) for c in candidates])
    return fit_logistic(x, y, np.ones(len(candidates)), SHORT_FEATURES)


def choose_threshold(candidates: list[ShortCandidate], gate: ShortAnswerGate, precision: float) -> float:
    """The lowest threshold whose shown answers reach `precision` (1.0 when none does)."""
    scored = sorted(((gate.probability(c.features), c.right) for c in candidates), reverse=True)
    best, right = 1.0, 0
    for shown, (p, ok) in enumerate(scored, start=1):
        right += ok
        if right / shown >= precision:
            best = p
    return best


def table(label: str, candidates: list[ShortCandidate], show) -> str:
    shown = [c for c in candidates if show(c)]
    right = sum(c.right for c in candidates)
    shown_right = sum(c.right for c in shown)
    precision = f"{shown_right / len(shown):.3f}" if shown else "    -"
    recall = f"{shown_right / right:.3f}" if right else "    -"
    return (f"{label:<34}{len(candidates):>6}{right:>7}{len(shown):>7}{shown_right:>7}"
            f"{precision:>10}{recall:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = fit_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--precision", type=float, default=0.85)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    datasets = args.dataset or ["seed", "dated", "rgb", "realtimeqa"]
    found: list[ShortCandidate] = []
    for name in datasets:
        found += collect(name, args.work_dir, (args.limit, args.held_out_limit))
    calibration = [c for c in found if not c.held_out]
    weights, bias = fit(calibration)
    gate = ShortAnswerGate(weights, bias, 0.0)
    gate.threshold = choose_threshold(calibration, gate, args.precision)
    print("weights:", json.dumps({k: round(v, 3) for k, v in weights.items()}),
          "bias", round(bias, 3), "threshold", round(gate.threshold, 3))
    print(f"{'part / dataset / rule':<34}{'cand.':>6}{'right':>7}{'shown':>7}{'s.right':>7}"
          f"{'precision':>10}{'recall':>8}")
    old_rule = lambda c: c.features["weak"] == 0 or c.features["support"] >= np.log1p(2)  # noqa: E731
    fitted = lambda c: gate.probability(c.features) >= gate.threshold  # noqa: E731
    for part, chosen in (("calibration", calibration), ("held-out", [c for c in found if c.held_out])):
        for name in datasets + ["all"]:
            group = [c for c in chosen if name == "all" or c.dataset == name]
            if group:
                print(table(f"{part} {name} gate", group, fitted))
                print(table(f"{part} {name} old rule", group, old_rule))
    if args.write:
        data = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
        data["short_gate"] = {
            "weights": weights, "bias": bias, "threshold": gate.threshold,
            "meta": {"fitted_on": [f"{d} calibration part" for d in datasets],
                     "candidates": len(calibration), "precision": args.precision,
                     "command": "python -m eval.fit_short " + " ".join(argv or sys.argv[1:])}}
        WEIGHTS_PATH.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
