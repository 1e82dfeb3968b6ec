"""Generators as plug-ins: the `Generator` base and one registry by name.

A new provider is one module with a `Generator` subclass decorated `@register("name")`
(README "How it works"); the built-ins are `rag.answer.extractive` (no model) and
`rag.answer.generators.openai` (OpenAI and OpenAI-compatible servers).
"""

from rag.answer.generators.base import (REFUSAL_SENTINEL, Draft, Generator, ModelError,
                                        format_history, format_passages)
from rag.answer.generators.registry import (UnknownGeneratorError, check_settings,
                                            generator_class, generator_names, make_generator,
                                            register, unregister)
from rag.answer.outcome import Outcome

__all__ = ["REFUSAL_SENTINEL", "Draft", "Generator", "ModelError", "Outcome",
           "UnknownGeneratorError", "check_settings", "format_history", "format_passages",
           "generator_class", "generator_names", "make_generator", "register", "unregister"]
