"""Adapter for the RGB English news set (`en_fact.json`), read from ../shared/datasets/rgb/.

RGB (Chen et al., AAAI 2024; CC BY-NC-SA 4.0) is never copied into the repository: the
adapter reads it at run time and writes the snippets it needs into the eval work folder
(under .newsdesk/eval/, git-ignored), where `rag.ingest.ingest` puts them into the
eval's own collection. Following the dataset's README:

- corpus: every `positive` and `negative` snippet as its own article (identical
  snippets once), one JSON Lines record each, so doc ids are `rgb#<sha1 of the text>`;
- answerable set (`rgb-answerable`): the 100 queries; correct when the answer contains
  the gold answer (RGB's rule, `eval.metrics.contains_gold`), a retrieved passage that
  contains a gold spelling is a hit;
- unanswerable set (`rgb-unanswerable`): the same queries asked of the corpus without
  that query's positive snippets. We also hide every other snippet that contains the
  query's gold answer (32 queries have their answer string in some other query's
  snippets), so the answer is truly absent; the answer must be refused;
- `rgb` is both sets, interleaved per query (answerable, then unanswerable).

With a limit of N questions, the corpus holds only the snippets of the queries those N
questions come from (a smaller haystack, for quick checks and tests).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.datasets import DatasetError, EvalRecord, read_records
from rag.sources.files import MIN_TEXT_CHARS
from rag.text import normalise_text
from eval.metrics import contains_gold, gold_groups

REPO_ROOT = Path(__file__).resolve().parent.parent
RGB_FILE = "en_fact.json"
CORPUS_FILE_STEM = "rgb"
DATASETS = ("rgb", "rgb-answerable", "rgb-unanswerable")
_QUESTION_WORDS = ("who", "what", "when", "where", "which", "how")


def default_rgb_dir() -> Path:
    """$NEWSDESK_RGB_DIR, else ../shared/datasets/rgb relative to the repository root."""
    env = os.environ.get("NEWSDESK_RGB_DIR")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "datasets" / "rgb").resolve()


def rgb_available(folder: Path | None = None) -> bool:
    return ((folder or default_rgb_dir()) / RGB_FILE).is_file()


def load_instances(folder: Path | None = None) -> list[dict[str, Any]]:
    """The RGB records (JSON Lines), checked for the fields the adapter uses."""
    path = (folder or default_rgb_dir()) / RGB_FILE
    if not path.is_file():
        raise DatasetError(f"RGB data not found at {path}: put en_fact.json there or set "
                           "NEWSDESK_RGB_DIR")
    return read_records(path, ("id", "query", "answer", "positive", "negative"))


def snippet_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def snippet_doc_id(text: str, label: str = "all") -> str:
    """The doc id ingest gives the snippet's record in corpus-<label>/rgb.jsonl."""
    return f"corpus-{label}/{CORPUS_FILE_STEM}.jsonl#id={snippet_key(text)}"


def _title(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= 60:
        return words
    return words[:60].rsplit(" ", 1)[0] + " …"


def _tags(query: str) -> list[str]:
    first = re.match(r"\W*(\w+)", query.lower())
    word = first.group(1) if first else ""
    return [word if word in _QUESTION_WORDS else "other"]


@dataclass
class RGBPlan:
    """Records to ask and the snippets their corpus needs."""

    records: list[EvalRecord]
    snippets: list[str]
    label: str   # "all" or e.g. "5q": which corpus (and collection) this is


def build(name: str, instances: list[dict[str, Any]], limit: int | None = None) -> RGBPlan:
    """Records of dataset `name` (rgb, rgb-answerable, rgb-unanswerable), first `limit`."""
    if name not in DATASETS:
        raise DatasetError(f"unknown RGB dataset {name!r}; choose one of {', '.join(DATASETS)}")
    pairs: list[tuple[dict[str, Any], EvalRecord]] = []
    all_snippets = list(dict.fromkeys(s for item in instances
                                      for s in item["positive"] + item["negative"]))
    for item in instances:
        gold = item["answer"]
        spellings = list(dict.fromkeys(s for group in gold_groups(gold) for s in group))
        if name in ("rgb", "rgb-answerable"):
            pairs.append((item, EvalRecord(
                id=f"rgb-{item['id']}", question=item["query"], reference_answer=spellings[0],
                answerable=True, evidence=spellings, gold=gold, evidence_mode="any",
                tags=_tags(item["query"]))))
        if name in ("rgb", "rgb-unanswerable"):
            pairs.append((item, EvalRecord(
                id=f"rgb-{item['id']}-u", question=item["query"], reference_answer="",
                answerable=False, evidence=[], tags=_tags(item["query"]) + ["unanswerable"],
                exclude_doc_ids=[])))
    if limit is not None:
        pairs = pairs[:limit]
    used = list(dict.fromkeys(id(item) for item, _ in pairs))
    by_id = {id(item): item for item, _ in pairs}
    if limit is None:
        snippets, label = all_snippets, "all"
    else:
        snippets = list(dict.fromkeys(s for key in used for s in
                                      by_id[key]["positive"] + by_id[key]["negative"]))
        label = f"{len(used)}q"
    snippets = [s for s in snippets if _long_enough(s)]
    for item, record in pairs:
        if not record.answerable:
            hidden = set(item["positive"]) | {s for s in snippets if contains_gold(s, item["answer"])}
            record.exclude_doc_ids = sorted(snippet_doc_id(s, label) for s in hidden)
    return RGBPlan([record for _, record in pairs], snippets, label)


def _long_enough(snippet: str) -> bool:
    """Whether rag.articles accepts the snippet as an article (a few RGB negatives, such
    as "Cast & Crew.", are too short and would fail the whole file)."""
    return len(re.sub(r"\s", "", normalise_text(snippet))) >= MIN_TEXT_CHARS


def write_corpus(snippets: list[str], folder: Path) -> Path:
    """Write the snippets as one JSON Lines file of articles; replaces what was there."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        if old.is_file() and old.name != f"{CORPUS_FILE_STEM}.jsonl":
            old.unlink()
    path = folder / f"{CORPUS_FILE_STEM}.jsonl"
    lines = [json.dumps({"id": snippet_key(s), "title": _title(s), "source": "RGB (web snippet)",
                         "body": s}, ensure_ascii=False) for s in snippets]
    content = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path
