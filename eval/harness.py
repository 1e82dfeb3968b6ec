"""Run reference questions through `rag.answer.Newsdesk` and score every answer.

Flow: `plan_dataset` picks the records and the corpus they need; `prepare` ingests that
corpus into an isolated eval collection (embedded Chroma under .newsdesk/eval/, so the
user's store is never touched) unless asked to reuse the configured store; `run_eval`
asks each question (with its follow-up history) and scores it with `eval.metrics`;
`summarise` averages the scores overall, per question tag and per stage latency.

Per-question scoring (all deterministic):
- a retrieved passage is *relevant* when it comes from one of the record's doc_ids (any
  article if none are given) and contains an evidence string in its text or metadata
  header (title/date/source); hit@k, reciprocal rank and evidence recall follow;
- EM and token F1 compare the short answer (the answer's `short_answer`, else the whole
  answer without markers) with the record's short answers and its reference answer (the
  best match counts; SQuAD rules); `answer_f1` scores the whole answer against the
  reference; answer accuracy applies RGB's contains-gold rule where a record has `gold`;
- citation precision: share of citations whose cited passage is relevant; citation
  recall: share of the evidence (or, with evidence_mode "any", whether any of it) found
  in the cited passages; both over answers that were given, not refusals;
- quote validity: share of citations whose quote equals the article text at its offsets;
- faithfulness: share of answer sentences backed word-for-word by the passages they cite
  (`eval.metrics.verbatim_faithfulness`: the sentence verbatim, or 80% of its word
  trigrams, with its own unstemmed tokenisation — independent of the answerer's
  `rag.text.support`); the short answer must occur verbatim in the passage it names;
- refusal: refusal accuracy on unanswerable records, false-refusal rate on answerable ones;
- short-answer precision: share of the short answers shown (not refused) that contain
  the gold answer (records with `gold`), with the counts right / shown;
- citations after as-of: share of citations (records with `as_of`) whose article is
  dated after the as-of date (undated articles are not counted as after);
- leading fragments (every dataset; 0 is the goal): answers that start with words glued
  before " — " that are not the verified short answer (`eval.metrics.leading_fragment`).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm import tqdm

from eval import metrics as M
from eval.datasets import DATED_CORPUS, DATED_PATH, SEED_PATH, DatasetError, EvalRecord, check_evidence, load_jsonl, metadata_header
from rag.config import Settings
from rag.text import MARKER as _MARKER, MARKER_DIGITS

DEFAULT_WORK_DIR = Path(".newsdesk/eval")
STAGES = ("condense", "retrieve", "generate", "check", "total")
_LEADING_MARKERS = re.compile(rf"^(?:\s*\[{MARKER_DIGITS}\][\s.,;:!?]*)+")


@dataclass
class EvalPlan:
    """What to ask and which corpus the answers must come from."""

    name: str
    records: list[EvalRecord]
    corpus_dir: Path
    collection: str            # the isolated eval collection's base name
    rgb: bool = False


def plan_dataset(dataset: str, settings: Settings, work_dir: Path = DEFAULT_WORK_DIR,
                 limit: int | None = None, corpus_dir: Path | None = None,
                 part: str = "all") -> EvalPlan:
    """Records and corpus for `seed`, `dated`, an RGB set (rgb, rgb-answerable, rgb-unanswerable),
    `realtimeqa` or a JSON Lines file, limited to the first `limit` records (for realtimeqa
    the first `limit` of the part, so `--part held-out --limit 40` is 40 held-out questions)."""
    from eval import realtimeqa, rgb

    if limit is not None and limit < 1:
        raise DatasetError("--limit must be at least 1")
    if dataset in rgb.DATASETS:
        built = rgb.build(dataset, rgb.load_instances(), limit)
        folder = Path(work_dir) / "rgb" / f"corpus-{built.label}"
        rgb.write_corpus(built.snippets, folder)
        return EvalPlan(dataset, built.records, folder, f"rgb-{built.label}", rgb=True)
    if dataset in realtimeqa.DATASETS:
        built = realtimeqa.build(realtimeqa.load_questions(), realtimeqa.load_articles(),
                                 limit, part)
        folder = Path(work_dir) / "realtimeqa" / f"corpus-{built.label}"
        realtimeqa.write_corpus(built.articles, folder)
        return EvalPlan(dataset, built.records, folder, f"realtimeqa-{built.label}")
    if dataset == "dated":  # time-dependent questions over their own dated corpus
        return EvalPlan("dated", load_jsonl(DATED_PATH)[:limit], Path(corpus_dir or DATED_CORPUS),
                        "dated")
    path = SEED_PATH if dataset == "seed" else Path(dataset)
    if dataset != "seed" and not path.is_file():
        raise DatasetError(f"dataset {dataset!r} is neither seed, one of "
                           f"{', '.join(rgb.DATASETS)}, nor an existing JSON Lines file")
    records = load_jsonl(path)[:limit]
    name = "seed" if dataset == "seed" else re.sub(r"[^A-Za-z0-9]+", "-", path.stem).strip("-") or "data"
    return EvalPlan(name, records, Path(corpus_dir or settings.corpus_dir), name)


def eval_settings(settings: Settings, plan: EvalPlan, work_dir: Path = DEFAULT_WORK_DIR,
                  reuse_store: bool = False, **overrides: Any) -> Settings:
    """Settings for the run: the configured ones, but with an isolated embedded store and
    collection (unless reuse_store), plus overrides such as generator or top_k."""
    values = settings.model_dump()
    if not reuse_store:
        values.update(store="embedded", store_path=Path(work_dir) / "chroma",
                      collection=f"newsdesk-eval-{plan.collection}-{settings.embedding}"[:63],
                      corpus_dir=plan.corpus_dir)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def prepare(plan: EvalPlan, settings: Settings, reuse_store: bool = False,
            progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Ingest the plan's corpus into the eval collection (not with reuse_store) and return
    its articles by doc id, for quote checks."""
    from rag.ingest import ingest
    from rag.sources.files import load_corpus

    if not reuse_store:
        report = ingest(plan.corpus_dir, settings, prune=True, progress=progress, wait_seconds=600)
        log(f"eval collection {settings.collection!r} in {settings.store_path}: {report.summary()}")
    by_id = {a.doc_id: a for a in load_corpus(plan.corpus_dir).articles}
    if not plan.rgb:
        problems = check_evidence(plan.records, by_id)
        if problems and plan.name == "realtimeqa":  # outside data: scored as it is, noted
            log(f"warning: {len(problems)} RealTime QA question(s) whose gold text is not in "
                f"their answer articles, e.g. {problems[0]}")
        elif problems:
            raise DatasetError(f"dataset {plan.name} does not match corpus {plan.corpus_dir}:\n  "
                               + "\n  ".join(problems[:10]))
    return by_id


