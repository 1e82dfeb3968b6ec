"""Article pages and feeds read over HTTP (no index): text without boilerplate, metadata
from the page before the feed, polite and safe fetching, and a one-line reason for
every page skipped. A real news site is served on 127.0.0.1 (tests/support/news_site.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.sources.mixed import SourceError, split_sources
from rag.sources.state import SourceState
from rag.sources.urls import read_urls
from tests.conftest import make_settings
from tests.support.news_site import web_settings_for, BOILERPLATE, STORIES, atom, news_page, rss

BRIDGE, LIBRARY, TRAM, FISH = STORIES


@pytest.fixture
def web_settings(tmp_path: Path):
    return web_settings_for(tmp_path, timeout=1.0)


def read(urls, settings, tmp_path: Path, indexed=()):
    return read_urls(list(urls), settings, SourceState(tmp_path / "state.json"), set(indexed))


def by_title(result):
    return {a.title: a for a in result.articles}


def test_page_text_holds_the_article_and_none_of_the_boilerplate(site, web_settings, tmp_path):
    result = read([site.publish(BRIDGE)], web_settings, tmp_path)
    [article] = result.articles
    for paragraph in BRIDGE.paragraphs:
        assert paragraph in article.text
    for junk in BOILERPLATE:
        assert junk not in article.text


def test_metadata_comes_from_the_pages_open_graph_and_json_ld(site, web_settings, tmp_path):
    url = site.publish(BRIDGE)
    [article] = read([url], web_settings, tmp_path).articles
    assert (article.title, article.date, article.source, article.byline, article.url) == (
        BRIDGE.title, "2026-03-14", "The Coastal Courier", "Maria Lindqvist", url)


def test_json_ld_news_article_alone_gives_title_date_outlet_and_byline(site, web_settings, tmp_path):
    [article] = read([site.publish(LIBRARY)], web_settings, tmp_path).articles
    assert (article.title, article.date, article.source, article.byline) == (
        LIBRARY.title, "2026-03-10", "The Coastal Courier", "Jonas Ek")


def test_feed_item_fills_in_what_the_page_does_not_say(site, web_settings, tmp_path):
    link = site.publish(FISH)  # a page without metadata: no date, outlet or byline markup
    feed = site.serve("/rss.xml", rss("Harbour Gazette", [(link, FISH)]), "application/rss+xml")
    [article] = read([feed], web_settings, tmp_path).articles
    assert (article.date, article.source, article.byline, article.url) == (
        "2026-03-15", "Harbour Gazette", "Per Nilsson", link)


def test_page_metadata_wins_over_the_feed_items(site, web_settings, tmp_path):
    link = site.publish(BRIDGE)
    other = type(BRIDGE)(**{**BRIDGE.__dict__, "title": "Feed headline", "date": "2026-01-02",
                            "author": "Feed Author"})
    feed = site.serve("/rss.xml", rss("Harbour Gazette", [(link, other)]), "application/rss+xml")
    [article] = read([feed], web_settings, tmp_path).articles
    assert (article.title, article.date, article.source, article.byline) == (
        BRIDGE.title, "2026-03-14", "The Coastal Courier", "Maria Lindqvist")


def test_article_id_is_the_canonical_url_without_tracking_parameters(site, web_settings, tmp_path):
    canonical = site.publish(BRIDGE)
    tracked = site.serve("/news/2026/harbour-bridge?utm_source=rss&utm_medium=feed",
                         news_page(BRIDGE, canonical))
    [article] = read([tracked], web_settings, tmp_path).articles
    assert article.doc_id == article.url == canonical


def test_a_canonical_url_on_another_host_is_not_believed(site, web_settings, tmp_path):
    url = site.serve("/news/copy", news_page(BRIDGE, "https://other-site.example/news/original"))
    [article] = read([url], web_settings, tmp_path).articles
    assert article.doc_id == url


def test_feed_or_page_is_told_by_what_the_server_sends_not_the_url(site, web_settings, tmp_path):
    link = site.serve("/feed.xml", news_page(TRAM, site.url("/feed.xml")))  # a page
    feed = site.serve("/story.html", rss("News", [(site.publish(BRIDGE), BRIDGE)]), "text/xml")
    result = read([link, feed], web_settings, tmp_path)
    assert set(by_title(result)) == {TRAM.title, BRIDGE.title}
    assert result.feeds == 1


def test_atom_feed_items_are_read_as_pages(site, web_settings, tmp_path):
    links = [site.publish(s) for s in (BRIDGE, TRAM)]
    feed = site.serve("/atom.xml", atom("Courier", list(zip(links, (BRIDGE, TRAM)))),
                      "application/atom+xml")
    result = read([feed], web_settings, tmp_path)
    assert {a.url for a in result.articles} == set(links) and not result.skipped


@pytest.mark.parametrize("path, route, reason", [
    ("/missing", None, "HTTP 404"),
    ("/slow", dict(body="<html></html>", delay=2.5), "timed out after 1 s"),
    ("/loop-a", dict(body="", status=302, location="/loop-b"), "redirect loop"),
    ("/report.pdf", dict(body=b"%PDF-1.7 binary", content_type="application/pdf"),
     "not HTML or an RSS/Atom feed (application/pdf)"),
    ("/huge", dict(body=news_page(BRIDGE, "/huge") + "<p>x</p>" * 200_000), "too large"),
    ("/empty", dict(body="<html><body><nav>Home</nav></body></html>"), "no article text"),
    ("/broken.xml", dict(body='<?xml version="1.0"?><rss version="2.0"><channel><item>'
                              "<title>unclosed", content_type="application/rss+xml"),
     "malformed XML at line 1"),
])
def test_a_bad_source_is_skipped_with_its_reason_and_the_rest_is_read(
        site, web_settings, tmp_path, path, route, reason):
    if route:
        site.serve(path, **route)
    site.serve("/loop-b", "", status=302, location="/loop-a")
    settings = web_settings.with_changes(fetch_max_bytes=500_000)
    result = read([site.url(path), site.publish(BRIDGE)], settings, tmp_path)
    assert [a.title for a in result.articles] == [BRIDGE.title]
    [(url, why)] = result.skipped
    assert url == site.url(path) and reason in why and "\n" not in why


def test_a_page_that_does_not_declare_its_length_is_cut_off_at_the_size_cap(site, web_settings, tmp_path):
    url = site.serve("/endless", "<html><body>" + "<p>filler text</p>" * 100_000,
                     declare_length=False)
    result = read([url], web_settings.with_changes(fetch_max_bytes=50_000), tmp_path)
    assert not result.articles and "too large (over 50,000 bytes" in result.skipped[0][1]


def test_a_bad_item_in_a_feed_is_skipped_and_the_other_items_read(site, web_settings, tmp_path):
    good = [site.publish(s) for s in (BRIDGE, TRAM)]
    items = [(good[0], BRIDGE), (site.url("/gone"), LIBRARY), (good[1], TRAM)]
    feed = site.serve("/rss.xml", rss("News", items), "application/rss+xml")
    result = read([feed], web_settings, tmp_path)
    assert {a.url for a in result.articles} == set(good)
    assert result.skipped == [(site.url("/gone"), "HTTP 404 Not Found")]


def test_redirects_are_followed_to_the_article(site, web_settings, tmp_path):
    target = site.publish(BRIDGE)
    short = site.serve("/s/1", "", status=301, location=target)
    [article] = read([short], web_settings, tmp_path).articles
    assert article.url == target


def test_too_many_redirects_are_refused(site, web_settings, tmp_path):
    for n in range(4):
        site.serve(f"/r{n}", "", status=302, location=f"/r{n + 1}")
    site.publish(BRIDGE)
    settings = web_settings.with_changes(fetch_max_redirects=2)
    result = read([site.url("/r0")], settings, tmp_path)
    assert "too many redirects" in result.skipped[0][1]


def test_loopback_addresses_are_refused_unless_the_setting_allows_them(site, tmp_path):
    url = site.publish(BRIDGE)
    result = read([url], make_settings(tmp_path), tmp_path)
    assert not result.articles
    assert "private or loopback address" in result.skipped[0][1]
    assert "fetch_allow_private" in result.skipped[0][1]
    assert site.requests == []


def test_a_redirect_to_another_scheme_is_refused(site, web_settings, tmp_path):
    url = site.serve("/to-file", "", status=302, location="file:///etc/passwd")
    result = read([url], web_settings, tmp_path)
    assert "only http and https" in result.skipped[0][1]


def test_only_http_urls_folders_and_files_are_sources():
    with pytest.raises(SourceError, match="only http"):
        split_sources(["ftp://example.com/feed.xml"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        split_sources(["no/such/folder"])


def test_requests_name_newsdesk_and_pause_between_hits_on_one_host(site, web_settings, tmp_path):
    links = [site.publish(s) for s in (BRIDGE, TRAM, LIBRARY)]
    settings = web_settings.with_changes(fetch_delay_seconds=0.3)
    read(links, settings, tmp_path)
    assert all("Newsdesk" in r.headers["User-Agent"] for r in site.requests)
    gaps = [b.at - a.at for a, b in zip(site.requests, site.requests[1:])]
    assert len(gaps) == 2 and min(gaps) >= 0.25
