"""Concurrent use: two ingests at once are refused with a message or serialised; questions
asked while an ingest runs (in this process or another, embedded store or Chroma server)
still answer; many threads can share one Newsdesk.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.answer import Answer, Newsdesk
from rag.ingest.chunking import chunk_article
from rag.ingest import IngestBusyError, IngestReport, ingest
from rag.sources.files import load_corpus
from rag.index.store import StoreError
from tests.support.cli import start_rag
from tests.support.reliability import (ChromaServer, all_ids, build_corpus,
                                       check_contract, make_settings, seed_text)
from tests.support.waiting import file_is_locked, wait_until

pytestmark = pytest.mark.slow

LAVROV = "What did Lavrov demand?"


def expected_ids(folder: Path, settings) -> set[str]:
    """The chunk ids a clean ingest of folder stores (ids are content hashes)."""
    return {c.chunk_id for a in load_corpus(folder).articles
            for c in chunk_article(a, settings.chunk_tokens, settings.chunk_overlap)}


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    build_corpus(folder, 8)
    (folder / "seed.md").write_text(seed_text(), encoding="utf-8")
    return folder


def test_two_ingests_at_once_one_runs_and_the_other_is_refused_with_a_message(tmp_path, corpus):
    settings = make_settings(tmp_path, corpus_dir=corpus, embedding_batch_size=4)
    procs = [start_rag("ingest", "--quiet", settings=settings, cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, _, err in results if code == 1)
    assert refused.startswith(f"error: another ingest into collection '{settings.collection}' "
                              "is running"), refused
    assert "wait for it to finish" in refused and "Traceback" not in refused
    assert all_ids(settings) == expected_ids(corpus, settings)


def test_two_ingests_that_may_wait_are_serialised_and_embed_each_chunk_once(tmp_path, corpus):
    settings = make_settings(tmp_path, corpus_dir=corpus, embedding_batch_size=4)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: ingest(corpus, settings, progress=False, wait_seconds=600),
                                range(2)))
    wanted = expected_ids(corpus, settings)
    assert sorted(r.embedded for r in reports) == [0, len(wanted)], "a chunk was embedded twice"
    assert all_ids(settings) == wanted


def test_an_ingest_in_this_process_refuses_a_second_one_without_waiting(tmp_path, corpus):
    """Two uploads on the chat page at once: the second ingest is told, not queued forever."""
    from rag.ingest.sync import lock_path

    settings = make_settings(tmp_path, corpus_dir=corpus, embedding_batch_size=4)
    errors: list[BaseException] = []

    def first() -> None:
        try:
            ingest(corpus, settings, progress=False)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    runner = threading.Thread(target=first)
    runner.start()
    wait_until(lambda: file_is_locked(lock_path(settings)) or not runner.is_alive(), timeout=120,
               interval=0.005, what="the first ingest to take the lock")
    assert runner.is_alive(), "the first ingest ended before it could be interrupted"
    started = time.perf_counter()
    with pytest.raises(IngestBusyError) as refused:
        ingest(corpus, settings, progress=False)
    assert time.perf_counter() - started < 5
    runner.join(timeout=600)
    assert not errors, errors
    assert str(lock_path(settings)) in str(refused.value)
    assert all_ids(settings) == expected_ids(corpus, settings)


def _ask_until(desk: Newsdesk, running, corpus: Path) -> tuple[int, list[BaseException]]:
    """Ask questions in a loop while running() holds; count answers, collect errors."""
    questions = [LAVROV, "Where was the Super Bowl 2021 played?", "What did Blinken warn of?"]
    answered, errors = 0, []
    while running():
        try:
            answer = desk.answer(questions[answered % len(questions)])
            check_contract(answer, corpus)
            answered += 1
        except BaseException as err:  # noqa: BLE001 - every failure is a finding
            errors.append(err)
            time.sleep(0.2)
    return answered, errors


def _seeded(tmp_path: Path, corpus: Path, **overrides):
    """Settings over corpus whose store already holds the seed article alone."""
    settings = make_settings(tmp_path, corpus_dir=corpus, embedding_batch_size=4, **overrides)
    seed_only = tmp_path / "seed-only" / corpus.name  # same folder name: same article id
    seed_only.mkdir(parents=True)
    (seed_only / "seed.md").write_text(seed_text(), encoding="utf-8")
    ingest(seed_only, settings, progress=False)
    return settings


def test_questions_answer_while_another_process_ingests_into_the_embedded_store(tmp_path, corpus):
    settings = _seeded(tmp_path, corpus)
    desk = Newsdesk(settings)
    assert not desk.answer(LAVROV).refused
    proc = start_rag("ingest", "--quiet", settings=settings, cwd=tmp_path)
    answered, errors = _ask_until(desk, lambda: proc.poll() is None, corpus)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert not errors, f"{len(errors)} failed questions during the ingest: {errors[:3]}"
    assert answered >= 3
    # the BM25 index checks the store's revision once a second
    assert wait_until(lambda: any("Super Bowl" in p.title
                                  for p in desk.answer("Super Bowl 2021 location").passages),
                      timeout=10, interval=0.2, what="the ingested article to be found")


def test_questions_answer_while_this_process_ingests_in_a_thread(tmp_path, corpus):
    """How the chat page ingests an upload: same process, same client, another thread."""
    settings = _seeded(tmp_path, corpus)
    desk = Newsdesk(settings)
    report: list[IngestReport] = []
    runner = threading.Thread(target=lambda: report.append(ingest(corpus, settings, progress=False)))
    runner.start()
    answered, errors = _ask_until(desk, runner.is_alive, corpus)
    runner.join()
    assert report and report[0].added > 0
    assert not errors, f"{len(errors)} failed questions during the ingest: {errors[:3]}"
    assert answered >= 3


def test_questions_answer_while_another_process_ingests_into_a_chroma_server(tmp_path, corpus):
    server = ChromaServer(tmp_path / "server").start()
    try:
        settings = _seeded(tmp_path, corpus, store="server", chroma_port=server.port)
        desk = Newsdesk(settings)
        proc = start_rag("ingest", "--quiet", settings=settings, cwd=tmp_path)
        answered, errors = _ask_until(desk, lambda: proc.poll() is None, corpus)
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert not errors, f"{len(errors)} failed questions during the ingest: {errors[:3]}"
        assert answered >= 3
    finally:
        server.stop()


def test_questions_during_a_rebuild_by_another_process_fail_clearly_then_answer(tmp_path, corpus):
    """`rag ingest --rebuild` drops the collection: meanwhile a clear StoreError, never a
    traceback, and answers again as soon as it is back, without restarting the desk."""
    settings = _seeded(tmp_path, corpus)
    desk = Newsdesk(settings)
    proc = start_rag("ingest", "--quiet", "--rebuild", settings=settings, cwd=tmp_path)
    answered, errors = _ask_until(desk, lambda: proc.poll() is None, corpus)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    unclear = [e for e in errors if not isinstance(e, StoreError)]
    assert not unclear, f"errors that are not a clear StoreError: {unclear[:3]}"

    def answered_again() -> Answer | None:  # the BM25 index sees the rebuilt store within a second
        answer = desk.answer(LAVROV)
        return None if answer.refused else answer

    answer = wait_until(answered_again, timeout=10, interval=0.2, what="an answer from the rebuilt store")
    check_contract(answer, corpus)


def test_many_threads_sharing_one_desk_get_the_answers_one_thread_gets(seeded_settings, desk):
    questions = [LAVROV, "What did Blinken warn of?", "Where did the talks take place?",
                 "Who reported the story?", "What is the capital of Peru?"]
    alone = {q: desk.answer(q).to_dict() for q in questions}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: (q, desk.answer(q).to_dict()), questions * 8))
    for question, got in together:
        want = alone[question]
        assert (got["answer"], got["refused"], got["citations"]) == \
            (want["answer"], want["refused"], want["citations"])
