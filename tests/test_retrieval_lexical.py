"""The lexical stage's work is bounded: BM25 leaves out a question's most frequent words
once the chunks they match exceed `lexical_max_postings`, and ranks without carrying
every match's row through the sort."""

from rag.config import Settings
from rag.index.catalog import Catalog, ChunkRow
from rag.records import Filters


def _row(n: int, text: str, day: str = "2024-05-01", source: str = "Wire") -> ChunkRow:
    return ChunkRow(chunk_id=f"c{n}", doc_id=f"d{n}", chunk_index=0, start_char=0,
                    end_char=len(text), text=text, title=f"t{n}", date=day,
                    date_int=int(day.replace("-", "")), source=source, url="", byline="",
                    path=f"d{n}.txt", meta_hash="h")


def _catalog(tmp_path) -> Catalog:
    """Ten chunks all saying "report", four "strike", one "harbour"."""
    catalog = Catalog(tmp_path / "c.sqlite3")
    rows, words = [], []
    for n in range(10):
        terms = ["report"] + (["strike"] if n < 4 else []) + (["harbour"] if n == 0 else [])
        rows.append(_row(n, " ".join(terms), day=f"2024-05-{n + 1:02d}",
                         source="Wire" if n % 2 else "Post"))
        words.append(terms)
    catalog.put(rows, words)
    return catalog


def test_document_frequencies_count_the_chunks_holding_each_word(tmp_path):
    catalog = _catalog(tmp_path)
    assert catalog.document_frequencies(["report", "strike", "harbour", "absent"]) == {
        "report": 10, "strike": 4, "harbour": 1, "absent": 0}


def test_every_word_is_kept_within_the_budget_or_without_one(tmp_path):
    catalog = _catalog(tmp_path)
    words = ["harbour", "strike", "report", "strike"]
    assert catalog.bounded_words(words, None) == words
    assert catalog.bounded_words(words, 15) == words


def test_the_most_frequent_words_go_first_beyond_the_budget(tmp_path):
    catalog = _catalog(tmp_path)
    words = ["report", "strike", "harbour", "strike"]
    assert catalog.bounded_words(words, 5) == ["strike", "harbour", "strike"]
    assert catalog.bounded_words(words, 2) == ["harbour"]
    assert catalog.bounded_words(["report", "strike"], 1) == ["strike"]  # the rarest stays


def test_bounded_search_ranks_by_the_rare_words_and_keeps_the_filters(tmp_path):
    catalog = _catalog(tmp_path)
    words = ["harbour", "strike", "report"]
    full = catalog.search_words(words, 3, Filters())
    bounded = catalog.search_words(words, 3, Filters(), max_postings=5)
    assert full[0][0].chunk_id == bounded[0][0].chunk_id == "c0"
    assert {r.chunk_id for r, _ in bounded} <= {"c0", "c1", "c2", "c3"}
    assert all(score > 0 for _, score in bounded)
    filtered = catalog.search_words(words, 10, Filters(sources=("Wire",), date_to="2024-05-03"),
                                    max_postings=5)
    assert [r.chunk_id for r, _ in filtered] == ["c1"]


def test_unbounded_and_generous_budgets_rank_alike(tmp_path):
    catalog = _catalog(tmp_path)
    words = ["strike", "report"]
    assert catalog.search_words(words, 10, Filters()) == catalog.search_words(
        words, 10, Filters(), max_postings=100)


def test_the_budget_is_a_setting_with_a_bound_by_default():
    assert Settings().lexical_max_postings > 0
    assert Settings(lexical_max_postings=0).lexical_max_postings == 0


def test_a_source_and_date_filter_is_counted_from_one_covering_index(tmp_path):
    catalog = _catalog(tmp_path)
    filters = Filters(sources=("Wire",), date_from="2024-05-02", date_to="2024-05-06")
    assert catalog.count(filters) == 3
    from rag.index.catalog import filter_sql

    where, params = filter_sql(filters)
    plan = " ".join(str(r) for r in catalog._connection().execute(
        f"EXPLAIN QUERY PLAN SELECT count(*) FROM chunks c WHERE {where}", params))
    assert "COVERING INDEX chunks_source_date" in plan
