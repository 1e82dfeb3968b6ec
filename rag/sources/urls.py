"""Read article pages and feeds from their URLs into `Article` records, incrementally.

A URL is a feed or a page according to what its server sends. A feed's items are
fetched as pages, each with the feed item's metadata as fallback. What was read before
(`SourceState`) decides what is asked for again: a feed or page is fetched with its
ETag / Last-Modified, and an item the feed still announces unchanged, whose article the
index holds, is not fetched at all. A body identical to the last one is not extracted
again. Every feed or page that cannot be used is skipped with a one-line reason; the
others are read.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.records import Article
from rag.sources.base import Source, register_source
from rag.sources.feeds import FeedItem, kind_of, parse_feed
from rag.sources.folder import SCHEME
from rag.sources.pages import decode_html, extract_article
from rag.sources.state import SourceState
from rag.sources.web import Fetched, Fetcher


@register_source("web")
class Web(Source):
    """http(s) URLs of article pages and RSS/Atom feeds (which one, the server's answer
    decides); ingest reads them with `read_urls`, knowing what the index holds."""

    local = False

    @classmethod
    def claims(cls, value) -> bool:
        return (isinstance(value, str) and bool(SCHEME.match(value))
                and bool(re.match(r"https?://[^\s/]", value, re.IGNORECASE)))


@dataclass
class WebRead:
    """Articles read from URLs, the ids of every article the URLs still hold, what was
    skipped and why, and the ids of articles whose items left a feed."""

    articles: list[Article] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    left_ids: set[str] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    feeds: int = 0
    pages: int = 0               # pages fetched and read
    not_modified: int = 0        # pages (and feeds) the server or the hash said were unchanged
    fetch_seconds: float = 0.0
    extract_seconds: float = 0.0
    kept: set[str] = field(default_factory=set, repr=False)

    def add(self, article: Article) -> None:
        """Keep the article, once (two links may lead to the same canonical page)."""
        if article.doc_id not in self.kept:
            self.kept.add(article.doc_id)
            self.articles.append(article)
        self.seen_ids.add(article.doc_id)


def _hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class _Reader:
    def __init__(self, state: SourceState, indexed: set[str], fetcher: Fetcher,
                 prune: bool) -> None:
        self.state, self.indexed, self.fetcher, self.prune = state, indexed, fetcher, prune
        self.read = WebRead()

    def _validators(self, entry: dict) -> dict:
        return {"etag": entry.get("etag"), "last_modified": entry.get("last_modified")}

    def source(self, url: str) -> None:
        """One URL given by the user: a feed or a page."""
        entry = self.state.get(url)
        usable = entry.get("kind") == "feed" or entry.get("doc_id") in self.indexed
        try:
            fetched = self.fetcher.get(url, **(self._validators(entry) if usable else {}))
        except NewsdeskError as err:
            self.read.skipped.append((url, str(err)))
            return
        if fetched.not_modified:
            self.read.not_modified += 1
            if entry.get("kind") == "feed":
                self.read.feeds += 1
                self._items(url, self.state.feed_items(url))
            else:
                self.read.seen_ids.add(entry["doc_id"])
            return
        kind = kind_of(fetched.content_type, fetched.body)
        if kind == "feed":
            self._feed(url, fetched, entry)
        elif kind == "page":
            self._page(url, fetched, entry, None)
        else:
            self.read.skipped.append((url, _not_html(fetched)))

    def _feed(self, url: str, fetched: Fetched, entry: dict) -> None:
        body_hash = _hash(fetched.body)
        if entry.get("kind") == "feed" and entry.get("body_hash") == body_hash:
            items = self.state.feed_items(url)
            self.read.not_modified += 1
        else:
            try:
                feed = parse_feed(fetched.body, fetched.url, fetched.content_type)
            except NewsdeskError as err:
                self.read.skipped.append((url, str(err)))
                return
            items = feed.items
            if not items:  # read as nothing left the feed: an empty feed prunes nothing
                self.read.skipped.append((url, "the feed lists no items with http(s) links"))
                return
        self.read.feeds += 1
        self.state.put_feed(url, items, etag=fetched.etag, last_modified=fetched.last_modified,
                            body_hash=body_hash)
        self._items(url, items)

    def _items(self, feed_url: str, items: list[FeedItem]) -> None:
        """Read the feed's items; note the articles that left it (kept in the state until
        a prune deletes them)."""
        current = self._item_articles(items)
        given = set(self.state.get(feed_url).get("docs", [])) | current
        self.read.left_ids |= given - current
        self.state.put(feed_url, docs=sorted(current if self.prune else given))

    def _item_articles(self, items: list[FeedItem]) -> set[str]:
        """Read the items; the ids of the articles they hold."""
        held: set[str] = set()
        for item in items:
            entry = self.state.get(item.link)
            doc_id = entry.get("doc_id")
            if doc_id in self.indexed and entry.get("fingerprint") == item.fingerprint:
                held.add(doc_id)  # announced unchanged, already indexed: not fetched
                self.read.seen_ids.add(doc_id)
                continue
            try:
                fetched = self.fetcher.get(
                    item.link, **(self._validators(entry) if doc_id in self.indexed else {}))
            except NewsdeskError as err:
                self.read.skipped.append((item.link, str(err)))
                if doc_id:
                    held.add(doc_id)
                continue
            if fetched.not_modified and doc_id:
                self.read.not_modified += 1
                self.read.seen_ids.add(doc_id)
                self.state.put(item.link, fingerprint=item.fingerprint)
                held.add(doc_id)
            elif kind_of(fetched.content_type, fetched.body) != "page":
                self.read.skipped.append((item.link, _not_html(fetched)))
            else:
                held |= self._page(item.link, fetched, entry, item)
        return held

    def _page(self, url: str, fetched: Fetched, entry: dict, item: FeedItem | None) -> set[str]:
        """Read one fetched page; the id of its article (empty when skipped)."""
        body_hash = _hash(fetched.body)
        fingerprint = item.fingerprint if item else None
        validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
        if entry.get("body_hash") == body_hash and entry.get("doc_id") in self.indexed \
                and entry.get("fingerprint") == fingerprint:
            self.read.not_modified += 1
            self.read.seen_ids.add(entry["doc_id"])
            self.state.put(url, **validators)
            return {entry["doc_id"]}
        started = time.perf_counter()
        try:
            article = extract_article(decode_html(fetched.body, fetched.charset), fetched.url, item)
        except NewsdeskError as err:
            self.read.skipped.append((url, str(err)))
            return set()
        except Exception as err:  # a parser failure on a hostile page must not stop the rest
            self.read.skipped.append((url, f"page could not be parsed ({type(err).__name__})"))
            return set()
        finally:
            self.read.extract_seconds += time.perf_counter() - started
        self.read.pages += 1
        self.read.add(article)
        self.state.put(url, kind="page", doc_id=article.doc_id, body_hash=body_hash,
                       fingerprint=fingerprint, **validators)
        return {article.doc_id}


def _not_html(fetched: Fetched) -> str:
    shown = fetched.content_type or "no content type"
    return f"not HTML or an RSS/Atom feed ({shown})"


def read_urls(urls: list[str], settings: Settings, state: SourceState, indexed: set[str],
              prune: bool = False) -> WebRead:
    """Articles from the URLs (pages, or feeds whose items are pages). `indexed` holds the
    ids of the articles the index has, so unchanged ones need not be fetched again.
    `left_ids` names the articles that left the feeds read; with prune, the state then
    forgets them (the caller deletes them)."""
    with Fetcher(settings) as fetcher:
        reader = _Reader(state, indexed, fetcher, prune)
        for url in dict.fromkeys(urls):
            reader.source(url)
        reader.read.fetch_seconds = fetcher.seconds
    read = reader.read
    read.left_ids -= read.seen_ids  # still announced by another feed read now
    return read
