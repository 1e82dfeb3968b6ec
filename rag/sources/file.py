"""The `file` source: one article file given alone (its id `<its folder's name>/<its
name>` is its own prune scope)."""

from __future__ import annotations

from pathlib import Path

from rag.sources.base import Source, register_source
from rag.sources.files import ArticleError, Corpus, FileNotes, file_doc_id, load_file
from rag.sources.folder import is_path


@register_source("file")
class File(Source):
    """Article files (.txt, .md, .html, .json, .jsonl ...), each read as in a folder."""

    @classmethod
    def claims(cls, value: str | Path) -> bool:
        return is_path(value) and Path(value).is_file()

    def read(self) -> list[Corpus]:
        parts = []
        for path in map(Path, self.values):
            doc_id = file_doc_id(path)
            part = Corpus(files=1, seen_ids={doc_id}, scopes={doc_id})
            try:
                part.articles = load_file(path, doc_id,
                                          notes=FileNotes(part.skipped_records, part.notes))
            except ArticleError as err:
                part.skipped.append((str(path), str(err).removeprefix(f"{path}: ")))
            if part.articles and not part.skipped_records:
                part.seen_ids = {a.doc_id for a in part.articles}
            parts.append(part)
        return parts