class _NoDesk:
    """Stands in when the collection is missing: every question gets no passages."""

    def __init__(self, name: str) -> None:
        self.generator_name = name


def _passage_relevant(passage: Any, record: EvalRecord) -> bool:
    if record.doc_ids and passage.doc_id not in record.doc_ids:
        return False
    if record.evidence_mode == "doc":  # any passage of one of its articles (RealTime QA)
        return bool(record.doc_ids)
    header = metadata_header(passage.title, passage.date, passage.source)
    return any(M.contains_evidence(passage.text, e) or M.contains_evidence(header, e)
               for e in record.evidence)


def _recall_mode(record: EvalRecord) -> str:
    """Evidence mode for evidence recall: "doc" records recall any of their strings."""
    return "any" if record.evidence_mode == "doc" else record.evidence_mode


def _passage_texts(passage: Any) -> list[str]:
    return [passage.text, metadata_header(passage.title, passage.date, passage.source)]


def _sentences_with_citations(answer_text: str, passages: dict[int, Any]) -> list[tuple[str, list[str]]]:
    """(sentence, texts of the passages it cites) for each answer sentence with content.

    Markers that a sentence splitter leaves at the start of the next sentence (after
    "..." for instance) or alone ("[1] .") belong to the sentence before them.
    """
    from rag.text import split_sentences
    from rag.text import content_terms, normalise_markers

    segments: list[tuple[str, list[int]]] = []
    for sentence in split_sentences(normalise_markers(answer_text)):
        text = sentence.text
        lead = _LEADING_MARKERS.match(text)
        if lead and segments:
            segments[-1][1].extend(int(n) for n in _MARKER.findall(lead.group()))
            text = text[lead.end():]
        numbers = [int(n) for n in _MARKER.findall(text)]
        claim = M.strip_markers(text)
        if content_terms(claim):
            segments.append((claim, numbers))
        elif numbers and segments:
            segments[-1][1].extend(numbers)
    return [(claim, [passages[n].text for n in dict.fromkeys(numbers) if n in passages])
            for claim, numbers in segments]


