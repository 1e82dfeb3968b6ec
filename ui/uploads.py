"""Add uploaded article files to the corpus folder, then ingest them like `rag ingest`.

An upload is checked before anything is written: its size (settings.upload_max_bytes),
its type (the suffixes `rag.sources.files` reads) and its content (it must load as an
article). Its name is reduced to a safe base name (no folders, no leading dots, only
letters, digits, `._-`), it never replaces an existing file, and it is written
atomically (hidden temporary file, then a hard link that fails if the name is taken)
inside `settings.corpus_dir` and nowhere else. A file the ingest then skips (e.g. the
same text as an article already there) is removed again and reported with the reason.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.sources.files import SUPPORTED_SUFFIXES, ArticleError, load_file

from rag.records import Article
from rag.config import Settings
from rag.ingest import IngestBusyError, IngestReport, ingest
from rag.sources.files import load_corpus

INGEST_WAIT_SECONDS = 60.0
MAX_STEM_CHARS = 100
UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)   # what the page accepts: exactly what the loader reads


class UploadError(ValueError):
    """An uploaded file that cannot be added; the message says why."""


@dataclass
class UploadResult:
    """What happened to each uploaded file, and the ingest that followed."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    other_skipped: list[tuple[str, str]] = field(default_factory=list)
    report: IngestReport | None = None
    error: str | None = None


def display_name(original: str) -> str:
    """The file's base name as the user named it (path parts of either OS removed)."""
    return original.replace("\\", "/").rstrip("/").split("/")[-1] or "(no name)"


def safe_name(original: str) -> str:
    """A safe file name for the corpus folder, or UploadError if the type is not an article."""
    name = unicodedata.normalize("NFKC", display_name(original))
    dot = name.rfind(".")
    stem, suffix = (name[:dot], name[dot:].lower()) if dot >= 0 else (name, "")
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"{suffix} is not an article type" if suffix else "a file without a type suffix is not an article"
        raise UploadError(f"{kind}; upload {', '.join(SUPPORTED_SUFFIXES)} files")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:MAX_STEM_CHARS].strip("._-")
    return f"{stem or 'article'}{suffix}"


def _inside(folder: Path, target: Path) -> bool:
    return target.parent.resolve() == folder.resolve()


def _place(data: bytes, folder: Path, name: str) -> tuple[Path, bool]:
    """Write data under folder as name (or name-2, name-3 ...); (path, False) if an
    identical file is already there."""
    stem, suffix = os.path.splitext(name)
    temp = folder / f".upload-{secrets.token_hex(8)}{suffix}"
    temp.write_bytes(data)
    try:
        for attempt in range(1, 1000):
            target = folder / (name if attempt == 1 else f"{stem}-{attempt}{suffix}")
            if not _inside(folder, target):
                raise UploadError("the file name leads outside the articles folder")
            if target.is_file() and target.read_bytes() == data:
                return target, False
            try:
                os.link(temp, target)
                return target, True
            except FileExistsError:
                continue
        raise UploadError(f"too many files named like {name}")
    finally:
        temp.unlink(missing_ok=True)


def _load(data: bytes, folder: Path, name: str) -> list[Article]:
    """The articles in the bytes, or UploadError saying why they are not articles."""
    suffix = os.path.splitext(name)[1]
    probe = folder / f".check-{secrets.token_hex(8)}{suffix}"
    probe.write_bytes(data)
    try:
        return load_file(probe, Path(name).stem)
    except ArticleError as err:
        raise UploadError(str(err).replace(f"{probe}: ", "").replace(str(probe), name)) from None
    finally:
        probe.unlink(missing_ok=True)


def _known_texts(folder: Path) -> dict[str, str]:
    """content hash -> file, for the articles already in the folder (the ingest's
    duplicate rule, applied before a duplicate is written)."""
    return {a.content_hash: Path(a.path).relative_to(folder).as_posix()
            for a in load_corpus(folder).articles}


