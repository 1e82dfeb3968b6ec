"""Reliability II (issue 13), the store: readers during re-ingests and after kills
(item 3), a damaged or read-only store (7), a port where something else than Chroma
answers (10). Real Chroma, the real catalog, real `rag` processes, real SIGKILLs.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.index.chunks import catalog_path
from rag.ingest import ingest
from tests.support.cli import run_rag
from tests.support.mounts import in_private_mounts
from tests.support.reliability import free_port, isolated_env, make_settings, seed_text
from tests.support.waiting import wait_until

MOVING = "harbour.txt"
DOC = "corpus/harbour.txt"


def _version_text(version: int) -> str:
    return (f"title: Harbour festival\ndate: 2022-06-0{1 + version % 9}\nsource: Gazette\n\n"
            f"The harbour festival drew record crowds to the quay this weekend. "
            f"Organisers counted festival edition marker v{version:03d} in the programme. "
            f"Fishing boats decorated for edition v{version:03d} sailed past the lighthouse.\n")


def _versions(texts) -> set[int]:
    return {int(v) for t in texts for v in re.findall(r"\bv(\d{3})\b", t)}


def _stored_versions(settings) -> set[int]:
    with sqlite3.connect(f"file:{catalog_path(settings)}?mode=ro", uri=True) as conn:
        return _versions(r[0] for r in conn.execute("SELECT text FROM chunks WHERE doc_id = ?", (DOC,)))


def _writer(settings, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args],
                          capture_output=True, text=True, env=isolated_env(settings), timeout=600)


REWRITE_AND_INGEST = """
    import sys
    from pathlib import Path
    from rag.config import load_settings
    from rag.ingest import ingest
    sys.path.insert(0, ".")
    from tests.test_reliability_ii_store import _version_text
    settings = load_settings().settings
    first, last = int(sys.argv[1]), int(sys.argv[2])
    for version in range(first, last + 1):
        (settings.corpus_dir / "harbour.txt").write_text(_version_text(version))
        ingest(settings.corpus_dir, settings, progress=False)
"""

# A SIGKILL at an exact point of an ingest: before the catalog rows of new vectors are
# written (Chroma has them), or after stale catalog rows are deleted (Chroma still has them).
KILLED_INGEST = """
    import os, signal, sys
    from rag.config import load_settings
    from rag.index.catalog import Catalog
    from rag.ingest import ingest
    sys.path.insert(0, ".")
    from tests.test_reliability_ii_store import _version_text
    settings = load_settings().settings
    version, point = int(sys.argv[1]), sys.argv[2]
    (settings.corpus_dir / "harbour.txt").write_text(_version_text(version))
    delete = Catalog.delete
    def marked(self, chunk_ids):  # vectors written, rows not yet marked embedded
        os.kill(os.getpid(), signal.SIGKILL)
    def deleted(self, chunk_ids):
        delete(self, chunk_ids)
        os.kill(os.getpid(), signal.SIGKILL)
    if point == "vectors_written":
        Catalog.mark_embedded = marked
    else:
        Catalog.delete = deleted
    ingest(settings.corpus_dir, settings, progress=False)