def score_answer(record: EvalRecord, answer: Any, articles: dict[str, Any], k: int) -> dict[str, Any]:
    """Per-question scores for one `Answer` (see the module docstring)."""
    scores: dict[str, Any] = {"refused": answer.refused,
                              "decision_correct": answer.refused != record.answerable}
    passages = answer.passages
    by_n = {p.n: p for p in passages}
    relevant = [_passage_relevant(p, record) for p in passages]
    if record.answerable and record.evidence:
        scores["hit_at_k"] = M.hit_at_k(relevant, k)
        scores["mrr"] = M.reciprocal_rank(relevant, k)
        texts = [t for p in passages if not record.doc_ids or p.doc_id in record.doc_ids
                 for t in _passage_texts(p)]
        scores["evidence_recall"] = M.evidence_recall(record.evidence, texts, _recall_mode(record))
    text = M.strip_markers(answer.answer) if not answer.refused else ""
    short = getattr(answer, "short_answer", None)
    references = [r for r in [*record.short_answers, record.reference_answer] if r]
    if record.answerable and references:
        predicted = short.text if short is not None and not answer.refused else text
        scores["em"] = M.exact_match(predicted, references)
        scores["f1"] = M.token_f1(predicted, references)
    if record.answerable and record.reference_answer:
        scores["answer_f1"] = M.token_f1(text, record.reference_answer)
    if record.answerable and record.gold is not None:
        scores["answer_accuracy"] = float(not answer.refused and M.contains_gold(text, record.gold))
        # whether retrieval handed the answerer the gold answer: splits its misses and
        # refusals into the answerer's own and retrieval's
        scores["gold_retrieved"] = float(any(M.contains_gold(p.text, record.gold) for p in passages))
    shown = short is not None and not answer.refused
    scores["short_shown"] = float(shown)
    if shown and record.answerable and record.gold is not None:
        scores["short_correct"] = float(M.contains_gold(short.text, record.gold))
    if not answer.refused:
        lead = M.leading_fragment(answer.answer, short.text if short is not None else None,
                                  [c.quote for c in answer.citations])
        scores["leading_fragment"] = float(lead is not None)
    if record.as_of and not answer.refused and answer.citations:
        dates = [getattr(articles.get(c.doc_id), "date", None) for c in answer.citations]
        after = M.dated_after(dates, record.as_of)
        scores["citations_after_as_of"], scores["citations_dated_checked"] = sum(after), len(after)
    if not answer.refused:
        cited = [by_n.get(c.n) for c in answer.citations]
        if answer.citations:
            if record.answerable and record.evidence:
                scores["citation_precision"] = M.citation_precision(
                    [p is not None and _passage_relevant(p, record) for p in cited])
            valid = []
            for c in answer.citations:
                article = articles.get(c.doc_id)
                if article is not None:
                    valid.append(article.text[c.start:c.end] == c.quote)
            scores["quote_validity"] = M.share(valid)
            scores["quotes_checked"] = len(valid)
        if record.answerable and record.evidence:
            cited_texts = [t for p in cited if p is not None and (
                not record.doc_ids or p.doc_id in record.doc_ids) for t in _passage_texts(p)]
            scores["citation_recall"] = M.evidence_recall(record.evidence, cited_texts,
                                                          _recall_mode(record))
        body = answer.answer
        sentences = []
        if short is not None and body.startswith(short.text):
            body = body[len(short.text):].lstrip(" —–-:")
            sentences.append((short.text, [by_n[short.n].text] if short.n in by_n else []))
        sentences += _sentences_with_citations(body, by_n)
        scores["faithfulness"] = M.verbatim_faithfulness(sentences)
    return scores