def add_articles(paths: list[str | Path], settings: Settings,
                 names: list[str] | None = None, embed: bool = True) -> UploadResult:
    """Validate, save into settings.corpus_dir and ingest; each bad file gets its reason.

    `paths` are the uploaded temporary files; `names` the names the user gave them
    (default: the temporary files' own names, which Gradio keeps). With embed=False the
    articles are made searchable only (`rag serve`'s worker embeds them), so an upload
    does not wait for the queue an earlier ingest left.
    """
    result = UploadResult()
    folder = Path(settings.corpus_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    known: dict[str, str] | None = None
    for path, original in zip(paths, names or [Path(p).name for p in paths]):
        shown = display_name(str(original))
        try:
            name = safe_name(str(original))
            size = Path(path).stat().st_size
            if size > settings.upload_max_bytes:
                from ui.render import human_bytes

                raise UploadError(f"{human_bytes(size)} is over the upload limit of "
                                  f"{human_bytes(settings.upload_max_bytes)} "
                                  f"({settings.upload_max_bytes:,} bytes, setting upload_max_bytes)")
            data = Path(path).read_bytes()
            articles = _load(data, folder, name)
            if known is None:
                known = _known_texts(folder)
            same = next((known[a.content_hash] for a in articles if a.content_hash in known), None)
            if same is not None:
                if (folder / same).read_bytes() == data:
                    result.unchanged.append(same)
                    continue
                raise UploadError(f"same text as {same}, which is already in the articles")
            target, new = _place(data, folder, name)
            known.update({a.content_hash: target.name for a in articles})
        except UploadError as err:
            result.rejected.append((shown, str(err)))
            continue
        except OSError as err:
            result.rejected.append((shown, f"could not be read or saved ({err.strerror or err})"))
            continue
        if new:
            written[str(target)] = shown
            result.added.append(target.name)
        else:
            result.unchanged.append(target.name)
    if not written and not result.unchanged:
        return result
    try:
        report = ingest(folder, settings, progress=False, wait_seconds=INGEST_WAIT_SECONDS,
                        embed=embed)
    except IngestBusyError as err:
        for target in written:
            Path(target).unlink(missing_ok=True)
        result.added = []
        result.error = f"{err}; nothing was added, try again in a minute"
        return result
    result.report = report
    for skipped_path, reason in report.skipped:
        if skipped_path in written:
            Path(skipped_path).unlink(missing_ok=True)
            result.added.remove(Path(skipped_path).name)
            result.rejected.append((written[skipped_path], reason))
        else:
            result.other_skipped.append((skipped_path, reason))
    return result


def add_url(url: str, settings: Settings, embed: bool = True) -> UploadResult:
    """Ingest the article page or RSS/Atom feed at url, as `rag ingest URL` does (with
    embed=False searchable only, as `add_articles`).

    `added` lists "title — url" of each article read (new or changed), `unchanged` the
    URL when the server or the content hash says nothing changed, `rejected` each page or
    feed skipped with its reason (also a private address, unless fetch_allow_private)."""
    from rag.sources.mixed import SourceError, split_sources

    result = UploadResult()
    url = url.strip()
    try:
        if not split_sources([url]).urls:
            raise SourceError("give the http(s) address of an article page or a feed")
    except (SourceError, FileNotFoundError):
        result.rejected.append((url or "(empty)", "not an http(s) URL; give the address of an "
                                                  "article page or an RSS/Atom feed"))
        return result
    try:
        report = ingest([url], settings, progress=False, wait_seconds=INGEST_WAIT_SECONDS,
                        embed=embed)
    except IngestBusyError as err:
        result.error = f"{err}; nothing was added, try again in a minute"
        return result
    result.report = report
    read = report.web
    result.added = [f"{a.title} — {a.url}" for a in read.articles] if read else []
    result.rejected = list(report.skipped)
    if not result.added and not result.rejected:
        result.unchanged.append(url)
    return result
