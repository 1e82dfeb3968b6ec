"""`python -m eval.bench.api`: the OpenAI-compatible API against the page, on one store.

Figures (a real `rag serve` on 127.0.0.1 over an ingested copy of corpus/, offline default):
- first streamed token: the API (`openai` SDK, stream=True, time to the first content
  delta) and the page (its own streaming event through `gradio_client`, time to the first
  update carrying answer text), asked alternately, median of ROUNDS each; the ratio;
- load: USERS concurrent API users asking for SECONDS (streaming and not, the questions
  of tests/test_load.py): failed requests, answers served, p50/p95 latency.

    nice python -m eval.bench.api [--rounds 10] [--users 16] [--seconds 60]

`serving()` is shared with tests/test_api_openai.py and tests/test_mcp.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from eval.bench.common import REPO, free_port, isolated_env, rag_command, stop_process

QUESTION = "What did Lavrov demand?"
LOAD_QUESTIONS = [
    ("What did Lavrov demand?", []),
    ("What did Blinken call the talks?", []),
    ("Where did Blinken and Lavrov hold their talks?", []),
    ("And what did Blinken say about it?", [{"role": "user", "content": "What did Lavrov demand?"}]),
    ("Who won the 2022 World Cup?", []),
    ("What did Russia demand about NATO expansion?", []),
]


@contextmanager
def serving(settings, root: Path, ui_auth: str | None = None,
            start_timeout: float = 180) -> Iterator[tuple[str, Path]]:
    """`rag serve --no-ingest` over settings in its own process on a free port; yields
    (base URL, log file) and stops it afterwards."""
    port = free_port()
    env = isolated_env(settings, NEWSDESK_UI_PORT=str(port),
                       NEWSDESK_FEEDBACK_PATH=str(root / "feedback.jsonl"))
    if ui_auth:
        env["NEWSDESK_UI_AUTH"] = ui_auth
    log_path = root / f"serve-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*rag_command(), "serve", "--no-ingest"], cwd=root, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(url, proc, log_path, start_timeout)
            yield url, log_path
        finally:
            stop_process(proc)


def _wait_until_up(url: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"rag serve did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def ingested_site(root: Path):
    """Settings over a copy of corpus/ under root, ingested (the offline default)."""
    from rag.config import Settings
    from rag.ingest import ingest

    shutil.copytree(REPO / "corpus", root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", store_path=root / "chroma",
                        collection="api-bench", feedback_path=root / "feedback.jsonl")
    ingest(settings.corpus_dir, settings, progress=False)
    return settings


# --- first token ---------------------------------------------------------------------

def api_first_token(client, question: str = QUESTION) -> float:
    """Seconds from the request to the first content delta of a streamed answer."""
    started = time.perf_counter()
    first = None
    for chunk in client.chat.completions.create(model="newsdesk", stream=True,
                                                messages=[{"role": "user", "content": question}]):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("the API streamed no text")
    return first


def page_first_token(url: str, question: str = QUESTION) -> float:
    """Seconds from submitting the page's question to the first streamed update whose
    chat message carries answer text (not the "…" placeholder), as the browser gets it."""
    import httpx

    with httpx.Client(base_url=url, timeout=120) as http:
        config = http.get("/config").json()
        fn_index = next(i for i, d in enumerate(config["dependencies"])
                        if d.get("types", {}).get("generator") and len(d.get("inputs", [])) == 7)
        dependency = config["dependencies"][fn_index]
        components = {c["id"]: c for c in config["components"]}
        data = []
        for component_id in dependency["inputs"]:
            kind = components[component_id]["type"]
            value = components[component_id].get("props", {}).get("value")
            data.append(question if kind == "textbox" and component_id == dependency["inputs"][0]
                        else value)
        session = os.urandom(8).hex()
        started = time.perf_counter()
        joined = http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": session,
            "trigger_id": dependency.get("targets", [[None]])[0][0], "event_data": None})
        joined.raise_for_status()
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as events:
            for line in events.iter_lines():
                if not line.startswith("data:") or "process_" not in line:
                    continue
                if _carries_answer(line):
                    return time.perf_counter() - started
                if '"process_completed"' in line:
                    break
    raise RuntimeError("the page streamed no answer text")


def _carries_answer(line: str) -> bool:
    """Whether a queue event's chat update holds answer text (the placeholder is "…")."""
    import json

    event = json.loads(line[5:])
    output = event.get("output") or {}
    chat = (output.get("data") or [None])[0]
    if isinstance(chat, list) and chat and isinstance(chat[0], list):  # a diff of the chat
        return any(isinstance(op, list) and len(op) == 3 and isinstance(op[2], str)
                   and op[2].strip() not in ("", "…") and "content" in str(op[1])
                   for op in chat)
    if isinstance(chat, list):
        last = chat[-1] if chat else {}
        content = last.get("content") if isinstance(last, dict) else None
        if isinstance(content, list):   # [{"type": "text", "text": "..."}]
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        text = content if isinstance(content, str) else ""
        return last.get("role") == "assistant" and text.strip() not in ("", "…")
    return False


