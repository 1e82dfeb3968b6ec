"""Load news articles from files: text plus metadata (title, date, source, url, byline).

Supported: `.txt` (optional `key: value` header lines and a wire-style dateline),
`.md` (optional YAML front matter), `.html`/`.htm` (the article, not the navigation),
`.json` (one record or a list) and `.jsonl` (a record per line). A file that cannot be
read raises `ArticleError` with a message that names it and says why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rag.errors import NewsdeskError
from rag.records import Article
from rag.text import normalise_text

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
MAX_FILE_BYTES = 20_000_000
MIN_TEXT_CHARS = 20
BODY_FIELDS = ("body", "text", "content", "article")
META_FIELDS = ("title", "date", "source", "url", "byline", "author")
_HEADER_LINE = re.compile(
    r"^\s*(title|date|source|url|byline|author)\s*[:=]?\s+(\S.*?)\s*$", re.IGNORECASE)
_DATELINE_SOURCE = re.compile(r"^[A-Z][A-Za-z .'-]+,\s+[A-Z][a-z]{2,9}\.?\s+\d{1,2}\s+\(([^)]{2,40})\)")
_BYLINE = re.compile(r"^(?:By|Reporting by)\s+(.{3,200}?)\s*$", re.MULTILINE)


class ArticleError(NewsdeskError):
    """A file that cannot be ingested; the message names the file and the reason."""


def parse_date(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from common date spellings, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    from dateutil import parser as date_parser

    try:
        return date_parser.parse(str(value), fuzzy=False).date().isoformat()
    except (ValueError, OverflowError, TypeError):
        return None


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


def _article(doc_id: str, path: Path, text: str, **meta: object) -> Article:
    body = normalise_text(text)
    if len(body.replace(" ", "").replace("\n", "")) < MIN_TEXT_CHARS:
        raise ArticleError(f"{path}: no article text (empty or under {MIN_TEXT_CHARS} characters)")
    title = _clean(meta.get("title")) or _clean(body.split("\n", 1)[0][:200]) or doc_id
    return Article(doc_id=doc_id, text=body, title=title, date=parse_date(meta.get("date")),
                   source=_clean(meta.get("source")), url=_web_url(meta.get("url")),
                   byline=_clean(meta.get("byline") or meta.get("author")), path=str(path))


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


def _load_markdown(path: Path, doc_id: str) -> list[Article]:
    import frontmatter
    import yaml

    try:
        post = frontmatter.loads(_read_text(path))
    except (yaml.YAMLError, ValueError) as err:
        raise ArticleError(f"{path}: front matter is not valid YAML ({err})") from None
    meta = {k: v for k, v in post.metadata.items() if k in META_FIELDS}  # "path:" etc. ignored
    heading = re.match(r"\s*#\s+(.+)", post.content)
    if heading and "title" not in meta:
        meta["title"] = heading.group(1)
    return [_article(doc_id, path, post.content, **meta)]


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
        published = time_tag.get("datetime") or time_tag.get_text()
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


def _record_article(record: object, path: Path, doc_id: str) -> Article:
    if not isinstance(record, dict):
        raise ArticleError(f"{path} ({doc_id}): a record must be a JSON object")
    body = next((record[f] for f in BODY_FIELDS if isinstance(record.get(f), str)), None)
    if body is None:
        raise ArticleError(f"{path} ({doc_id}): no text field (one of {', '.join(BODY_FIELDS)})")
    return _article(doc_id, path, body, **{k: record.get(k) for k in
                                           ("title", "date", "source", "url", "byline", "author")})


def _record_id(record: object, fallback: str, base: str) -> str:
    raw = record.get("id") if isinstance(record, dict) else None
    return f"{base}#{raw}" if isinstance(raw, (str, int)) and str(raw).strip() else fallback


def _load_json(path: Path, doc_id: str) -> list[Article]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise ArticleError(f"{path}: malformed JSON at line {err.lineno} ({err.msg})") from None
    except ValueError as err:  # valid syntax Python refuses, e.g. an integer over 4300 digits
        raise ArticleError(f"{path}: JSON that cannot be read ({str(err)[:120]})") from None
    if isinstance(data, dict):
        return [_record_article(data, path, doc_id)]
    if isinstance(data, list):
        return _records(path, [(i, r) for i, r in enumerate(data)], doc_id)
    raise ArticleError(f"{path}: expected a JSON object or a list of objects")


def _load_jsonl(path: Path, doc_id: str) -> list[Article]:
    records = []
    # split on \n only: U+2028, U+0085 and friends may sit raw inside a JSON string
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            raise ArticleError(f"{path}: malformed JSON on line {number} ({err.msg})") from None
        except ValueError as err:  # e.g. an integer over Python's 4300-digit limit
            raise ArticleError(f"{path}: JSON on line {number} cannot be read "
                               f"({str(err)[:120]})") from None
    return _records(path, records, doc_id)


def _records(path: Path, records: list[tuple[int, object]], doc_id: str) -> list[Article]:
    """Articles from numbered records; one bad record fails the file with its number."""
    if not records:
        raise ArticleError(f"{path}: no records")
    articles, seen = [], set()
    for number, record in records:
        record_id = _record_id(record, f"{doc_id}#{number}", doc_id)
        if record_id in seen:
            record_id = f"{doc_id}#{number}"
        seen.add(record_id)
        articles.append(_record_article(record, path, record_id))
    return articles


_LOADERS = {".txt": _load_txt, ".md": _load_markdown, ".markdown": _load_markdown,
            ".html": _load_html, ".htm": _load_html, ".json": _load_json, ".jsonl": _load_jsonl}


def load_file(path: Path, doc_id: str | None = None) -> list[Article]:
    """Articles in one file; raises ArticleError naming the file when it cannot be used."""
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ArticleError(f"{path}: unsupported file type {path.suffix or '(none)'}; "
                           f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        return loader(path, doc_id or path.stem)
    except OSError as err:
        raise ArticleError(f"{path}: cannot be read ({err.strerror or err})") from None
    except RecursionError:
        raise ArticleError(f"{path}: nested too deeply to parse") from None


def find_files(folder: Path) -> list[Path]:
    """Article files under folder, sorted; hidden files and folders are ignored."""
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder {folder} does not exist")
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _doc_id(path: Path, folder: Path, taken: set[str]) -> str:
    relative = path.relative_to(folder)
    doc_id = relative.with_suffix("").as_posix()
    return relative.as_posix() if doc_id in taken else doc_id


@dataclass
class Corpus:
    """A folder's good articles, the ids of every file seen, and each file skipped and why."""

    articles: list[Article] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_corpus(folder: Path) -> Corpus:
    """Good articles of the folder (duplicates dropped) and the ids of every file seen."""
    corpus = Corpus()
    by_hash: dict[str, str] = {}
    for path in find_files(folder):
        corpus.files += 1
        doc_id = _doc_id(path, folder, corpus.seen_ids)
        corpus.seen_ids.add(doc_id)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            corpus.skipped.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
            continue
        try:
            loaded = load_file(path, doc_id)
        except ArticleError as err:
            corpus.skipped.append((str(path), str(err).removeprefix(f"{path}: ")))
            continue
        for article in loaded:
            corpus.seen_ids.add(article.doc_id)
            first = by_hash.setdefault(article.content_hash, article.path)
            if first != article.path:
                corpus.skipped.append((article.path, f"same text as {first}; not ingested twice"))
                continue
            corpus.articles.append(article)
    return corpus
