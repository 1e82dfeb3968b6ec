"""Reference Q&A datasets: load and validate the JSON Lines format of eval/datasets/.

One JSON object per line (the format is documented in eval/datasets/README.md). A bad
record raises `DatasetError` naming the file, the line and the field. `check_evidence`
verifies that every evidence string occurs in the articles it should come from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from eval.metrics import contains_evidence

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
SEED_PATH = DATASETS_DIR / "seed.jsonl"
DATED_PATH = DATASETS_DIR / "dated.jsonl"      # time-dependent questions over its own corpus
DATED_CORPUS = DATASETS_DIR / "dated"
REQUIRED = ("id", "question", "reference_answer", "answerable", "evidence")
OPTIONAL = ("doc_ids", "tags", "history", "gold", "evidence_mode", "exclude_doc_ids", "notes",
            "as_of", "short_answers")


class DatasetError(ValueError):
    """A dataset file or record is not usable; the message names file, line and field."""


@dataclass
class EvalRecord:
    """One reference question."""

    id: str
    question: str
    reference_answer: str
    answerable: bool
    evidence: list[str]
    doc_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    gold: Any = None                      # RGB-style short answer(s): str or [[spellings], ...]
    evidence_mode: str = "all"            # "all": every string is needed; "any": one suffices;
    #                                       "doc": any passage of its doc_ids is relevant
    exclude_doc_ids: list[str] = field(default_factory=list)  # hidden from retrieval
    as_of: str | None = None              # YYYY-MM-DD: ask as if on this date
    short_answers: list[str] = field(default_factory=list)  # accepted short answers (SQuAD-style)

    @property
    def kind(self) -> str:
        return "answerable" if self.answerable else "unanswerable"


def _fail(where: str, message: str) -> DatasetError:
    return DatasetError(f"{where}: {message}")


def _string_list(value: Any, where: str, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, f"field {name!r} must be a list of strings")
    return list(value)


def parse_record(data: Any, where: str) -> EvalRecord:
    """An EvalRecord from one decoded JSON object; DatasetError naming what is wrong."""
    if not isinstance(data, dict):
        raise _fail(where, "a record must be a JSON object")
    missing = [name for name in REQUIRED if name not in data]
    if missing:
        raise _fail(where, f"missing field(s) {', '.join(missing)}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}; known: "
                           f"{', '.join(REQUIRED + OPTIONAL)}")
    for name in ("id", "question", "reference_answer"):
        if not isinstance(data[name], str):
            raise _fail(where, f"field {name!r} must be a string")
    if not data["id"].strip() or not data["question"].strip():
        raise _fail(where, "fields 'id' and 'question' must not be empty")
    if not isinstance(data["answerable"], bool):
        raise _fail(where, "field 'answerable' must be true or false")
    evidence = _string_list(data["evidence"], where, "evidence")
    if any(not e.strip() for e in evidence):
        raise _fail(where, "an evidence string is empty")
    history = data.get("history", [])
    if not isinstance(history, list) or not all(
            isinstance(t, dict) and t.get("role") in ("user", "assistant")
            and isinstance(t.get("content"), str) for t in history):
        raise _fail(where, "field 'history' must be a list of {\"role\": \"user\"|\"assistant\", "
                           "\"content\": \"...\"}")
    mode = data.get("evidence_mode", "all")
    if mode not in ("all", "any", "doc"):
        raise _fail(where, "field 'evidence_mode' must be \"all\", \"any\" or \"doc\"")
    gold = data.get("gold")
    if gold is not None and not (isinstance(gold, str) or (isinstance(gold, list) and all(
            isinstance(g, str) or (isinstance(g, list) and all(isinstance(s, str) for s in g))
            for g in gold))):
        raise _fail(where, "field 'gold' must be a string or a list of strings / lists of strings")
    as_of = data.get("as_of")
    if as_of is not None:
        from datetime import date

        try:
            if not isinstance(as_of, str) or len(as_of) != 10:
                raise ValueError
            date.fromisoformat(as_of)
        except ValueError:
            raise _fail(where, "field 'as_of' must be a date like \"2024-06-03\"") from None
    return EvalRecord(
        id=data["id"], question=data["question"], reference_answer=data["reference_answer"],
        answerable=data["answerable"], evidence=evidence,
        doc_ids=_string_list(data.get("doc_ids", []), where, "doc_ids"),
        tags=_string_list(data.get("tags", []), where, "tags"),
        history=[{"role": t["role"], "content": t["content"]} for t in history],
        gold=gold, evidence_mode=mode,
        exclude_doc_ids=_string_list(data.get("exclude_doc_ids", []), where, "exclude_doc_ids"),
        as_of=as_of,
        short_answers=_string_list(data.get("short_answers", []), where, "short_answers"))


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of a JSON Lines file; DatasetError
    names a line that is not JSON."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path} line {number}: malformed JSON ({err.msg})") from None


def read_records(path: Path, fields: Sequence[str]) -> list[dict[str, Any]]:
    """The JSON objects of an outside data set's JSON Lines file, each checked for `fields`;
    DatasetError names the line of a malformed record."""
    items = []
    for number, item in json_lines(path):
        for name in fields:
            if name not in item:
                raise DatasetError(f"{path} line {number}: missing field {name!r}")
        items.append(item)
    return items


def load_jsonl(path: str | Path) -> list[EvalRecord]:
    """Every record of a JSON Lines dataset; ids must be unique."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset {path} does not exist")
    records: list[EvalRecord] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not valid UTF-8 (byte {err.start})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise _fail(where, f"malformed JSON ({err.msg})") from None
        record = parse_record(data, where)
        if record.id in seen:
            raise _fail(where, f"id {record.id!r} already used on line {seen[record.id]}")
        seen[record.id] = number
        records.append(record)
    if not records:
        raise DatasetError(f"dataset {path} has no records")
    return records


