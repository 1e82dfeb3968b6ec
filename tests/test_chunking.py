"""Chunking: offsets that point into the article, token budgets, overlap, stable ids."""

from rag.records import Article
from rag.ingest.chunking import chunk_article
from rag.text import split_sentences
from rag.tokens import count_tokens
from tests.conftest import SEED_ARTICLE


def _seed():
    from rag.sources.files import load_file

    return load_file(SEED_ARTICLE)[0]


def test_every_chunk_is_the_article_text_at_its_offsets():
    article = _seed()
    chunks = chunk_article(article, 120, 30)
    assert len(chunks) > 3
    assert all(article.text[c.start:c.end] == c.text for c in chunks)


def test_chunks_respect_the_token_budget_and_overlap():
    article = _seed()
    chunks = chunk_article(article, 120, 30)
    assert max(count_tokens(c.text) for c in chunks) <= 120
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:])), "neighbours should overlap"
    assert chunks[0].start == 0 and chunks[-1].end == len(article.text)


def test_chunk_ids_change_only_with_content():
    article = _seed()
    same = chunk_article(article, 120, 30)
    assert [c.chunk_id for c in chunk_article(article, 120, 30)] == [c.chunk_id for c in same]
    edited = Article(doc_id=article.doc_id, text=article.text + "\n\nA late update.", title="t")
    changed = chunk_article(edited, 120, 30)
    assert changed[-1].chunk_id not in {c.chunk_id for c in same}
    assert changed[0].chunk_id == same[0].chunk_id


def test_sentences_keep_abbreviations_whole():
    spans = split_sentences("Top U.S. and Russian diplomats met. Talks went on.")
    assert [s.text for s in spans] == ["Top U.S. and Russian diplomats met.", "Talks went on."]


def test_a_huge_sentence_is_cut_into_windows_within_budget():
    article = Article(doc_id="long", text="word " * 5000, title="long")
    chunks = chunk_article(article, 100, 20)
    assert len(chunks) > 10
    assert max(count_tokens(c.text) for c in chunks) <= 100
