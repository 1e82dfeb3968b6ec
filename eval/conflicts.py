"""Precision and recall of conflict and correction detection on a labelled set of
passage pairs (eval/datasets/conflicts.jsonl: `label` conflict | correction | agree).

`python -m eval.conflicts [--verbose]` prints the figures. A pair is predicted
conflicting when `rag.answer.conflicts.find_conflicts` over its two passages gives any
entry; a correction pair counts as found only when the entry is a correction whose
first value is the corrected passage's. Precision: found conflicts (both kinds) that are
labelled conflict or correction; recall: labelled conflicts and corrections found.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.answer.conflicts import find_conflicts
from rag.records import Passage

SET = Path(__file__).resolve().parent / "datasets" / "conflicts.jsonl"


def _passage(n: int, record: dict, side: str) -> Passage:
    item = record[side]
    return Passage(chunk_id=f"{record['id']}-{side}", doc_id=f"{record['id']}-{side}",
                   text=item["text"], start=0, end=len(item["text"]), title=record["about"],
                   date=item["date"], source=item["source"], url=None, n=n)


def score(path: Path = SET, verbose: bool = False) -> dict:
    """{pairs, conflicting, agreeing, precision, recall, corrections_found, wrong}."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    predicted = right = wanted = found = corrections = corrections_found = 0
    wrong = []
    for record in records:
        passages = [_passage(1, record, "a"), _passage(2, record, "b")]
        found_entries = find_conflicts(passages)
        label = record["label"]
        is_conflict = label in ("conflict", "correction")
        wanted += is_conflict
        if label == "correction":
            corrections += 1
            ok = any(e["kind"] == "correction" and e["values"][0]["n"] == 2 for e in found_entries)
            corrections_found += ok
        else:
            ok = bool(found_entries) == is_conflict
        if found_entries:
            predicted += 1
            right += is_conflict
        found += is_conflict and ok
        if not ok:
            wrong.append((record["id"], label, [(e["kind"], e["about"]) for e in found_entries]))
    out = {"pairs": len(records), "conflicting": wanted, "agreeing": len(records) - wanted,
           "precision": right / predicted if predicted else 1.0,
           "recall": found / wanted if wanted else 1.0,
           "corrections_found": f"{corrections_found}/{corrections}", "wrong": wrong}
    if verbose:
        for item in wrong:
            print("  wrong:", item)
    return out


if __name__ == "__main__":
    figures = score(verbose="--verbose" in sys.argv)
    print(f"{figures['pairs']} pairs ({figures['conflicting']} conflicting incl. corrections, "
          f"{figures['agreeing']} agreeing): precision {figures['precision']:.3f}, "
          f"recall {figures['recall']:.3f}, corrections found {figures['corrections_found']}")
