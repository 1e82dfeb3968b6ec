"""The sources of one ingest told apart by kind (`rag.sources.base.SOURCES`: folders,
article files, http(s) URLs of pages and feeds, and any kind a module registers).

A SOURCE that starts with a scheme (`http://`, `https://`, `ftp://` ...) is a URL and
must be http(s); anything else is a path that must exist. Whether a URL is a feed or a
page is decided later, by what its server sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import rag.sources.file  # noqa: F401  (registers the built-in kinds: folder, file, web)
import rag.sources.folder  # noqa: F401
import rag.sources.urls  # noqa: F401
from rag.sources.base import SOURCES, SourceError, kind_of_source
from rag.sources.files import Corpus
from rag.sources.folder import is_path

__all__ = ["SourceError", "Sources", "is_web_id", "read_local", "split_sources"]


@dataclass
class Sources:
    """The SOURCE values of one ingest by kind name, in the order given."""

    by_kind: dict[str, list] = field(default_factory=dict)

    @property
    def folders(self) -> list[Path]:
        return self.by_kind.get("folder", [])

    @property
    def files(self) -> list[Path]:
        return self.by_kind.get("file", [])

    @property
    def urls(self) -> list[str]:
        return self.by_kind.get("web", [])


def is_web_id(doc_id: str) -> bool:
    """Whether an article id is a URL (an article read from the web)."""
    return doc_id.startswith(("http://", "https://"))


def split_sources(values: Path | str | Sequence[Path | str]) -> Sources:
    """The values by kind, in the order given; SourceError for a URL no kind takes,
    FileNotFoundError for a path that does not exist."""
    if isinstance(values, (str, Path)):
        values = [values]
    sources = Sources()
    for value in values:
        kind = kind_of_source(value)
        if kind is None:
            if not is_path(value):
                raise SourceError(f"{value}: only http(s) URLs, folders and files can be ingested")
            raise FileNotFoundError(f"{Path(value)} does not exist: give a folder, an article "
                                    "file or an http(s) URL")
        sources.by_kind.setdefault(kind, []).append(value if kind == "web" else Path(value))
    return sources


def read_local(sources: Sources) -> Corpus:
    """The articles of the local sources (every kind but the web), kind by kind in
    registration order; an id already taken by an earlier source is skipped with the
    reason."""
    corpus = Corpus()
    parts = [part for name, kind in SOURCES.items() if kind.local and name in sources.by_kind
             for part in kind(sources.by_kind[name]).read()]
    taken: dict[str, str] = {}
    for part in parts:
        corpus.files += part.files
        corpus.skipped += part.skipped
        corpus.skipped_records += part.skipped_records
        corpus.notes += part.notes
        corpus.seen_ids |= part.seen_ids
        corpus.scopes |= part.scopes
        for article in part.articles:
            first = taken.setdefault(article.doc_id, article.path)
            if first != article.path:
                corpus.skipped.append((article.path, f"same article id {article.doc_id!r} as "
                                                     f"{first}; rename one of them"))
                continue
            corpus.articles.append(article)
    return corpus
