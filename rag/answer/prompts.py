"""Prompt templates of the model generators, read from the installed `prompts` package
(the repository's top-level prompts/ folder, shipped as package data)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

# an editable install made before prompts/ became a package maps only rag, ui and eval:
# then the folder beside the rag package is the one meant
_BESIDE_PACKAGE = Path(__file__).resolve().parents[2] / "prompts"


@cache
def read_prompt(name: str) -> str:
    """The text of prompts/NAME (e.g. "answer_system.md")."""
    try:
        return resources.files("prompts").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    try:
        return (_BESIDE_PACKAGE / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"prompt {name!r} is missing from the installed package "
                                "'prompts': reinstall newsdesk (pip install .)") from None
