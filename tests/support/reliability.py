"""Helpers for the reliability and security tests: isolated settings, a corpus big enough
to interrupt, a real `chroma run` server, and a tiny HTTP server that plays the OpenAI API.

Only the OpenAI API is faked (it is outside the machine); Chroma, the embedding model
and the stores are the real ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

from eval.bench.common import ChromaServer, free_port  # noqa: F401  (shared with the benchmark)
from rag.config import Settings

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SEED_DIR = REPO / "corpus"
RGB_FILE = REPO.parent / "shared" / "datasets" / "rgb" / "en_fact.json"


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings isolated in tmp (own store, corpus and lock), whatever the cwd holds."""
    values: dict[str, Any] = {"corpus_dir": tmp / "corpus", "store_path": tmp / "chroma",
                              "collection": "newsdesk-test"}
    values.update(overrides)
    return Settings(**values)


def isolated_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a `rag` subprocess that uses exactly these settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSDESK_") and k != "OPENAI_API_KEY"}
    for name in ("corpus_dir", "store", "store_path", "chroma_host", "chroma_port", "collection",
                 "embedding_batch_size", "chunk_tokens", "chunk_overlap", "generator",
                 "base_url", "model", "request_timeout"):
        value = getattr(settings, name)
        if value is not None:
            env["NEWSDESK_" + name.upper()] = str(value)
    env.update(GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False",
               HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def seed_text() -> str:
    """The seed article's file text (front matter and body)."""
    return next(SEED_DIR.glob("*.md")).read_text(encoding="utf-8")


def _seed_paragraphs() -> list[str]:
    body = seed_text().split("---", 2)[-1]
    return [p.strip() for p in body.split("\n\n") if len(p.strip()) > 80]


def build_corpus(folder: Path, articles: int = 36) -> list[Path]:
    """A corpus of `articles` distinct articles: RGB news snippets (one article per RGB
    question) when ../shared/datasets/rgb is present, else re-orderings of the seed
    article's paragraphs. Returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if RGB_FILE.is_file():
        records = [json.loads(line) for line in RGB_FILE.read_text(encoding="utf-8").splitlines()
                   if line.strip()]
        for record in records[:articles]:
            snippets = record["positive"] + record["negative"]
            body = "\n\n".join(s.strip() for s in snippets)
            path = folder / f"rgb_{record['id']:03d}.txt"
            path.write_text(f"title: {record['query']}\ndate: 2023-01-{record['id'] % 28 + 1:02d}\n"
                            f"source: RGB\n\n{body}\n", encoding="utf-8")
            written.append(path)
    else:
        paragraphs = _seed_paragraphs()
        for i in range(articles):
            order = paragraphs[i % len(paragraphs):] + paragraphs[:i % len(paragraphs)]
            body = "\n\n".join(f"({i}) {p}" for p in order)
            path = folder / f"seed_variant_{i:03d}.txt"
            path.write_text(f"title: Variant {i}\ndate: 2022-01-21\nsource: Reuters\n\n{body}\n",
                            encoding="utf-8")
            written.append(path)
    return written


def all_ids(settings: Settings) -> set[str]:
    """Every chunk id in the settings' collection (empty when there is none)."""
    from rag.index.store import connect

    client = connect(settings)
    try:
        collection = client.get_collection(settings.collection)
    except Exception as err:  # the collection was never created
        if "does not exist" in str(err).lower():
            return set()
        raise
    ids: set[str] = set()
    offset = 0
    while True:
        page = collection.get(include=[], limit=5000, offset=offset)
        ids.update(page["ids"])
        if len(page["ids"]) < 5000:
            return ids
        offset += 5000


# --- a real Chroma server: eval.bench.common.ChromaServer (shared with the benchmark) ---

@contextlib.contextmanager
def running_chroma(path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(path).start()
    try:
        yield server
    finally:
        server.stop()


# --- a fake OpenAI API ---------------------------------------------------------------

Reply = Callable[[BaseHTTPRequestHandler, dict], None]


def chat_completion(content: str, model: str = "fake-model") -> dict:
    """An OpenAI chat.completions response body carrying `content`."""
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes | str | dict,
         content_type: str = "application/json") -> None:
    """Write a whole HTTP response."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class FakeOpenAI:
    """An HTTP server on 127.0.0.1 whose replies the test chooses; records each request
    (path, headers with lower-case names, JSON body). `base_url` ends in /v1 like the
    real API."""

    def __init__(self, reply: Reply, port: int = 0) -> None:
        self.reply = reply
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                fake.requests.append({"path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body})
                try:
                    fake.reply(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- checks on the answer contract ---------------------------------------------------

def check_contract(answer: Any, corpus: Path) -> None:
    """Assert the citation invariants of an Answer: every marker names a passage that was
    given, every citation's n is one of them and its quote is the article text at its
    offsets."""
    from rag.sources.files import load_file

    given = {p.n for p in answer.passages}
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers <= given, f"markers {markers - given} name no given passage"
    texts: dict[str, str] = {}
    for path in sorted(corpus.rglob("*")):
        if path.is_file():
            try:
                for article in load_file(path, root=corpus):
                    texts[article.doc_id] = article.text
            except Exception:  # noqa: BLE001 - bad files are not cited anyway
                continue
    for citation in answer.citations:
        assert citation.n in given, f"citation [{citation.n}] is not a given passage"
        assert citation.n in markers, f"citation [{citation.n}] has no marker in the answer"
        text = texts[citation.doc_id]
        assert text[citation.start:citation.end] == citation.quote
        passage = next(p for p in answer.passages if p.n == citation.n)
        assert passage.start <= citation.start and citation.end <= passage.end
    if answer.refused:
        assert not answer.citations
