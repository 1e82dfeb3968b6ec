"""A news site on 127.0.0.1 for the source tests: RSS 2.0 and Atom feeds, article pages
written like real ones (navigation, cookie banner, adverts, JSON-LD, "most read",
comments, scripts) and URLs that misbehave (slow, redirect loops, huge, not HTML).

The server is a real `http.server` in a thread. It answers conditional GETs (ETag,
Last-Modified) unless told not to, and records every request, so tests can count what
was fetched.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BOILERPLATE = [  # text on every page that must never reach the index
    "We use cookies to improve your experience",
    "Accept all cookies",
    "Solar Kettle",                  # banner advert
    "Holidays in Lapland",           # advert inside the article
    "Celebrity chef opens floating restaurant",  # most read
    "Ten tips for a cheaper winter",
    "waste of taxpayer money",       # a reader's comment
    "tracking pixel",                # script
    "All rights reserved",           # footer
    "Subscribe to our newsletter",
    "Business",                      # navigation
]


@dataclass
class Story:
    """An article: what its page shows and what its metadata says."""

    slug: str
    title: str
    paragraphs: list[str]
    date: str = "2026-03-14"          # published
    modified: str = "2026-03-16"      # modified (must not be taken as the date)
    author: str = "Maria Lindqvist"
    site: str = "The Coastal Courier"
    metadata: str = "all"             # all | jsonld (JSON-LD only) | none


STORIES = [
    Story("harbour-bridge", "Harbour bridge reopens after two years of repairs", [
        "The Harbour Bridge reopened to traffic on Saturday morning after a two-year repair "
        "programme that cost the city 48 million euros, the transport department said.",
        "Engineers replaced all 212 steel cables and resurfaced the deck, which had been "
        "closed since corrosion was found in the southern anchorage in early 2024.",
        "\"We expect around 40,000 vehicles a day to cross again by the summer,\" said "
        "transport commissioner Elias Berg, adding that cyclists would get a separate "
        "protected lane for the first time.",
        "Local businesses on the northern bank, which reported falling trade during the "
        "closure, welcomed the reopening. Ferry services that had carried commuters during "
        "the works will be cut back from April."]),
    Story("library-archive", "City library opens its newspaper archive to the public", [
        "The central library has put 150 years of local newspapers online, letting readers "
        "search more than two million scanned pages from home for the first time.",
        "The digitisation took four years and was paid for by a foundation grant of 3.2 "
        "million euros, head librarian Sofia Marsh said at the launch on Tuesday.",
        "Volunteers checked the automatic text recognition on the oldest issues, which were "
        "printed in a gothic typeface that the software often misread.",
        "The archive is free to use; researchers can also request the original bound "
        "volumes in the reading room with two days' notice."],
        date="2026-03-10", modified="2026-03-11", author="Jonas Ek", metadata="jsonld"),
    Story("tram-line", "Council approves new tram line to the airport", [
        "The city council voted 41 to 12 on Thursday to build a tram line linking the "
        "central station with the airport, a project estimated at 610 million euros.",
        "Construction is due to start next spring and the 14-kilometre line should carry "
        "its first passengers in 2030, the mayor's office said after the vote.",
        "Opponents argued that the money would be better spent on buses in the outer "
        "districts, while business groups said the link was overdue.",
        "The line will have eleven stops, including one at the university hospital, and "
        "trams will run every six minutes at peak times."],
        date="2026-03-12", modified="2026-03-12", author="Lena Holm"),
    Story("fish-market", "Old fish market to become a food hall", [
        "The disused fish market on the eastern quay will reopen as a food hall with "
        "thirty stalls next year, the harbour authority announced on Monday.",
        "The listed building, built in 1896, has stood empty since the wholesale trade "
        "moved to the new port, and its roof was repaired last winter.",
        "Stall rents will be capped for the first three years to give small local "
        "producers a chance, the authority's director Karin Voss said.",
        "Fishermen's associations asked that at least five stalls be kept for selling "
        "fresh catch directly from the boats, a request the authority said it would study."],
        date="2026-03-15", modified="2026-03-15", author="Per Nilsson", metadata="none"),
]


def news_page(story: Story, url: str) -> str:
    """A page as news sites write them: the article amid boilerplate."""
    e = html.escape
    head = [f"<title>{e(story.title)} | {e(story.site)}</title>"]
    if story.metadata == "all":
        head += [f'<meta property="og:title" content="{e(story.title)}">',
                 f'<meta property="og:site_name" content="{e(story.site)}">',
                 '<meta property="og:type" content="article">',
                 f'<meta property="og:url" content="{e(url)}">',
                 f'<link rel="canonical" href="{e(url)}">',
                 f'<meta name="author" content="{e(story.author)}">',
                 f'<meta property="article:published_time" content="{story.date}T08:30:00Z">',
                 f'<meta property="article:modified_time" content="{story.modified}T10:00:00Z">']
    if story.metadata in ("all", "jsonld"):
        ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": story.title,
              "datePublished": f"{story.date}T08:30:00Z", "dateModified": f"{story.modified}T10:00:00Z",
              "author": [{"@type": "Person", "name": story.author}],
              "publisher": {"@type": "Organization", "name": story.site},
              "mainEntityOfPage": url}
        head.append(f'<script type="application/ld+json">{json.dumps(ld)}</script>')
    paragraphs = [f"<p>{e(p)}</p>" for p in story.paragraphs]
    paragraphs.insert(2, '<div class="advert">Sponsored: Holidays in Lapland from 299 euros</div>')
    byline = f'<p class="byline">By {e(story.author)}</p>' if story.metadata != "none" else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
{chr(10).join(head)}
<script>window.dataLayer=[];function track(){{console.log("tracking pixel fired")}}</script>
<style>.ad{{display:block}}</style>
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
Accept all cookies or manage your preferences.<button>Accept</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/business">Business</a></li></ul></nav></header>
<div class="ad-slot advert">ADVERTISEMENT: Buy the new Solar Kettle today, fifty percent off!</div>
<main><article>
<h1>{e(story.title)}</h1>
{byline}
{''.join(paragraphs)}
</article>
<aside class="most-read"><h2>Most read</h2><ol>
<li><a href="/a">Celebrity chef opens floating restaurant</a></li>
<li><a href="/b">Ten tips for a cheaper winter</a></li></ol></aside>
<section id="comments" class="comments"><h2>Comments</h2>
<div class="comment"><p>Finally! I have been waiting for this bridge for ages.</p></div>
<div class="comment"><p>What a waste of taxpayer money, they should have built a tunnel.</p></div>
</section></main>
<footer><p>&copy; 2026 {e(story.site)}. All rights reserved. Privacy policy | Terms of use</p>
<p>Subscribe to our newsletter for daily updates</p></footer>
</body></html>"""


