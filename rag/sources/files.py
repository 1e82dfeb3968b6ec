"""Load news articles from files: text plus metadata (title, date, source, url, byline).

Supported: `.txt` (optional `key: value` header lines and a wire-style dateline),
`.md` (optional YAML front matter), `.html`/`.htm` (the article, not the navigation),
`.json` (one record or a list) and `.jsonl` (a record per line). A file that cannot be
read raises `ArticleError` with a message that names it and says why.

Article ids are unambiguous and depend only on the article's own place: a file found in
folder `desk2022/` is `desk2022/sub/index.md` (the folder's name, the path inside it,
suffix included; `%` and `#` in names are written `%25` and `%23`), a record of a JSON or
JSON Lines file is `desk2022/recs.jsonl#id=<its id>` when it carries an `id` field, else
`desk2022/recs.jsonl#<line>` (JSON Lines) or `#<index>` (JSON list). An id never starts
with a URL scheme, so ids of pages fetched from URLs cannot collide with them.
JSON Lines and JSON lists are read record by record (no size limit on the file, each
record at most MAX_RECORD_BYTES); a broken record is skipped and named by its line.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Iterator

from rag.errors import NewsdeskError
from rag.records import Article
from rag.text import normalise_text

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
MAX_FILE_BYTES = 20_000_000          # a whole .txt/.md/.html file, or a one-record .json
MAX_RECORD_BYTES = 20_000_000        # one JSON Lines line or one element of a JSON list
MAX_FRONT_MATTER_CHARS = 64_000
MIN_TEXT_CHARS = 20
BODY_FIELDS = ("body", "text", "content", "article")
META_FIELDS = ("title", "date", "source", "url", "byline", "author")
_HEADER_LINE = re.compile(
    r"^\s*(title|date|source|url|byline|author)\s*[:=]?\s+(\S.*?)\s*$", re.IGNORECASE)
_DATELINE_SOURCE = re.compile(r"^[A-Z][A-Za-z .'-]+,\s+[A-Z][a-z]{2,9}\.?\s+\d{1,2}\s+\(([^)]{2,40})\)")
_BYLINE = re.compile(r"^(?:By|Reporting by)\s+(.{3,200}?)\s*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)


class ArticleError(NewsdeskError):
    """A file that cannot be ingested; the message names the file and the reason."""


@dataclass
class FileNotes:
    """What loading files noticed without refusing them: records skipped (where, why)
    and notes such as a date that was dropped (where, what)."""

    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


_collector: ContextVar[FileNotes | None] = ContextVar("newsdesk_file_notes", default=None)


@contextmanager
def _collecting(notes: FileNotes | None) -> Iterator[None]:
    token = _collector.set(notes)
    try:
        yield
    finally:
        _collector.reset(token)


def _note(where: object, message: str) -> None:
    notes = _collector.get()
    if notes is not None:
        notes.notes.append((str(where), message))


# -- article ids ------------------------------------------------------------------------
def _escape(name: str) -> str:
    return name.replace("%", "%25").replace("#", "%23")


def file_doc_id(path: Path, root: Path | None = None) -> str:
    """The id of a file's article: `<root folder's name>/<path inside root>` (suffix kept);
    root defaults to the file's own folder."""
    root = Path(root) if root is not None else path.parent
    name = root.resolve().name or "root"
    return _escape(f"{name}/{path.relative_to(root).as_posix()}")


def folder_scope(folder: Path) -> str:
    """The prefix of the ids of a folder's articles (what `--prune` over it may delete)."""
    return _escape(f"{Path(folder).resolve().name or 'root'}/")


def record_doc_id(file_id: str, record_id: object, number: int) -> str:
    """The id of a record of a JSON/JSON Lines file: `#id=<its id>` when it has one, else
    `#<line or index>` (the two forms cannot meet)."""
    if isinstance(record_id, (str, int)) and not isinstance(record_id, bool) and str(record_id).strip():
        return f"{file_id}#id={' '.join(str(record_id).split())[:300]}"
    return f"{file_id}#{number}"


def file_part(doc_id: str) -> str:
    """The file's id within a record's id (the id itself for a whole-file article)."""
    return doc_id.split("#", 1)[0]


# -- metadata -------------------------------------------------------------------------
def parse_date(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from common date spellings, or None (also for dates that
    do not exist, such as 2022-02-31, year 0 or a +25:00 offset)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()[:10]
    from dateutil import parser as date_parser

    try:
        parsed = date_parser.parse(str(value), fuzzy=False)
        offset = parsed.utcoffset()
    except (ValueError, OverflowError, TypeError):
        return None
    if offset is not None and abs(offset) >= timedelta(hours=24):
        return None
    return parsed.date().isoformat()


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = normalise_text(str(value))
    return " ".join(text.split())[:300] or None


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ArticleError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES}-byte limit")
    raw = path.read_bytes()
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ArticleError(f"{path}: looks binary (NUL bytes); save the article as text")
    for codec in ("utf-8-sig", "utf-16") if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError as err:
            reason = f"not valid {codec} (byte {err.start})"
    raise ArticleError(f"{path}: {reason}; save the article as UTF-8")


def _web_url(value: object) -> str | None:
    """An http(s) URL, or None: a javascript: or data: "url" in an article is dropped."""
    url = _clean(value)
    return url if url and re.match(r"https?://[^\s/]", url, re.IGNORECASE) else None


def _article(doc_id: str, path: Path, text: str, where: object = None, **meta: object) -> Article:
    body = normalise_text(text)
    if len(body.replace(" ", "").replace("\n", "")) < MIN_TEXT_CHARS:
        raise ArticleError(f"{where or path}: no article text (empty or under {MIN_TEXT_CHARS} characters)")
    title = _clean(meta.get("title")) or _clean(body.split("\n", 1)[0][:200]) or doc_id
    day = parse_date(meta.get("date"))
    if day is None and meta.get("date") not in (None, ""):
        _note(where or path, f"date {_clean(meta.get('date'))!r} is not a real date; "
                             "ingested without a date")
    return Article(doc_id=doc_id, text=body, title=title, date=day,
                   source=_clean(meta.get("source")), url=_web_url(meta.get("url")),
                   byline=_clean(meta.get("byline") or meta.get("author")), path=str(path))


# -- loaders --------------------------------------------------------------------------
def _load_txt(path: Path, doc_id: str) -> list[Article]:
    lines = _read_text(path).splitlines()
    meta: dict[str, str] = {}
    while lines and (not lines[0].strip() or _HEADER_LINE.match(lines[0])):
        match = _HEADER_LINE.match(lines.pop(0))
        if match:
            meta.setdefault(match.group(1).lower(), match.group(2))
    body = "\n".join(lines)
    dateline = _DATELINE_SOURCE.search(body[:2000].split("\n\n", 2)[-1]) or \
        next((m for m in map(_DATELINE_SOURCE.match, body[:2000].splitlines()) if m), None)
    if dateline and "source" not in meta:
        meta["source"] = dateline.group(1)
    byline = _BYLINE.search(body)
    if byline and "byline" not in meta and "author" not in meta:
        meta["byline"] = byline.group(1)
    return [_article(doc_id, path, body, **meta)]


def _front_matter_loader():
    """A safe YAML loader that refuses aliases (an alias bomb expands exponentially) and
    keeps timestamps as text (a date that does not exist is dropped, not fatal)."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001 (PyYAML's signature)
            if self.check_event(yaml.AliasEvent):
                raise ArticleError("front matter uses a YAML alias (*name); aliases are "
                                   "refused, write the value out")
            return super().compose_node(parent, index)

    FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                      lambda loader, node: loader.construct_scalar(node))
    return FrontMatterLoader


