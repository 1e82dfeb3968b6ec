"""Reliability III (issue 22), fetching and the sources state: compressed bombs (item 1),
error pages that must not prune (2), pages sharing a canonical URL (3), dripped headers
(4), a damaged sources state (6), an as-of date out of range (7), huge feeds (10),
credentials in URLs (11), an empty collection pinned to a failing model (12) and feed
links that are not http(s) (13).

A real news site on 127.0.0.1, the real embedding model and Chroma; only the OpenAI
embeddings API is played by a server of ours.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time
import tracemalloc
from dataclasses import replace

import brotli
import pytest

import rag.sources.urls as urls
from rag.config import Settings
from rag.index.chunks import open_index
from rag.index.embeddings import embedding_name, get_embeddings
from rag.ingest import ingest
from rag.search.time import interpret_time
from rag.sources.state import SourceState, state_path
from rag.sources.web import Fetcher, FetchError
from tests.conftest import make_settings
from tests.support.news_site import STORIES, NewsSite, Route, Story, news_page, rss
from tests.support.reliability import VENV_BIN, isolated_env

BRIDGE, LIBRARY, TRAM, FISH = STORIES
PASSWORD = "hunter2-s3cret"


def publish_feed(site: NewsSite, stories, path="/rss.xml") -> str:
    links = [site.publish(s) for s in stories]
    return site.serve(path, rss("Coastal Courier", list(zip(links, stories))), "application/rss+xml")


def stored_docs(settings: Settings) -> set[str]:
    embeddings = get_embeddings(settings)
    index = open_index(settings, embedding_name(embeddings), getattr(embeddings, "dimension", None))
    try:
        return {doc_id for doc_id, _ in index.states().values()}
    finally:
        index.close()


def stored_rows(settings: Settings) -> set[tuple[str, str, str]]:
    embeddings = get_embeddings(settings)
    index = open_index(settings, embedding_name(embeddings), getattr(embeddings, "dimension", None))
    try:
        return {(cid, doc, h) for cid, (doc, h) in index.states().items()}
    finally:
        index.close()


# -- item 1: compressed bombs -------------------------------------------------------------
def _peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        call()
    except FetchError:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_bomb_is_refused_with_memory_bounded_by_the_size_cap(site, web_settings, encoding):
    zeros = b"\0" * 60_000_000
    body = gzip.compress(zeros, 9) if encoding == "gzip" else __import__("zlib").compress(zeros, 9)
    site.routes["/bomb"] = Route(body, headers={"Content-Encoding": encoding})
    settings = web_settings.model_copy(update={"fetch_max_bytes": 1_000_000})
    with Fetcher(settings) as fetcher:
        with pytest.raises(FetchError, match="too large"):
            fetcher.get(site.url("/bomb"))
        peak = _peak_bytes(lambda: fetcher.get(site.url("/bomb")))
    assert peak < 4 * settings.fetch_max_bytes, f"peak {peak:,} bytes for a 1 MB cap"


@pytest.mark.parametrize("encoding,reason", [("br", "not accepted"), ("zstd", "not accepted"),
                                             ("gzip, gzip", "encoded more than once"),
                                             ("gzip, deflate", "encoded more than once")])
def test_brotli_zstd_and_stacked_encodings_are_refused_before_decoding(site, web_settings,
                                                                       encoding, reason):
    page = news_page(BRIDGE, site.url("/p")).encode()
    body = brotli.compress(b"\0" * 50_000_000, quality=5) if encoding == "br" else \
        gzip.compress(gzip.compress(page)) if "," in encoding else page
    site.routes["/p"] = Route(body, headers={"Content-Encoding": encoding})
    with Fetcher(web_settings) as fetcher:
        peak = _peak_bytes(lambda: fetcher.get(site.url("/p")))
        with pytest.raises(FetchError, match=reason):
            fetcher.get(site.url("/p"))
    assert peak < 2_000_000, peak
    assert "br" not in site.requests[-1].headers.get("Accept-Encoding", "").replace(" ", "").split(",")


def test_gzip_and_deflate_pages_are_still_read(site, web_settings):
    url = site.url("/news/2026/harbour-bridge")
    site.routes["/news/2026/harbour-bridge"] = Route(gzip.compress(news_page(BRIDGE, url).encode()),
                                                     headers={"Content-Encoding": "gzip"})
    report = ingest([url], web_settings, progress=False)
    assert stored_docs(web_settings) == {url}, report.skipped


# -- item 4: a server that drips its headers ---------------------------------------------
def test_dripped_headers_are_bounded_by_the_fetch_timeout(site, web_settings):
    site.routes["/slow-headers"] = Route(b"x", drip_headers=0.2)
    started = time.monotonic()
    report = ingest([site.url("/slow-headers")], web_settings, progress=False)
    took = time.monotonic() - started
    assert [reason for _, reason in report.skipped] == [
        "timed out after 2 s (setting fetch_timeout_seconds)"]
    assert took < web_settings.fetch_timeout_seconds + 4, took


# -- item 2: a page that fails while its item is still listed keeps its article -----------
@pytest.mark.parametrize("broken", [
    Route(b"<html><body><h1>Temporarily unavailable</h1></body></html>"),
    Route(b"%PDF-1.4 not a page", content_type="application/pdf"),
    Route(b"", status=503)])
def test_prune_keeps_an_article_whose_item_is_listed_while_its_page_fails(site, web_settings, broken):
    feed = publish_feed(site, [BRIDGE, LIBRARY])
    ingest([feed], web_settings, progress=False)
    bridge = site.url(f"/news/2026/{BRIDGE.slug}")
    good = site.routes[f"/news/2026/{BRIDGE.slug}"]
    site.routes[f"/news/2026/{BRIDGE.slug}"] = broken
    updated = replace(BRIDGE, title=BRIDGE.title + " (updated)")  # the item changed: fetched
    site.serve("/rss.xml", rss("Coastal Courier", [(bridge, updated),
                                                   (site.url(f"/news/2026/{LIBRARY.slug}"), LIBRARY)]),
               "application/rss+xml")
    before = {r for r in stored_rows(web_settings) if r[1] == bridge}
    report = ingest([feed], web_settings, prune=True, progress=False)
    assert [url for url, _ in report.skipped] == [bridge]
    assert {r for r in stored_rows(web_settings) if r[1] == bridge} == before != set()
    site.routes[f"/news/2026/{BRIDGE.slug}"] = good  # and an item that leaves still goes
    publish_feed(site, [LIBRARY])
    ingest([feed], web_settings, prune=True, progress=False)
    assert stored_docs(web_settings) == {site.url(f"/news/2026/{LIBRARY.slug}")}


# -- item 3: pages declaring the same canonical URL ---------------------------------------
def _page_with_canonical(story: Story, canonical: str) -> str:
    return news_page(story, canonical)   # og:url and rel=canonical name `canonical`


def test_pages_declaring_the_home_page_canonical_stay_distinct_and_merges_are_listed(site, web_settings):
    home = site.url("/")
    links = []
    for story in (BRIDGE, LIBRARY, TRAM):
        links.append(site.serve(f"/story/{story.slug}", _page_with_canonical(story, home)))
    twin = site.serve("/amp/harbour-bridge", _page_with_canonical(BRIDGE, home))  # same text
    feed = site.serve("/rss.xml", rss("Courier", [*zip(links, (BRIDGE, LIBRARY, TRAM)),
                                                  (twin, BRIDGE)]), "application/rss+xml")
    report = ingest([feed], web_settings, progress=False)
    assert report.articles == 3 and stored_docs(web_settings) == {home, links[1], links[2]}
    notes = dict(report.notes)
    assert "kept under its own address" in notes[links[2]]   # (the library page names none)
    assert "merged into" in notes[twin] and links[0] in notes[twin]
    again = ingest([feed], web_settings, prune=True, progress=False)  # stable on a re-read
    assert stored_docs(web_settings) == {home, links[1], links[2]}, again.notes


# -- item 6: a damaged sources state ------------------------------------------------------
@pytest.mark.parametrize("damage", [
    "DELETED",                                                  # removed by hand
    '{"version": 1, "urls": {"http://x/": [1, 2]}}',           # an entry of the wrong shape
    '{"version": 1, "urls": {"http://x/": {"items": [{"link": 5}]}}}',
    '["version", 1]',
    "TRUNCATED"])                                               # cut in the middle
def test_a_damaged_state_is_set_aside_with_one_line_and_prunes_still_follow_the_feed(
        site, web_settings, damage):
    feed = publish_feed(site, [BRIDGE, LIBRARY, TRAM])
    ingest([feed], web_settings, progress=False)
    path = state_path(web_settings)
    good = path.read_text()
    if damage == "DELETED":
        path.unlink()
    else:
        path.write_text(good[: len(good) // 2] if damage == "TRUNCATED" else damage)
    publish_feed(site, [LIBRARY, TRAM])                        # the bridge left the feed
    report = ingest([feed], web_settings, prune=True, progress=False)
    notes = [note for where, note in report.notes if where == str(path)]
    assert len(notes) == 1 and "rebuilt from the index" in notes[0] and "\n" not in notes[0]
    if damage != "DELETED":
        assert "damaged" in notes[0] and list(path.parent.glob(f"{path.name}.damaged-*"))
    assert stored_docs(web_settings) == {site.url(f"/news/2026/{s.slug}") for s in (LIBRARY, TRAM)}
    assert SourceState.load(path).damaged is None          # the rebuilt state is sound
    ingest([feed], web_settings, prune=True, progress=False)
    assert stored_docs(web_settings) == {site.url(f"/news/2026/{s.slug}") for s in (LIBRARY, TRAM)}


def test_rag_sync_with_a_state_of_the_wrong_shape_prints_one_note_no_traceback(site, tmp_path):
    settings = make_settings(tmp_path, fetch_allow_private=True, fetch_delay_seconds=0)
    feed = publish_feed(site, [BRIDGE])
    state_path(settings).parent.mkdir(parents=True)
    state_path(settings).write_text(json.dumps({"version": 1, "urls": {feed: "feed"}}))
    env = isolated_env(settings, NEWSDESK_FEEDS=feed, NEWSDESK_FETCH_ALLOW_PRIVATE="true",
                       NEWSDESK_FETCH_DELAY_SECONDS="0")
    run = subprocess.run([str(VENV_BIN / "rag"), "sync", "--prune"], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert sum("was damaged" in line for line in run.stderr.splitlines()) == 1, run.stderr


# -- item 10: a huge feed -----------------------------------------------------------------
def _big_feed(site: NewsSite, count: int) -> str:
    items = []
    for n in range(count):
        story = Story(f"s{n}", f"Story number {n} about the harbour", [
            f"Story {n}: " + BRIDGE.paragraphs[n % 4], BRIDGE.paragraphs[(n + 1) % 4],
            f"Reported as item {n} of the feed."])
        items.append((site.publish(story), story))
    return site.serve("/big.xml", rss("Big", items), "application/rss+xml")


def test_a_feed_beyond_the_item_cap_reads_its_first_items_and_says_so(site, web_settings):
    feed = _big_feed(site, 12)
    settings = web_settings.model_copy(update={"feed_max_items": 4})
    report = ingest([feed], settings, progress=False)
    assert report.web.pages == 4 and len(stored_docs(settings)) == 4
    assert (feed, "the feed lists 12 items; its first 4 are read (setting feed_max_items)") \
        in report.skipped


def test_a_long_feed_read_is_written_in_batches_so_an_interrupted_one_keeps_its_work(
        site, web_settings, monkeypatch, capsys):
    feed = _big_feed(site, 7)
    monkeypatch.setattr(urls, "BATCH_ARTICLES", 2)
    real_get, fetched = Fetcher.get, []

    def get_then_die(self, url, **validators):
        fetched.append(url)
        if len(fetched) == 7:                       # the feed and five pages, then a kill
            raise KeyboardInterrupt
        return real_get(self, url, **validators)

    monkeypatch.setattr(Fetcher, "get", get_then_die)
    with pytest.raises(KeyboardInterrupt):
        ingest([feed], web_settings, progress=True)
    assert "reading 127.0.0.1" in capsys.readouterr().err      # progress while fetching
    assert len(stored_docs(web_settings)) == 4                  # two batches of two were kept
    monkeypatch.setattr(Fetcher, "get", real_get)
    site.requests.clear()
    report = ingest([feed], web_settings, progress=False)
    assert len(stored_docs(web_settings)) == 7 and report.articles == 3
    assert sum(r.path.startswith("/news/") for r in site.requests) == 3  # only the rest fetched


# -- items 11 and 13: credentials and links that are not http(s) --------------------------
def test_feed_items_without_an_http_link_are_listed_as_skipped_with_the_reason(site, web_settings):
    good = site.publish(BRIDGE)
    body = rss("Courier", [(good, BRIDGE), ("javascript:alert(1)", LIBRARY), ("file:///etc/passwd", TRAM),
                           ("data:text/html,hi", FISH), ("ftp://127.0.0.1/x", FISH), ("", LIBRARY)])
    feed = site.serve("/rss.xml", body, "application/rss+xml")
    report = ingest([feed], web_settings, progress=False)
    reasons = [reason for where, reason in report.skipped if where.startswith(feed + " item")]
    assert reasons == ["a javascript: link; only http(s) links are read",
                       "a file: link; only http(s) links are read",
                       "a data: link; only http(s) links are read",
                       "a ftp: link; only http(s) links are read",
                       "the item has no link"], report.skipped
    assert stored_docs(web_settings) == {good}


def test_passwords_in_urls_are_never_stored_or_shown(site, web_settings):
    with_password = site.base.replace("http://", f"http://reader:{PASSWORD}@")
    page = site.publish(BRIDGE)
    canonical_path = f"/news/2026/{LIBRARY.slug}"
    site.serve(canonical_path, news_page(LIBRARY, with_password + canonical_path))
    feed = site.serve("/rss.xml", rss("Courier", [(with_password + "/news/2026/tram", TRAM),
                                                  (page, BRIDGE), (site.url(canonical_path), LIBRARY)]),
                      "application/rss+xml")
    report = ingest([feed, with_password + "/news/2026/fish"], web_settings, progress=False)
    shown = json.dumps([report.skipped, report.notes, report.summary()])
    saved = state_path(web_settings).read_text()
    rows = json.dumps(sorted(stored_rows(web_settings)))
    for text in (shown, saved, rows):
        assert PASSWORD not in text and "reader:" not in text
    assert stored_docs(web_settings) == {page, site.url(canonical_path)}
    assert any("user name or password" in reason for _, reason in report.skipped)


# -- item 7: as-of dates out of range -----------------------------------------------------
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_an_as_of_date_out_of_range_is_a_clear_error(tmp_path, day):
    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir()
    (settings.corpus_dir / "a.txt").write_text("The harbour bridge reopened on Saturday.")
    ingest(settings.corpus_dir, settings, progress=False)
    with pytest.raises(ValueError, match="out of range"):
        interpret_time("what happened last week?", day)
    from ui.app import UserFacingError, check_as_of

    with pytest.raises(UserFacingError, match="1000-01-01 to 8999-12-31"):
        check_as_of(day)
    env = isolated_env(settings)
    run = subprocess.run([str(VENV_BIN / "rag"), "ask", "--as-of", day, "What happened last week?"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode != 0 and "Traceback" not in run.stderr and "OverflowError" not in run.stderr
    assert "out of range" in run.stderr or "8999-12-31" in run.stderr, run.stderr


# -- item 12: a first ingest that failed on the model does not pin the collection ----------
def test_an_empty_collection_takes_the_next_working_model(tmp_path):
    from tests.test_reliability_ii_cli import EmbeddingServer

    server = EmbeddingServer()
    server.mode = "401"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The harbour bridge reopened on Saturday after two years.")
    with server.fake:
        failing = make_settings(tmp_path, embedding="openai-compatible",
                                embedding_base_url=server.fake.base_url, embedding_model="err401",
                                api_key="sk-test", request_timeout=5)
        with pytest.raises(Exception, match="rejected the API key"):
            ingest(corpus, failing, progress=False)
    working = make_settings(tmp_path)
    report = ingest(corpus, working, progress=False)
    # the failed ingest left its chunk searchable and queued (issue 25): this one embeds it
    assert report.embedded >= 1 and stored_docs(working) == {"corpus/a.txt"}
    from rag.index.chunks import queued_chunks

    assert queued_chunks(working) == 0
