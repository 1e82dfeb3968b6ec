"""The index answers every query the page and the bench ask (newest articles, last change,
BM25 match counts, filtered counts, bulk rows): no SQL outside rag/index."""

import json
import time

from rag.answer import Newsdesk
from rag.ingest import ingest
from rag.records import Filters
from rag.text import tokenize
from tests.conftest import make_settings

ARTICLES = [("Harbour strike ends", "2024-05-24", "Wire", "Port workers ended the harbour strike."),
            ("Harbour strike begins", "2024-05-10", "Post", "Port workers began a harbour strike."),
            ("Flood orders lifted", "2024-06-12", "Wire", "Millbrook lifted its flood orders today."),
            ("Budget meeting", "2024-07-01", "Post", "The county budget meeting was held.")]


def _desk(tmp_path):
    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir(parents=True)
    for n, (title, day, source, body) in enumerate(ARTICLES):
        (settings.corpus_dir / f"a{n}.json").write_text(json.dumps(
            {"title": title, "date": day, "source": source, "body": body * 3}))
    before = time.time()
    ingest(settings.corpus_dir, settings, progress=False)
    return Newsdesk(settings), before


def test_the_index_answers_the_page_and_bench_queries(tmp_path):
    desk, before = _desk(tmp_path)
    index = desk.retriever.index
    assert index.newest_articles(2) == [("Budget meeting", "Post"), ("Flood orders lifted", "Wire")]
    assert [t for t, _ in index.newest_articles(10)] == [
        "Budget meeting", "Flood orders lifted", "Harbour strike ends", "Harbour strike begins"]
    assert index.last_change() >= before - 1
    assert index.match_count(tokenize(["harbour strike"])[0]) == 2
    assert index.match_count([]) == 0
    assert index.count(Filters(sources=("Wire",))) == 2 and index.count() == 4
    assert index.newest_date() == "2024-07-01" and not index.is_empty()
    assert index.facts()["articles"] == 4   # held until the catalog changes
    (desk.settings.corpus_dir / "later.json").write_text(json.dumps(
        {"title": "Strike talks resume", "date": "2024-08-02", "source": "Wire",
         "body": "Talks resumed at the harbour. " * 3}))
    ingest(desk.settings.corpus_dir, desk.settings, progress=False)
    assert index.facts()["articles"] == 5 and index.facts()["date_to"] == "2024-08-02"
    assert index.newest_date() == "2024-08-02" and index.count() > 4
    rows = [row for page in index.iter_rows(batch=3) for row in page]
    assert sorted(r.doc_id for r in rows) == sorted({d for d, _ in index.states().values()})
    assert index.meta("doc_ids") is not None
    everything = {doc_id: spans for doc_id, _, spans in index.article_spans()}
    one = sorted(everything)[1]
    # the article view reads only the articles it shows, with the same chunks
    assert {d: s for d, _, s in index.article_spans(only={one})} == {one: everything[one]}
    assert list(index.article_spans(only=set())) == []


def test_the_page_shows_the_newest_titles_from_the_index(tmp_path):
    from ui.app import Desk, example_questions

    newsdesk, _ = _desk(tmp_path)
    facts = Desk(newsdesk.settings).facts()
    assert facts.articles == 4 and facts.updated
    assert facts.newest == [("Budget meeting", "Post"), ("Flood orders lifted", "Wire"),
                            ("Harbour strike ends", "Wire")]
    # examples are real questions built from these headlines, never "What happened: <title>?"
    # (none here: "Flood orders lifted" is no "Why did Flood order lifted?")
    assert all(q.endswith("?") and ":" not in q
               for q in example_questions(newsdesk.settings, facts))


def test_a_filtered_dense_search_finds_the_same_chunks_by_every_path(tmp_path, monkeypatch):
    """Over-fetching neighbours and sifting them, handing Chroma the allowed ids, and
    Chroma's own `where` give the same nearest allowed chunks."""
    import rag.index.chunks as chunks

    desk, _ = _desk(tmp_path)
    retriever = desk.retriever
    vector = retriever.embeddings.embed_query("harbour strike")
    for filters in (Filters(sources=("Wire",)), Filters(date_from="2024-05-20"),
                    Filters(date_to="2024-05-31", sources=("Post",))):
        sifted = [p.chunk_id for p in retriever.index.dense(vector, 2, filters)]
        monkeypatch.setattr(chunks, "DENSE_OVERFETCH_SHARE", 2.0)
        by_ids = [p.chunk_id for p in retriever.index.dense(vector, 2, filters)]
        monkeypatch.setattr(chunks, "MAX_ALLOWED_IDS", 0)
        by_where = [p.chunk_id for p in retriever.index.dense(vector, 2, filters)]
        monkeypatch.undo()
        assert sifted and sifted == by_ids == by_where, filters
        rows = retriever.index.catalog.rows(sifted)
        assert all(filters.allows(r.date or None, r.source or None, r.doc_id) for r in rows.values())