def split_front_matter(text: str) -> tuple[dict, str]:
    """(metadata, body) of a Markdown text with optional `---` YAML front matter; raises
    ArticleError (without a file name) when the front matter is refused."""
    import yaml

    text = text.replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    block = match.group(1)
    if len(block) > MAX_FRONT_MATTER_CHARS:
        raise ArticleError(f"front matter is {len(block)} characters, over the "
                           f"{MAX_FRONT_MATTER_CHARS}-character limit")
    try:
        data = yaml.load(block, Loader=_front_matter_loader())  # noqa: S506 (safe loader)
    except yaml.YAMLError as err:
        raise ArticleError(f"front matter is not valid YAML ({' '.join(str(err).split())[:200]})") from None
    meta = {k: v for k, v in data.items() if isinstance(k, str)} if isinstance(data, dict) else {}
    return meta, text[match.end():]


def _load_markdown(path: Path, doc_id: str) -> list[Article]:
    try:
        meta, content = split_front_matter(_read_text(path))
    except ArticleError as err:
        raise ArticleError(f"{path}: {err}") from None
    heading = re.match(r"\s*#\s+(.+)", content)
    if heading and "title" not in meta:
        meta["title"] = heading.group(1)
    return [_article(doc_id, path, content, **{k: meta.get(k) for k in META_FIELDS})]


