"""The `folder` source: every article file under a folder (its articles' prune scope)."""

from __future__ import annotations

import re
from pathlib import Path

from rag.sources.base import Source, register_source
from rag.sources.files import Corpus, load_corpus

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_path(value: str | Path) -> bool:
    """Whether a SOURCE names a path (a string starting with a scheme is a URL)."""
    return not (isinstance(value, str) and SCHEME.match(value))


@register_source("folder")
class Folder(Source):
    """A folder of article files, read as `load_corpus` reads it."""

    @classmethod
    def claims(cls, value: str | Path) -> bool:
        return is_path(value) and Path(value).is_dir()

    def read(self) -> list[Corpus]:
        return [load_corpus(Path(folder)) for folder in self.values]
