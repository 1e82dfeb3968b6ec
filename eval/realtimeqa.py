"""Adapter for RealTime QA (`questions.jsonl`, `articles.jsonl`), read from
../shared/datasets/realtimeqa/ (or $NEWSDESK_REALTIMEQA_DIR).

RealTime QA (Kasai et al., NeurIPS 2023 Datasets and Benchmarks) states no licence: it is
used for evaluation only and never copied into the repository. The adapter reads it at
run time and writes the articles it needs into the eval work folder (under
.newsdesk/eval/, git-ignored), where `rag.ingest.ingest` puts them into the eval's own
collection (ingest is idempotent, so the store is kept between runs). Following the
dataset's README:

- corpus: every article record as a JSON Lines article (id, title, date, source, url,
  body), so doc ids are `corpus-<label>/realtimeqa.jsonl#id=<the record's id>`;
- each question is answerable (its gold choice occurs in an article dated on or before
  the question date) and asked `as_of` its `question_date`; correct when the answer
  contains the gold choice (RGB's rule, `eval.metrics.contains_gold`); a retrieved
  passage from one of its `answer_doc_ids` is a hit (evidence mode "doc");
- split by week (the `<week>` of `rtqa-<week>_<n>`): a week is held out when the first
  byte of the SHA-1 of its digits is odd (`held_out_week`), so one week's questions stay
  together and adding weeks never moves another week;
- with a limit of N questions (taken after the part is chosen), the corpus holds only
  those questions' articles: their `search_doc_ids` when the data has them, else (the
  shared subset does not keep which search returned which article) their
  `answer_doc_ids` plus the `RELATED_PER_QUESTION` articles closest to the question by
  shared title/body words (`WordIndex.related`), standing in for its search results.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.datasets import DatasetError, EvalRecord, read_records
from rag.sources.files import MIN_TEXT_CHARS
from rag.text import normalise_text

REPO_ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_FILE = "questions.jsonl"
ARTICLES_FILE = "articles.jsonl"
CORPUS_FILE_STEM = "realtimeqa"
DATASETS = ("realtimeqa",)
RELATED_PER_QUESTION = 4
_ID = re.compile(r"^rtqa-(\d+)_\d+$")
_QUESTION_WORDS = ("who", "what", "when", "where", "which", "how")
_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
_STOP = frozenset("the and for that this with was were has have had its are from which what who "
                  "when where how many much did does will would after before their they than "
                  "into over been about more most said says week recently".split())


def default_dir() -> Path:
    """$NEWSDESK_REALTIMEQA_DIR, else ../shared/datasets/realtimeqa relative to the repo root
    (or to a folder above it, for a git worktree one level deeper)."""
    env = os.environ.get("NEWSDESK_REALTIMEQA_DIR")
    if env:
        return Path(env)
    tail = Path("shared") / "datasets" / "realtimeqa"
    for parent in REPO_ROOT.parents:
        if (parent / tail).is_dir():
            return (parent / tail).resolve()
    return (REPO_ROOT.parent / tail).resolve()


def available(folder: Path | None = None) -> bool:
    folder = folder or default_dir()
    return (folder / QUESTIONS_FILE).is_file() and (folder / ARTICLES_FILE).is_file()


def _read_jsonl(path: Path, fields: Sequence[str]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"RealTime QA data not found at {path}: put questions.jsonl and "
                           "articles.jsonl there or set NEWSDESK_REALTIMEQA_DIR")
    return read_records(path, fields)


def load_questions(folder: Path | None = None) -> list[dict[str, Any]]:
    """The question records, checked for the fields the adapter uses and for their id form."""
    path = (folder or default_dir()) / QUESTIONS_FILE
    questions = _read_jsonl(path, ("id", "question", "question_date", "gold", "answer_doc_ids"))
    for item in questions:
        if not _ID.match(str(item["id"])):
            raise DatasetError(f"{path}: question id {item['id']!r} is not rtqa-<week>_<n>")
    return questions


def load_articles(folder: Path | None = None) -> list[dict[str, Any]]:
    return _read_jsonl((folder or default_dir()) / ARTICLES_FILE, ("id", "body"))


def week(record_id: str) -> str:
    """The week of a question id: `rtqa-20220617_10` -> "20220617"."""
    match = _ID.match(record_id)
    if not match:
        raise DatasetError(f"{record_id!r} is not a RealTime QA id (rtqa-<week>_<n>)")
    return match.group(1)


def held_out_week(week_digits: str) -> bool:
    """Whether a week belongs to the held-out part: the first byte of SHA-1(week) is odd."""
    return hashlib.sha1(week_digits.encode("ascii")).digest()[0] % 2 == 1


def is_question_id(record_id: str) -> bool:
    return bool(_ID.match(record_id))


def _tags(question: str) -> list[str]:
    first = re.match(r"\W*(\w+)", question.lower())
    word = first.group(1) if first else ""
    return [word if word in _QUESTION_WORDS else "other"]


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


class WordIndex:
    """Bags of content words per article (title words count double) with their document
    frequencies, for `related`."""

    def __init__(self, articles: Sequence[dict[str, Any]]) -> None:
        self.bags = {a["id"]: Counter(_words(a.get("title") or "") * 2 + _words(a["body"][:1500]))
                     for a in articles}
        self.df = Counter(w for bag in self.bags.values() for w in bag)

    def related(self, question: str, count: int, skip: set[str] = frozenset()) -> list[str]:
        """Ids of the `count` articles sharing the most IDF-weighted words with the
        question; ties broken by id, so the choice is deterministic."""
        if count <= 0:
            return []
        n, wanted = len(self.bags), set(_words(question))
        scored = []
        for doc_id, bag in self.bags.items():
            if doc_id in skip:
                continue
            score = sum(math.log(1 + n / self.df[w]) * (1 + math.log(bag[w]))
                        for w in wanted if w in bag)
            if score > 0:
                scored.append((-score, doc_id))
        return [doc_id for _, doc_id in sorted(scored)[:count]]


@dataclass
class RealtimePlan:
    """Records to ask and the article records their corpus needs."""

    records: list[EvalRecord]
    articles: list[dict[str, Any]]
    label: str   # "all" or e.g. "held-out-40q": which corpus (and collection) this is


def doc_id(article_id: str, label: str) -> str:
    """The doc id ingest gives an article of corpus-<label>/realtimeqa.jsonl."""
    return f"corpus-{label}/{CORPUS_FILE_STEM}.jsonl#id={article_id}"


def in_part(record_id: str, part: str) -> bool:
    if part not in ("all", "calibration", "held-out"):
        raise DatasetError(f"part must be all, calibration or held-out, not {part!r}")
    return part == "all" or held_out_week(week(record_id)) == (part == "held-out")


def build(questions: Sequence[dict[str, Any]], articles: Sequence[dict[str, Any]],
          limit: int | None = None, part: str = "all") -> RealtimePlan:
    """Records of the part (all, calibration, held-out), the first `limit` of them in file
    order, and the articles their corpus holds (all of them without a limit)."""
    usable = [a for a in articles if _long_enough(a["body"])]
    known = {a["id"] for a in usable}
    chosen = [q for q in questions if in_part(q["id"], part)]
    if limit is not None:
        chosen = chosen[:limit]
    if limit is None:
        label, kept = "all", list(usable)
    else:
        label = f"{part}-{len(chosen)}q"
        ids: dict[str, None] = {}
        index = None
        for q in chosen:
            own = [d for d in q.get("search_doc_ids") or q["answer_doc_ids"] if d in known]
            ids.update(dict.fromkeys(own))
            if not q.get("search_doc_ids"):
                index = index or WordIndex(usable)
                ids.update(dict.fromkeys(index.related(q["question"], RELATED_PER_QUESTION,
                                                       set(own))))
        kept = [a for a in usable if a["id"] in ids]
    records = []
    for q in chosen:
        gold = str(q["gold"])
        records.append(EvalRecord(
            id=q["id"], question=q["question"], reference_answer=gold, answerable=True,
            evidence=[gold], doc_ids=[doc_id(d, label) for d in q["answer_doc_ids"] if d in known],
            gold=gold, evidence_mode="doc", as_of=q["question_date"], short_answers=[gold],
            tags=_tags(q["question"])))
    return RealtimePlan(records, kept, label)


def _long_enough(body: str) -> bool:
    """Whether rag.articles accepts the body as an article (else the whole file fails)."""
    return len(re.sub(r"\s", "", normalise_text(body))) >= MIN_TEXT_CHARS


def write_corpus(articles: Sequence[dict[str, Any]], folder: Path) -> Path:
    """Write the articles as one JSON Lines file; replaces what was there (unchanged
    content is not rewritten, so ingest sees nothing new)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        if old.is_file() and old.name != f"{CORPUS_FILE_STEM}.jsonl":
            old.unlink()
    path = folder / f"{CORPUS_FILE_STEM}.jsonl"
    lines = [json.dumps({k: a.get(k) for k in ("id", "title", "date", "source", "url", "body")
                         if a.get(k) is not None}, ensure_ascii=False) for a in articles]
    content = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path
