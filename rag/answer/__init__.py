"""The answer stage: generators, citation checks, and the pipeline every surface calls."""

from rag.answer.pipeline import REFUSAL_TEXT, Answer, Newsdesk, QuestionError

__all__ = ["REFUSAL_TEXT", "Answer", "Newsdesk", "QuestionError"]
