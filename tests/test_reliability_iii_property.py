"""Reliability III (issue 22), the property: after any sequence of syncs of a feed whose
items come, go and change, whose pages fail for a while, whose sources state gets
damaged and whose ingests stop between the lexical write and the embedding (issue 25:
what a kill there leaves), a sync with prune leaves exactly what a clean ingest of the
feed stores.

A real news site on 127.0.0.1, the real embedding model and Chroma; derandomized.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from rag.index.chunks import chunk_row, meta_hash, open_index
from rag.index.embeddings import embedding_name, get_embeddings
from rag.ingest import ingest
from rag.ingest.chunking import chunk_article
from rag.sources.state import SourceState, state_path
from rag.sources.urls import read_urls
from tests.conftest import make_settings
from tests.support.news_site import STORIES, NewsSite, Route, news_page, rss

DAMAGES = ["", "{", '{"version": 1, "urls": {"x": 3}}', '{"version": 1, "urls": {}, "unclaimed": 7}']


def _rows(settings) -> set[tuple[str, str, str]]:
    """The stored (chunk id, doc id, metadata hash); Chroma must hold exactly those chunks."""
    embeddings = get_embeddings(settings)
    index = open_index(settings, embedding_name(embeddings), getattr(embeddings, "dimension", None))
    try:
        states = index.states()
        assert index.vector_ids() == set(states), "Chroma and the catalog disagree"
        assert index.pending_count() == 0, "chunks left waiting for their vectors"
        return {(cid, doc, h) for cid, (doc, h) in states.items()}
    finally:
        index.close()


def _queued(settings) -> int:
    """Chunks written searchable but not yet embedded."""
    embeddings = get_embeddings(settings)
    index = open_index(settings, embedding_name(embeddings), getattr(embeddings, "dimension", None))
    try:
        return index.pending_count()
    finally:
        index.close()


def _clean_rows(feed: str, settings, scratch: Path) -> set[tuple[str, str, str]]:
    """What a clean ingest of the feed stores: every chunk of every article read afresh."""
    read = read_urls([feed], settings, SourceState(scratch / "fresh.sources.json"), set())
    rows = set()
    for article in read.articles:
        for chunk in chunk_article(article, settings.chunk_tokens, settings.chunk_overlap):
            row = chunk_row(article, chunk, meta_hash(article))
            rows.add((row.chunk_id, row.doc_id, row.meta_hash))
    return rows


class Feed:
    """The site's feed: which stories it lists, in which version."""

    def __init__(self, site: NewsSite) -> None:
        self.site, self.listed, self.versions = site, [0, 1], [0] * len(STORIES)

    def story(self, i: int):
        base, v = STORIES[i], self.versions[i]
        if not v:
            return base
        return replace(base, title=f"{base.title} (update {v})",
                       paragraphs=[*base.paragraphs, f"Update {v}: officials gave new figures on "
                                   f"day {v} of the story, the spokesperson said."])

    def publish(self) -> str:
        items = []
        for i in self.listed:
            story = self.story(i)
            items.append((self.site.publish(story), story))
        return self.site.serve("/rss.xml", rss("Coastal Courier", items), "application/rss+xml")

    def path(self, i: int) -> str:
        return f"/news/2026/{STORIES[i].slug}"


operation = st.one_of(
    st.tuples(st.just("list"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("unlist"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("edit"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("fail"), st.integers(0, 3), st.sampled_from(["error page", "503", "pdf"])),
    st.tuples(st.just("damage"), st.sampled_from(DAMAGES), st.booleans()),
    st.tuples(st.just("halt"), st.integers(0, 3), st.booleans()),
)
BROKEN = {"error page": Route(b"<html><body><h1>Temporarily unavailable</h1></body></html>"),
          "503": Route(b"", status=503),
          "pdf": Route(b"%PDF-1.4", content_type="application/pdf")}


@hsettings(max_examples=3, deadline=None, derandomize=True, database=None,
           suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=2, max_size=5))
@example([("damage", "{", False), ("unlist", 0, True)])          # truncated, then an item leaves
@example([("fail", 1, "pdf"), ("damage", DAMAGES[2], False), ("list", 3, True), ("unlist", 1, True)])
@example([("halt", 2, False), ("edit", 0, True), ("halt", 1, True)])  # searchable, not embedded
def test_any_sequence_of_syncs_leaves_the_store_a_clean_ingest_would(operations):
    site = NewsSite().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            settings = make_settings(root, fetch_allow_private=True, fetch_delay_seconds=0,
                                     fetch_timeout_seconds=5.0)
            feed = Feed(site)
            url = feed.publish()
            ingest([url], settings, progress=False)
            for op in operations:
                match op:
                    case ("list", i, prune):
                        feed.listed = sorted({*feed.listed, i})
                    case ("unlist", i, prune):
                        if len(feed.listed) > 1:   # an empty feed prunes nothing, by design
                            feed.listed = [j for j in feed.listed if j != i]
                    case ("edit", i, prune):
                        feed.versions[i] += 1
                    case ("fail", i, kind):
                        if i not in feed.listed:
                            continue
                        feed.versions[i] += 1       # the item changed, so its page is fetched
                        feed.publish()
                        doc = site.url(feed.path(i))
                        before = {r for r in _rows(settings) if r[1] == doc}
                        site.routes[feed.path(i)] = BROKEN[kind]
                        ingest([url], settings, prune=True, progress=False)
                        assert {r for r in _rows(settings) if r[1] == doc} == before, \
                            f"a listed item whose page failed ({kind}) lost its article"
                        prune = True
                    case ("damage", text, prune):
                        path = state_path(settings)
                        path.write_text(text)
                    case ("halt", i, prune):
                        # an item comes and one changes; the ingest stops (is killed) after
                        # the lexical write, before any vector: the next one embeds them
                        feed.listed = sorted({*feed.listed, i})
                        feed.versions[feed.listed[0]] += 1
                        feed.publish()
                        halted = ingest([url], settings, prune=prune, progress=False, embed=False)
                        assert halted.embedded == 0 and halted.added > 0, halted.summary()
                        assert _queued(settings) == halted.added
                feed.publish()
                report = ingest([url], settings, prune=prune, progress=False)
                stored, clean = _rows(settings), _clean_rows(url, settings, root)
                if prune:
                    assert stored == clean, (op, report.summary(), report.skipped)
                else:
                    assert clean <= stored, (op, report.summary())
            # and the incremental store equals a real clean ingest of the same feed
            ingest([url], settings, prune=True, progress=False)
            rebuilt = settings.model_copy(update={"collection": "clean"})
            ingest([url], rebuilt, progress=False)
            assert _rows(settings) == _rows(rebuilt)
    finally:
        site.stop()
