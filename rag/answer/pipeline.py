"""Answer a question: condense the follow-up, retrieve, generate, check citations.

`Newsdesk` is built once from the settings (embedding model, store, BM25 index,
generator) and shared by the CLI, the chat page and the eval harness, all of which call
`answer()` or `stream()` and get the same `Answer` (the JSON contract in the README).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from rag.answer.citations import check_citations
from rag.answer.conflicts import conflict_note, find_conflicts
from rag.answer.generators import Draft, Generator, make_generator
from rag.answer.outcome import Outcome, draft_outcome, retrieval_outcome
from rag.answer.timeline import label_dates, latest_draft, on_topic, resolve_when
from rag.config import Settings
from rag.errors import NewsdeskError
from rag.records import Citation, Filters, Passage, cosine
from rag.search.retriever import Retrieval, Retriever
from rag.search.steps import Query
from rag.search.time import (CHRONOLOGICAL, NEWEST, TimeInterpretation, explain_empty,
                             plan_story_time, plan_time, story_time_note, topic_question)

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
REFUSAL_TEXT = "The articles don't say: none of the passages I found answers this question."


class QuestionError(NewsdeskError, ValueError):
    """The question cannot be asked as it is; the message says why."""


@dataclass
class ShortAnswer:
    """The words that answer the question: `text == article_text[start:end]`, inside a
    sentence cited as passage `n`, and the answer's first words."""

    text: str
    n: int
    start: int
    end: int


def check_short_answer(draft: Draft, answer_text: str, citations: list[Citation],
                       passages: list[Passage]) -> ShortAnswer | None:
    """The draft's short answer when it checks out like a citation: the passage was given
    to the generator, holds the text at its offsets, one of the answer's citations of that
    passage quotes a sentence containing it, and the answer leads with it; else None."""
    span = draft.short_answer
    passage = next((p for p in passages if p.n == draft.short_n), None)
    if span is None or passage is None or not span.text.strip():
        return None
    local = span.start - passage.start
    if passage.text[local:local + len(span.text)] != span.text or span.end - span.start != len(span.text):
        return None
    quoted = any(c.n == passage.n and c.start <= span.start and span.end <= c.end for c in citations)
    if not quoted or not answer_text.startswith(span.text):
        return None
    return ShortAnswer(span.text, passage.n, span.start, span.end)


@dataclass
class Answer:
    """A checked answer, ready to show or to serialise."""

    question: str
    answer: str
    refused: bool            # outcome.refused, kept for the contract
    citations: list[Citation]
    passages: list[Passage]
    generator: str
    standalone_question: str = ""
    relevance: float = 0.0
    steps: list[str] = field(default_factory=list)
    citation_check: dict[str, list[int]] = field(default_factory=dict)
    timings_ms: dict[str, int] = field(default_factory=dict)
    time: TimeInterpretation | None = None
    short_answer: ShortAnswer | None = None
    outcome: Outcome = Outcome.NO_PASSAGES
    conflicts: list[dict] = field(default_factory=list)  # rag.answer.conflicts
    not_embedded: int = 0    # articles searchable lexically only (vectors still queued)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: citations with quotes and offsets, passages with scores."""
        return {
            "question": self.question, "standalone_question": self.standalone_question,
            "answer": self.answer, "refused": self.refused,
            "citations": [asdict(c) for c in self.citations],
            "passages": [{"n": p.n, "doc_id": p.doc_id, "chunk_id": p.chunk_id,
                          "score": round(p.score, 4), "dense_similarity": round(p.dense_similarity, 4),
                          "title": p.title, "date": p.date, "source": p.source, "url": p.url,
                          "start": p.start, "end": p.end, "text": p.text,
                          "copies": p.copies} for p in self.passages],
            "generator": self.generator, "relevance": round(self.relevance, 4),
            "steps": self.steps,
            "time": self.time.to_dict() if self.time else None,
            "citation_check": self.citation_check, "timings_ms": self.timings_ms,
            "short_answer": asdict(self.short_answer) if self.short_answer else None,
            "outcome": self.outcome.value,
            "conflicts": [{"about": c["about"], "kind": c["kind"],
                           "values": [{k: v[k] for k in ("text", "n", "source", "date")}
                                      for v in c["values"]]} for c in self.conflicts],
            "not_embedded": self.not_embedded,
        }


def clean_question(question: str, max_chars: int) -> str:
    """The question with control characters and surplus whitespace removed, or QuestionError."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    question = _ANSI_ESCAPE.sub(" ", question)  # a terminal colour code is no part of the question
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in question).split())
    if not cleaned:
        raise QuestionError("the question is empty: type a question about the articles")
    if len(cleaned) > max_chars:
        raise QuestionError(f"the question is {len(cleaned)} characters long; the limit is "
                            f"{max_chars} (setting max_question_chars)")
    return cleaned


def clean_history(history: object) -> list[dict]:
    """The well-formed turns ({role, content} with text) of a conversation; the rest,
    e.g. junk sent to the chat page's API, is ignored."""
    if not isinstance(history, (list, tuple)):
        return []
    return [turn for turn in history if isinstance(turn, dict)
            and isinstance(turn.get("role"), str) and isinstance(turn.get("content"), str)]


