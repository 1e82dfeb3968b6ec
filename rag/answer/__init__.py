"""The answer stage: generators, citation checks, and the pipeline every surface calls.

The names below load on first use, so reading the generator registry
(`rag.answer.generators`, e.g. for the CLI's choices) does not load the search stack.
"""

from typing import TYPE_CHECKING

__all__ = ["REFUSAL_TEXT", "Answer", "Newsdesk", "Outcome", "QuestionError"]

if TYPE_CHECKING:
    from rag.answer.outcome import Outcome
    from rag.answer.pipeline import REFUSAL_TEXT, Answer, Newsdesk, QuestionError


def __getattr__(name: str):
    if name == "Outcome":
        from rag.answer.outcome import Outcome
        return Outcome
    if name in __all__:
        from rag.answer import pipeline
        return getattr(pipeline, name)
    raise AttributeError(f"module 'rag.answer' has no attribute {name!r}")