def _rfc822(day: str) -> str:
    return format_datetime(datetime.fromisoformat(day).replace(hour=8, tzinfo=timezone.utc),
                           usegmt=True)


def rss(title: str, items: list[tuple[str, Story]]) -> str:
    """An RSS 2.0 feed of (link, story) items."""
    e = html.escape
    entries = "".join(
        f"<item><title>{e(s.title)}</title><link>{e(link)}</link><guid>{e(link)}</guid>"
        f"<pubDate>{_rfc822(s.date)}</pubDate><dc:creator>{e(s.author)}</dc:creator>"
        f"<description>{e(s.paragraphs[0][:120])}</description></item>" for link, s in items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{e(title)}</title><link>http://example.invalid/</link>"
            f"<description>Local news</description>{entries}</channel></rss>")


def atom(title: str, items: list[tuple[str, Story]]) -> str:
    """An Atom feed of (link, story) items."""
    e = html.escape
    entries = "".join(
        f'<entry><title>{e(s.title)}</title><link rel="alternate" href="{e(link)}"/>'
        f"<id>{e(link)}</id><published>{s.date}T08:30:00Z</published>"
        f"<updated>{s.date}T08:30:00Z</updated><author><name>{e(s.author)}</name></author>"
        f"<summary>{e(s.paragraphs[0][:120])}</summary></entry>" for link, s in items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{e(title)}</title><id>urn:test:feed</id><updated>2026-03-16T00:00:00Z</updated>"
            f"{entries}</feed>")


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None       # redirect target
    delay: float = 0.0                # seconds before answering
    validators: bool = True           # send ETag / Last-Modified and answer 304
    declare_length: bool = True       # send Content-Length (else the body ends at close)
    headers: dict[str, str] = field(default_factory=dict)  # more headers (Content-Encoding ...)
    drip_headers: float = 0.0         # seconds between header bytes (a server that trickles them)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int
    at: float


@dataclass
class NewsSite:
    """Routes served on 127.0.0.1; `url(path)` gives their addresses."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def start(self) -> "NewsSite":
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = site.routes.get(self.path.split("#")[0])
                status = self._answer(route)
                site.requests.append(Request(self.path, dict(self.headers), status, time.monotonic()))

            def _answer(self, route: Route | None) -> int:
                if route is None:
                    self._send(404, b"<html><body>Not found</body></html>", "text/html")
                    return 404
                if route.delay:
                    time.sleep(route.delay)
                if route.location:
                    self.send_response(route.status or 302)
                    self.send_header("Location", route.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return route.status or 302
                etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                modified = "Sat, 14 Mar 2026 08:30:00 GMT"
                if route.validators and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return 304
                extra = {"ETag": etag, "Last-Modified": modified} if route.validators else {}
                extra.update(route.headers)
                if route.drip_headers:
                    return self._drip(route)
                self._send(route.status, route.body, route.content_type, extra,
                           route.declare_length)
                return route.status

            def _drip(self, route: Route) -> int:
                """Headers one byte at a time, `drip_headers` seconds apart, for ever."""
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    self.wfile.flush()
                    for _ in range(100_000):
                        self.wfile.write(b"X")
                        self.wfile.flush()
                        time.sleep(route.drip_headers)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                return 200

            def _send(self, status: int, body: bytes, content_type: str, extra=None,
                      declare_length: bool = True) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if declare_length:
                    self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
              **options) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(data, content_type, **options)
        return self.url(path)

    def publish(self, story: Story) -> str:
        """Serve the story's page; its URL."""
        path = f"/news/2026/{story.slug}"
        return self.serve(path, news_page(story, self.url(path)))

    def hits(self, path: str) -> int:
        """Requests for path answered with a body (not 304)."""
        return sum(1 for r in self.requests if r.path == path and r.status != 304)


@pytest.fixture
def site():
    """A running NewsSite, stopped after the test (a plugin fixture: tests/conftest.py)."""
    site = NewsSite().start()
    yield site
    site.stop()


def web_settings_for(tmp_path, timeout: float = 2.0):
    """Settings that may fetch from 127.0.0.1 without delay, with a short timeout."""
    from tests.support.settings import make_settings

    return make_settings(tmp_path, fetch_allow_private=True, fetch_delay_seconds=0,
                         fetch_timeout_seconds=timeout)


@pytest.fixture
def web_settings(tmp_path):
    return web_settings_for(tmp_path)
