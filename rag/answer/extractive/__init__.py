"""The extractive answerer (no model, the offline default): sentence scoring
(`generator`), answer types (`answer_types`) and short answers (`short_answers`)."""

from rag.answer.extractive.generator import ExtractiveGenerator

__all__ = ["ExtractiveGenerator"]
