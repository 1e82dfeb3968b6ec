"""Figures for the fresh sets (eval/datasets/unseen.jsonl, eval/datasets/stories.jsonl) that
`rag eval` does not print: short answers shown and right, refusals, and for stories the
copies in answers and the timeline's items.
`python -m eval.fresh_sets [--json] [--work-dir DIR]` (default .newsdesk/eval, as `rag eval`).

Runs the same flow as `rag eval --dataset eval/datasets/<set>.jsonl --corpus
eval/datasets/<set>` (isolated eval collection, offline default generator) and prints one
table per set. The sets are frozen: they were written before any change to the answerer
or the story features (eval/datasets/README.md, "Fresh sets").
"""

from __future__ import annotations

import json
import re
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

from eval import metrics as M
from eval.datasets import DATASETS_DIR

FRESH_SETS = ("unseen", "stories")
SHINGLE_WORDS = 5
COPY_OVERLAP = 0.6          # issue 20: two passages sharing >= 0.6 of word shingles are one
SHARED_SENTENCE_WORDS = 8   # or one sentence of 8+ words in both (a house-edited copy)
_WORD = re.compile(r"[a-z0-9]+")


def shingle_overlap(a: str, b: str, size: int = SHINGLE_WORDS) -> float:
    """Share of the smaller text's word shingles found in the other (own tokenisation:
    lower-case letters and digits, independent of the system's copy detection)."""
    def grams(text: str) -> set[tuple[str, ...]]:
        words = _WORD.findall(M.fold_typography(text).lower())
        return {tuple(words[i:i + size]) for i in range(max(1, len(words) - size + 1))}
    first, second = grams(a), grams(b)
    return len(first & second) / min(len(first), len(second)) if first and second else 0.0


def shared_sentence(a: str, b: str, min_words: int = SHARED_SENTENCE_WORDS) -> bool:
    """Whether two texts hold the same sentence of at least `min_words` words (compared on
    lower-case letters and digits): what a wire copy keeps when its lede is rewritten."""
    def sentences(text: str) -> set[tuple[str, ...]]:
        parts = re.split(r"(?<=[.!?\u201d\"])\s+", M.fold_typography(text).lower())
        return {words for part in parts if len(words := tuple(_WORD.findall(part))) >= min_words}
    return bool(sentences(a) & sentences(b))


def copy_pairs(passages: list[Any]) -> int:
    """Pairs of passages from different articles that are copies of one text: >= COPY_OVERLAP
    of word shingles, or a shared sentence (a house-edited copy: rewritten lede, cut ending,
    editor's note). Two chunks of one article overlap by design and are not counted."""
    return sum(1 for a, b in combinations(passages, 2)
               if a.doc_id != b.doc_id and (shingle_overlap(a.text, b.text) >= COPY_OVERLAP
                                            or shared_sentence(a.text, b.text)))


def figures(name: str, records: list[Any], answers: list[Any], summary: dict[str, Any]) -> dict[str, Any]:
    """The set's before/after figures from its answers (Answer objects, in record order)."""
    overall = summary["overall"]
    out: dict[str, Any] = {"set": name, "questions": overall["questions"],
                           "answerable": overall["answerable"],
                           "unanswerable": overall["unanswerable"]}
    for key in ("answer_accuracy", "f1", "em", "answer_f1", "hit_at_k", "mrr",
                "refusal_accuracy", "false_refusal_rate", "citation_precision", "faithfulness"):
        out[key] = overall.get(key)
    shown = [(r, a) for r, a in zip(records, answers) if a.short_answer is not None and not a.refused]
    right = [r for r, a in shown if r.answerable and r.gold is not None
             and M.contains_gold(a.short_answer.text, r.gold)]
    out["short_shown"] = len(shown)
    out["short_shown_unanswerable"] = sum(1 for r, _ in shown if not r.answerable)
    out["short_right"] = len(right)
    out["short_precision"] = len(right) / len(shown) if shown else None
    out["answers_with_copy_pairs"] = sum(
        1 for a in answers if not a.refused and copy_pairs(a.passages) > 0)
    out["copy_pairs_in_top_k"] = sum(copy_pairs(a.passages) for a in answers)
    out["passages_listing_copies"] = sum(1 for a in answers for p in a.passages if p.copies)
    timelines = [(r, a) for r, a in zip(records, answers) if "timeline" in r.tags]
    if timelines:
        items = []
        for record, answer in timelines:
            cited = {c.n: c for c in answer.citations}
            by_n = {p.n: p for p in answer.passages}
            used = [by_n[n] for n in cited if n in by_n]
            texts = [p.text for p in used]
            dates = sorted({c.date for c in cited.values() if c.date})
            wanted = sorted({d for d in (a.date for a in answer.passages) if d})
            items.append({"id": record.id, "items": len(cited),
                          "copy_pairs": copy_pairs(used),
                          "first_date": dates[0] if dates else None,
                          "last_date": dates[-1] if dates else None,
                          "evidence_found": sum(1 for e in record.evidence if any(
                              M.contains_evidence(t, e) for t in texts)),
                          "evidence": len(record.evidence), "dates_in_passages": len(wanted)})
        out["timelines"] = items
    return out


def run_set(name: str, work_dir: Path | None = None) -> dict[str, Any]:
    """Ask every question of one fresh set the way `rag eval` does and measure it."""
    from eval.harness import DEFAULT_WORK_DIR, ask, eval_settings, make_desk, plan_dataset, prepare, score_answer, summarise, QuestionResult
    from rag.config import load_settings

    base = load_settings().settings
    work_dir = work_dir or DEFAULT_WORK_DIR
    plan = plan_dataset(str(DATASETS_DIR / f"{name}.jsonl"), base, work_dir,
                        corpus_dir=DATASETS_DIR / name)
    settings = eval_settings(base, plan, work_dir)
    articles = prepare(plan, settings, progress=False, log=lambda m: print(m, file=sys.stderr))
    desk = make_desk(settings)
    answers, results = [], []
    for record in plan.records:
        answer = ask(desk, record, None)
        answers.append(answer)
        result = QuestionResult(record.id, record.question, list(record.tags), record.answerable,
                                refused=answer.refused)
        result.scores = score_answer(record, answer, articles, settings.top_k)
        results.append(result)
    return figures(name, plan.records, answers, summarise(results))


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    work_dir = Path(args[args.index("--work-dir") + 1]) if "--work-dir" in args[:-1] else None
    rows = [run_set(name, work_dir) for name in FRESH_SETS]
    if "--json" in args:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"\n{row['set']} ({row['questions']} questions: {row['answerable']} answerable, "
              f"{row['unanswerable']} unanswerable)")
        for key, value in row.items():
            if key not in ("set", "questions", "answerable", "unanswerable", "timelines"):
                print(f"  {key:28} {_fmt(value)}")
        for item in row.get("timelines", []):
            print(f"  timeline {item['id']}: {item['items']} items, {item['copy_pairs']} copy "
                  f"pair(s), cited {item['first_date']} .. {item['last_date']}, evidence "
                  f"{item['evidence_found']}/{item['evidence']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
