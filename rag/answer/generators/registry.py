"""The one registry of generators by name: it feeds `make_generator`, the check of the
`generator` setting, the CLI's and eval's `--generator` choices and the chat page.

A provider module registers its class with `@register("name")`; the built-in providers
(`BUILTIN_MODULES`) are imported the first time the registry is read.
"""

from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.answer.generators.base import Generator

# the built-in names and their modules: making one generator imports its module alone
BUILTIN_NAMES = {"extractive": "rag.answer.extractive",
                 "openai": "rag.answer.generators.openai",
                 "openai-compatible": "rag.answer.generators.openai"}
BUILTIN_MODULES = tuple(dict.fromkeys(BUILTIN_NAMES.values()))
_REGISTRY: dict[str, type[Generator]] = {}
_loaded = False
G = TypeVar("G", bound=type[Generator])


class UnknownGeneratorError(NewsdeskError, ValueError):
    """The generator setting names no registered generator."""


def register(name: str) -> Callable[[G], G]:
    """Class decorator: make the generator available as setting `generator = "name"`."""
    def add(cls: G) -> G:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"generator {name!r} is registered twice "
                             f"({_REGISTRY[name].__module__} and {cls.__module__})")
        _REGISTRY[name] = cls
        return cls
    return add


def unregister(name: str) -> None:
    """Forget a generator (tests that register their own)."""
    _REGISTRY.pop(name, None)


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


def generator_names() -> list[str]:
    """The registered generators' names, built-ins first."""
    _load_builtins()
    builtin = [name for name in BUILTIN_NAMES if name in _REGISTRY]
    return builtin + [name for name in _REGISTRY if name not in BUILTIN_NAMES]


def generator_class(name: str) -> type[Generator]:
    """The class registered as `name`, or UnknownGeneratorError naming the choices."""
    if name not in _REGISTRY and name in BUILTIN_NAMES:
        importlib.import_module(BUILTIN_NAMES[name])
    if name not in _REGISTRY:
        _load_builtins()
    if name not in _REGISTRY:
        raise UnknownGeneratorError(
            f"generator {name!r} (setting generator, in newsdesk.toml, NEWSDESK_GENERATOR or "
            f"--generator) is not one of: {', '.join(generator_names())}")
    return _REGISTRY[name]


def check_settings(settings: Settings) -> None:
    """Start-up check of the generator setting against the registry."""
    generator_class(settings.generator)


def make_generator(settings: Settings, name: str | None = None) -> Generator:
    """The generator the settings (or `name`) choose; a model provider registered under
    several names (openai, openai-compatible) learns which one from `generator.name`."""
    name = name or settings.generator
    generator = generator_class(name)(settings)
    generator.name = name  # type: ignore[misc]
    return generator
