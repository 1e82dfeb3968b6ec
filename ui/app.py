"""The chat page: ask about the articles, watch the answer stream in, check its sources.

`build_app(settings)` makes the Gradio Blocks; `launch(settings)` serves it on
settings.ui_host:ui_port (127.0.0.1:7860 by default) with `share=False` and Gradio's
analytics off, so start-up makes no outbound request. One `Newsdesk` answers for every
session (it is thread-safe); Gradio's queue runs up to `ANSWER_CONCURRENCY` answers at
once and queues the rest.

Besides the page, the app serves a JSON endpoint for programs:
`gradio_client.Client(url).predict(question, history, top_k, filters, api_name="/ask")`
returns the answer contract (`Answer.to_dict()`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no lookups
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # gradio imports huggingface_hub

import gradio as gr  # noqa: E402

from rag.answer import Answer, Newsdesk, QuestionError  # noqa: E402
from rag.answer.followup import small_talk  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.index.embeddings import EmbeddingError  # noqa: E402
from rag.answer.generators import ModelError, generator_class  # noqa: E402
from rag.answer.outcome import Outcome  # noqa: E402
from rag.records import Filters  # noqa: E402
from rag.index.store import EmptyIndexError, StoreError  # noqa: E402
from ui.render import (CSS, EMPTY_SOURCES, PAGE_JS, answer_markdown, article_text,  # noqa: E402
                       esc, human_bytes, md_text, message_markdown, notice_html, overview_html,
                       plural, refusal_reason, renumber, sources_html)
from ui.suggest import (distinct_people, example_questions as questions_from_titles,  # noqa: E402
                        follow_up_questions)
from ui.uploads import UPLOAD_TYPES, UploadResult, add_articles, add_url  # noqa: E402

log = logging.getLogger("newsdesk.ui")

ANSWER_CONCURRENCY = 4   # answers computed at once; more wait in the queue (2 cores here)
STREAM_INTERVAL = 0.05   # seconds between streamed chat updates
EXAMPLE_COUNT = 3        # example questions made from the newest articles
SHOWN_QUESTION_CHARS = 160  # a rejected over-long question is shown cut to this
TOAST_SECONDS = 6        # warnings disappear by themselves; only the newest is shown
MAX_TOP_K = 50           # as Settings.top_k
FILTER_KEYS = ("date_from", "date_to", "sources")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class UserFacingError(Exception):
    """Something to tell the user: a short title and what to do."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(f"{title}: {message}")
        self.title, self.message = title, message


def explain(err: Exception, settings: Settings) -> UserFacingError:
    """A clear title and message for an error; never a traceback."""
    if isinstance(err, UserFacingError):
        return err
    if isinstance(err, QuestionError):
        return UserFacingError("Please rephrase the question", str(err))
    if isinstance(err, ModelError):
        return UserFacingError(
            "The language model is not available",
            f"{err}. Start the model server at that address and ask again, or serve the "
            "offline profile instead: `rag --profile local serve`.")
    if isinstance(err, EmptyIndexError):
        return UserFacingError(
            "No articles are indexed yet",
            f"{err}, or add articles with “Add articles” on this page.")
    if isinstance(err, StoreError):
        return UserFacingError("The article store cannot be used", str(err))
    if isinstance(err, EmbeddingError):
        return UserFacingError("The embedding model cannot be used", str(err))
    log.exception("unexpected error while answering", exc_info=err)
    return UserFacingError("Something went wrong", "The server log has the details.")


_EXCEPTION_NAME = re.compile(r"\b(?:[a-z_]+\.)*[A-Z]\w*(?:Error|Exception|Timeout)\b:?\s*")
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")
_PATH = re.compile(r"(?<![\w:/])(?:~|\.{1,2})?(?:/[\w.@+%-]+){2,}/?")


def reader_text(message: str) -> str:
    """An error message as the page shows it: one line, without exception class names,
    errno codes or file paths (those go to the server log)."""
    line = " ".join(str(message).split())
    line = _ERRNO.sub("", _EXCEPTION_NAME.sub("", line))
    line = _PATH.sub("the configured folder", line)
    return line.strip() or "The server log has the details."


def page_problem(err: Exception, settings: Settings) -> UserFacingError:
    """`explain` for the page: the details logged, a one-line reason shown."""
    problem = explain(err, settings)
    log.warning("%s: %s", problem.title, problem.message)
    return UserFacingError(problem.title, reader_text(problem.message))


def make_filters(date_from: str | None, date_to: str | None,
                 sources: list[str] | tuple[str, ...] | None) -> Filters:
    """Filters from the settings panel, or UserFacingError for a malformed date."""
    dates = []
    for label, value in (("From", date_from), ("To", date_to)):
        value = (value or "").strip()
        if value and not _DATE.fullmatch(value):
            raise UserFacingError("Check the date filter",
                                  f"“{label}” must look like YYYY-MM-DD, e.g. 2022-01-21 "
                                  f"(got “{value}”).")
        dates.append(value or None)
    if dates[0] and dates[1] and dates[0] > dates[1]:
        raise UserFacingError("Check the date filter", "“From” is after “To”.")
    return Filters(date_from=dates[0], date_to=dates[1],
                   sources=tuple(s for s in (sources or []) if isinstance(s, str) and s))


