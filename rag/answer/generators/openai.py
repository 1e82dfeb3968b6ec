"""OpenAI and OpenAI-compatible chat models (Ollama, llama.cpp, vLLM ...) behind LCEL
chains (`prompt | model | parser`), with prompts from the `prompts` package.

This provider owns its settings use (model, base_url, api_key, temperature, max_tokens,
request_timeout), its model client (`chat_model`, also used by the eval judge) and its
error mapping (`model_errors`).

What is read from a model is bounded whatever the server does: each request has one
wall-clock deadline of `request_timeout` for its whole reply (a server sending a token
every 2 s never trips a per-read timeout), so a call (one retry) ends within about
2 x `request_timeout`; a reply body over `reply_max_bytes` is an error; a reply longer
than `reply_max_chars` (from `max_tokens`) is cut there and says so.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from typing import Any, Generator as Gen, Iterator

import httpx

from rag.answer.generators.base import (REFUSAL_SENTINEL, Draft, Generator, ModelError,
                                        format_history, format_passages)
from rag.answer.followup import previous_user_turn
from rag.answer.generators.registry import register
from rag.answer.timeline import day_notes
from rag.answer.outcome import Outcome
from rag.answer.prompts import read_prompt
from rag.config import Settings
from rag.errors import server_errors
from rag.records import Passage
from rag.text import safe_text

_REFUSAL_PHRASES = re.compile(
    r"not in (?:the )?articles|(?:passages|articles) (?:do not|don't|does not|doesn't) "
    r"(?:contain|say|mention|provide)|no information (?:about|on)|cannot answer|can't answer",
    re.IGNORECASE)


def looks_like_refusal(text: str) -> bool:
    """Whether a model's reply says the passages lack the answer."""
    return not text.strip() or bool(_REFUSAL_PHRASES.search(text))


def model_draft(text: str) -> Draft:
    """A model's reply as a draft: refused by the model when it says so."""
    refused = looks_like_refusal(text)
    return Draft(text, refused=refused, reason=Outcome.BY_MODEL if refused else None)


def reply_max_chars(settings: Settings) -> int:
    """The longest answer text kept from a model (a token is about 4 characters)."""
    return max(2_000, 8 * settings.max_tokens)


def reply_max_bytes(settings: Settings) -> int:
    """The largest reply body read from a model (JSON or a stream of events)."""
    return 256_000 + 1_000 * settings.max_tokens


CUT_NOTE = "[The model's reply was cut here: it was longer than {chars:,} characters.]"


class _ReplyTooSlow(httpx.ReadTimeout):
    """The reply did not end within the request's deadline."""


class _ReplyTooLarge(httpx.ReadError):
    """The reply body is over reply_max_bytes."""


class _BoundedBody(httpx.SyncByteStream):
    """A reply body read until its deadline and up to its size limit, no further."""

    def __init__(self, stream: httpx.SyncByteStream, deadline: float, limit: int) -> None:
        self._stream, self._deadline, self._limit = stream, deadline, limit

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._stream:
            size += len(chunk)
            if size > self._limit:
                raise _ReplyTooLarge(f"reply over {self._limit:,} bytes")
            if time.monotonic() > self._deadline:
                raise _ReplyTooSlow("reply not finished by the deadline")
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _BoundedTransport(httpx.HTTPTransport):
    """httpx's transport with one deadline per request for the whole reply body."""

    def __init__(self, seconds: float, limit: int) -> None:
        super().__init__()
        self.seconds, self.limit = seconds, limit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.seconds
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)   # a sync transport's body
        response.stream = _BoundedBody(response.stream, deadline, self.limit)
        return response


def chat_model(settings: Settings):
    """The settings' chat model (OpenAI or an OpenAI-compatible server), one retry, each
    reply bounded in time and size."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    client = httpx.Client(transport=_BoundedTransport(settings.request_timeout,
                                                      reply_max_bytes(settings)),
                          timeout=settings.request_timeout, follow_redirects=True)
    return ChatOpenAI(model=settings.model, base_url=settings.base_url,
                      api_key=SecretStr(settings.resolved_api_key() or "not-needed"),
                      # the field's name; mypy sees only its alias max_completion_tokens
                      temperature=settings.temperature,
                      max_tokens=settings.max_tokens,  # type: ignore[call-arg]
                      timeout=settings.request_timeout, max_retries=1, http_client=client)


@contextmanager
def model_errors(settings: Settings) -> Iterator[None]:
    """The chat model's client errors as one-line ModelErrors naming the server, never
    the key (a context manager)."""
    import openai

    address = settings.base_url or "https://api.openai.com/v1"
    server = f"model server at {address}"
    with server_errors(
            ModelError, server,
            missing=f"model {settings.model!r} is not served at {address}: check the model setting",
            unreachable="start it (e.g. `ollama serve`) or fix base_url",
            reply="an OpenAI chat response; check base_url and model"):
        try:
            yield
        except (_ReplyTooSlow, _ReplyTooLarge, openai.APIConnectionError) as err:
            cause = _bound_broken(err)
            if isinstance(cause, _ReplyTooLarge):
                raise ModelError(f"{server} sent a reply over {reply_max_bytes(settings):,} "
                                 "bytes; check the server or lower max_tokens") from None
            if isinstance(cause, _ReplyTooSlow):
                raise ModelError(f"{server} did not finish its reply within request_timeout "
                                 f"({settings.request_timeout:g} s); check the server or raise "
                                 "request_timeout") from None
            raise


def _bound_broken(err: BaseException | None) -> BaseException | None:
    """The _ReplyTooSlow / _ReplyTooLarge behind the client's wrapping errors, if any."""
    for _ in range(8):
        if err is None or isinstance(err, (_ReplyTooSlow, _ReplyTooLarge)):
            return err
        err = err.__cause__ or err.__context__
    return None