@dataclass
class QuestionResult:
    """One question's answer (as the JSON contract, trimmed) and its scores."""

    id: str
    question: str
    tags: list[str]
    answerable: bool
    answer: str = ""
    short_answer: dict[str, Any] | None = None
    refused: bool = True
    citations: list[dict[str, Any]] = field(default_factory=list)
    passages: list[dict[str, Any]] = field(default_factory=list)
    relevance: float = 0.0
    timings_ms: dict[str, int] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _trim(answer: Any, record: EvalRecord) -> dict[str, Any]:
    data = answer.to_dict()
    return {"answer": data["answer"], "refused": data["refused"], "citations": data["citations"],
            "short_answer": data.get("short_answer"),
            "passages": [{k: p[k] for k in ("n", "doc_id", "chunk_id", "score", "dense_similarity")}
                         | {"relevant": _passage_relevant(raw, record),
                            "text": p["text"][:300]}
                         for p, raw in zip(data["passages"], answer.passages)],
            "relevance": data["relevance"], "timings_ms": data["timings_ms"]}


def make_desk(settings: Settings, log: Callable[[str], None] = print):
    """A Newsdesk over the settings' collection, or a stand-in that retrieves nothing when
    the collection does not exist (so a gate fails on the metrics, not on a traceback)."""
    from rag.answer import Newsdesk
    from rag.index.store import EmptyIndexError

    try:
        desk = Newsdesk(settings)
    except EmptyIndexError as err:
        log(f"warning: {err}; every question is scored as unanswered")
        return _NoDesk(settings.generator)
    return desk


def _empty_answer(record: EvalRecord, generator: str):
    from rag.answer import REFUSAL_TEXT, Answer

    return Answer(question=record.question, answer=REFUSAL_TEXT, refused=True, citations=[],
                  passages=[], generator=generator, timings_ms={})


def ask(desk: Any, record: EvalRecord, top_k: int | None) -> Any:
    """The Answer for one record (history given for follow-ups, hidden docs filtered out,
    as of the record's date when it has one)."""
    from rag.index.store import EmptyIndexError
    from rag.records import Filters

    if isinstance(desk, _NoDesk):
        return _empty_answer(record, desk.generator_name)
    # RGB's unanswerable set: the same question over the corpus without its answers,
    # asked of the production retriever with those articles filtered out
    filters = Filters(exclude_doc_ids=frozenset(record.exclude_doc_ids))
    try:
        return desk.answer(record.question, history=record.history or None, top_k=top_k,
                           filters=filters, as_of=record.as_of)
    except EmptyIndexError:  # the collection exists but holds nothing: no passages
        return _empty_answer(record, desk.generator.name)


def run_eval(records: Sequence[EvalRecord], desk: Any, articles: dict[str, Any],
             top_k: int | None = None, progress: bool = True, judge: Any = None,
             desc: str = "eval") -> list[QuestionResult]:
    """Ask every record and score it; question errors are recorded, not raised."""
    from rag.answer import QuestionError

    k = desk.settings.top_k if top_k is None and not isinstance(desk, _NoDesk) else (top_k or 0)
    results = []
    for record in tqdm(records, desc=desc, unit="q", disable=not progress, file=sys.stderr):
        result = QuestionResult(record.id, record.question, list(record.tags), record.answerable)
        try:
            answer = ask(desk, record, top_k)
        except QuestionError as err:
            result.error = str(err)
            answer = _empty_answer(record, getattr(desk, "generator_name", "?"))
        for key, value in _trim(answer, record).items():
            setattr(result, key, value)
        result.scores = score_answer(record, answer, articles, k)
        if judge is not None:
            result.judge = judge.grade(record, answer)
        results.append(result)
    return results


def _collect(results: Sequence[QuestionResult], key: str) -> list[float]:
    return [r.scores[key] for r in results if r.scores.get(key) is not None]


