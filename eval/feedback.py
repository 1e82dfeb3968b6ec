"""Turn the chat page's feedback log into a dataset of questions to review.

Each thumbs up/down the page stored (settings.feedback_path, JSON Lines) becomes one
record in the eval/datasets format: the question, the answer given as a draft
reference, the cited quotes as evidence, tagged `feedback`, `up`/`down` and
`needs-review` (a reviewer corrects the reference answer before the record gates
anything). Thumbs down with no citation come out unanswerable, to be checked.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from eval.datasets import DatasetError, EvalRecord, json_lines, write_jsonl


def records_from_feedback(path: str | Path) -> list[EvalRecord]:
    """One EvalRecord per distinct (question, rating) in the feedback log."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"feedback log {path} does not exist; use the 👍/👎 buttons on the "
                           "chat page first (setting feedback_path)")
    records: dict[str, EvalRecord] = {}
    for number, entry in json_lines(path):
        question = entry.get("question") if isinstance(entry, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise DatasetError(f"{path} line {number}: no question")
        rating = "up" if entry.get("rating") == "up" else "down"
        citations = [c for c in entry.get("citations") or [] if isinstance(c, dict)]
        evidence = list(dict.fromkeys(c["quote"] for c in citations if c.get("quote")))
        ident = "feedback-" + hashlib.sha1(f"{question}\n{rating}".encode()).hexdigest()[:10]
        tags = ["feedback", rating, "needs-review"]
        if entry.get("comment"):
            tags.append("commented")
        records[ident] = EvalRecord(
            id=ident, question=question.strip(),
            reference_answer="" if entry.get("refused") else str(entry.get("answer", "")),
            answerable=bool(evidence), evidence=evidence,
            doc_ids=list(dict.fromkeys(c["doc_id"] for c in citations if c.get("doc_id"))),
            tags=tags)
    if not records:
        raise DatasetError(f"feedback log {path} has no entries")
    return list(records.values())


def feedback_to_dataset(source: str | Path, out: str | Path) -> int:
    """Write the review dataset; returns how many questions it holds."""
    records = records_from_feedback(source)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(records, Path(out))
    return len(records)
