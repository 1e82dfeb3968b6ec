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

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no lookups
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # gradio imports huggingface_hub

import gradio as gr  # noqa: E402

from rag.answer import Answer, Newsdesk, QuestionError  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.index.embeddings import EmbeddingError  # noqa: E402
from rag.answer.generators import REFUSAL_SENTINEL, ModelError  # noqa: E402
from rag.records import Filters  # noqa: E402
from rag.index.store import EmptyIndexError, StoreError, store_address  # noqa: E402
from ui.render import (CSS, EMPTY_SOURCES, answer_markdown, esc, md_text,  # noqa: E402
                       message_markdown, notice_html, sources_html)
from ui.uploads import UploadResult, add_articles  # noqa: E402

log = logging.getLogger("newsdesk.ui")

ANSWER_CONCURRENCY = 4   # answers computed at once; more wait in the queue (2 cores here)
STREAM_INTERVAL = 0.05   # seconds between streamed chat updates
EXAMPLES = [
    "What did Lavrov demand?",
    "And what did Blinken say about it?",
    "What did Blinken call the talks?",
    "Where did Blinken and Lavrov hold their talks?",
    "Who won the 2022 World Cup?",
]
UPLOAD_TYPES = [".txt", ".md", ".html", ".json", ".jsonl"]
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
    return UserFacingError("Something went wrong",
                           f"{type(err).__name__}; the server log has the details.")


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