def _chunk_text(chunk) -> str:
    """The text of a streamed message chunk (plain, or a list of content parts)."""
    content = chunk.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", ""))
                   for part in content if isinstance(part, (str, dict)))


def prompt_passages(passages: list[Passage]) -> str:
    """The passages as the model reads them (`format_passages`), each followed by the
    dates its day words mean (`rag.answer.timeline.day_notes`): "on Sunday night" in an
    article of Monday is the Sunday before, which a model would otherwise date Monday."""
    blocks = []
    for passage in passages:
        note = day_notes(passage)
        block = format_passages([passage])
        blocks.append(f"{block}\n{note}" if note else block)
    return "\n\n".join(blocks)


def cut_reply(text: str, settings: Settings) -> str:
    """The reply, cut at reply_max_chars with a note saying so when longer."""
    limit = reply_max_chars(settings)
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + " " + CUT_NOTE.format(chars=limit)


def _chain(settings: Settings, *templates: tuple[str, str]):
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([(role, read_prompt(name)) for role, name in templates])
    return prompt | chat_model(settings) | StrOutputParser()


@register("openai-compatible")
@register("openai")
class ChatGenerator(Generator):
    """An OpenAI or OpenAI-compatible chat model behind LCEL chains."""

    name = "openai"
    streams = True
    writes_own_timeline = True
    needs_model = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.name = settings.generator  # type: ignore[misc]
        self.answer_chain = _chain(settings, ("system", "answer_system.md"), ("human", "answer_user.md"))
        self.condense_chain = _chain(settings, ("human", "condense.md"))
        self._timeline_chain: Any = None   # built on the first timeline question

    def _inputs(self, question: str, passages: list[Passage]) -> dict:
        return {"question": question, "passages": prompt_passages(passages)}

    def _errors(self):
        return model_errors(self.settings)

    def condense(self, question: str, history: list[dict]) -> str:
        if not previous_user_turn(history):
            return question
        with self._errors():
            rewritten = safe_text(self.condense_chain.invoke(
                {"history": format_history(history), "question": question}))
        lines = [line.strip().strip('"') for line in rewritten.splitlines() if line.strip()]
        return lines[0] if lines and 3 <= len(lines[0]) <= 500 else question

    def generate(self, question: str, passages: list[Passage]) -> Draft:
        with self._errors():
            text = safe_text(self.answer_chain.invoke(self._inputs(question, passages)))
        return model_draft(cut_reply(text, self.settings))

    def stream(self, question: str, passages: list[Passage]) -> Gen[str, None, Draft]:
        """Pieces as the model writes them; while the reply so far could still be the
        refusal sentinel they are held back, so a refusal is never shown being written."""
        pieces: list[str] = []
        held, length, limit = 0, 0, reply_max_chars(self.settings)
        with self._errors():
            # the model's own stream (not the chain's), so stopping early closes it cleanly
            prompt, model = self.answer_chain.first, self.answer_chain.middle[0]
            replies = model.stream(prompt.invoke(self._inputs(question, passages)))
            try:
                for chunk in replies:
                    piece = safe_text(_chunk_text(chunk))
                    if length + len(piece) > limit:  # cut here, and stop reading
                        pieces.append(piece[:limit - length].rstrip() + " "
                                      + CUT_NOTE.format(chars=limit))
                        break
                    pieces.append(piece)
                    length += len(piece)
                    so_far = "".join(pieces).strip()
                    if so_far and REFUSAL_SENTINEL.startswith(so_far.upper()):
                        continue
                    yield from pieces[held:]
                    held = len(pieces)
            finally:
                getattr(replies, "close", lambda: None)()
        draft = model_draft("".join(pieces))
        if not draft.refused:
            yield from pieces[held:]
        return draft

    def timeline(self, question: str, passages: list[Passage]) -> Draft:
        """The timeline written with prompts/timeline_system.md and _user.md, passages
        oldest first."""
        if self._timeline_chain is None:
            self._timeline_chain = _chain(self.settings, ("system", "timeline_system.md"),
                                          ("human", "timeline_user.md"))
        ordered = sorted(passages, key=lambda p: (p.date or "9999-99-99", p.n))
        with self._errors():
            text = safe_text(self._timeline_chain.invoke({
                "question": question, "max_events": self.settings.timeline_events,
                "passages": prompt_passages(ordered)}))
        return model_draft(cut_reply(text, self.settings))

    @classmethod
    def describe(cls, settings: Settings) -> str:
        where = settings.base_url or "https://api.openai.com/v1"
        return f"model {settings.model} at {where}"
