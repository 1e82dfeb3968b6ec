"""The sources of one ingest told apart: folders, article files and http(s) URLs.

A SOURCE that starts with a scheme (`http://`, `https://`, `ftp://` ...) is a URL and
must be http(s); anything else is a path that must exist. Whether a URL is a feed or a
page is decided later, by what its server sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rag.errors import NewsdeskError
from rag.sources.files import ArticleError, Corpus, FileNotes, file_doc_id, load_corpus, load_file

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class SourceError(NewsdeskError):
    """A SOURCE that is neither an existing folder or file nor an http(s) URL."""


@dataclass
class Sources:
    folders: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def is_web_id(doc_id: str) -> bool:
    """Whether an article id is a URL (an article read from the web)."""
    return doc_id.startswith(("http://", "https://"))


def split_sources(values: Path | str | Sequence[Path | str]) -> Sources:
    """Folders, files and URLs, in the order given; SourceError for anything else."""
    if isinstance(values, (str, Path)):
        values = [values]
    sources = Sources()
    for value in values:
        text = str(value)
        if isinstance(value, str) and _SCHEME.match(text):
            if not re.match(r"https?://[^\s/]", text, re.IGNORECASE):
                raise SourceError(f"{text}: only http(s) URLs, folders and files can be ingested")
            sources.urls.append(text)
            continue
        path = Path(value)
        if path.is_dir():
            sources.folders.append(path)
        elif path.is_file():
            sources.files.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist: give a folder, an article file "
                                    "or an http(s) URL")
    return sources


def read_local(sources: Sources) -> Corpus:
    """The articles of the folders and files, as `load_corpus` reads a folder (a file
    given alone has the id `<its folder's name>/<its name>` and is its own prune scope);
    an id already taken by an earlier source is skipped with the reason."""
    corpus = Corpus()
    parts = [load_corpus(folder) for folder in sources.folders]
    for path in sources.files:
        doc_id = file_doc_id(path)
        part = Corpus(files=1, seen_ids={doc_id}, scopes={doc_id})
        try:
            part.articles = load_file(path, doc_id, notes=FileNotes(part.skipped_records, part.notes))
        except ArticleError as err:
            part.skipped.append((str(path), str(err).removeprefix(f"{path}: ")))
        if part.articles and not part.skipped_records:
            part.seen_ids = {a.doc_id for a in part.articles}
        parts.append(part)
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