_BLOCKS = ("h1", "h2", "h3", "p", "li", "blockquote")


def _block_texts(root) -> list[str]:
    """The text of each h1-h3/p/li/blockquote without the blocks nested in it, in document
    order. Iterative and linear: broken pages nest thousands of unclosed <p> tags, which
    made `tag.find()` per block quadratic and kept only the innermost paragraph."""
    from bs4 import CData, NavigableString, Tag

    order: list[list[str]] = []
    stack: list[tuple[object, list[str] | None]] = [(root, None)]
    while stack:
        node, block = stack.pop()
        if isinstance(node, Tag):
            if node.name in _BLOCKS:
                block = []
                order.append(block)
            stack.extend((child, block) for child in reversed(node.contents))
        elif block is not None and type(node) in (NavigableString, CData):
            block.append(str(node))
    return [" ".join(" ".join(parts).split()) for parts in order]


def _load_html(path: Path, doc_id: str) -> list[Article]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_text(path), "html.parser")

    def meta_content(*names: str) -> str | None:
        for name in names:
            tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
            if tag and tag.get("content"):
                return str(tag["content"])
        return None

    title = meta_content("og:title") or (soup.title.get_text() if soup.title else None)
    published = meta_content("article:published_time", "date", "pubdate", "dc.date")
    time_tag = soup.find("time")
    if not published and time_tag:
        stamp = time_tag.get("datetime")
        published = str(stamp) if stamp else time_tag.get_text()
    canonical = soup.find("link", rel="canonical")
    meta = {"title": title, "date": published,
            "source": meta_content("og:site_name", "source", "publisher"),
            "url": meta_content("og:url") or (canonical.get("href") if canonical else None),
            "byline": meta_content("author", "article:author")}
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside",
                     "form", "iframe", "svg", "button", "template"]):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    paragraphs = _block_texts(root)
    text = "\n\n".join(p for p in paragraphs if p) or root.get_text("\n")
    return [_article(doc_id, path, text, **meta)]


def _record_article(record: object, path: Path, doc_id: str, where: str) -> Article:
    if not isinstance(record, dict):
        raise ArticleError(f"{where}: a record must be a JSON object")
    body = next((record[f] for f in BODY_FIELDS if isinstance(record.get(f), str)), None)
    if body is None:
        raise ArticleError(f"{where}: no text field (one of {', '.join(BODY_FIELDS)})")
    return _article(doc_id, path, body, where, **{k: record.get(k) for k in META_FIELDS})


Item = tuple[int, str, object]  # (line or index, where, the record or the ArticleError it gave)


def _records(path: Path, file_id: str, items: Iterator[Item]) -> list[Article]:
    """Articles from numbered records. With a FileNotes collector a bad record is skipped
    and noted by its line; without one, it fails the whole file."""
    notes = _collector.get()
    articles, seen, failures = [], set(), 0
    for number, where, record in items:
        try:
            if isinstance(record, ArticleError):
                raise record
            doc_id = record_doc_id(file_id, record.get("id") if isinstance(record, dict) else None,
                                   number)
            if doc_id in seen:  # two records claim one id: both keep their place instead
                doc_id = f"{file_id}#{number}"
            seen.add(doc_id)
            articles.append(_record_article(record, path, doc_id, where))
        except ArticleError as err:
            if notes is None:
                raise
            failures += 1
            notes.skipped.append((where, str(err).removeprefix(f"{where}: ")))
    if not articles:
        raise ArticleError(f"{path}: no records" if not failures else
                           f"{path}: none of its {failures} records could be read")
    return articles