@dataclass
class CorpusFacts:
    """What the collection holds, for the settings panel and the source filter."""

    articles: int = 0
    chunks: int = 0
    sources: list[str] = field(default_factory=list)
    first_date: str | None = None
    last_date: str | None = None
    updated: str | None = None        # when the store last changed (ingest, sync, upload)
    newest: list[tuple[str, str]] = field(default_factory=list)  # (title, source), newest first


class Desk:
    """The one Newsdesk shared by all sessions, built on first use (the index may be
    empty when the page starts: an upload or `rag ingest` fills it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._desk: Newsdesk | None = None
        self._lock = threading.Lock()
        # set by `rag serve`, whose worker embeds queued chunks: uploads then only make
        # their articles searchable and return at once
        self.embeds_in_background = False

    def get(self) -> Newsdesk:
        with self._lock:
            if self._desk is None:
                self._desk = Newsdesk(self.settings)
            return self._desk

    def facts(self) -> CorpusFacts:
        """Articles, chunks, sources, date range, last change and newest titles of the
        collection (empty if none)."""
        try:
            index = self.get().retriever.index
            facts = index.facts()
        except (StoreError, EmbeddingError):
            return CorpusFacts()
        updated, newest = None, []
        changed = index.last_change()
        if changed is not None:
            updated = dt.datetime.fromtimestamp(changed).strftime("%Y-%m-%d %H:%M")
            try:
                newest = index.newest_articles(EXAMPLE_COUNT)
            except StoreError:
                newest = []
        return CorpusFacts(articles=facts["articles"], chunks=facts["chunks"],
                           sources=facts["sources"], first_date=facts["date_from"],
                           last_date=facts["date_to"], updated=updated, newest=newest)

    def articles(self, doc_ids: set[str]) -> dict[str, str]:
        """doc id -> the article's normalised text (the offsets citations use), for the
        article view; missing articles are left out."""
        wanted, found = set(doc_ids), {}
        if not wanted:
            return found
        try:
            for doc_id, _, spans in self.get().retriever.index.article_spans(only=wanted):
                found[doc_id] = article_text(spans)
        except (StoreError, EmbeddingError) as err:
            log.warning("article view: %s", err)
        return found

    def is_empty(self) -> bool:
        try:
            return self.get().retriever.index.count() == 0
        except StoreError:
            return True


def example_questions(settings: Settings, facts: CorpusFacts) -> list[str]:
    """The examples to offer: the ui_examples setting, else one question per newest
    article in the store (none when it is empty: never a question it cannot answer)."""
    if settings.ui_examples:
        return list(settings.ui_examples)[:EXAMPLE_COUNT]
    return questions_from_titles([title for title, _ in facts.newest], 3 * EXAMPLE_COUNT)


def check_top_k(value: Any) -> int:
    """top-k as an int in 1..MAX_TOP_K, or UserFacingError saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not 1 <= int(value) <= MAX_TOP_K:
        raise UserFacingError("Check top-k", f"top_k must be a whole number from 1 to {MAX_TOP_K} "
                              f"(got {value!r}).")
    return int(value)


def check_as_of(value: Any) -> str | None:
    """The "as of" date as YYYY-MM-DD, None when empty, or UserFacingError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
        raise UserFacingError("Check the “as of” date",
                              f"“As of” must look like YYYY-MM-DD, e.g. 2022-01-21 (got {value!r}).")
    try:  # the range rag.search.time reads (AS_OF_RANGE)
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        day = None
    if day is None or not 1000 <= day.year <= 8999:
        raise UserFacingError("Check the “as of” date", f"“As of” must be a real date from "
                              f"1000-01-01 to 8999-12-31 (got {value.strip()!r}).")
    return value.strip()


def api_filters(filters: Any) -> Filters:
    """The /ask `filters` argument checked: a JSON object with date_from, date_to, sources."""
    if filters is None or filters == "":
        return Filters()
    if not isinstance(filters, dict):
        raise UserFacingError("Check the filters", "filters must be a JSON object like "
                              '{"date_from": "2022-01-01", "date_to": "2022-01-31", '
                              f'"sources": ["Reuters"]}} (got {type(filters).__name__} {str(filters)[:40]!r}).')
    unknown = sorted(str(k) for k in set(filters) - set(FILTER_KEYS))
    if unknown:
        raise UserFacingError("Check the filters", f"unknown filter(s) {', '.join(unknown)}; "
                              f"known: {', '.join(FILTER_KEYS)}.")
    for key in ("date_from", "date_to"):
        if filters.get(key) is not None and not isinstance(filters[key], str):
            raise UserFacingError("Check the filters", f"{key} must be a YYYY-MM-DD string.")
    sources = filters.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
        raise UserFacingError("Check the filters", "sources must be a list of outlet names.")
    return make_filters(filters.get("date_from"), filters.get("date_to"), sources)


def short_question(question: str, limit: int = SHOWN_QUESTION_CHARS) -> str:
    """The question as echoed back: cut, with its length, when it is very long."""
    if len(question) <= limit:
        return question
    return f"{question[:limit].rstrip()}… ({len(question):,} characters)"


class FeedbackLog:
    """Thumbs up/down from the page, appended as JSON Lines to settings.feedback_path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def set(self, record: dict[str, Any]) -> None:
        """Record a vote: it replaces the earlier vote on the same answer (same `key`),
        so the log holds the current vote of each answer once."""
        key = record["key"]
        with self._lock:
            kept = []
            if self.path.is_file():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        same = json.loads(line).get("key") == key
                    except (ValueError, AttributeError):
                        same = False
                    if not same:
                        kept.append(line)
            kept.append(json.dumps(record, ensure_ascii=False))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text("\n".join(kept) + "\n", encoding="utf-8")
            os.replace(temporary, self.path)

    def remove(self, key: str) -> None:
        """Take back the vote on an answer."""
        with self._lock:
            if not self.path.is_file():
                return
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if f'"key": "{key}"' not in line]
            self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def _new_session() -> dict[str, Any]:
    """Per-browser-session state: what is shown, what Newsdesk sees, sources per answer."""
    return {"messages": [], "history": [], "sources": {}, "answers": {}, "current": None,
            "seq": 0, "time": None, "id": uuid.uuid4().hex[:12]}


