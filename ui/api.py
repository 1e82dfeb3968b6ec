"""Newsdesk as an OpenAI-compatible model: `/v1/models` and `/v1/chat/completions`.

Any OpenAI client (the `openai` SDK, Open WebUI, LibreChat) can ask Newsdesk with model
`newsdesk`. The answer is the pipeline's own (`Newsdesk.answer`/`stream`, the same as the
page): earlier user/assistant turns of `messages` are the conversation used to
understand a follow-up; system messages are not part of retrieval and cannot change the
citation rules. Each `[n]` of the answer gets a standard annotation,
`choices[0].message.annotations[] = {"type": "url_citation", "url_citation":
{"start_index", "end_index", "url", "title"}}`, whose span is the sentence carrying the
marker in the returned content; the whole answer contract (quotes with article offsets,
passages, copies, time) rides along in the extra top-level field `newsdesk`.

Filters come as extra body fields (`extra_body=` in the SDK): `source` (an outlet or a
list), `date_from`, `date_to`, `as_of` (YYYY-MM-DD) and `top_k`, checked with the page
API's rules. Bad input is a 400 with an OpenAI-style error body, never a traceback.
"""

from __future__ import annotations

import datetime
import hmac
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from rag.answer import Answer, QuestionError
from rag.answer.generators import REFUSAL_SENTINEL
from rag.config import Settings
from rag.records import Filters
from ui.app import (ANSWER_CONCURRENCY, Desk, UserFacingError, check_as_of,
                    check_top_k, explain, make_filters)

log = logging.getLogger("newsdesk.api")

MODEL_ID = "newsdesk"
MAX_BODY_BYTES = 1_000_000       # a chat request is text; larger bodies are refused (413)
MAX_MESSAGES = 200               # turns read from `messages`
FILTER_FIELDS = ("source", "date_from", "date_to", "as_of", "top_k")
CREATED = 1_700_000_000          # /v1/models "created": a fixed stamp, not the start time
_MARKER_RUN = re.compile(r"(?:\s*\[\d+\])+")
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+")


