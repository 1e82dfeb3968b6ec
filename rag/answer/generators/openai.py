"""OpenAI and OpenAI-compatible chat models (Ollama, llama.cpp, vLLM ...) behind LCEL
chains (`prompt | model | parser`), with prompts from the `prompts` package.

This provider owns its settings use (model, base_url, api_key, temperature, max_tokens,
request_timeout), its model client (`chat_model`, also used by the eval judge) and its
error mapping (`model_errors`).
"""

from __future__ import annotations

import re
from typing import Generator as Gen

from rag.answer.generators.base import (REFUSAL_SENTINEL, Draft, Generator, ModelError,
                                        format_history, format_passages)
from rag.answer.followup import previous_user_turn
from rag.answer.generators.registry import register
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


def chat_model(settings: Settings):
    """The settings' chat model (OpenAI or an OpenAI-compatible server), one retry."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=settings.model, base_url=settings.base_url,
                      api_key=settings.resolved_api_key() or "not-needed",
                      temperature=settings.temperature, max_tokens=settings.max_tokens,
                      timeout=settings.request_timeout, max_retries=1)


def model_errors(settings: Settings):
    """The chat model's client errors as one-line ModelErrors naming the server, never
    the key (a context manager)."""
    address = settings.base_url or "https://api.openai.com/v1"
    return server_errors(
        ModelError, f"model server at {address}",
        missing=f"model {settings.model!r} is not served at {address}: check the model setting",
        unreachable="start it (e.g. `ollama serve`) or fix base_url",
        reply="an OpenAI chat response; check base_url and model")


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
        self._timeline_chain = None   # built on the first timeline question

    def _inputs(self, question: str, passages: list[Passage]) -> dict:
        return {"question": question, "passages": format_passages(passages)}

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
        return model_draft(text)

    def stream(self, question: str, passages: list[Passage]) -> Gen[str, None, Draft]:
        """Pieces as the model writes them; while the reply so far could still be the
        refusal sentinel they are held back, so a refusal is never shown being written."""
        pieces: list[str] = []
        held = 0
        with self._errors():
            for piece in self.answer_chain.stream(self._inputs(question, passages)):
                pieces.append(safe_text(piece))
                so_far = "".join(pieces).strip()
                if so_far and REFUSAL_SENTINEL.startswith(so_far.upper()):
                    continue
                yield from pieces[held:]
                held = len(pieces)
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
                "passages": format_passages(ordered)}))
        return model_draft(text)

    @classmethod
    def describe(cls, settings: Settings) -> str:
        where = settings.base_url or "https://api.openai.com/v1"
        return f"model {settings.model} at {where}"
