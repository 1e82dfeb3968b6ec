"""What a source is: one kind of SOURCE that `rag ingest` accepts (a folder, an article
file, a page or feed URL ...), registered by name in `SOURCES`.

A kind says which SOURCE values it takes (`claims`) and reads them into `Corpus` parts
(each with its articles, the ids it still holds and its prune scopes). Kinds registered
later are asked first, so a plug-in can take values a built-in one would (a `.csv` file).
Adding a kind is one module that registers it; `rag.sources.mixed` loads the built-in ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, ClassVar, Sequence, TypeVar

from rag.errors import NewsdeskError
from rag.sources.files import Corpus


class SourceError(NewsdeskError):
    """A SOURCE that no kind of source takes (not a folder, a file or an http(s) URL)."""


class Source:
    """The SOURCE values of one kind given to one ingest."""

    kind: ClassVar[str] = ""
    local: ClassVar[bool] = True   # read by `read()` before the index opens; False: the web
                                   # kind, which ingest reads with what the index holds

    @classmethod
    def claims(cls, value: str | Path) -> bool:
        """Whether this kind takes the SOURCE value."""
        raise NotImplementedError

    def __init__(self, values: Sequence[str | Path]) -> None:
        self.values = list(values)

    def read(self) -> list[Corpus]:
        """One part per source: its articles, the ids it holds, its prune scopes and
        what was skipped and why."""
        raise NotImplementedError


SOURCES: dict[str, type[Source]] = {}
K = TypeVar("K", bound=type[Source])


def register_source(name: str) -> Callable[[K], K]:
    """Class decorator: the kind is known to `rag ingest` by `name`."""
    def register(cls: K) -> K:
        cls.kind = name
        SOURCES[name] = cls
        return cls
    return register


def kind_of_source(value: str | Path) -> str | None:
    """The name of the kind that takes the value (the latest registered first), or None."""
    for name, cls in reversed(SOURCES.items()):
        if cls.claims(value):
            return name
    return None
