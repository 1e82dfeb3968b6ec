"""The chunk catalog: one SQLite file beside the vector store.

It holds every chunk's record (text, offsets, article metadata), the filter columns
(date, source, article) with indexes, a full-text index of the chunks' stemmed content
words ranked by BM25 (SQLite FTS5), and the collection's revision. Nothing is read into
memory at start: a new process answers from disk at once, whatever the archive's size.

SQLite in WAL mode lets any number of processes read while one writes; every write is a
transaction that also bumps the revision, so a reader never sees rows without the
revision that announces them, and a killed writer leaves the last committed state.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from collections.abc import Set
from typing import Callable, Iterable, Iterator, TypeVar

from rag.index.store import StoreError, storage_problem
from rag.records import Filters

T = TypeVar("T")

SCHEMA_VERSION = "2"
_BUMP_REVISION = ("INSERT INTO meta VALUES ('revision', '1') ON CONFLICT(key) DO UPDATE "
                  "SET value = CAST(value AS INTEGER) + 1")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT NOT NULL,
    date_int INTEGER NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    byline TEXT NOT NULL,
    path TEXT NOT NULL,
    meta_hash TEXT NOT NULL,
    text_key TEXT NOT NULL DEFAULT '',
    story_id TEXT NOT NULL DEFAULT '',
    embedded INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_text_key ON chunks(text_key);
CREATE INDEX IF NOT EXISTS chunks_story ON chunks(story_id);
CREATE INDEX IF NOT EXISTS chunks_date ON chunks(date_int);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE INDEX IF NOT EXISTS chunks_source_date ON chunks(source, date_int);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(words, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class ChunkRow:
    """One chunk as stored: its text and offsets and its article's metadata
    (empty strings where unknown, as Chroma metadata cannot hold None)."""

    chunk_id: str
    doc_id: str
    chunk_index: int
    start_char: int
    end_char: int
    text: str
    title: str
    date: str
    date_int: int
    source: str
    url: str
    byline: str
    path: str
    meta_hash: str
    text_key: str = ""   # hash of the normalised text: identical texts share one vector
    story_id: str = ""   # doc id of the original of the article's copy group


COLUMNS = tuple(f.name for f in fields(ChunkRow))
_SELECT = "SELECT " + ", ".join(f"c.{name}" for name in COLUMNS) + " FROM chunks c"


def filter_sql(filters: Filters, alias: str = "c") -> tuple[str, list]:
    """A SQL condition (and its parameters) for the filters; "1" when none."""
    clauses, params = [], []
    for column, op, value in filters.conditions():
        if isinstance(value, list):
            clauses.append(f"{alias}.{column} {op.upper()} ({','.join('?' * len(value))})")
            params += value
        else:
            clauses.append(f"{alias}.{column} {op} ?")
            params.append(value)
    return (" AND ".join(clauses) or "1"), params


def match_expression(words: Iterable[str]) -> str | None:
    """An FTS5 query matching any of the words (each quoted, so it is never syntax). A word
    repeated in the question stays repeated: BM25 then counts it twice, as bm25s did."""
    quoted = ['"' + w.replace('"', '""') + '"' for w in words if w]
    return " OR ".join(quoted) or None


def _add_embedded_column(conn: sqlite3.Connection) -> None:
    """Give a catalog made before progressive indexing its `embedded` column (every row it
    holds has its vector: rows were written after their vectors) and the index of the
    rows waiting for one."""
    names = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
    if "embedded" not in names:
        with _transaction(conn):
            names = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
            if "embedded" not in names:  # not done by another process meanwhile
                conn.execute("ALTER TABLE chunks ADD COLUMN embedded INTEGER NOT NULL DEFAULT 1")
    conn.execute("CREATE INDEX IF NOT EXISTS chunks_pending ON chunks(doc_id) WHERE embedded = 0")


def _upgrade(conn: sqlite3.Connection) -> None:
    """Empty a catalog of an older schema (its revision goes on), so that the next ingest
    rebuilds its rows from the articles and the vectors Chroma already holds."""
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None or row[0] == SCHEMA_VERSION:
        return
    with _transaction(conn):
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is not None and row[0] != SCHEMA_VERSION:  # not done by another process meanwhile
            conn.execute("DROP TABLE IF EXISTS terms")
            conn.execute("DROP TABLE IF EXISTS chunks")
            conn.execute("DELETE FROM meta WHERE key = 'schema'")
            conn.execute(_BUMP_REVISION)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (the one writer) ... COMMIT, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class CatalogError(StoreError):
    """The catalog file is damaged, read-only or on a full disk; the message says which
    file and what to do."""


def _explained(method: Callable[..., T]) -> Callable[..., T]:
    """Turn SQLite and file-system errors of a catalog call into one-line CatalogErrors."""
    @functools.wraps(method)
    def call(self: "Catalog", *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as err:
            problem = storage_problem(err, f"catalog {self.path}", self.path.parent)
            if problem is None:
                raise
            raise CatalogError(problem) from None
    return call


class Catalog:
    """The SQLite catalog of one collection; one connection per thread."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only  # reads an existing file as it is (no schema written)
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None and self.read_only:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=60, isolation_level=None)
            self._local.conn = conn
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            _upgrade(conn)
            conn.executescript(_SCHEMA)
            _add_embedded_column(conn)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- reading ---------------------------------------------------------------------
    @property
    @_explained
    def revision(self) -> int:
        row = self._connection().execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0]) if row else 0

    @_explained
    def meta(self, key: str) -> str | None:
        """A value recorded with the collection (e.g. the article-id scheme), or None."""
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write([("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                      "excluded.value", [(key, value)])])

    @_explained
    def count(self, filters: Filters = Filters()) -> int:
        where, params = filter_sql(filters)
        return self._connection().execute(f"SELECT count(*) FROM chunks c WHERE {where}",
                                          params).fetchone()[0]

    @_explained
    def is_empty(self) -> bool:
        """Whether no chunk is stored (one row read, whatever the size)."""
        return self._connection().execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is None

    @_explained
    def newest_date(self) -> str | None:
        """The date of the newest dated chunk, read from the date index (no scan)."""
        row = self._connection().execute(
            "SELECT date FROM chunks WHERE date_int = (SELECT max(date_int) FROM chunks) "
            "AND date != '' LIMIT 1").fetchone()
        return row[0] if row else None

    @_explained
    def states(self) -> dict[str, tuple[str, str]]:
        """chunk id -> (doc id, metadata hash) of every chunk: what ingest compares against."""
        rows = self._connection().execute("SELECT chunk_id, doc_id, meta_hash FROM chunks")
        return {chunk_id: (doc_id, meta_hash) for chunk_id, doc_id, meta_hash in rows}

    @_explained
    def rows(self, chunk_ids: list[str]) -> dict[str, ChunkRow]:
        """The stored rows of these chunks (deleted ones are simply absent)."""
        found: dict[str, ChunkRow] = {}
        conn = self._connection()
        for i in range(0, len(chunk_ids), 500):
            part = chunk_ids[i:i + 500]
            query = f"{_SELECT} WHERE c.chunk_id IN ({','.join('?' * len(part))})"
            for row in conn.execute(query, part):
                found[row[0]] = ChunkRow(*row)
        return found

    @_explained
    def allowed_ids(self, filters: Filters, limit: int) -> list[str] | None:
        """Ids of the embedded chunks passing the filters (those the vector store holds),
        or None when more than `limit` do."""
        where, params = filter_sql(filters)
        ids = [r[0] for r in self._connection().execute(
            f"SELECT c.chunk_id FROM chunks c WHERE {where} AND c.embedded = 1 LIMIT ?",
            params + [limit + 1])]
        return None if len(ids) > limit else ids

    @_explained
    def document_frequencies(self, words: list[str]) -> dict[str, int]:
        """word -> how many chunks hold it (FTS5's own vocabulary; absent words are 0)."""
        distinct = sorted(set(w for w in words if w))
        if not distinct:
            return {}
        conn = self._connection()
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.terms_vocab "
                     "USING fts5vocab(main, terms, 'row')")
        found = dict(conn.execute(f"SELECT term, doc FROM temp.terms_vocab WHERE term IN "
                                  f"({','.join('?' * len(distinct))})", distinct))
        return {w: int(found.get(w, 0)) for w in distinct}

    def bounded_words(self, words: list[str], max_postings: int | None) -> list[str]:
        """The question's words, rarest first, kept while the chunks they match add up to
        at most `max_postings` (the rarest word is always kept): BM25 then scores a bounded
        number of chunks whatever the archive's size. The words dropped are the most
        frequent ones, which weigh least in BM25 (low idf). Repeats of a kept word stay.
        None or a small archive: every word."""
        if not max_postings or len(set(words)) < 2:
            return list(words)
        frequencies = self.document_frequencies(words)
        if sum(frequencies.values()) <= max_postings:
            return list(words)
        kept: set[str] = set()
        total = 0
        for word in sorted(frequencies, key=lambda w: (frequencies[w], w)):
            if kept and total + frequencies[word] > max_postings:
                break
            kept.add(word)
            total += frequencies[word]
        return [w for w in words if w in kept]

    @_explained
    def search_words(self, words: list[str], k: int, filters: Filters,
                     max_postings: int | None = None) -> list[tuple[ChunkRow, float]]:
        """The k best chunks for the words by BM25 (FTS5), filters applied, best first;
        with `max_postings`, the most frequent words are left out first (`bounded_words`).

        FTS5 ranks the matches alone (row ids and scores), then the k winners' rows are
        read: the full rows of every match never go through the sort."""
        expression = match_expression(self.bounded_words(words, max_postings))
        if expression is None or k <= 0:
            return []
        conn = self._connection()
        if filters.active:
            where, params = filter_sql(filters)
            ranked = conn.execute(
                f"SELECT terms.rowid, bm25(terms) AS rank FROM terms JOIN chunks c ON "
                f"c.rowid = terms.rowid WHERE terms MATCH ? AND {where} ORDER BY rank LIMIT ?",
                [expression, *params, k]).fetchall()
        else:
            ranked = conn.execute("SELECT rowid, rank FROM terms WHERE terms MATCH ? "
                                  "ORDER BY rank LIMIT ?", [expression, k]).fetchall()
        if not ranked:
            return []
        rows = {row[0]: ChunkRow(*row[1:]) for row in conn.execute(
            f"{_SELECT.replace('SELECT ', 'SELECT c.rowid, ')} WHERE c.rowid IN "
            f"({','.join('?' * len(ranked))})", [rowid for rowid, _ in ranked])}
        return [(rows[rowid], -float(rank)) for rowid, rank in ranked if rowid in rows]

    @_explained
    def facts(self) -> dict:
        """What the catalog holds: chunks, articles, sources, date range."""
        conn = self._connection()
        chunks, articles, first, last = conn.execute(
            "SELECT count(*), count(DISTINCT doc_id), min(NULLIF(date, '')), max(NULLIF(date, '')) "
            "FROM chunks").fetchone()
        sources = [r[0] for r in conn.execute(
            "SELECT DISTINCT source FROM chunks WHERE source != '' ORDER BY source")]
        return {"chunks": chunks, "articles": articles, "sources": sources,
                "date_from": first, "date_to": last}

    @_explained
    def newest_articles(self, limit: int) -> list[tuple[str, str]]:
        """(title, source) of the `limit` newest articles with a title, newest first."""
        rows = self._connection().execute(
            "SELECT title, max(source), max(date) AS d FROM chunks WHERE title != '' "
            "GROUP BY doc_id ORDER BY d DESC, title LIMIT ?", (limit,)).fetchall()
        return [(title, source or "") for title, source, _ in rows]

    @_explained
    def match_count(self, words: list[str]) -> int:
        """How many chunks hold any of the words (the BM25 candidates before ranking)."""
        expression = match_expression(words)
        if expression is None:
            return 0
        return self._connection().execute("SELECT count(*) FROM terms WHERE terms MATCH ?",
                                          [expression]).fetchone()[0]

    def last_change(self) -> float | None:
        """When the catalog was last written (its file's or its write-ahead log's
        modification time, seconds since the epoch), or None when it has no file."""
        stamps = [f.stat().st_mtime for f in (self.path, Path(f"{self.path}-wal")) if f.is_file()]
        return max(stamps) if stamps else None

    def chunks_with_keys(self, keys: list[str]) -> dict[str, str]:
        """text key -> the id of one embedded chunk with that text (for reusing its vector)."""
        found: dict[str, str] = {}
        conn = self._connection()
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            for key, chunk_id in conn.execute(
                    f"SELECT text_key, min(chunk_id) FROM chunks WHERE embedded = 1 AND text_key "
                    f"IN ({','.join('?' * len(part))}) GROUP BY text_key", part):
                found[key] = chunk_id
        return found

    def story_ids(self) -> dict[str, str]:
        """doc id -> story id of every stored article."""
        return dict(self._connection().execute("SELECT DISTINCT doc_id, story_id FROM chunks"))

    def article_spans(self, skip: Set[str] = frozenset(), only: Set[str] | None = None
                      ) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
        """(doc id, date, [(start, text) of each chunk]) of every stored article not in
        `skip` (or only of the articles `only` names, read by their index), one article
        at a time (for grouping copies without the files at hand, or showing an article)."""
        if only is not None:
            marks = ",".join("?" * len(only))
            rows = self._connection().execute(
                f"SELECT doc_id, date, start_char, text FROM chunks WHERE doc_id IN ({marks}) "
                "ORDER BY doc_id, chunk_index", sorted(only))
        else:
            rows = self._connection().execute(
                "SELECT doc_id, date, start_char, text FROM chunks ORDER BY doc_id, chunk_index")
        current, date = None, ""
        spans: list[tuple[int, str]] = []
        for doc_id, day, start, text in rows:
            if doc_id != current:
                if current is not None and current not in skip:
                    yield current, date, spans
                current, date, spans = doc_id, day, []
            spans.append((start, text))
        if current is not None and current not in skip:
            yield current, date, spans

    def story_articles(self, story_ids: list[str]) -> dict[str, list[dict]]:
        """story id -> its articles ({doc_id, title, source, date, url}; original first,
        then by date)."""
        found: dict[str, list[dict]] = {}
        if not story_ids:
            return found
        ids = sorted(set(story_ids))
        rows = self._connection().execute(
            "SELECT story_id, doc_id, title, source, date, url FROM chunks WHERE story_id IN "
            f"({','.join('?' * len(ids))}) GROUP BY doc_id "
            "ORDER BY story_id, doc_id != story_id, date = '', date, doc_id", ids)
        for story, doc_id, title, source, day, url in rows:
            found.setdefault(story, []).append({"doc_id": doc_id, "title": title,
                                                "source": source or None, "date": day or None,
                                                "url": url or None})
        return found

    def article_texts(self, doc_ids: list[str]) -> dict[str, list[str]]:
        """doc id -> the texts of its chunks, in order."""
        found: dict[str, list[str]] = {}
        ids = sorted(set(doc_ids))
        if not ids:
            return found
        for doc_id, text in self._connection().execute(
                f"SELECT doc_id, text FROM chunks WHERE doc_id IN ({','.join('?' * len(ids))}) "
                "ORDER BY doc_id, chunk_index", ids):
            found.setdefault(doc_id, []).append(text)
        return found

    def iter_rows(self, batch: int = 5000) -> Iterator[list[ChunkRow]]:
        """Every row, in pages of `batch`, in storage order."""
        last = 0
        conn = self._connection()
        while True:
            got = conn.execute(f"{_SELECT.replace('SELECT ', 'SELECT c.rowid, ')} "
                               "WHERE c.rowid > ? ORDER BY c.rowid LIMIT ?", (last, batch)).fetchall()
            if not got:
                return
            last = got[-1][0]
            yield [ChunkRow(*row[1:]) for row in got]

    # -- the embedding queue: rows written with embedded = 0 ---------------------------
    @_explained
    def pending_rows(self, limit: int) -> list[ChunkRow]:
        """Up to `limit` rows still waiting for their vectors, oldest first."""
        return [ChunkRow(*row) for row in self._connection().execute(
            f"{_SELECT} WHERE c.embedded = 0 ORDER BY c.rowid LIMIT ?", (limit,))]

    @_explained
    def pending_ids(self) -> set[str]:
        """Ids of every row still waiting for its vector."""
        return {r[0] for r in self._connection().execute(
            "SELECT chunk_id FROM chunks WHERE embedded = 0")}

    @_explained
    def pending_among(self, chunk_ids: list[str]) -> set[str]:
        """Those of these chunks still waiting for their vectors."""
        if not chunk_ids:
            return set()
        marks = ",".join("?" * len(chunk_ids))
        return {r[0] for r in self._connection().execute(
            f"SELECT chunk_id FROM chunks WHERE embedded = 0 AND chunk_id IN ({marks})", chunk_ids)}

    @_explained
    def pending_counts(self) -> tuple[int, int]:
        """(chunks, articles) still waiting for vectors."""
        chunks, articles = self._connection().execute(
            "SELECT count(*), count(DISTINCT doc_id) FROM chunks WHERE embedded = 0").fetchone()
        return chunks, articles

    def mark_embedded(self, chunk_ids: list[str]) -> None:
        """The vectors of these chunks are stored (one transaction)."""
        self._write([("UPDATE chunks SET embedded = 1 WHERE chunk_id = ?",
                      [(c,) for c in chunk_ids])])

    # -- writing (one writer at a time: ingest holds the lock) -----------------------
    @_explained
    def _write(self, statements: Iterable[tuple[str, Iterable]]) -> None:
        conn = self._connection()
        with _transaction(conn):
            for sql, params in statements:
                conn.executemany(sql, params)
            conn.execute(_BUMP_REVISION)

    def put(self, rows: list[ChunkRow], words: list[list[str]], embedded: bool = True) -> None:
        """Insert or replace chunks with their content words (one transaction); with
        embedded=False they wait in the embedding queue."""
        ids = [(r.chunk_id,) for r in rows]
        placeholders = ",".join("?" * (len(COLUMNS) + 1))
        self._write([
            ("DELETE FROM terms WHERE rowid = (SELECT rowid FROM chunks WHERE chunk_id = ?)", ids),
            ("DELETE FROM chunks WHERE chunk_id = ?", ids),
            (f"INSERT INTO chunks ({', '.join(COLUMNS)}, embedded) VALUES ({placeholders})",
             [(*(getattr(r, c) for c in COLUMNS), int(embedded)) for r in rows]),
            ("INSERT INTO terms (rowid, words) SELECT rowid, ? FROM chunks WHERE chunk_id = ?",
             [(" ".join(w), r.chunk_id) for r, w in zip(rows, words)]),
        ])

    def update_metadata(self, rows: list[ChunkRow]) -> None:
        """New article metadata for existing chunks (text unchanged)."""
        names = [c for c in COLUMNS if c not in ("chunk_id", "doc_id", "text", "start_char",
                                                 "end_char", "chunk_index", "text_key")]
        assignments = ", ".join(f"{n} = ?" for n in names)
        self._write([(f"UPDATE chunks SET {assignments} WHERE chunk_id = ?",
                      [tuple(getattr(r, n) for n in names) + (r.chunk_id,) for r in rows])])

    def set_story_ids(self, stories: dict[str, str]) -> None:
        """doc id -> story id for stored articles (one transaction)."""
        self._write([("UPDATE chunks SET story_id = ? WHERE doc_id = ?",
                      [(story, doc_id) for doc_id, story in stories.items()])])

    def delete(self, chunk_ids: list[str]) -> None:
        """Remove chunks (one transaction)."""
        ids = [(c,) for c in chunk_ids]
        self._write([
            ("DELETE FROM terms WHERE rowid = (SELECT rowid FROM chunks WHERE chunk_id = ?)", ids),
            ("DELETE FROM chunks WHERE chunk_id = ?", ids),
        ])

    def bump_revision(self) -> None:
        """Announce a change made elsewhere (the vector store) to readers."""
        self._write([])