def aggregate(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Averages of the per-question scores over a group of results."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    out: dict[str, Any] = {"questions": len(results), "answerable": len(answerable),
                           "unanswerable": len(unanswerable)}
    for key in ("hit_at_k", "mrr", "evidence_recall", "em", "f1", "answer_f1", "answer_accuracy",
                "citation_precision", "citation_recall", "faithfulness", "decision_correct"):
        out[key if key != "decision_correct" else "decision_accuracy"] = M.mean(_collect(results, key))
    checked = sum(r.scores.get("quotes_checked", 0) for r in results)
    valid = sum(round(r.scores.get("quote_validity") * r.scores["quotes_checked"])
                for r in results if r.scores.get("quote_validity") is not None)
    out["quote_validity"] = valid / checked if checked else None
    correct = _collect(results, "short_correct")
    has_gold = any(r.scores.get("answer_accuracy") is not None for r in results)
    out["short_answer_precision"] = M.mean(correct)
    out["short_answers_shown"] = len(correct) if has_gold else None
    out["short_answers_right"] = int(sum(correct)) if has_gold else None
    checked_dates = sum(r.scores.get("citations_dated_checked", 0) for r in results)
    out["citations_after_as_of"] = (sum(r.scores.get("citations_after_as_of", 0) for r in results)
                                    / checked_dates) if checked_dates else None
    out["leading_fragments"] = int(sum(_collect(results, "leading_fragment")))
    out["refusal_accuracy"] = M.refusal_accuracy([r.refused for r in unanswerable])
    out["false_refusal_rate"] = M.false_refusal_rate([r.refused for r in answerable])
    retrieved = [r for r in answerable if r.scores.get("gold_retrieved")]
    out["gold_retrieved"] = M.mean(_collect(answerable, "gold_retrieved"))
    out["answer_accuracy_retrieved"] = M.mean(_collect(retrieved, "answer_accuracy"))
    out["false_refusal_rate_retrieved"] = (M.false_refusal_rate([r.refused for r in retrieved])
                                           if retrieved else None)
    judged = [r.judge for r in results if r.judge]
    if judged:
        for key in ("correct", "faithful"):
            out[f"judge_{key}"] = M.mean(j.get(key) for j in judged)
        out["judge_unparsed"] = sum(1 for j in judged if j.get("correct") is None)
    return out


def latency(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """p50 and p95 (ms) per stage, over the questions that ran the stage."""
    out: dict[str, Any] = {}
    for stage in STAGES:
        values = [r.timings_ms[stage] for r in results if stage in r.timings_ms]
        if values:
            out[f"{stage}_p50_ms"] = M.percentile(values, 50)
            out[f"{stage}_p95_ms"] = M.percentile(values, 95)
    return out


def summarise(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Overall metrics (with latency_p50/p95_total_ms for the gate), and per tag."""
    overall = aggregate(results)
    lat = latency(results)
    overall.update({f"latency_{k}": v for k, v in lat.items()})
    tags = sorted({t for r in results for t in r.tags})
    per_tag = {tag: aggregate([r for r in results if tag in r.tags]) for tag in tags}
    return {"overall": overall, "per_tag": per_tag, "latency": lat}


@dataclass
class EvalRun:
    """One generator's run over one dataset."""

    name: str
    dataset: str
    generator: str
    profile: str
    settings: dict[str, Any]
    results: list[QuestionResult]
    summary: dict[str, Any]
    started: str
    seconds: float
    top_k: int
    cpu_seconds: float = 0.0
    ingest_seconds: float = 0.0
    gate: dict[str, Any] | None = None


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings that shape answers, without secrets."""
    keys = ("profile", "store", "store_path", "collection", "embedding", "generator", "model",
            "base_url", "top_k", "candidates", "min_relevance", "min_term_coverage",
            "chunk_tokens", "chunk_overlap", "temperature", "max_tokens")
    return {k: (str(v) if isinstance(v, Path) else v)
            for k, v in settings.model_dump().items() if k in keys}


def evaluate(plan: EvalPlan, settings: Settings, articles: dict[str, Any], top_k: int | None,
             progress: bool = True, judge: Any = None,
             log: Callable[[str], None] = print) -> EvalRun:
    """Build the desk for the settings, run the plan's records, summarise."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    desk = make_desk(settings, log)
    clock, cpu = time.perf_counter(), time.process_time()
    results = run_eval(plan.records, desk, articles, top_k, progress, judge,
                       desc=f"{plan.name}/{settings.generator}")
    seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
    k = settings.top_k if top_k is None else top_k
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{plan.name}-{settings.generator}"
    return EvalRun(name=name, dataset=plan.name, generator=settings.generator,
                   profile=settings.profile, settings=public_settings(settings), results=results,
                   summary=summarise(results), started=started, seconds=seconds,
                   cpu_seconds=cpu_seconds, top_k=k)