def _decode_error(where: str, err: ValueError) -> ArticleError:
    if isinstance(err, json.JSONDecodeError):
        return ArticleError(f"{where}: malformed JSON ({err.msg})")
    return ArticleError(f"{where}: JSON that cannot be read ({str(err)[:120]})")  # e.g. huge ints


def _jsonl_items(path: Path, handle: IO[bytes]) -> Iterator[Item]:
    """The records of a JSON Lines file, one line at a time (split on \\n only: U+2028 and
    friends may sit raw inside a JSON string)."""
    number = 0
    while line := handle.readline(MAX_RECORD_BYTES + 1):
        number += 1
        where = f"{path} line {number}"
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield number, where, ArticleError(f"{where}: over the {MAX_RECORD_BYTES}-byte record limit")
            continue
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if not line.strip():
            continue
        try:
            yield number, where, json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as err:
            yield number, where, ArticleError(f"{where}: not valid UTF-8 (byte {err.start})")
        except ValueError as err:
            yield number, where, _decode_error(where, err)
        except RecursionError:
            yield number, where, ArticleError(f"{where}: nested too deeply to parse")


def _json_list_items(path: Path, handle: IO[str]) -> Iterator[Item]:
    """The elements of a JSON list, decoded one at a time from a buffer that holds at most
    about one record: an export of any size streams."""
    decoder = json.JSONDecoder()
    buf, pos, line, index, eof = "", 0, 1, 0, False

    def fill() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        part = handle.read(max(1 << 20, len(buf) - pos))
        buf, pos, eof = buf[pos:] + part, 0, not part
        return bool(part)

    def skip_space() -> str:
        nonlocal pos, line
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                line += buf[pos] == "\n"
                pos += 1
            if pos < len(buf) or not fill():
                return buf[pos] if pos < len(buf) else ""

    skip_space()
    pos += 1  # the "[" the caller saw
    if skip_space() == "]":
        return
    while True:
        where = f"{path} record {index} (line {line})"
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
                if end < len(buf) or eof:
                    break
            except json.JSONDecodeError as err:
                if eof:
                    yield index, where, ArticleError(f"{where}: malformed JSON ({err.msg}); "
                                                     "it and the records after it are skipped")
                    return
            except ValueError as err:
                yield index, where, _decode_error(where, err)
                return
            except RecursionError:
                yield index, where, ArticleError(f"{where}: nested too deeply to parse")
                return
            if len(buf) - pos > MAX_RECORD_BYTES:
                yield index, where, ArticleError(f"{where}: over the {MAX_RECORD_BYTES}-byte "
                                                 "record limit; it and the records after it are skipped")
                return
            fill()
        line += buf.count("\n", pos, end)
        pos = end
        yield index, where, value
        index += 1
        separator = skip_space()
        pos += 1
        if separator == "]":
            return
        if separator != ",":
            yield index, f"{path} line {line}", ArticleError(
                f"{path} line {line}: malformed JSON (expected , or ] after record {index - 1}); "
                "the rest is skipped")
            return
        skip_space()


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _load_json(path: Path, doc_id: str) -> list[Article]:
    with open(path, "rb") as raw:
        head = raw.read(8192)
    if b"\x00" in head and not head.startswith(_UTF16_BOMS):
        raise ArticleError(f"{path}: looks binary (NUL bytes); save the articles as text")
    if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"["):
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                return _records(path, doc_id, _json_list_items(path, handle))
        except UnicodeDecodeError as err:
            raise ArticleError(f"{path}: not valid UTF-8 (byte {err.start}); save it as UTF-8") from None
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise ArticleError(f"{path}: malformed JSON at line {err.lineno} ({err.msg})") from None
    except ValueError as err:  # valid syntax Python refuses, e.g. an integer over 4300 digits
        raise ArticleError(f"{path}: JSON that cannot be read ({str(err)[:120]})") from None
    if isinstance(data, dict):
        return [_record_article(data, path, doc_id, str(path))]
    if isinstance(data, list):
        return _records(path, doc_id, ((i, f"{path} record {i}", r) for i, r in enumerate(data)))
    raise ArticleError(f"{path}: expected a JSON object or a list of objects")


