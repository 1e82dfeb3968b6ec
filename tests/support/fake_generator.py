"""A generator that writes what the test tells it, through the real `Generator` interface,
so the pipeline's branches (refusal outcomes, citation repair) run in-process."""

from __future__ import annotations

from rag.answer.generators import Draft, Generator, Outcome
from rag.config import Settings
from rag.records import Passage


class FakeGenerator(Generator):
    """Answers every question with `reply` (or refuses with `refuse_with`); records what
    it was asked."""

    name = "fake"

    def __init__(self, settings: Settings, reply: str = "", refuse_with: Outcome | None = None,
                 streams: bool = False) -> None:
        super().__init__(settings)
        self.reply, self.refuse_with = reply, refuse_with
        self.streams = streams  # type: ignore[misc]
        self.asked: list[tuple[str, list[Passage]]] = []

    def generate(self, question: str, passages: list[Passage]) -> Draft:
        self.asked.append((question, passages))
        if self.refuse_with is not None:
            return Draft.refusal(self.refuse_with)
        return Draft(self.reply)
