"""Dependencies failing: the LLM server down, slow or talking garbage; the Chroma server
stopped mid-session and started again.

Each fault gives a clear error naming what failed and its address (ModelError,
StoreError), within the configured timeout, or a safe answer whose citations hold; and
once a dependency is back, the same `Newsdesk` works again without a restart. The LLM
server is a tiny HTTP server on 127.0.0.1 (a fake of the OpenAI API, which is outside
the machine); Chroma is the real `chroma run`.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from rag.answer import Newsdesk
from rag.answer.generators import ModelError
from rag.ingest import ingest
from rag.index.store import StoreError
from tests.support.reliability import (SEED_DIR, VENV_BIN, ChromaServer, FakeOpenAI,
                                       chat_completion, check_contract, free_port, isolated_env,
                                       make_settings, send)

LAVROV = "What did Lavrov demand?"
FAULTS: list[str] = []  # every fault injected, listed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def _count_faults():
    yield
    print(f"\nfaults injected in test_faults.py: {len(FAULTS)}: {', '.join(FAULTS)}")


def _model_desk(seeded_settings, base_url: str, timeout: float = 5.0) -> Newsdesk:
    return Newsdesk(seeded_settings.with_changes(
        generator="openai-compatible", base_url=base_url, model="fake-model",
        request_timeout=timeout))


def _ask(desk: Newsdesk, stream: bool):
    if stream:
        return list(desk.stream(LAVROV))[-1]
    return desk.answer(LAVROV)


# --- the LLM server -------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_a_model_server_that_is_down_is_named_and_fails_fast(seeded_settings, stream):
    url = f"http://127.0.0.1:{free_port()}/v1"
    FAULTS.append("LLM server down" + (" (stream)" if stream else ""))
    desk = _model_desk(seeded_settings, url)
    started = time.perf_counter()
    with pytest.raises(ModelError, match="is not reachable") as err:
        _ask(desk, stream)
    assert url in str(err.value)
    assert time.perf_counter() - started < 10


def test_the_cli_names_a_down_model_server_without_a_traceback(seeded_settings):
    url = f"http://127.0.0.1:{free_port()}/v1"
    FAULTS.append("LLM server down (CLI)")
    settings = seeded_settings.with_changes(generator="openai-compatible", base_url=url)
    run = subprocess.run([str(VENV_BIN / "rag"), "ask", LAVROV], capture_output=True, text=True,
                         env=isolated_env(settings), timeout=120)
    assert run.returncode == 1
    assert run.stderr.startswith(f"error: model server at {url} is not reachable"), run.stderr
    assert "Traceback" not in run.stderr


def _slow(seconds: float):
    def reply(handler, body):
        time.sleep(seconds)
        send(handler, 200, chat_completion("Too late [1]."))
    return reply


def _stall_mid_stream(handler, body):
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "Lavrov demanded "}, "finish_reason": None}]}
    handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
    handler.wfile.flush()
    time.sleep(30)


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_a_slow_model_server_times_out_within_request_timeout(seeded_settings, stream):
    timeout = 1.5
    FAULTS.append(f"LLM server slower than request_timeout" + (" (stream)" if stream else ""))
    with FakeOpenAI(_slow(30)) as fake:
        desk = _model_desk(seeded_settings, fake.base_url, timeout)
        with pytest.raises(ModelError):  # the first call also pays for imports and warm-up
            _ask(desk, stream)
        sent = len(fake.requests)
        started = time.perf_counter()
        with pytest.raises(ModelError, match="did not answer in time") as err:
            _ask(desk, stream)
        elapsed = time.perf_counter() - started
    assert fake.base_url in str(err.value)
    # one attempt and one retry, each cut at request_timeout, plus the retry's back-off
    assert len(fake.requests) - sent <= 2
    assert elapsed < 2 * timeout + 2.0, f"took {elapsed:.1f} s with request_timeout {timeout}"


def test_a_stream_that_stalls_midway_times_out_instead_of_hanging(seeded_settings):
    timeout = 1.5
    FAULTS.append("LLM stream stalls mid-reply")
    with FakeOpenAI(_stall_mid_stream) as fake:
        desk = _model_desk(seeded_settings, fake.base_url, timeout)
        started = time.perf_counter()
        with pytest.raises(ModelError) as err:
            list(desk.stream(LAVROV))
        elapsed = time.perf_counter() - started
    assert fake.base_url in str(err.value)
    assert elapsed < 2 * timeout + 6


def _raw(status: int, body: bytes | str, content_type: str = "application/json"):
    return lambda handler, request: send(handler, status, body, content_type)


def _cut_off(handler, request):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "5000")
    handler.end_headers()
    handler.wfile.write(b'{"id": "x", "choi')
    handler.close_connection = True


GARBAGE = {
    "plain text with 200": _raw(200, "not json at all", "text/plain"),
    "an HTML page with 200": _raw(200, "<html><body>Welcome to nginx!</body></html>", "text/html"),
    "an empty body": _raw(200, b""),
    "JSON without choices": _raw(200, {"id": "x", "object": "chat.completion"}),
    "null choices": _raw(200, {"id": "x", "choices": None}),
    "null content": _raw(200, {"id": "x", "choices": [{"index": 0, "message": {"content": None}}]}),
    "truncated JSON": _raw(200, '{"id": "x", "choices": [{"index": 0, "message": {"content": "La'),
    "a connection cut mid-body": _cut_off,
    "HTTP 500 with HTML": _raw(500, "<html>Internal Server Error</html>", "text/html"),
    "HTTP 429": _raw(429, {"error": {"message": "slow down"}}),
    "HTTP 404": _raw(404, {"error": {"message": "no such model"}}),
    "bad server-sent events": _raw(200, "data: {not json}\n\n", "text/event-stream"),
    "fake citation markers": _raw(200, chat_completion(
        "Lavrov demanded guarantees [7][0][99999999999] and [1, 2, 300] ]]][[[ [1].")),
    "control characters and lone surrogates": _raw(200, chat_completion(
        "\x00\x1b[31mLavrov\u202e demanded \ud800 guarantees\x07 [1].")),
    "an answer 20 000 characters long": _raw(200, chat_completion("Lavrov demanded " * 1250)),
    "markers only": _raw(200, chat_completion("[1][2][3]")),
}


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
@pytest.mark.parametrize("garbage", list(GARBAGE))
def test_a_garbage_reply_gives_a_clear_error_or_a_safe_answer(seeded_settings, garbage, stream):
    FAULTS.append(f"LLM garbage: {garbage}" + (" (stream)" if stream else ""))
    with FakeOpenAI(GARBAGE[garbage]) as fake:
        desk = _model_desk(seeded_settings, fake.base_url)
        started = time.perf_counter()
        try:
            answer = _ask(desk, stream)
        except ModelError as err:
            assert fake.base_url in str(err), f"error does not name the server: {err}"
        else:
            check_contract(answer, seeded_settings.corpus_dir)
            json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")
            assert not any(ch in answer.answer for ch in "\x00\x1b\x07\u202e\ud800")
        assert time.perf_counter() - started < 15


def test_the_same_desk_works_again_once_the_model_server_is_back(seeded_settings):
    """Down, then up on the same address: no restart of the app needed."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    FAULTS.append("LLM server down then back")
    desk = _model_desk(seeded_settings, url)
    with pytest.raises(ModelError, match="not reachable"):
        desk.answer(LAVROV)
    reply = "Russia demanded that NATO halt its eastward expansion [1]."
    with FakeOpenAI(lambda handler, body: send(handler, 200, chat_completion(reply)), port=port):
        answer = desk.answer(LAVROV)
    assert not answer.refused and "NATO" in answer.answer
    check_contract(answer, seeded_settings.corpus_dir)