# --- load ----------------------------------------------------------------------------

def load(url: str, users: int, seconds: float) -> dict:
    """`users` threads asking the API for `seconds`; failures, count, p50/p95."""
    from openai import OpenAI

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def user(number: int) -> None:
        client = OpenAI(base_url=f"{url}/v1", api_key="none", timeout=300, max_retries=0)
        turn = number
        while time.monotonic() < stop_at:
            question, history = LOAD_QUESTIONS[turn % len(LOAD_QUESTIONS)]
            messages = [*history, {"role": "user", "content": question}]
            started = time.perf_counter()
            try:
                if turn % 2:
                    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                        model="newsdesk", messages=messages, stream=True) if c.choices)
                else:
                    text = client.chat.completions.create(model="newsdesk", messages=messages
                                                          ).choices[0].message.content
                if not text:
                    raise RuntimeError("empty answer")
                with lock:
                    latencies.append(time.perf_counter() - started)
            except Exception as err:  # noqa: BLE001 - counted and reported
                with lock:
                    failures.append(f"{type(err).__name__}: {str(err)[:120]}")
            turn += 1

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    pick = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]) if latencies else (lambda q: float("nan"))
    return {"served": len(latencies), "failed": len(failures), "failures": failures[:5],
            "p50_s": pick(0.50), "p95_s": pick(0.95)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="first-token samples per surface")
    parser.add_argument("--users", type=int, default=16, help="concurrent API users")
    parser.add_argument("--seconds", type=float, default=60, help="load duration")
    args = parser.parse_args(argv)
    from openai import OpenAI

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        root = Path(tmp)
        settings = ingested_site(root)
        with serving(settings, root) as (url, _):
            client = OpenAI(base_url=f"{url}/v1", api_key="none", timeout=120, max_retries=0)
            api_first_token(client), page_first_token(url)   # warm both paths
            api, page = [], []
            for _ in range(args.rounds):
                api.append(api_first_token(client))
                page.append(page_first_token(url))
            api_ms, page_ms = statistics.median(api) * 1000, statistics.median(page) * 1000
            print(f"first streamed token, median of {args.rounds} (same server, same store, "
                  f"'{QUESTION}'):")
            print(f"  API  (openai SDK, stream=True):        {api_ms:7.1f} ms")
            print(f"  page (its streaming event, via queue): {page_ms:7.1f} ms")
            print(f"  ratio API/page: {api_ms / page_ms:.2f} (goal <= 1.2)")
            result = load(url, args.users, args.seconds)
            print(f"load: {args.users} concurrent API users x {args.seconds:.0f} s: "
                  f"{result['served']} answers, {result['failed']} failed, "
                  f"p50 {result['p50_s'] * 1000:.0f} ms, p95 {result['p95_s'] * 1000:.0f} ms")
            for failure in result["failures"]:
                print(f"  failure: {failure}")


if __name__ == "__main__":
    main()