def write_jsonl(records: Iterable[EvalRecord], path: Path) -> None:
    """Write records in the dataset format (defaults left out)."""
    with open(path, "w", encoding="utf-8") as handle:
        for r in records:
            data: dict[str, Any] = {"id": r.id, "question": r.question,
                                    "reference_answer": r.reference_answer,
                                    "answerable": r.answerable, "evidence": r.evidence}
            for name, default in (("doc_ids", []), ("tags", []), ("history", []), ("gold", None),
                                  ("evidence_mode", "all"), ("exclude_doc_ids", []),
                                  ("as_of", None), ("short_answers", [])):
                if getattr(r, name) != default:
                    data[name] = getattr(r, name)
            handle.write(json.dumps(data, ensure_ascii=False) + "\n")


def held_out(record_id: str) -> bool:
    """Whether a question belongs to the held-out part (kept out of `eval.calibrate`'s
    fitting): the first number in its id is even (seed-002; RGB's answerable and
    unanswerable twins rgb-4 and rgb-4-u share it, so they stay together). RealTime QA
    ids (rtqa-<week>_<n>) are split by week instead (`eval.realtimeqa.held_out_week`)."""
    from eval import realtimeqa

    if realtimeqa.is_question_id(record_id):
        return realtimeqa.held_out_week(realtimeqa.week(record_id))
    number = re.search(r"\d+", record_id)
    return number is not None and int(number.group()) % 2 == 0


def select_part(records: Sequence[EvalRecord], part: str) -> list[EvalRecord]:
    """The records of one part: "all", "calibration" or "held-out"."""
    if part not in ("all", "calibration", "held-out"):
        raise DatasetError(f"part must be all, calibration or held-out, not {part!r}")
    if part == "all":
        return list(records)
    return [r for r in records if held_out(r.id) == (part == "held-out")]


def metadata_header(title: str | None, date: str | None, source: str | None) -> str:
    """The metadata a passage carries besides its text ("title ... date ... source ..."),
    which evidence may quote (a headline, a date line)."""
    return " ".join(f"{name} {value}" for name, value in
                    (("title", title), ("date", date), ("source", source)) if value)


def check_evidence(records: Sequence[EvalRecord], articles: dict[str, Any]) -> list[str]:
    """Problems with evidence: each string must occur in the text or metadata header of
    one of the record's articles (any article when doc_ids is empty)."""
    problems = []
    for record in records:
        missing = [d for d in record.doc_ids if d not in articles]
        if missing:
            problems.append(f"{record.id}: article(s) {', '.join(missing)} not in the corpus")
        pool = [articles[d] for d in record.doc_ids if d in articles] or (
            list(articles.values()) if not record.doc_ids else [])
        for evidence in record.evidence:
            if not any(contains_evidence(a.text, evidence) or contains_evidence(
                    metadata_header(a.title, a.date, a.source), evidence) for a in pool):
                problems.append(f"{record.id}: evidence not found in its article(s): {evidence[:80]!r}")
    return problems