class Newsdesk:
    """The question-answering pipeline over one collection."""

    def __init__(self, settings: Settings, generator: Generator | None = None) -> None:
        self.settings = settings
        self.generator = generator or make_generator(settings)  # checks the generator setting first
        self.retriever = Retriever(settings)
        self._newest: tuple[int | None, str | None] = (None, None)

    def _prepare(self, question: str, history: list[dict] | None, top_k: int | None,
                 filters: Filters, as_of: str | None,
                 timings: dict[str, int]) -> tuple[str, str, Retrieval, float,
                                                   TimeInterpretation | None]:
        started = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        standalone = self.generator.condense(question, clean_history(history))
        timings["condense"] = _ms(started)
        started = time.perf_counter()
        # time in the question and the as-of date narrow retrieval; the time_rank step
        # orders what comes back (rag.search.time)
        asked = filters
        interpretation, filters = plan_time(standalone, filters, as_of, self.settings,
                                            newest=self._newest_date())
        k = self.settings.top_k if top_k is None else top_k
        if interpretation is not None and interpretation.order == CHRONOLOGICAL and k > 0:
            k = max(k, self.settings.timeline_events)
            wide = 2 * k   # a timeline reads a wider pool, then keeps its story's passages
        query = Query(question=standalone, filters=filters, top_k=k, as_of=as_of,
                      extra={"time": interpretation})
        topic = topic_question(standalone, interpretation)
        timeline = interpretation is not None and interpretation.order == CHRONOLOGICAL and k > 0
        retrieval = self.retriever.retrieve(topic, wide if timeline else k, filters, query)
        vector = retrieval.query_vector   # the topic is embedded once: later searches reuse it
        pool = max(2 * k, self.settings.timeline_events)  # the story's reports, to find its latest
        story = None if retrieval.passages or k == 0 else plan_story_time(
            interpretation, asked,
            lambda f: self.retriever.retrieve(topic, pool, f, query_vector=vector).passages,
            topic, self.settings.min_relevance, self.settings.time_report_lag_days)
        if story:  # "the previous week" of the story the question names (rag.search.time)
            interpretation, filters = story
            query = Query(question=standalone, filters=filters, top_k=k, as_of=as_of,
                          extra={"time": interpretation})
            retrieval = self.retriever.retrieve(topic, wide if timeline else k, filters, query,
                                                query_vector=vector)
        if timeline:  # the events' story only, so the wide pool spreads over its whole span
            retrieval.passages = on_topic(topic, retrieval.passages, k)
            for n, passage in enumerate(retrieval.passages, start=1):
                passage.n = n
        if retrieval.not_embedded:
            self._score_queued(topic, retrieval)
        timings["retrieve"] = _ms(started)
        relevance = max((p.dense_similarity for p in retrieval.passages), default=0.0)
        return question, standalone, retrieval, relevance, interpretation

    def _score_queued(self, question: str, retrieval: Retrieval) -> None:
        """Give the passages found by their words whose vectors are still queued the dense
        similarity their vectors will have (embedding these few texts now, against the
        question's vector from its retrieval), so that the relevance gate and the answerer
        judge a new article as they will once embedded."""
        unscored = [p for p in retrieval.passages if p.dense_similarity <= 0]
        queued = self.retriever.index.pending_among([p.chunk_id for p in unscored]) if unscored else set()
        chosen = [p for p in unscored if p.chunk_id in queued]
        if not chosen:
            return
        embeddings = self.retriever.embeddings
        query = retrieval.query_vector or embeddings.embed_query(question)
        for passage, vector in zip(chosen, embeddings.embed_documents([p.text for p in chosen])):
            passage.dense_similarity = cosine(query, vector)

    def search_filters(self, question: str, as_of: str | None = None,
                       filters: Filters = Filters()) -> Filters:
        """The filters a (standalone) question is searched with: the given ones, narrowed
        to its own period and the as-of date (`rag.search.time.plan_time`)."""
        return plan_time(question, filters, as_of, self.settings, newest=self._newest_date())[1]

    def _newest_date(self) -> str | None:
        """The newest article's date (settles the year of "on June 3"), if the index says."""
        try:
            revision = self.retriever.index.revision
            if self._newest[0] != revision:
                self._newest = (revision, self.retriever.index.newest_date())
            return self._newest[1]
        except Exception:  # noqa: BLE001 - a store error surfaces in retrieval, with its message
            return None

    def _finish(self, question: str, standalone: str, retrieval: Retrieval, relevance: float,
                draft: Draft | None, timings: dict[str, int], started: float,
                interpretation: TimeInterpretation | None = None,
                refusal: Outcome | None = None) -> Answer:
        """The checked answer; `refusal` is the outcome decided before generating."""
        passages = retrieval.passages
        answer = Answer(question=question, answer=REFUSAL_TEXT, refused=True, citations=[],
                        passages=passages, generator=self.generator.name,
                        standalone_question=standalone, relevance=relevance,
                        steps=retrieval.steps, timings_ms=timings, time=interpretation,
                        outcome=refusal or draft_outcome(draft, ""),
                        not_embedded=retrieval.not_embedded)
        if refusal is None and draft is not None and not draft.refused:
            check_started = time.perf_counter()
            text, citations, check = check_citations(draft.text, passages)
            timings["check"] = _ms(check_started)
            answer.citation_check = {"removed": check.removed, "added": check.added}
            answer.outcome = draft_outcome(draft, text)
            if not answer.outcome.refused:
                chronology = interpretation is not None and interpretation.order == CHRONOLOGICAL
                text, citations, answer.conflicts = _with_conflicts(text, citations, passages,
                                                                    said=not chronology)
                answer.answer, answer.citations, answer.refused = text, citations, False
                answer.short_answer = check_short_answer(draft, text, citations, passages)
                note = story_time_note(interpretation)  # the time it was read against
                answer.answer = f"{note} {answer.answer}" if note else answer.answer
        if answer.outcome == Outcome.NO_PASSAGES:
            # a time filter that left nothing is said, with its range and the newest date
            answer.answer = explain_empty(interpretation, self._newest_date()) or answer.answer
        timings["total"] = _ms(started)
        return answer

    def answer(self, question: str, history: list[dict] | None = None, top_k: int | None = None,
               filters: Filters = Filters(), as_of: str | None = None) -> Answer:
        """Answer one question (with the conversation so far, for follow-ups), as of a
        date (YYYY-MM-DD; default today)."""
        *_, answer = self._events(question, history, top_k, filters, as_of, streaming=False)
        assert isinstance(answer, Answer), "_events yields the checked Answer last"
        return answer

    def stream(self, question: str, history: list[dict] | None = None, top_k: int | None = None,
               filters: Filters = Filters(), as_of: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is written, then the checked `Answer`."""
        return self._events(question, history, top_k, filters, as_of, streaming=True)

    def _events(self, question: str, history: list[dict] | None, top_k: int | None,
                filters: Filters, as_of: str | None, streaming: bool) -> Iterator[str | Answer]:
        started = time.perf_counter()
        timings: dict[str, int] = {}
        question, standalone, retrieval, relevance, interpretation = self._prepare(
            question, history, top_k, filters, as_of, timings)
        passages = retrieval.passages
        draft = None
        refusal = retrieval_outcome(bool(passages), relevance, self.settings.min_relevance)
        if refusal is None:
            note = story_time_note(interpretation)
            if streaming and note:
                yield note + " "
            generate_started = time.perf_counter()
            timeline = interpretation is not None and interpretation.order == CHRONOLOGICAL
            if timeline or not self.generator.streams:
                # written whole: a timeline, or an answer that is not streamed, whose
                # sentences may get "As of DATE:" labels (rag.answer.timeline)
                topic = topic_question(standalone, interpretation)
                if timeline:
                    draft = self.generator.timeline(topic, passages)
                elif interpretation is not None and interpretation.order == NEWEST:
                    draft = label_dates(latest_draft(self.generator, topic, passages), passages)
                else:
                    draft = _dated(standalone, self.generator.generate(topic, passages), passages)
                if streaming and not draft.refused:
                    yield from re.findall(r"\S+\s*", draft.text)
            elif streaming:
                draft = yield from self.generator.stream(standalone, passages)
            else:
                draft = self.generator.generate(standalone, passages)
                draft = resolve_when(standalone, draft, passages) or draft
            timings["generate"] = _ms(generate_started)
        yield self._finish(question, standalone, retrieval, relevance, draft, timings, started,
                           interpretation, refusal)


def _dated(question: str, draft: Draft, passages: list[Passage]) -> Draft:
    """A "when" answer led by the date its day word means (rag.answer.timeline.resolve_when),
    else the answer with "As of DATE:" labels when its facts are of different dates."""
    return resolve_when(question, draft, passages) or label_dates(draft, passages)


def _with_conflicts(text: str, citations: list[Citation], passages: list[Passage],
                    said: bool = True) -> tuple[str, list[Citation], list[dict]]:
    """The answer told of corrections and conflicting reports among the passages it
    cites (rag.answer.conflicts): a correction leads when the answer gives the corrected
    figure's old value, a conflict is named after the answer; their citations added."""
    cited = {c.n for c in citations}
    found = [c for c in find_conflicts(passages) if {v["n"] for v in c["values"]} & cited]
    if not found or not said:  # a timeline keeps its list; the field still says it
        return text, citations, found
    opening = text.split("[", 1)[0]   # the answer's first claim
    leading = [c for c in found if c["kind"] == "correction"
               and c["corrected_from"].split()[0] in opening
               and c["values"][0]["text"].split()[0] not in opening]
    first, first_citations = conflict_note(leading, passages, cited)
    rest, rest_citations = conflict_note([c for c in found if c not in leading], passages, cited)
    have = {(c.n, c.start, c.end) for c in citations}
    added = []
    for c in first_citations + rest_citations:
        if (c.n, c.start, c.end) not in have:
            have.add((c.n, c.start, c.end))
            added.append(c)
    text = " ".join(part for part in (first, text, rest) if part)
    return text, citations + added, found


def _ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)
