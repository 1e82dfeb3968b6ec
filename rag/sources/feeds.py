"""RSS and Atom feeds, read with feedparser: the feed's title and its items' links and
metadata (title, date, author, outlet), which back up what the article pages say.

Whether a response is a feed is decided by what the server sent (its content type, then
the first bytes), never by the URL's spelling. Malformed XML is refused whole, with the
line and column, rather than half-read.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date

from rag.errors import NewsdeskError

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
              "application/xml", "text/xml", "application/x-rss+xml")
HTML_TYPES = ("text/html", "application/xhtml+xml")
_FEED_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b",
                         re.DOTALL)
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
                         re.DOTALL | re.IGNORECASE)


class FeedError(NewsdeskError):
    """A response that is not a usable feed; the message is the one-line reason."""


@dataclass(frozen=True)
class FeedItem:
    """What a feed says about one article; the page's own metadata comes first."""

    link: str
    title: str | None = None
    date: str | None = None
    author: str | None = None
    source: str | None = None

    @property
    def fingerprint(self) -> str:
        """Changes when the feed announces a change to the item."""
        return hashlib.sha256(json.dumps(asdict(self)).encode()).hexdigest()[:16]


@dataclass
class Feed:
    url: str
    title: str | None
    items: list[FeedItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # items not read, and why


def kind_of(content_type: str, body: bytes) -> str:
    """'feed', 'page' or 'other', from the content type and, when that is vague, the body."""
    head = body[:2048]
    if content_type in HTML_TYPES:
        return "page"
    if content_type in FEED_TYPES and not _HTML_START.match(head):
        return "feed"
    if content_type in ("", "text/plain", "application/octet-stream", *FEED_TYPES):
        if _FEED_START.match(head):
            return "feed"
        if _HTML_START.match(head):
            return "page"
    return "other"


def _item_date(entry) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday).isoformat()
            except ValueError:
                continue
    return None


def _text(value: object) -> str | None:
    text = " ".join(str(value).split()) if value else ""
    return text[:300] or None


def parse_feed(body: bytes, url: str, content_type: str = "") -> Feed:
    """The feed's title and items (links made absolute, http(s) only, in feed order)."""
    import xml.sax

    import feedparser

    parsed = feedparser.parse(body, response_headers={
        "content-location": url, "content-type": content_type or "application/xml"})
    problem = parsed.get("bozo_exception")
    if isinstance(problem, xml.sax.SAXParseException):
        raise FeedError(f"malformed XML at line {problem.getLineNumber()}, column "
                        f"{problem.getColumnNumber()} ({problem.getMessage()}); feed not read")
    if not parsed.get("version"):
        raise FeedError("not an RSS or Atom feed")
    from rag.sources.web import has_credentials, without_credentials

    title = _text(parsed.feed.get("title"))
    items, seen, skipped = [], set(), []
    for number, entry in enumerate(parsed.entries, 1):
        link = (entry.get("link") or "").strip()
        heading = _text(entry.get("title"))
        label = f"{url} item {number}" + (f" ({heading[:60]})" if heading else "")
        if not link:
            skipped.append((label, "the item has no link"))
            continue
        if not re.match(r"https?://", link, re.IGNORECASE):
            scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]{0,20}):", link)
            shown = f"a {scheme.group(1).lower()}: link" if scheme else "a relative link"
            skipped.append((label, f"{shown}; only http(s) links are read"))
            continue
        if has_credentials(link):
            skipped.append((f"{url} item {number} ({without_credentials(link)})",
                            "the link holds a user name or password; not read"))
            continue
        if link in seen:
            continue
        seen.add(link)
        source = entry.get("source", {}).get("title") if isinstance(entry.get("source"), dict) else None
        items.append(FeedItem(link=link, title=_text(entry.get("title")), date=_item_date(entry),
                              author=_text(entry.get("author")), source=_text(source) or title))
    return Feed(url, title, items, skipped)
