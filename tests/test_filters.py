"""Filters are translated once (`Filters.conditions`): the catalog's SQL, Chroma's `where`
and `Filters.allows` all agree on which chunks pass."""

import sqlite3

from rag.index.catalog import filter_sql
from rag.index.chunks import _chroma_where
from rag.records import Filters, date_int

ROWS = [("a", "2024-05-01", "Wire"), ("b", "2024-05-10", "Post"), ("c", "", "Wire"),
        ("d", "2024-06-01", "Times")]
FILTERS = [Filters(), Filters(date_from="2024-05-05"), Filters(date_to="2024-05-10"),
           Filters(sources=("Wire", "Times")), Filters(exclude_doc_ids=frozenset({"a", "d"})),
           Filters(date_from="2024-05-01", date_to="2024-05-31", sources=("Wire",))]


def test_sql_and_allows_pass_the_same_chunks():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE chunks (doc_id TEXT, date_int INTEGER, source TEXT)")
    conn.executemany("INSERT INTO chunks VALUES (?, ?, ?)",
                     [(d, date_int(day) if day else 0, s) for d, day, s in ROWS])
    for filters in FILTERS:
        where, params = filter_sql(filters)
        by_sql = {r[0] for r in conn.execute(f"SELECT c.doc_id FROM chunks c WHERE {where}", params)}
        by_allows = {d for d, day, s in ROWS if filters.allows(day or None, s, d)}
        assert by_sql == by_allows, filters
    assert {r[0] for r in conn.execute("SELECT doc_id FROM chunks")} == {"a", "b", "c", "d"}


def test_chroma_where_spells_the_same_conditions():
    assert _chroma_where(Filters()) is None
    assert _chroma_where(Filters(date_from="2024-05-05")) == {"date_int": {"$gte": 20240505}}
    assert _chroma_where(FILTERS[-1]) == {"$and": [
        {"date_int": {"$gte": 20240501}}, {"date_int": {"$lte": 20240531}},
        {"source": {"$in": ["Wire"]}}]}
    assert _chroma_where(FILTERS[4]) == {"doc_id": {"$nin": ["a", "d"]}}
