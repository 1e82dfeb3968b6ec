"""What every generator is: the `Generator` base, its `Draft`, and `ModelError`.

A generator turns (question, passages) into a draft with `[n]` markers, rewrites a
follow-up question into a standalone one, can stream, and writes timelines. Capability
flags tell the pipeline how to use it, so no code asks for a generator by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Generator as Gen

from rag.answer.followup import condense
from rag.answer.outcome import Outcome
from rag.config import Settings
from rag.errors import NewsdeskError
from rag.records import Passage, Span

REFUSAL_SENTINEL = "NOT IN ARTICLES"


class ModelError(NewsdeskError):
    """The language model could not be used; the message names its address."""


@dataclass
class Draft:
    """A generator's answer before citation checking; the extractive generator also
    gives its short answer (a span of passage `short_n`, article offsets). A refused
    draft says why in `reason` (rag.answer.outcome)."""

    text: str
    refused: bool = False
    short_answer: Span | None = None
    short_n: int = 0
    reason: Outcome | None = None

    @classmethod
    def refusal(cls, reason: Outcome) -> "Draft":
        return cls(REFUSAL_SENTINEL, refused=True, reason=reason)


class Generator:
    """The base of every generator (register a subclass with
    `rag.answer.generators.register`).

    Flags: `streams` - `stream()` yields pieces as a model writes them (else the
    pipeline writes the answer whole and may label its sentences with dates);
    `writes_own_timeline` - `timeline()` writes "how did X unfold" answers (else the
    pipeline asks `generate` with the passages oldest first); `needs_model` - it calls a
    language model (settings model/base_url/api_key).
    """

    name: ClassVar[str] = ""
    streams: ClassVar[bool] = False
    writes_own_timeline: ClassVar[bool] = False
    needs_model: ClassVar[bool] = False
    description: ClassVar[str] = ""   # how the chat page names who writes the answers

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def condense(self, question: str, history: list[dict]) -> str:
        """The standalone question to search with (rag.answer.followup.condense)."""
        return condense(question, history)

    def generate(self, question: str, passages: list[Passage]) -> Draft:
        raise NotImplementedError

    def stream(self, question: str, passages: list[Passage]) -> Gen[str, None, Draft]:
        """Yield pieces of the answer as they are written; return the whole draft."""
        draft = self.generate(question, passages)
        if not draft.refused:
            yield from re.findall(r"\S+\s*", draft.text)
        return draft

    def timeline(self, question: str, passages: list[Passage]) -> Draft:
        """A timeline of the story: by default the answer from the passages oldest first."""
        return self.generate(question, sorted(passages, key=lambda p: (p.date or "9999-99-99", p.n)))

    @classmethod
    def describe(cls, settings: Settings) -> str:
        """Who writes the answers, for the chat page (Markdown)."""
        return cls.description or cls.name


def format_passages(passages: list[Passage]) -> str:
    """Passages as a model sees them: number, title, date, source, text."""
    blocks = []
    for p in passages:
        head = f"[{p.n}] {p.title}" + "".join(f" | {v}" for v in (p.date, p.source) if v)
        blocks.append(f"{head}\n{p.text}")
    return "\n\n".join(blocks)


def format_history(history: list[dict], turns: int = 6) -> str:
    return "\n".join(f"{t.get('role')}: {t.get('content')}" for t in history[-turns:]
                     if isinstance(t.get("content"), str))