"""


class Reader:
    """Answers questions about the harbour article in a thread until stopped; records
    errors and any passage from a version deleted before the question was asked."""

    def __init__(self, settings) -> None:
        from rag.answer import Newsdesk

        self.desk = Newsdesk(settings)
        self.settings = settings
        self.errors: list[str] = []
        self.deleted_seen: list[tuple[int, set[int]]] = []
        self.answers = 0
        self.last: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                present = _stored_versions(self.settings)
                answer = self.desk.answer("How did the harbour festival edition go?")
                got = _versions(p.text for p in answer.passages if p.doc_id == DOC)
                if present and got and min(got) < min(present):
                    self.deleted_seen.append((min(present), got))
                for citation in answer.citations:
                    passage = next(p for p in answer.passages if p.n == citation.n)
                    assert citation.quote in passage.text
                self.last = got
                self.answers += 1
            except Exception as err:  # noqa: BLE001 - every failure is the finding
                self.errors.append(f"{type(err).__name__}: {err}")

    def __enter__(self) -> "Reader":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def current_within(self, version: int, seconds: float = 20) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.last == {version}:
                return True
            time.sleep(0.2)
        return False


@pytest.fixture
def harbour(tmp_path):
    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir(parents=True)
    (settings.corpus_dir / "seed.md").write_text(seed_text(), encoding="utf-8")
    (settings.corpus_dir / MOVING).write_text(_version_text(0))
    ingest(settings.corpus_dir, settings, progress=False)
    return settings


@pytest.mark.slow
def test_readers_never_see_a_deleted_chunk_while_another_process_re_ingests(harbour):
    with Reader(harbour) as reader:
        run = _writer(harbour, REWRITE_AND_INGEST, "1", "6")
        assert run.returncode == 0, run.stderr
        assert reader.current_within(6)
    assert reader.answers > 5 and not reader.errors, reader.errors[:3]
    assert not reader.deleted_seen, reader.deleted_seen[:3]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["vectors_written", "catalog_rows_deleted"])
def test_a_re_run_after_a_kill_between_writes_leaves_readers_current(harbour, point):
    with Reader(harbour) as reader:
        killed = _writer(harbour, KILLED_INGEST, "7", point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        asked = reader.answers + len(reader.errors)  # let readers meet the killed writer's store
        wait_until(lambda: reader.answers + len(reader.errors) >= asked + 3, timeout=60,
                   what="three more questions from the reader")
        assert _stored_versions(harbour) in ({0}, {7})  # the catalog is whole, old or new
        rerun = ingest(harbour.corpus_dir, harbour, progress=False)
        assert _stored_versions(harbour) == {7}
        assert reader.current_within(7), (point, rerun.summary(), reader.last)
        again = ingest(harbour.corpus_dir, harbour, progress=False)
        assert (again.added, again.deleted) == (0, 0)
    assert not reader.errors and not reader.deleted_seen, (reader.errors[:3], reader.deleted_seen[:3])


# -- item 7: a damaged or read-only store ---------------------------------------------------
def _one_error(run: subprocess.CompletedProcess, *words: str) -> str:
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    (line,) = [x for x in run.stderr.splitlines() if x.startswith("error:")]
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    for word in words:
        assert word in line, line
    return line


def _garble(path: Path, how: str) -> None:
    with sqlite3.connect(path) as conn:  # the pages in the write-ahead log go to the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    if how == "truncated":
        os.truncate(path, size // 2)
    else:
        with open(path, "r+b") as handle:
            handle.seek(size // 3 if how == "garbled" else 0)
            handle.write(os.urandom(size // 3 if how == "garbled" else size))


@pytest.mark.slow
@pytest.mark.parametrize("target,how", [("chroma.sqlite3", "truncated"), ("catalog", "overwritten")])
def test_a_damaged_store_says_rebuild_and_rebuild_works(harbour, target, how):
    path = catalog_path(harbour) if target == "catalog" else harbour.store_path / target
    _garble(path, how)
    _one_error(run_rag("ask", "How did the harbour festival go?", settings=harbour), "damaged",
               "rag ingest --rebuild")
    rebuilt = run_rag("ingest", "--rebuild", "--quiet", settings=harbour)
    assert rebuilt.returncode == 0 and "Traceback" not in rebuilt.stderr, rebuilt.stderr
    asked = run_rag("ask", "How did the harbour festival go?", settings=harbour)
    # answered from the rebuilt store: the article of version 0 (dated 2022-06-01) is cited
    assert asked.returncode == 0 and "Harbour festival (2022-06-01, Gazette)" in asked.stdout, \
        asked.stderr


@pytest.mark.slow
def test_a_read_only_store_gives_one_line_saying_check_permissions(harbour):
    folder = harbour.store_path  # a read-only bind mount: root ignores file modes
    prefix = in_private_mounts(f"mount --bind '{folder}' '{folder}' && "
                               f"mount -o remount,bind,ro '{folder}' && exec")
    for command in (["ask", "How did the harbour festival go?"], ["ingest", "--quiet"],
                    ["ingest", "--rebuild", "--quiet"]):
        line = _one_error(run_rag(*command, prefix=prefix, settings=harbour), "permissions")
        assert str(harbour.store_path) in line


# -- item 10: something else than Chroma on the port --------------------------------------
class NotChroma(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


def test_a_port_where_another_program_answers_is_reported_as_not_chroma(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotChroma)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = make_settings(tmp_path, store="server", chroma_host="127.0.0.1",
                                 chroma_port=server.server_address[1])
        line = _one_error(run_rag("ask", "Who met in Geneva?", settings=settings),
                          "not as a Chroma server",
                          f"127.0.0.1:{server.server_address[1]}")
        assert "ValueError" not in line
    finally:
        server.shutdown()
        server.server_close()


def test_a_port_where_nothing_listens_is_reported_as_not_reachable(tmp_path):
    settings = make_settings(tmp_path, store="server", chroma_host="127.0.0.1", chroma_port=free_port())
    _one_error(run_rag("ask", "Who met in Geneva?", settings=settings), "not reachable", "chroma run")
