"""`rag serve` answers at once and embeds in the background; `rag ingest --no-embed`;
one Newsdesk for the page, /v1 and /mcp (issue 25, searchable first, embedded next).

Real `rag` processes and a real `rag serve` on a free 127.0.0.1 port; the page, /v1 and
/mcp in one process for the shared-Newsdesk check, served by uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import gc
import json
import re
import threading

import httpx
import pytest
from filelock import FileLock

from eval.bench.common import free_port
from eval.bench.progressive import ask_v1, cites_new_file, write_corpus
from rag.index.chunks import queued_chunks
from rag.ingest import ingest
from rag.ingest.sync import lock_path
from tests.support.cli import run_rag, start_rag
from tests.support.settings import isolated_env, make_settings
from tests.support.waiting import wait_until
from tests.ui_fixtures import LAVROV, ingested_settings

QUEUED = re.compile(r"(\d+) chunks searchable, not embedded yet: run `rag ingest` or `rag serve` "
                    r"to embed them")


def test_ingest_no_embed_leaves_searchable_rows_for_the_next_ingest(tmp_path):
    settings = make_settings(tmp_path, copy_corpus=True)
    run = run_rag("ingest", "--quiet", "--no-embed", settings=settings)
    assert run.returncode == 0, run.stderr
    said = QUEUED.search(run.stdout)
    assert said, run.stdout
    assert int(said[1]) == queued_chunks(settings) > 0
    assert " 0 embedded" in run.stdout

    asked = run_rag("ask", "--json", LAVROV, settings=settings)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["not_embedded"] == 1 and not answer["refused"], answer
    assert "Lavrov" in answer["answer"]

    embedded = run_rag("ingest", "--quiet", settings=settings)
    assert embedded.returncode == 0, embedded.stderr
    assert f" {said[1]} embedded" in embedded.stdout and not QUEUED.search(embedded.stdout)
    assert queued_chunks(settings) == 0
    again = json.loads(run_rag("ask", "--json", LAVROV, settings=settings).stdout)
    assert again["not_embedded"] == 0 and not again["refused"] and "Lavrov" in again["answer"]


@pytest.mark.slow
def test_serve_answers_from_words_while_chunks_wait_and_embeds_them_after(tmp_path):
    """Start-up makes the corpus searchable only: /v1 answers by the words while the
    queue is held (an ingest holds the lock), and the worker embeds it once free."""
    write_corpus(tmp_path / "corpus", 12)
    port = free_port()
    settings = make_settings(tmp_path)
    url = f"http://127.0.0.1:{port}"
    serve = start_rag("serve", env=isolated_env(settings, NEWSDESK_UI_PORT=str(port)))
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(serve.stdout), daemon=True).start()
    lock = FileLock(str(lock_path(settings)))
    try:
        waiting = wait_until(lambda: next((int(m[1]) for line in lines if (m := re.match(
            r"(\d+) chunks wait for embedding", line))), None) or serve.poll() is not None,
            timeout=120, what="the start-up line saying how many chunks wait")
        assert serve.poll() is None, serve.stderr.read()
        lock.acquire(timeout=5)   # before the worker starts: the queue stays while held
        try:
            assert waiting == queued_chunks(settings) > 0
            first = wait_until(lambda: ask_v1(url), timeout=120, what="a /v1 answer")
            assert cites_new_file(first), first
            assert first["not_embedded"] == 13 and queued_chunks(settings) == waiting
            assert "flood barrier" in first["answer"]
        finally:
            lock.release()
        last = wait_until(lambda: (got := ask_v1(url)) and got["not_embedded"] == 0 and got,
                          timeout=300, interval=1, what="not_embedded 0 (the worker's embedding)")
        assert cites_new_file(last) and queued_chunks(settings) == 0
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_the_page_v1_and_mcp_share_one_newsdesk(tmp_path):
    """After a page question and a /v1 question, this store has one Newsdesk in the process
    (there were two: the page's and the API's, each with its own Chroma client)."""
    import uvicorn
    from gradio_client import Client

    from rag.answer import Newsdesk
    from ui.server import build_server

    settings = ingested_settings(tmp_path)
    app = build_server(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.ui_port,
                                          log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.ui_port}"
    try:
        wait_until(lambda: server.started, timeout=60, what="uvicorn to start")
        assert httpx.get(f"{url}/", timeout=30).status_code == 200
        page = Client(url, verbose=False, download_files=False).predict(
            LAVROV, [], 5, None, api_name="/ask")
        api = ask_v1(url, LAVROV)
        assert page["answer"] and api is not None and api["answer"] == page["answer"]
        gc.collect()
        mine = [o for o in gc.get_objects()
                if isinstance(o, Newsdesk) and o.settings.store_path == settings.store_path]
        assert len(mine) == 1 and app.state.desk.get() is mine[0]
    finally:
        server.should_exit = True
        thread.join(timeout=30)



def test_the_serve_worker_lets_a_waiting_ingest_in_between_batches(tmp_path, monkeypatch):
    """An upload or a feed sync waiting for the ingest lock gets it while the worker still
    has chunks to embed (it lets go between batches), not after the whole queue."""
    from rag.ingest import follow, sync
    from rag.ingest.follow import embed_in_background

    write_corpus(tmp_path / "corpus", 8)
    settings = make_settings(tmp_path)
    ingest(settings.corpus_dir, settings, progress=False, embed=False)
    queued = queued_chunks(settings)
    monkeypatch.setattr(sync, "EMBED_BATCH", 2)                 # many small batches
    monkeypatch.setattr(follow, "EMBED_SLICE_SECONDS", 0.05)
    errors: list[str] = []
    stop = embed_in_background(settings, on_error=errors.append, every=0.2)
    try:
        wait_until(lambda: queued_chunks(settings) < queued, timeout=120,
                   what="the worker to embed its first batch")
        with FileLock(str(lock_path(settings))).acquire(timeout=60):
            assert queued_chunks(settings) > 0, "the lock came only after the whole queue"
        wait_until(lambda: queued_chunks(settings) == 0, timeout=300, interval=0.2,
                   what="the worker to embed the rest")
    finally:
        stop.set()
    assert not errors


def test_an_upload_beside_the_serve_worker_is_searchable_at_once_not_embedded(tmp_path):
    """Under `rag serve` (whose worker embeds) an upload does not embed: it returns with
    its chunks queued, and the article is answered from its words meanwhile."""
    from rag.answer import Newsdesk
    from ui.uploads import add_articles

    settings = make_settings(tmp_path, copy_corpus=True)
    ingest(settings.corpus_dir, settings, progress=False)
    upload = tmp_path / "harbour.txt"
    upload.write_text("title: Harbour strike ends\ndate: 2024-05-24\nsource: Wire\n\n"
                      "Port workers in Millbrook ended their nine-day harbour strike on Friday "
                      "after the port authority agreed to a 6 percent pay rise.\n", encoding="utf-8")
    result = add_articles([upload], settings, embed=False)
    assert result.added == ["harbour.txt"] and result.report is not None
    assert result.report.embedded == 0 and queued_chunks(settings) > 0
    answer = Newsdesk(settings).answer("What pay rise ended the harbour strike?")
    assert answer.not_embedded == 1 and not answer.refused, answer.answer
    assert "6 percent" in answer.answer
