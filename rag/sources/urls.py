"""Read article pages and feeds from their URLs into `Article` records, incrementally.

A URL is a feed or a page according to what its server sends. A feed's items are
fetched as pages, each with the feed item's metadata as fallback. What was read before
(`SourceState`) decides what is asked for again: a feed or page is fetched with its
ETag / Last-Modified, and an item the feed still announces unchanged, whose article the
index holds, is not fetched at all. A body identical to the last one is not extracted
again. Every feed or page that cannot be used is skipped with a one-line reason; the
others are read. A feed item whose page fails (an error page, not HTML, no article text,
a failed fetch) keeps the article it gave before, as a file that fails to load does.

Pages that declare the same canonical URL are one article when their texts are the same
(noted as merged); when the texts differ (a CMS that names its home page as every page's
canonical), the later page keeps its own address. A feed reads at most `feed_max_items`
items, shows progress, and hands the articles over in batches (`on_batch`) so a long
read that is killed keeps what was done.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from typing import Callable
from urllib.parse import urlsplit

from tqdm import tqdm

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.records import Article
from rag.sources.base import Source, register_source
from rag.sources.feeds import FeedItem, kind_of, parse_feed
from rag.sources.folder import SCHEME
from rag.sources.pages import decode_html, extract_article, normalise_url
from rag.sources.state import SourceState
from rag.sources.web import Fetched, Fetcher, without_credentials

BATCH_ARTICLES = 50   # articles read from the web handed to on_batch at a time


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
    notes: list[tuple[str, str]] = field(default_factory=list)  # pages merged or re-addressed
    written: int = 0             # articles[:written] were handed to on_batch already
    kept: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)  # id -> url, text hash

    def add(self, article: Article, url: str) -> None:
        """Keep the article, once (two links may lead to the same canonical page)."""
        if article.doc_id not in self.kept:
            self.kept[article.doc_id] = (url, _hash(article.text.encode("utf-8")))
            self.articles.append(article)
        self.seen_ids.add(article.doc_id)


def _hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class _Reader:
    def __init__(self, state: SourceState, indexed: set[str], fetcher: Fetcher, prune: bool,
                 max_items: int, progress: bool,
                 on_batch: Callable[[list[Article]], None] | None) -> None:
        self.state, self.indexed, self.fetcher, self.prune = state, indexed, fetcher, prune
        self.max_items, self.progress, self.on_batch = max_items, progress, on_batch
        self.read = WebRead()
        self._owners: dict[str, list[tuple[str, str | None]]] | None = None  # doc id -> pages

    def flush(self) -> None:
        """Hand the articles not yet handed over to on_batch, once there are enough."""
        read = self.read
        if self.on_batch and len(read.articles) - read.written >= max(BATCH_ARTICLES, 1):
            self.on_batch(read.articles[read.written:])
            read.written = len(read.articles)

    def _skip(self, url: str, reason: str) -> None:
        self.read.skipped.append((without_credentials(url), reason))

    def _validators(self, entry: dict) -> dict:
        return {"etag": entry.get("etag"), "last_modified": entry.get("last_modified")}

    def source(self, url: str) -> None:
        """One URL given by the user: a feed or a page."""
        entry = self.state.get(url)
        usable = entry.get("kind") == "feed" or entry.get("doc_id") in self.indexed
        try:
            fetched = self.fetcher.get(url, **(self._validators(entry) if usable else {}))
        except NewsdeskError as err:
            self._skip(url, str(err))
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
            self._skip(url, _not_html(fetched))

    def _feed(self, url: str, fetched: Fetched, entry: dict) -> None:
        body_hash = _hash(fetched.body)
        if entry.get("kind") == "feed" and entry.get("body_hash") == body_hash:
            items = self.state.feed_items(url)
            self.read.not_modified += 1
        else:
            try:
                feed = parse_feed(fetched.body, fetched.url, fetched.content_type)
            except NewsdeskError as err:
                self._skip(url, str(err))
                return
            self.read.skipped += feed.skipped
            items = feed.items
            if not items:  # read as nothing left the feed: an empty feed prunes nothing
                self._skip(url, "the feed lists no items with http(s) links")
                return
        if len(items) > self.max_items:
            self._skip(url, f"the feed lists {len(items):,} items; its first {self.max_items:,} "
                            "are read (setting feed_max_items)")
            items = items[:self.max_items]
        self.read.feeds += 1
        self.state.put_feed(url, items, etag=fetched.etag, last_modified=fetched.last_modified,
                            body_hash=body_hash)
        self._items(url, items)

    def _items(self, feed_url: str, items: list[FeedItem]) -> None:
        """Read the feed's items; note the articles that left it (kept in the state until
        a prune deletes them)."""
        current = self._item_articles(items)
        entry = self.state.get(feed_url)
        given = set(entry.get("docs", [])) | current
        if "docs" not in entry:  # first read of this feed (or the state was rebuilt)
            hosts = {(urlsplit(u).hostname or "").lower() for u in [feed_url, *(i.link for i in items)]}
            given |= self.state.claim(hosts)
        self.read.left_ids |= given - current
        self.state.put(feed_url, docs=sorted(current if self.prune else given))

    def _item_articles(self, items: list[FeedItem]) -> set[str]:
        """Read the items; the ids of the articles they hold."""
        held: set[str] = set()
        host = urlsplit(items[0].link).hostname if items else None
        for item in tqdm(items, desc=f"reading {host or 'feed'}", unit="item", leave=False,
                         disable=not self.progress or len(items) < 2):
            held |= self._item(item)
            self.flush()
        return held

    def _item(self, item: FeedItem) -> set[str]:
        """Read one item; the id of the article it holds (its earlier one when its page
        fails now: an error page, not HTML, no article, a failed fetch), empty when none."""
        entry = self.state.get(item.link)
        doc_id = entry.get("doc_id")
        earlier = {doc_id} & self.indexed if doc_id else set()
        if doc_id in self.indexed and entry.get("fingerprint") == item.fingerprint:
            return self._keep(earlier)  # announced unchanged, already indexed: not fetched
        try:
            fetched = self.fetcher.get(
                item.link, **(self._validators(entry) if doc_id in self.indexed else {}))
        except NewsdeskError as err:
            self._skip(item.link, str(err))
            return self._keep(earlier)
        if fetched.not_modified and doc_id:
            self.read.not_modified += 1
            self.state.put(item.link, fingerprint=item.fingerprint)
            return self._keep(earlier)
        if kind_of(fetched.content_type, fetched.body) != "page":
            self._skip(item.link, _not_html(fetched))
            return self._keep(earlier)
        return self._page(item.link, fetched, entry, item) or self._keep(earlier)

    def _keep(self, doc_ids: set[str]) -> set[str]:
        """The stored articles an item still listed holds without being read now."""
        self.read.seen_ids |= doc_ids
        return doc_ids

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
            self._skip(url, str(err))
            return set()
        except Exception as err:  # a parser failure on a hostile page must not stop the rest
            self._skip(url, f"page could not be parsed ({type(err).__name__})")
            return set()
        finally:
            self.read.extract_seconds += time.perf_counter() - started
        article = self._address(url, fetched.url, article)
        self.read.pages += 1
        self.read.add(article, url)
        self.state.put(url, kind="page", doc_id=article.doc_id, body_hash=body_hash,
                       fingerprint=fingerprint, text_hash=_hash(article.text.encode("utf-8")),
                       **validators)
        return {article.doc_id}

    def _owner(self, doc_id: str, url: str) -> tuple[str, str | None] | None:
        """The page (other than url) whose article the state says doc_id is, if any (an
        entry a rebuilt state made, without a text hash, names no owner)."""
        if self._owners is None:
            self._owners = {}
            for page, entry in self.state.entries.items():
                if entry.get("kind") == "page" and entry.get("doc_id") and entry.get("text_hash"):
                    self._owners.setdefault(entry["doc_id"], []).append((page, entry.get("text_hash")))
        return next((owner for owner in self._owners.get(doc_id, []) if owner[0] != url), None)

    def _address(self, url: str, fetched_url: str, article: Article) -> Article:
        """The article under its canonical URL, unless another page with a different text
        holds that URL (read now, or before and still indexed): then under its own."""
        own = normalise_url(fetched_url)
        if article.doc_id == own:
            return article
        text_hash = _hash(article.text.encode("utf-8"))
        claimant: tuple[str, str | None] | None = self.read.kept.get(article.doc_id)
        if claimant is None and article.doc_id in self.indexed:
            claimant = self._owner(article.doc_id, url)
        if claimant is None or claimant[0] == url:
            return article
        if claimant[1] == text_hash:
            self.read.notes.append((without_credentials(url), f"the same article as {claimant[0]}; "
                                    f"merged into {article.doc_id}"))
            return article
        self.read.notes.append((without_credentials(url), f"declares the canonical URL "
                                f"{article.doc_id} of another page with a different text; "
                                "kept under its own address"))
        return replace(article, doc_id=own, url=own, path=own)


def _not_html(fetched: Fetched) -> str:
    shown = fetched.content_type or "no content type"
    return f"not HTML or an RSS/Atom feed ({shown})"


def read_urls(urls: list[str], settings: Settings, state: SourceState, indexed: set[str],
              prune: bool = False, progress: bool = False,
              on_batch: Callable[[list[Article]], None] | None = None) -> WebRead:
    """Articles from the URLs (pages, or feeds whose items are pages). `indexed` holds the
    ids of the articles the index has, so unchanged ones need not be fetched again.
    `left_ids` names the articles that left the feeds read; with prune, the state then
    forgets them (the caller deletes them). `on_batch`, when given, receives the articles
    read so far every BATCH_ARTICLES (the caller stores them and saves the state);
    `articles[written:]` are those it has not received."""
    with Fetcher(settings) as fetcher:
        reader = _Reader(state, indexed, fetcher, prune, settings.feed_max_items, progress,
                         on_batch)
        for url in dict.fromkeys(urls):
            reader.source(url)
        reader.read.fetch_seconds = fetcher.seconds
    read = reader.read
    read.left_ids -= read.seen_ids  # still announced by another feed read now
    return read