# --- the Chroma server -----------------------------------------------------------------

@pytest.fixture
def chroma_desk(tmp_path):
    """A Newsdesk over a `chroma run` server holding the seed article, and the server."""
    server = ChromaServer(tmp_path / "server").start()
    settings = make_settings(tmp_path, corpus_dir=SEED_DIR, store="server",
                             chroma_port=server.port)
    ingest(SEED_DIR, settings, progress=False)
    try:
        yield Newsdesk(settings), server, settings
    finally:
        server.stop()


@pytest.mark.slow
def test_a_stopped_chroma_server_is_named_and_the_desk_recovers_when_it_is_back(chroma_desk):
    desk, server, _ = chroma_desk
    before = desk.answer(LAVROV)
    assert not before.refused

    server.stop()
    FAULTS.append("Chroma server stopped mid-session")
    for _ in range(2):  # a second question while it is down fails the same clear way
        started = time.perf_counter()
        with pytest.raises(StoreError) as err:
            desk.answer(LAVROV)
        assert f"Chroma server http://127.0.0.1:{server.port} is not reachable" in str(err.value)
        assert time.perf_counter() - started < 15

    server.start()  # same port, same data folder
    after = desk.answer(LAVROV)
    assert (after.answer, [c.chunk_id for c in after.citations]) == \
        (before.answer, [c.chunk_id for c in before.citations])


@pytest.mark.slow
def test_the_cli_names_a_stopped_chroma_server_without_a_traceback(chroma_desk):
    _, server, settings = chroma_desk
    server.stop()
    FAULTS.append("Chroma server down (CLI ask and ingest)")
    for args in (["ask", LAVROV], ["ingest", "--quiet", str(SEED_DIR)]):
        run = subprocess.run([str(VENV_BIN / "rag"), *args], capture_output=True, text=True,
                             env=isolated_env(settings), timeout=120)
        assert run.returncode == 1, run.stderr
        assert run.stderr.startswith(f"error: Chroma server http://127.0.0.1:{server.port}"), \
            run.stderr[-2000:]
        assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_an_ingest_into_a_stopped_chroma_server_is_a_store_error_naming_it(chroma_desk, tmp_path):
    _, server, settings = chroma_desk
    server.stop()
    FAULTS.append("Chroma server down (ingest)")
    with pytest.raises(StoreError, match=f"Chroma server http://127.0.0.1:{server.port}"):
        ingest(SEED_DIR, settings, progress=False)