def _copy_session(session: dict[str, Any]) -> dict[str, Any]:
    return {**session, "messages": list(session["messages"]), "history": list(session["history"]),
            "sources": dict(session["sources"]), "answers": dict(session.get("answers", {}))}


def _visible_draft(text: str) -> str:
    """The streamed draft as shown (a model generator holds back a refusal being written)."""
    return md_text(text) + " ▍"


def _refusal_markdown(answer: Answer, filters: Filters) -> str:
    """A refusal in the chat, naming its real cause (the answer's typed outcome)."""
    reason = refusal_reason({"outcome": answer.outcome.value}, filters.active)
    return f"*{md_text(answer.answer)}* {md_text(reason)}"


def _count(n: int, noun: str) -> str:
    return plural(n, noun)


def _corpus_markdown(settings: Settings, facts: CorpusFacts) -> str:
    writer = (f"{md_text(settings.generator)}: "
              f"{md_text(generator_class(settings.generator).describe(settings))}")
    span = ""
    if facts.first_date:
        span = (f", dated {facts.first_date}" if facts.first_date == facts.last_date
                else f", dated {facts.first_date} to {facts.last_date}")
    rows = [("Profile", settings.profile), ("Answers by", writer),
            ("Embeddings", settings.embedding),
            ("Collection", settings.collection),
            ("Articles", f"{_count(facts.articles, 'article')} in "
                         f"{_count(facts.chunks, 'passage')}{span}")]
    return "\n".join(f"- **{label}:** {md_text(value) if label != 'Answers by' else value}"
                     for label, value in rows)


def _upload_markdown(result: UploadResult) -> str:
    lines = []
    if result.added:
        noun = "article" if all(" — http" in n for n in result.added) else "file"
        lines.append(f"**Added {plural(len(result.added), noun)}:** "
                     + ", ".join(md_text(n) for n in result.added))
    if result.unchanged:
        lines.append("**Already in the articles:** " + ", ".join(md_text(n) for n in result.unchanged))
    for name, reason in result.rejected:
        lines.append(f"**Rejected {md_text(name)}:** {md_text(reason)}")
    if result.error:
        lines.append(f"**Not added:** {md_text(result.error)}")
    if result.report is not None:
        log.info("upload ingest: %s", result.report.summary())
        report = result.report
        lines.append(f"The articles now hold {plural(report.articles, 'article')} in "
                     f"{plural(report.chunks, 'passage')}; {plural(report.added, 'passage')} added.")
    if result.other_skipped:
        lines.append(f"{plural(len(result.other_skipped), 'other file')} in the folder skipped, "
                     "as by `rag ingest`: " + "; ".join(
                         f"{md_text(os.path.basename(p))} ({md_text(r)})" for p, r in result.other_skipped))
    return "\n\n".join(lines) or "Choose files first."


_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")


def _day_name(day: str) -> str:
    year, month, date = day.split("-")
    return f"{int(date)} {_MONTH_NAMES[int(month) - 1]} {year}"