class ApiError(Exception):
    """A request the API refuses: HTTP status and the OpenAI error fields."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"message": self.message, "type": self.type,
                                       "param": self.param, "code": self.code}},
                            status_code=self.status)


class AnswerGate:
    """At most ANSWER_CONCURRENCY answers computed at once for the API and MCP together
    (as the page's queue does for the page); the rest wait their turn."""

    def __init__(self, size: int = ANSWER_CONCURRENCY) -> None:
        self._slots = threading.BoundedSemaphore(size)

    def __enter__(self) -> "AnswerGate":
        self._slots.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self._slots.release()

    def hold(self) -> Callable[[], None]:
        """Take a slot; returns its release, which is safe to call more than once."""
        self._slots.acquire()
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                self._slots.release()
        return release


@dataclass
class ChatRequest:
    """A checked chat request: the question, the conversation before it, the filters."""

    question: str
    history: list[dict] = field(default_factory=list)
    filters: Filters = Filters()
    top_k: int | None = None
    as_of: str | None = None
    stream: bool = False
    include_usage: bool = False


def bearer_token(settings: Settings) -> str | None:
    """The token the API and /mcp require (the ui_auth value, `user:password`), or None
    when the server is open (ui_auth unset; then it only listens on 127.0.0.1)."""
    return settings.ui_auth.get_secret_value() if settings.ui_auth is not None else None


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an Authorization header carries the token (compared in constant time)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def auth_error() -> ApiError:
    """401 for a missing or wrong key; the key sent is never repeated."""
    return ApiError(401, "Missing or wrong API key: send `Authorization: Bearer <key>` where the "
                         "key is the server's ui_auth value (user:password).",
                    "invalid_request_error", None, "invalid_api_key")


def _text(content: Any, where: str) -> str:
    """A message's content as text: a string or a list of {"type": "text", "text"} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif not (isinstance(part, dict) and isinstance(part.get("type"), str)):
                raise ApiError(400, f"{where}.content parts must be objects like "
                                    '{"type": "text", "text": "..."}.', param=where)
        return "\n".join(parts)
    if content is None:
        return ""
    raise ApiError(400, f"{where}.content must be a string or a list of text parts.", param=where)


def impossible_day(**days: Any) -> tuple[str, str] | None:
    """(name, message) for the first YYYY-MM-DD value that is no calendar day (2022-13-01
    has the right shape, so the page's checks let it through), else None."""
    for name, value in days.items():
        if isinstance(value, str) and value.strip():
            try:
                datetime.date.fromisoformat(value.strip())
            except ValueError:
                return name, f"`{name}` {value.strip()[:20]!r} is not a calendar day (YYYY-MM-DD)."
    return None


def _one_of(problem: UserFacingError, param: str) -> ApiError:
    return ApiError(400, f"{problem.title}: {problem.message}", param=param)


def parse_chat(body: Any) -> ChatRequest:
    """Check a /v1/chat/completions body; ApiError (400/404) says what is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise ApiError(400, f"`model` is required; use {MODEL_ID!r}.", param="model")
    if model != MODEL_ID:
        shown = str(model)[:60]
        raise ApiError(404, f"The model {shown!r} does not exist; this server has {MODEL_ID!r}.",
                       param="model", code="model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "`messages` must be a non-empty list of {\"role\", \"content\"} "
                            "objects ending with the user's question.", param="messages")
    turns: list[dict] = []
    for i, message in enumerate(messages[-MAX_MESSAGES:]):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError(400, f"{where} must be an object with a `role`.", param=where)
        role = message["role"]
        if role in ("user", "assistant"):
            turns.append({"role": role, "content": _text(message.get("content"), where)})
        elif role not in ("system", "developer", "tool", "function"):
            raise ApiError(400, f"{where}.role {role[:20]!r} is not one of system, developer, "
                                "user, assistant, tool.", param=where)
        # system/developer prompts are not part of retrieval and cannot change the
        # citation rules; tool results are not questions
    if not turns or turns[-1]["role"] != "user":
        raise ApiError(400, "The last user or assistant message must be the user's question.",
                       param="messages")
    question = turns[-1]["content"]
    if not question.strip():
        raise ApiError(400, "The question (the last user message) is empty.", param="messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise ApiError(400, "`stream` must be true or false.", param="stream")
    options = body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    sources = body.get("source")
    if isinstance(sources, str):
        sources = [sources]
    if sources is not None and not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise ApiError(400, "`source` must be an outlet name or a list of outlet names, "
                            'e.g. "Reuters".', param="source")
    for name in ("date_from", "date_to"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, f"`{name}` must be a date string like 2022-01-21.", param=name)
    try:
        filters = make_filters(body.get("date_from"), body.get("date_to"), sources)
    except UserFacingError as problem:
        raise _one_of(problem, "date_from" if "From" in problem.message else "date_to") from None
    try:
        top_k = None if body.get("top_k") is None else check_top_k(body["top_k"])
    except UserFacingError as problem:
        raise _one_of(problem, "top_k") from None
    try:
        as_of = check_as_of(body.get("as_of"))
    except UserFacingError as problem:
        raise _one_of(problem, "as_of") from None
    bad = impossible_day(date_from=filters.date_from, date_to=filters.date_to, as_of=as_of)
    if bad:
        raise ApiError(400, bad[1], param=bad[0])
    return ChatRequest(question, turns[:-1], filters, top_k, as_of, bool(stream), include_usage)


def article_url(citation: dict) -> str:
    """The article's web address, or `newsdesk://<article id>` when it has none."""
    url = citation.get("url")
    if isinstance(url, str) and url.strip():
        return url
    return "newsdesk://" + quote(str(citation.get("doc_id", "")), safe="")


def annotations(content: str, citations: list[dict]) -> list[dict]:
    """One url_citation per `[n]` in content whose passage n has a checked citation; the
    span is the sentence carrying the marker, markers included."""
    by_n: dict[int, dict] = {}
    for citation in citations:
        by_n.setdefault(int(citation["n"]), citation)
    found: list[dict] = []
    previous_end = 0
    for run in _MARKER_RUN.finditer(content):
        head = content[previous_end:run.start()]
        boundaries = list(_SENTENCE_END.finditer(head.rstrip()))
        start = previous_end + (boundaries[-1].end() if boundaries else 0)
        while start < run.start() and content[start].isspace():
            start += 1
        end = run.end()
        for number in dict.fromkeys(int(n) for n in _MARKER.findall(run.group())):
            citation = by_n.get(number)
            if citation is None:
                continue
            found.append({"type": "url_citation", "url_citation": {
                "start_index": start, "end_index": end, "url": article_url(citation),
                "title": citation.get("title") or ""}})
        previous_end = end
    return found


def _usage(question: str, history: list[dict], content: str) -> dict[str, int]:
    from rag.tokens import count_tokens

    prompt = count_tokens(question) + sum(count_tokens(t["content"]) for t in history)
    completion = count_tokens(content)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def completion(answer: Answer, request: ChatRequest, call_id: str) -> dict[str, Any]:
    """The chat.completion object for a checked answer."""
    result = answer.to_dict()
    message = {"role": "assistant", "content": answer.answer, "refusal": None,
               "annotations": annotations(answer.answer, result["citations"])}
    return {"id": call_id, "object": "chat.completion", "created": int(time.time()),
            "model": MODEL_ID, "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": _usage(request.question, request.history, answer.answer),
            "newsdesk": result}


def _chunk(call_id: str, created: int, delta: dict, finish: str | None = None,
           **extra: Any) -> str:
    body = {"id": call_id, "object": "chat.completion.chunk", "created": created,
            "model": MODEL_ID, "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _held_back(text: str) -> bool:
    """Whether streamed text may still become the refusal sentinel (not shown yet)."""
    stripped = text.strip()
    return not stripped or REFUSAL_SENTINEL.startswith(stripped.upper())


def stream_events(pieces: Iterator[str | Answer], first: str | Answer, request: ChatRequest,
                  call_id: str, release: Callable[[], None], settings: Settings) -> Iterator[str]:
    """SSE lines: the role, the text as it is written, then a last chunk with the
    annotations (on the text the client holds) and the answer contract, then [DONE]."""
    created = int(time.time())
    sent = ""        # what the client holds
    pending = ""     # written but held back (it may be the refusal sentinel)
    answer: Answer | None = None
    try:
        yield _chunk(call_id, created, {"role": "assistant", "content": ""})
        piece: str | Answer | None = first
        while piece is not None:
            if isinstance(piece, Answer):
                answer = piece
            else:
                pending += piece
                if not _held_back(sent + pending):
                    yield _chunk(call_id, created, {"content": pending})
                    sent, pending = sent + pending, ""
            piece = next(pieces, None)
    except Exception as err:  # noqa: BLE001 - a failure mid-stream ends it with a message
        problem = explain(err, settings)
        yield _chunk(call_id, created, {"content": f"\n\n{problem.title}: {problem.message}"},
                     "stop", error={"message": f"{problem.title}: {problem.message}",
                                    "type": "server_error", "param": None, "code": None})
        yield "data: [DONE]\n\n"
        return
    finally:
        release()
    final = answer.answer if answer is not None else ""
    if final.startswith(sent) and final != sent:
        rest = final[len(sent):]
    elif answer is not None and answer.refused and sent.strip() != final.strip():
        rest = ("\n\n" if sent.strip() else "") + final
    else:
        rest = ""   # a repaired draft: `newsdesk.answer` holds the checked text
    if rest:
        yield _chunk(call_id, created, {"content": rest})
        sent += rest
    result = answer.to_dict() if answer is not None else None
    notes = annotations(sent, result["citations"]) if result else []
    yield _chunk(call_id, created, {"annotations": notes}, "stop", newsdesk=result)
    if request.include_usage:
        body = {"id": call_id, "object": "chat.completion.chunk", "created": created,
                "model": MODEL_ID, "choices": [],
                "usage": _usage(request.question, request.history, sent)}
        yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _problem(err: Exception, settings: Settings) -> ApiError:
    """An OpenAI-style error for a failure while answering (the message from explain())."""
    problem = explain(err, settings)
    text = f"{problem.title}: {problem.message}"
    if isinstance(err, (QuestionError, UserFacingError)):
        return ApiError(400, text, param="messages")
    if problem.title == "Something went wrong":
        return ApiError(500, text, "server_error")
    return ApiError(503, text, "server_error", code="unavailable")


async def read_json(request: Request) -> Any:
    """The request's JSON body, or ApiError (413 too large, 400 not JSON)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"The request body is larger than {MAX_BODY_BYTES:,} bytes.")
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"The request body is larger than {MAX_BODY_BYTES:,} bytes.")
    try:
        return json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"The request body is not valid JSON ({err.msg if hasattr(err, 'msg') else 'bad encoding'}).") from None


def add_api_routes(app: FastAPI, settings: Settings, desk: Desk, gate: AnswerGate) -> None:
    """Add /v1/models and /v1/chat/completions to app (before the page is mounted at /)."""
    token = bearer_token(settings)

    def model_card() -> dict[str, Any]:
        return {"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "newsdesk"}

    @app.get("/v1/models", include_in_schema=False)
    async def list_models(request: Request) -> JSONResponse:
        if not authorized(request.headers.get("authorization"), token):
            return auth_error().response()
        return JSONResponse({"object": "list", "data": [model_card()]})

    @app.get("/v1/models/{model_id}", include_in_schema=False)
    async def get_model(model_id: str, request: Request) -> JSONResponse:
        if not authorized(request.headers.get("authorization"), token):
            return auth_error().response()
        if model_id != MODEL_ID:
            return ApiError(404, f"The model {model_id[:60]!r} does not exist; this server has "
                                 f"{MODEL_ID!r}.", param="model", code="model_not_found").response()
        return JSONResponse(model_card())

    @app.post("/v1/chat/completions", include_in_schema=False)
    async def chat_completions(request: Request):
        if not authorized(request.headers.get("authorization"), token):
            return auth_error().response()
        try:
            chat = parse_chat(await read_json(request))
        except ApiError as err:
            return err.response()
        call_id = f"chatcmpl-{uuid.uuid4().hex}"
        if not chat.stream:
            def run() -> Answer:
                with gate:
                    return desk.get().answer(chat.question, chat.history, top_k=chat.top_k,
                                             filters=chat.filters, as_of=chat.as_of)
            try:
                answer = await run_in_threadpool(run)
            except Exception as err:  # noqa: BLE001 - every failure is an OpenAI-style error
                return _problem(err, settings).response()
            return JSONResponse(completion(answer, chat, call_id))

        def start() -> tuple[Iterator[str | Answer], str | Answer, Callable[[], None]]:
            release = gate.hold()
            try:
                pieces = desk.get().stream(chat.question, chat.history, top_k=chat.top_k,
                                           filters=chat.filters, as_of=chat.as_of)
                return pieces, next(pieces), release
            except BaseException:
                release()
                raise

        try:  # retrieval runs before the response starts, so its errors get a status
            pieces, first, release = await run_in_threadpool(start)
        except Exception as err:  # noqa: BLE001
            return _problem(err, settings).response()
        # the slot is freed when the answer is written, or after the response if the
        # client left before the stream started
        return StreamingResponse(stream_events(pieces, first, chat, call_id, release, settings),
                                 media_type="text/event-stream", background=BackgroundTask(release),
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