def _load_jsonl(path: Path, doc_id: str) -> list[Article]:
    with open(path, "rb") as handle:
        head = handle.read(8192)
        if head.startswith(_UTF16_BOMS):  # rare: read whole (size-limited) and re-encode
            import io
            return _records(path, doc_id, _jsonl_items(path, io.BytesIO(_read_text(path).encode())))
        if b"\x00" in head:
            raise ArticleError(f"{path}: looks binary (NUL bytes); save the articles as text")
        handle.seek(0)
        return _records(path, doc_id, _jsonl_items(path, handle))


_LOADERS = {".txt": _load_txt, ".md": _load_markdown, ".markdown": _load_markdown,
            ".html": _load_html, ".htm": _load_html, ".json": _load_json, ".jsonl": _load_jsonl}


def load_file(path: Path, doc_id: str | None = None, root: Path | None = None,
              notes: FileNotes | None = None) -> list[Article]:
    """Articles in one file; raises ArticleError naming the file when it cannot be used.

    `doc_id` defaults to `file_doc_id(path, root)`. With `notes`, a bad record of a JSON
    or JSON Lines file is skipped and listed there (the file's other records load) and a
    dropped date is noted; without, a bad record fails the file."""
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ArticleError(f"{path}: unsupported file type {path.suffix or '(none)'}; "
                           f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        with _collecting(notes):
            return loader(path, doc_id or file_doc_id(path, root))
    except OSError as err:
        raise ArticleError(f"{path}: cannot be read ({err.strerror or err})") from None
    except RecursionError:
        raise ArticleError(f"{path}: nested too deeply to parse") from None


# -- folders ----------------------------------------------------------------------------
def find_files(folder: Path, skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """Article files under folder, sorted; hidden files and folders are ignored.

    Iterative (any depth). A sub-folder that vanishes or cannot be listed, and a
    symbolic link that leads out of the folder or to a folder, are not followed: they go
    to `skipped` with the reason."""
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder {folder} does not exist")
    skipped = skipped if skipped is not None else []
    root = folder.resolve()
    found: list[Path] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except FileNotFoundError:
            skipped.append((str(current), "folder disappeared while it was being read"))
            continue
        except OSError as err:
            skipped.append((str(current), f"folder cannot be read ({err.strerror or err})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    target = path.resolve()
                    if not target.is_relative_to(root):
                        skipped.append((str(path), "symbolic link to outside the corpus folder; "
                                                   "not followed"))
                    elif target.is_dir():
                        skipped.append((str(path), "symbolic link to a folder; not followed"))
                    elif target.is_file():
                        found.append(path)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.is_file(follow_symlinks=False):
                    found.append(path)
            except (OSError, RuntimeError) as err:  # vanished, or a symbolic link loop
                skipped.append((str(path), f"cannot be read ({getattr(err, 'strerror', None) or err})"))
    return sorted(found)


@dataclass
class Corpus:
    """A folder's good articles, the ids whose stored articles an ingest keeps (articles
    loaded, and files that failed wholly or in part), the id prefixes it covers (what
    `--prune` may delete), each file and each record skipped and why, and notes."""

    articles: list[Article] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_records: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)


def load_corpus(folder: Path) -> Corpus:
    """Good articles of the folder (exact duplicates dropped: the first by path is kept)."""
    corpus = Corpus()
    corpus.scopes.add(folder_scope(folder))
    by_hash: dict[str, str] = {}
    notes = FileNotes(corpus.skipped_records, corpus.notes)
    for path in find_files(folder, corpus.skipped):
        corpus.files += 1
        doc_id = file_doc_id(path, folder)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            corpus.skipped.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
            continue
        records_skipped = len(corpus.skipped_records)
        try:
            loaded = load_file(path, doc_id, notes=notes)
        except ArticleError as err:
            corpus.skipped.append((str(path), str(err).removeprefix(f"{path}: ")))
            corpus.seen_ids.add(doc_id)  # what the store has of it stays
            continue
        if len(corpus.skipped_records) > records_skipped:
            corpus.seen_ids.add(doc_id)  # records that failed keep their stored versions
        for article in loaded:
            first = by_hash.setdefault(article.content_hash, article.path)
            if first != article.path:
                corpus.skipped.append((article.path, f"same text as {first}; not ingested twice"))
                continue
            corpus.seen_ids.add(article.doc_id)
            corpus.articles.append(article)
    return corpus