def time_name(time_info: dict | None) -> str | None:
    """What the time chip says: the time the question names, read as dates ("June 2024",
    "3 June 2024", "14 – 21 January 2022"), "latest" or "timeline"; never the question."""
    if not isinstance(time_info, dict):
        return None
    order = time_info.get("order")
    start, end = time_info.get("date_from"), time_info.get("date_to")
    span = None
    try:
        if start and end and start == end:
            span = _day_name(start)
        elif start and end:
            a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
            next_month = (b.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            if a.day == 1 and a.year == b.year and (next_month - dt.timedelta(days=1)) == b:
                span = (f"{_MONTH_NAMES[a.month - 1]} {a.year}" if a.month == b.month else
                        f"{_MONTH_NAMES[a.month - 1]} – {_MONTH_NAMES[b.month - 1]} {a.year}")
                if a.month == 1 and b.month == 12:
                    span = str(a.year)
            else:
                span = f"{_day_name(start)} – {_day_name(end)}"
        elif start:
            span = f"since {_day_name(start)}"
        elif end:
            span = f"until {_day_name(end)}"
    except (ValueError, IndexError):
        span = " – ".join(v for v in (start, end) if v) or None
    if order == "chronological":
        return "timeline" + (f", {span}" if span else "")
    if order == "newest":
        return "latest" + (f", {span}" if span else "")
    return span


def _chip_updates(date_from: str | None, date_to: str | None, sources: list[str] | None,
                  as_of: str | None, time_info: dict | None) -> tuple:
    """Visibility and labels of the filter chips (From, To, Sources, As of, Time)."""
    def chip(label: str | None) -> dict:
        return gr.update(value=f"{label} ✕", visible=True) if label else gr.update(visible=False)

    label = time_name(time_info)
    time_label = f"Time: {label}" if label else None
    return (chip(f"From {date_from}" if date_from else None),
            chip(f"To {date_to}" if date_to else None),
            chip(f"Sources: {', '.join(sources)}" if sources else None),
            chip(f"As of {as_of}" if as_of else None),
            chip(time_label))


def build_app(settings: Settings, examples: list[str] | None = None,
              desk: Desk | None = None) -> gr.Blocks:
    """The chat page for these settings (launch it with `launch_options(settings)`);
    `desk` is the Newsdesk it shares with other surfaces of the process (`rag serve`'s
    /v1 and /mcp), a new one when None."""
    desk = desk or Desk(settings)
    feedback = FeedbackLog(settings.feedback_path)
    try:  # open the index and the embedding model now, not on the first question
        desk.get().retriever.search("warm up", 1)
    except (StoreError, EmbeddingError) as err:  # shown on the page; retried per question
        log.warning("%s", err)
    facts = desk.facts()
    fixed_examples = examples
    answerable_cache: dict[str, bool] = {}

    def answerable(questions: list[str], count: int) -> list[str]:
        """The first `count` questions the articles answer (checked by answering them when
        no language model is needed, so cheap; cached per question and store state)."""
        try:
            newsdesk = desk.get()
        except (StoreError, EmbeddingError):
            return questions[:count]
        if getattr(newsdesk.generator, "needs_model", True):
            return questions[:count]
        kept, state = [], desk.facts().updated
        for question in questions:
            key = f"{state}|{question}"
            if key not in answerable_cache:
                try:
                    answerable_cache[key] = not newsdesk.answer(question).refused
                except Exception:  # noqa: BLE001 - an example that fails is left out
                    answerable_cache[key] = False
            if answerable_cache[key]:
                kept.append(question)
            if len(kept) == count:
                break
        return kept

    def shown_examples(facts: CorpusFacts) -> list[str]:
        if fixed_examples is not None:
            return fixed_examples
        if settings.ui_examples:
            return list(settings.ui_examples)[:EXAMPLE_COUNT]
        return answerable(example_questions(settings, facts), EXAMPLE_COUNT)

    examples = shown_examples(facts)

    def transcript(session: dict) -> str:
        """What the browser keeps of the conversation (localStorage): shown messages and
        the plain history, so an opened conversation can be continued."""
        return json.dumps({"id": session.get("id"), "messages": session["messages"],
                           "history": session["history"]}, ensure_ascii=False)

    def answer_stream(question: str, session: dict, top_k: float, date_from: str | None,
                      date_to: str | None, sources: list[str], as_of: str | None) -> Iterator[tuple]:
        session = _copy_session(session)
        question = (question or "").strip()
        if not question:
            gr.Warning("Type a question first: the box is empty.", duration=TOAST_SECONDS,
                       title="Nothing to ask")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        shown = short_question(question)
        messages = session["messages"]
        messages.append({"role": "user", "content": md_text(shown)})
        reply = small_talk(question)
        if reply is not None:  # thanks, an emoji: a short reply, not a search
            messages.append({"role": "assistant", "content": md_text(reply)})
            yield messages, "", gr.skip(), session, gr.skip(), transcript(session)
            return
        messages.append({"role": "assistant", "content": "…"})
        index = len(messages) - 1
        working = notice_html("Searching the articles…", "", "working", shown)
        yield messages, "", working, session, gr.skip(), gr.skip()
        started = time.perf_counter()
        try:
            filters = make_filters(date_from, date_to, sources)
            k, when = check_top_k(top_k), check_as_of(as_of)
            text, last, first_piece, answer = "", 0.0, None, None
            for piece in desk.get().stream(question, session["history"], top_k=k,
                                           filters=filters, as_of=when):
                if isinstance(piece, Answer):
                    answer = piece
                    continue
                text += piece
                first_piece = first_piece or time.perf_counter()
                if time.perf_counter() - last >= STREAM_INTERVAL:
                    last = time.perf_counter()
                    messages[index] = {"role": "assistant", "content": _visible_draft(text)}
                    yield messages, "", working, session, gr.skip(), gr.skip()
            if answer is None:
                raise RuntimeError("the answer stream ended without an answer")
            if answer.outcome is Outcome.NO_PASSAGES and desk.is_empty():
                raise EmptyIndexError(f"no articles in collection {settings.collection!r}: "
                                      f"run `rag ingest {settings.corpus_dir}`")
        except Exception as err:  # noqa: BLE001 - every failure becomes a message
            problem = page_problem(err, settings)
            messages[index] = {"role": "assistant",
                               "content": f"**{md_text(problem.title)}.** {message_markdown(problem.message)}"}
            panel = notice_html(problem.title, problem.message, "error", shown)
            session["sources"][index] = panel
            yield messages, question, panel, session, gr.skip(), gr.skip()
            return
        result = answer.to_dict()
        shown_result = renumber(result)
        session["seq"] += 1
        answer_id = session["seq"]
        if answer.refused:
            content = _refusal_markdown(answer, filters)
        else:
            quotes: dict[int, str] = {}
            for c in shown_result["citations"]:
                quotes.setdefault(int(c["n"]), c["quote"])
            short = shown_result.get("short_answer") or {}
            content = answer_markdown(shown_result["answer"], quotes,
                                      short.get("text") if isinstance(short, dict) else None,
                                      answer_id)
        asked = [t["content"] for t in session["history"] if t.get("role") == "user"] + [question]
        suggestions = [] if answer.refused else distinct_people(answerable(
            follow_up_questions(shown_result, asked, count=8, per_person=False), 6))[:3]
        messages[index] = {"role": "assistant", "content": content}
        if suggestions:
            messages[index]["options"] = [{"value": q, "label": q} for q in suggestions]
        articles = desk.articles({str(c["doc_id"]) for c in shown_result["citations"]})
        panel = sources_html(shown_result, answer_id, articles, filtered=filters.active)
        session["sources"][index] = panel
        session["answers"][index] = {
            "result": result,
            "settings": {"top_k": k, "filters": {"date_from": filters.date_from,
                                                 "date_to": filters.date_to,
                                                 "sources": list(filters.sources)},
                         "as_of": when, "generator": settings.generator,
                         "embedding": settings.embedding, "collection": settings.collection,
                         "profile": settings.profile}}
        session["current"] = index
        session["time"] = result.get("time")
        session["history"] += [{"role": "user", "content": question},
                               {"role": "assistant", "content": answer.answer}]
        log.info("answered in %.0f ms (first piece after %s ms)", (time.perf_counter() - started) * 1000,
                 "-" if first_piece is None else round((first_piece - started) * 1000))
        yield (messages, "", panel, session, _chip_updates(None, None, None, None, session["time"])[4],
               transcript(session))

    def vote_labels(vote: str | None) -> tuple:
        """The feedback buttons, the current vote marked and pressed."""
        return (gr.update(value="👍 Helpful" + (" ✓" if vote == "up" else ""),
                          variant="primary" if vote == "up" else "secondary"),
                gr.update(value="👎 Not helpful" + (" ✓" if vote == "down" else ""),
                          variant="primary" if vote == "down" else "secondary"))

    def show_sources(session: dict, event: gr.SelectData) -> tuple:
        index = event.index if isinstance(event.index, int) else (event.index or [0])[0]
        for candidate in (index, index + 1):
            if candidate in session["sources"]:
                session = {**session, "current": candidate if candidate in session.get("answers", {})
                           else session.get("current")}
                entry = session.get("answers", {}).get(session["current"]) or {}
                return (session["sources"][candidate], session, *vote_labels(entry.get("vote")))
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()

    def clear() -> tuple:
        return ([], "", EMPTY_SOURCES, _new_session(), None, None, [], None,
                max(1, settings.top_k), "", *_chip_updates(None, None, None, None, None),
                *vote_labels(None))

    def save_vote(session: dict, index: int | None, rating: str | None, comment: str) -> tuple:
        """Record (or with rating None take back) the vote on answer `index`; the status line."""
        entry = session.get("answers", {}).get(index)
        if entry is None:
            return session, "Ask a question first: feedback is about an answer."
        key = f"{session.get('id', 'page')}-{index}"
        answers = dict(session.get("answers", {}))
        answers[index] = {**entry, "vote": rating}
        session = {**session, "answers": answers, "current": index}
        if rating is None:
            feedback.remove(key)
            return session, "Your vote on this answer was taken back."
        result = entry["result"]
        feedback.set({"key": key, "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                      "rating": rating, "comment": (comment or entry.get("comment") or "").strip(),
                      "question": result["question"], "answer": result["answer"],
                      "refused": result["refused"], "citations": result["citations"],
                      "settings": entry["settings"]})
        if comment:
            answers[index]["comment"] = comment.strip()
        word = "helpful" if rating == "up" else "not helpful"
        return session, f"Thanks: your vote is “{word}”. Click the other button to change it."

    def record_feedback(rating: str, comment: str, session: dict) -> tuple:
        session, status = save_vote(session, session.get("current"), rating, comment)
        vote = (session.get("answers", {}).get(session.get("current")) or {}).get("vote")
        return (status, "", session, *vote_labels(vote))

    def rate_message(session: dict, event: gr.LikeData) -> tuple:
        index = event.index if isinstance(event.index, int) else (event.index or [0])[0]
        rating = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(event.liked)
        session, status = save_vote(session, index, rating, "")
        return (status, session, *vote_labels(rating))

    def retry_last(session: dict) -> tuple:
        """The last question again: its turn taken off the conversation, then re-asked."""
        session = _copy_session(session)
        for index in range(len(session["messages"]) - 1, -1, -1):
            if session["messages"][index]["role"] == "user":
                break
        else:
            return gr.skip(), gr.skip(), gr.skip()
        history = session["history"]
        question = history[-2]["content"] if len(history) >= 2 and history[-2]["role"] == "user" \
            and session["messages"][-1].get("content") != "…" and index + 1 in session["answers"] else None
        if question is None:  # an error or small talk: re-ask what the user typed
            question = re.sub(r"\\(.)", r"\1", session["messages"][index]["content"])
        else:
            session["history"] = history[:-2]
        session["messages"] = session["messages"][:index]
        return session["messages"], question, session

    def restore(data: str) -> tuple:
        """A conversation kept in the browser, opened again: its messages and history."""
        try:
            kept = json.loads(data or "{}")
            messages = [{"role": m["role"], "content": str(m["content"])} for m in kept["messages"]
                        if m.get("role") in ("user", "assistant")]
            history = [{"role": t["role"], "content": str(t["content"])} for t in kept["history"]
                       if t.get("role") in ("user", "assistant")]
        except (ValueError, KeyError, TypeError):
            gr.Warning("That conversation could not be opened.", duration=TOAST_SECONDS)
            return gr.skip(), gr.skip(), gr.skip()
        session = {**_new_session(), "messages": messages, "history": history,
                   "id": str(kept.get("id") or uuid.uuid4().hex[:12])[:40]}
        placeholder = notice_html("Conversation opened", "Its sources are not kept: ask again "
                                  "to see them.", "info")
        return messages, placeholder, session

    def page_facts() -> tuple:
        """The overview, settings facts, source list and examples, read from the store
        now (at each page load and after each add)."""
        facts = desk.facts()
        shown = shown_examples(facts)
        buttons = [gr.update(value=shown[i], visible=True) if i < len(shown) else
                   gr.update(visible=False) for i in range(EXAMPLE_COUNT)]
        return (overview_html(facts), _corpus_markdown(settings, facts),
                gr.update(choices=facts.sources), *buttons)

    def upload(files: list[str] | None) -> tuple:
        if not files:
            return "Choose one or more article files first.", gr.skip()
        result = add_articles([str(f) for f in files], settings,
                              embed=not desk.embeds_in_background)
        return (_upload_markdown(result), None)

    def add_link(url: str) -> tuple:
        url = (url or "").strip()
        if not url:
            return "Paste the address of an article or a feed first.", gr.skip()
        try:
            result = add_url(url, settings, embed=not desk.embeds_in_background)
        except Exception as err:  # noqa: BLE001 - a bad address is a message, not a crash
            problem = page_problem(err, settings)
            return f"**Not added:** {md_text(problem.message)}", gr.skip()
        return (_upload_markdown(result), "")

    def ask(question: str, history: list[dict] | None = None, top_k: int | None = None,
            filters: dict | None = None, as_of: str | None = None) -> dict:
        """Answer a question about the articles; returns the answer contract as JSON.

        history: earlier turns, [{"role": "user"|"assistant", "content": "..."}];
        top_k: passages given to the generator, 1 to 50 (default: the setting);
        filters: {"date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD", "sources": [...]};
        as_of: answer as of this date, "YYYY-MM-DD" (default: today).
        """
        try:
            if not isinstance(question, str):
                raise UserFacingError("Check the question", "question must be text.")
            if history is not None and not (isinstance(history, list) and all(
                    isinstance(t, dict) for t in history)):
                raise UserFacingError("Check the history", 'history must be a list of '
                                      '{"role": "user"|"assistant", "content": "..."} objects.')
            chosen = api_filters(filters)
            k = None if top_k is None else check_top_k(top_k)
            when = check_as_of(as_of)
            turns = [{"role": str(t.get("role")), "content": str(t.get("content"))}
                     for t in (history or [])]
            answer = desk.get().answer(question, turns, top_k=k, filters=chosen, as_of=when)
        except Exception as err:  # noqa: BLE001
            problem = explain(err, settings)
            raise gr.Error(esc(f"{problem.title}: {problem.message}"), title=problem.title,
                           print_exception=False) from None
        return answer.to_dict()

    limit = f"{human_bytes(settings.upload_max_bytes)} ({settings.upload_max_bytes:,} bytes)"
    newest_day = facts.last_date or ""
    with gr.Blocks(title="Newsdesk", analytics_enabled=False, fill_height=False) as app:
        session = gr.State(_new_session())
        gr.HTML("<div class='nd-header'><h1>Newsdesk</h1><p>Ask about the news articles. Every "
                "claim in an answer is backed by a quoted sentence from an article: click a "
                "<b>[n]</b> to see it in <b>Sources</b><span class='nd-wide'> on the right</span>"
                "<span class='nd-narrow'> below the question box</span>.</p></div>",
                padding=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=6, min_width=380):
                overview = gr.HTML(overview_html(facts), elem_id="nd-overview", padding=False)
                with gr.Row(elem_classes="nd-examples"):
                    example_buttons = [gr.Button(examples[i] if i < len(examples) else "", size="sm",
                                                 variant="secondary", elem_classes="nd-example",
                                                 visible=i < len(examples))
                                       for i in range(max(EXAMPLE_COUNT, len(examples)))]
                with gr.Row(elem_id="nd-chips", elem_classes="nd-chips"):
                    chip_from = gr.Button(visible=False, size="sm", elem_id="nd-chip-from", min_width=0)
                    chip_to = gr.Button(visible=False, size="sm", elem_id="nd-chip-to", min_width=0)
                    chip_sources = gr.Button(visible=False, size="sm", elem_id="nd-chip-sources",
                                             min_width=0)
                    chip_as_of = gr.Button(visible=False, size="sm", elem_id="nd-chip-as-of", min_width=0)
                    chip_time = gr.Button(visible=False, size="sm", elem_id="nd-chip-time", min_width=0)
                chatbot = gr.Chatbot(elem_id="nd-chat", label="Conversation", height="min(520px, 52vh)",
                                     sanitize_html=True, allow_tags=False, latex_delimiters=[],
                                     feedback_options=("Like", "Dislike"), buttons=["copy"],
                                     autoscroll=True,
                                     placeholder="Ask a question below, or click an example.")
                with gr.Row():
                    question = gr.Textbox(elem_id="nd-question", label="Your question", show_label=False,
                                          scale=6, min_width=120, placeholder="Ask about the articles…",
                                          max_lines=4, autofocus=True, submit_btn=False)
                    ask_button = gr.Button("Ask", variant="primary", scale=0, min_width=80,
                                           elem_id="nd-ask")
                    clear_button = gr.Button("New chat", scale=0, min_width=100, elem_id="nd-clear")
                kept = gr.Textbox(visible="hidden", elem_id="nd-transcript", label="Transcript")
                restore_box = gr.Textbox(visible="hidden", elem_id="nd-restore", label="Restore")
                restore_button = gr.Button("Open", visible="hidden", elem_id="nd-restore-button")
            with gr.Column(scale=5, min_width=320):
                gr.Markdown("## Sources", elem_id="nd-sources-title")
                with gr.Row(elem_id="nd-feedback", equal_height=True):
                    comment = gr.Textbox(label="Comment on this answer (optional)", show_label=False,
                                         placeholder="Comment (optional)", scale=4,
                                         elem_id="nd-comment", max_lines=3)
                    thumbs_up = gr.Button("👍 Helpful", scale=0, min_width=120, size="sm", elem_id="nd-thumbs-up")
                    thumbs_down = gr.Button("👎 Not helpful", scale=0, min_width=140, size="sm", elem_id="nd-thumbs-down")
                feedback_status = gr.Markdown(elem_id="nd-feedback-status")
                sources_panel = gr.HTML(EMPTY_SOURCES, elem_id="nd-sources-box", padding=False,
                                        max_height=620, autoscroll=False)
                with gr.Accordion("Search settings", open=False, elem_id="nd-settings"):
                    corpus_info = gr.Markdown(_corpus_markdown(settings, facts))
                    top_k = gr.Slider(1, max(20, settings.top_k), value=max(1, settings.top_k),
                                      step=1, label="Passages to read (top-k)", elem_id="nd-top-k")
                    with gr.Row(elem_classes="nd-dates"):
                        date_from = gr.DateTime(label="From", include_time=False, type="string",
                                                elem_id="nd-date-from", value=None, min_width=150)
                        date_to = gr.DateTime(label="To", include_time=False, type="string",
                                              elem_id="nd-date-to", value=None, min_width=150)
                    as_of = gr.DateTime(label="Answer as of (default: today)", include_time=False,
                                        type="string", elem_id="nd-as-of", value=None)
                    source_filter = gr.Dropdown(choices=facts.sources, value=[], multiselect=True,
                                                label="Only these sources (empty: all)",
                                                elem_id="nd-source-filter")
                with gr.Accordion("Add articles", open=False, elem_id="nd-upload"):
                    gr.Markdown(f"Upload {', '.join(UPLOAD_TYPES)} files (up to {limit} each), or "
                                "give the address of an article or a feed. They are checked, saved "
                                "in the articles folder and ingested like `rag ingest`.")
                    files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES,
                                    label="Article files", type="filepath")
                    upload_button = gr.Button("Add to the articles", elem_id="nd-upload-button")
                    with gr.Row():
                        url_box = gr.Textbox(label="Address of an article or a feed", show_label=False,
                                             placeholder="https://… article or feed",
                                             scale=4, elem_id="nd-url")
                        url_button = gr.Button("Add address", scale=0, min_width=120,
                                               elem_id="nd-url-button")
                    upload_status = gr.Markdown()
                with gr.Accordion("Past conversations (kept in this browser only)", open=False,
                                  elem_id="nd-history"):
                    gr.HTML("<div class='nd-history' aria-live='polite'></div>", elem_id="nd-history-box",
                            padding=False)
        gr.HTML(f"<span id='nd-newest-day' data-day='{esc(newest_day)}' hidden></span>", padding=False,
                elem_id="nd-newest")

        chips = [chip_from, chip_to, chip_sources, chip_as_of, chip_time]
        filter_inputs = [date_from, date_to, source_filter, as_of]
        answer_inputs = [question, session, top_k, date_from, date_to, source_filter, as_of]
        answer_outputs = [chatbot, question, sources_panel, session, chip_time, kept]
        answer_options = dict(concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answers",
                              api_visibility="private", show_progress="hidden")
        quick = dict(queue=False, api_visibility="private", show_progress="hidden")
        keep_js = dict(js="(t) => { if (window.ndHistory) window.ndHistory.save(t); }",
                       api_visibility="private", queue=False, show_progress="hidden")
        vote_outputs = [thumbs_up, thumbs_down]

        def answered(event):
            event.then(None, kept, None, **keep_js)

        answered(question.submit(answer_stream, answer_inputs, answer_outputs, **answer_options))
        answered(ask_button.click(answer_stream, answer_inputs, answer_outputs, **answer_options))
        for button in example_buttons:
            answered(button.click(lambda text: text, button, question, **quick).then(
                answer_stream, answer_inputs, answer_outputs, **answer_options))
        def picked(event: gr.SelectData) -> str:
            return event.value if isinstance(event.value, str) else str(event.value.get("value", ""))

        answered(chatbot.option_select(picked, None, question, **quick).then(
            answer_stream, answer_inputs, answer_outputs, **answer_options))
        answered(chatbot.retry(retry_last, session, [chatbot, question, session], **quick).then(
            answer_stream, answer_inputs, answer_outputs, **answer_options))
        chatbot.like(rate_message, session, [feedback_status, session, *vote_outputs], **quick)
        reset = [chatbot, question, sources_panel, session, date_from, date_to, source_filter,
                 as_of, top_k, feedback_status, *chips, *vote_outputs]
        clear_button.click(clear, None, reset, **quick)
        chatbot.clear(clear, None, reset, **quick)
        chatbot.select(show_sources, session, [sources_panel, session, *vote_outputs], **quick)
        restore_button.click(restore, restore_box, [chatbot, sources_panel, session], **quick)

        def chips_for(d_from, d_to, srcs, when, session):
            return _chip_updates(d_from, d_to, srcs, when, session.get("time"))[:4]

        for component in filter_inputs:
            component.change(chips_for, [*filter_inputs, session], chips[:4], **quick)
        chip_from.click(lambda: None, None, date_from, **quick)
        chip_to.click(lambda: None, None, date_to, **quick)
        chip_sources.click(lambda: [], None, source_filter, **quick)
        chip_as_of.click(lambda: None, None, as_of, **quick)
        chip_time.click(lambda s: ({**s, "time": None}, gr.update(visible=False)), session,
                        [session, chip_time], **quick)
        feedback_outputs = [feedback_status, comment, session, *vote_outputs]
        thumbs_up.click(lambda c, s: record_feedback("up", c, s), [comment, session],
                        feedback_outputs, **quick)
        thumbs_down.click(lambda c, s: record_feedback("down", c, s), [comment, session],
                          feedback_outputs, **quick)
        facts_outputs = [overview, corpus_info, source_filter, *example_buttons[:EXAMPLE_COUNT]]
        upload_button.click(upload, files, [upload_status, files], concurrency_limit=1,
                            concurrency_id="ingest", api_visibility="private").then(
            page_facts, None, facts_outputs, **quick)
        url_button.click(add_link, url_box, [upload_status, url_box],
                         concurrency_limit=1, concurrency_id="ingest", api_visibility="private").then(
            page_facts, None, facts_outputs, **quick)
        app.load(page_facts, None, facts_outputs, **quick)
        gr.api(ask, api_name="ask", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answers")
    app.queue(default_concurrency_limit=ANSWER_CONCURRENCY)
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `Blocks.launch`: local address, no share link, auth, limits."""
    options: dict[str, Any] = dict(
        server_name=settings.ui_host, server_port=settings.ui_port, share=False,
        max_file_size=settings.upload_max_bytes, show_error=True, ssr_mode=False,
        mcp_server=False, enable_monitoring=False, footer_links=["api"], css=CSS, head=PAGE_JS,
        theme=gr.themes.Soft(primary_hue="blue", neutral_hue="slate"))
    if settings.ui_auth is not None:
        user, password = settings.ui_auth.get_secret_value().split(":", 1)
        options["auth"] = (user, password)
        options["auth_message"] = "Newsdesk: sign in with the ui_auth user and password."
    return options


def launch(settings: Settings, **overrides: Any) -> gr.Blocks:
    """Serve the chat page (blocks until stopped unless prevent_thread_lock=True)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    app = build_app(settings)
    app.launch(**{**launch_options(settings), **overrides})
    return app