class Desk:
    """The one Newsdesk shared by all sessions, built on first use (the index may be
    empty when the page starts: an upload or `rag ingest` fills it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._desk: Newsdesk | None = None
        self._lock = threading.Lock()

    def get(self) -> Newsdesk:
        with self._lock:
            if self._desk is None:
                self._desk = Newsdesk(self.settings)
            return self._desk

    def facts(self) -> CorpusFacts:
        """Articles, chunks, sources and date range of the collection (empty if none)."""
        try:
            facts = self.get().retriever.index.facts()
        except (StoreError, EmbeddingError):
            return CorpusFacts()
        return CorpusFacts(articles=facts["articles"], chunks=facts["chunks"],
                           sources=facts["sources"], first_date=facts["date_from"],
                           last_date=facts["date_to"])

    def is_empty(self) -> bool:
        try:
            return self.get().retriever.index.count() == 0
        except StoreError:
            return True


def _history(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": t["role"], "content": t["content"]} for t in turns]


def _new_session() -> dict[str, Any]:
    """Per-browser-session state: what is shown, what Newsdesk sees, sources per answer."""
    return {"messages": [], "history": [], "sources": {}}


def _visible_draft(text: str) -> str:
    """The streamed draft as shown; a refusal sentinel being written is not shown."""
    stripped = text.strip()
    if stripped and REFUSAL_SENTINEL.startswith(stripped.upper()):
        return "…"
    return md_text(text) + " ▍"


def _refusal_markdown(answer: Answer, filters: Filters) -> str:
    hint = ""
    if filters.active:
        hint = " The search was limited by the date or source filter; widening it may help."
    return f"*{md_text(answer.answer)}*{md_text(hint)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _corpus_markdown(settings: Settings, facts: CorpusFacts) -> str:
    if settings.generator == "extractive":
        writer = "extractive: no language model, quotes the best sentences"
    else:
        where = settings.base_url or "https://api.openai.com/v1"
        writer = f"{md_text(settings.generator)}: model `{settings.model.replace('`', '')}` at {md_text(where)}"
    span = ""
    if facts.first_date:
        span = (f", dated {facts.first_date}" if facts.first_date == facts.last_date
                else f", dated {facts.first_date} to {facts.last_date}")
    rows = [("Profile", settings.profile), ("Answers by", writer),
            ("Embeddings", settings.embedding),
            ("Store", f"{store_address(settings)}, collection {settings.collection}"),
            ("Articles", f"{_count(facts.articles, 'article')} in "
                         f"{_count(facts.chunks, 'passage')}{span}")]
    return "\n".join(f"- **{label}:** {md_text(value) if label != 'Answers by' else value}"
                     for label, value in rows)


def _upload_markdown(result: UploadResult) -> str:
    lines = []
    if result.added:
        lines.append(f"**Added {len(result.added)} file(s):** " + ", ".join(md_text(n) for n in result.added))
    if result.unchanged:
        lines.append("**Already in the articles:** " + ", ".join(md_text(n) for n in result.unchanged))
    for name, reason in result.rejected:
        lines.append(f"**Rejected {md_text(name)}:** {md_text(reason)}")
    if result.error:
        lines.append(f"**Not added:** {md_text(result.error)}")
    if result.report is not None:
        lines.append(f"Ingest: {md_text(result.report.summary())}")
    if result.other_skipped:
        lines.append(f"{len(result.other_skipped)} other file(s) in the folder were skipped, "
                     "as by `rag ingest`: " + "; ".join(
                         f"{md_text(os.path.basename(p))} ({md_text(r)})" for p, r in result.other_skipped))
    return "\n\n".join(lines) or "Choose files first."


def build_app(settings: Settings, examples: list[str] | None = None) -> gr.Blocks:
    """The chat page for these settings (launch it with `launch_options(settings)`)."""
    desk = Desk(settings)
    try:  # load the index now (BM25 is built on first search), not on the first question
        desk.get().retriever.search("warm up", 1)
    except (StoreError, EmbeddingError) as err:  # shown on the page; retried per question
        log.warning("%s", err)
    examples = EXAMPLES if examples is None else examples

    def answer_stream(question: str, session: dict, top_k: float, date_from: str, date_to: str,
                      sources: list[str]) -> Iterator[tuple]:
        session = {"messages": list(session["messages"]), "history": list(session["history"]),
                   "sources": dict(session["sources"])}
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages = session["messages"]
        messages.append({"role": "user", "content": md_text(question)})
        messages.append({"role": "assistant", "content": "…"})
        index = len(messages) - 1
        working = notice_html("Searching the articles…", "", "working", question)
        yield messages, "", working, session
        started = time.perf_counter()
        try:
            filters = make_filters(date_from, date_to, sources)
            text, last, first_piece, answer = "", 0.0, None, None
            for piece in desk.get().stream(question, session["history"], top_k=int(top_k),
                                           filters=filters):
                if isinstance(piece, Answer):
                    answer = piece
                    continue
                text += piece
                first_piece = first_piece or time.perf_counter()
                if time.perf_counter() - last >= STREAM_INTERVAL:
                    last = time.perf_counter()
                    messages[index] = {"role": "assistant", "content": _visible_draft(text)}
                    yield messages, "", working, session
            if answer is None:
                raise RuntimeError("the answer stream ended without an answer")
            if answer.refused and not answer.passages and desk.is_empty():
                raise EmptyIndexError(f"no articles in collection {settings.collection!r}: "
                                      f"run `rag ingest {settings.corpus_dir}`")
        except Exception as err:  # noqa: BLE001 - every failure becomes a message
            problem = explain(err, settings)
            messages[index] = {"role": "assistant",
                               "content": f"**{md_text(problem.title)}.** {message_markdown(problem.message)}"}
            panel = notice_html(problem.title, problem.message, "error", question)
            session["sources"][index] = panel
            yield messages, question, panel, session
            return
        result = answer.to_dict()
        content = (_refusal_markdown(answer, filters) if answer.refused
                   else answer_markdown(answer.answer))
        messages[index] = {"role": "assistant", "content": content}
        panel = sources_html(result)
        session["sources"][index] = panel
        session["history"] += [{"role": "user", "content": question},
                               {"role": "assistant", "content": answer.answer}]
        log.info("answered in %.0f ms (first piece after %s ms)", (time.perf_counter() - started) * 1000,
                 "-" if first_piece is None else round((first_piece - started) * 1000))
        yield messages, "", panel, session

    def show_sources(session: dict, event: gr.SelectData) -> str:
        index = event.index if isinstance(event.index, int) else (event.index or [0])[0]
        for candidate in (index, index + 1):
            if candidate in session["sources"]:
                return session["sources"][candidate]
        return gr.skip()

    def clear() -> tuple:
        return [], "", EMPTY_SOURCES, _new_session()

    def upload(files: list[str] | None) -> tuple:
        if not files:
            return "Choose one or more article files first.", gr.skip(), gr.skip(), gr.skip()
        result = add_articles([str(f) for f in files], settings)
        facts = desk.facts()
        return (_upload_markdown(result), None, _corpus_markdown(settings, facts),
                gr.update(choices=facts.sources))

    def ask(question: str, history: list[dict] | None = None, top_k: int | None = None,
            filters: dict | None = None) -> dict:
        """Answer a question about the articles; returns the answer contract as JSON.

        history: earlier turns, [{"role": "user"|"assistant", "content": "..."}];
        top_k: passages given to the generator (default: the setting);
        filters: {"date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD", "sources": [...]}.
        """
        filters = filters or {}
        try:
            chosen = make_filters(filters.get("date_from"), filters.get("date_to"),
                                  filters.get("sources"))
            turns = [{"role": str(t.get("role")), "content": str(t.get("content"))}
                     for t in (history or []) if isinstance(t, dict)]
            answer = desk.get().answer(question, turns, top_k=None if top_k is None else int(top_k),
                                       filters=chosen)
        except Exception as err:  # noqa: BLE001
            problem = explain(err, settings)
            raise gr.Error(esc(f"{problem.title}: {problem.message}"), title=problem.title,
                           print_exception=False) from None
        return answer.to_dict()

    facts = desk.facts()
    with gr.Blocks(title="Newsdesk", analytics_enabled=False, fill_height=False) as app:
        session = gr.State(_new_session())
        with gr.Row(elem_classes="nd-header"):
            gr.Markdown("# Newsdesk\nAsk about the news articles. Every claim in an answer is "
                        "backed by a quoted sentence from an article: see **Sources** on the right.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=6, min_width=380):
                chatbot = gr.Chatbot(elem_id="nd-chat", label="Conversation", height=520,
                                     sanitize_html=True, allow_tags=False, latex_delimiters=[],
                                     feedback_options=None, buttons=["copy"], autoscroll=True,
                                     placeholder="Ask a question below, or click an example.")
                with gr.Row():
                    question = gr.Textbox(elem_id="nd-question", show_label=False, scale=6,
                                          placeholder="Ask about the articles…",
                                          max_lines=4, autofocus=True, submit_btn=False)
                    ask_button = gr.Button("Ask", variant="primary", scale=0, min_width=90,
                                           elem_id="nd-ask")
                    clear_button = gr.Button("New chat", scale=0, min_width=120, elem_id="nd-clear")
                gr.Markdown("Try an example:", elem_classes="nd-examples-label")
                with gr.Row(elem_classes="nd-examples"):
                    example_buttons = [gr.Button(text, size="sm", variant="secondary")
                                       for text in examples]
            with gr.Column(scale=5, min_width=320):
                gr.Markdown("### Sources")
                sources_panel = gr.HTML(EMPTY_SOURCES, elem_id="nd-sources-box", js_on_load=None,
                                        padding=False, max_height=620, autoscroll=False)
                with gr.Accordion("Search settings", open=False, elem_id="nd-settings"):
                    corpus_info = gr.Markdown(_corpus_markdown(settings, facts))
                    top_k = gr.Slider(1, max(20, settings.top_k), value=max(1, settings.top_k),
                                      step=1, label="Passages to read (top-k)")
                    with gr.Row():
                        date_from = gr.Textbox(label="From", placeholder="YYYY-MM-DD",
                                               elem_id="nd-date-from")
                        date_to = gr.Textbox(label="To", placeholder="YYYY-MM-DD",
                                             elem_id="nd-date-to")
                    source_filter = gr.Dropdown(choices=facts.sources, value=[], multiselect=True,
                                                label="Only these sources (empty: all)")
                with gr.Accordion("Add articles", open=False, elem_id="nd-upload"):
                    gr.Markdown(f"Upload {', '.join(UPLOAD_TYPES)} files (up to "
                                f"{settings.upload_max_bytes:,} bytes each). They are checked, saved "
                                "in the articles folder and ingested like `rag ingest`.")
                    files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES,
                                    label="Article files", type="filepath")
                    upload_button = gr.Button("Add to the articles", elem_id="nd-upload-button")
                    upload_status = gr.Markdown()

        answer_inputs = [question, session, top_k, date_from, date_to, source_filter]
        answer_outputs = [chatbot, question, sources_panel, session]
        answer_options = dict(concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answers",
                              api_visibility="private", show_progress="hidden")
        question.submit(answer_stream, answer_inputs, answer_outputs, **answer_options)
        ask_button.click(answer_stream, answer_inputs, answer_outputs, **answer_options)
        for button, text in zip(example_buttons, examples):
            button.click(lambda text=text: text, None, question, queue=False,
                         api_visibility="private").then(
                answer_stream, answer_inputs, answer_outputs, **answer_options)
        clear_button.click(clear, None, [chatbot, question, sources_panel, session],
                           queue=False, api_visibility="private")
        chatbot.clear(clear, None, [chatbot, question, sources_panel, session], queue=False,
                      api_visibility="private")
        chatbot.select(show_sources, session, sources_panel, queue=False,
                       api_visibility="private")
        upload_button.click(upload, files, [upload_status, files, corpus_info, source_filter],
                            concurrency_limit=1, concurrency_id="ingest", api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answers")
    app.queue(default_concurrency_limit=ANSWER_CONCURRENCY)
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `Blocks.launch`: local address, no share link, auth, limits."""
    options: dict[str, Any] = dict(
        server_name=settings.ui_host, server_port=settings.ui_port, share=False,
        max_file_size=settings.upload_max_bytes, show_error=True, ssr_mode=False,
        mcp_server=False, enable_monitoring=False, footer_links=["api"], css=CSS,
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
