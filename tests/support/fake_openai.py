"""The one stand-in for the OpenAI API (the one thing outside the machine): an HTTP
server on 127.0.0.1 that records every request (path, lower-cased headers,
authorization, JSON body) and answers as the test chooses:

- a string: every chat completion gets that reply, plain or streamed (SSE) as asked;
  with `status` other than 200, an OpenAI-style error instead;
- a function `reply(handler, body)`: writes any response (slow, stalled, garbage...).
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

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


def send_stream(handler: BaseHTTPRequestHandler, text: str, model: str) -> None:
    """Stream `text` word by word as chat.completion.chunk events, then [DONE]."""
    events = [{"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
              for word in text.split(" ")]
    data = ("".join(f"data: {json.dumps(event)}\n\n" for event in events)
            + "data: [DONE]\n\n").encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class FakeOpenAI:
    """The fake server; use as a context manager. `base_url` ends in /v1 like the real API."""

    def __init__(self, reply: str | Reply = "", status: int = 200, port: int = 0) -> None:
        self.reply, self.status = reply, status
        self.requests: list[dict[str, Any]] = []
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
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append({"path": self.path, "headers": headers, "body": body,
                                      "authorization": headers.get("authorization", "")})
                try:
                    fake._answer(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        if callable(self.reply):
            self.reply(handler, body)
        elif self.status != 200:
            send(handler, self.status,
                 {"error": {"message": "rejected", "type": "invalid_request_error"}})
        elif body.get("stream"):
            send_stream(handler, self.reply, body.get("model", "fake"))
        else:
            send(handler, 200, chat_completion(self.reply, body.get("model", "fake")))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fake_openai(reply: str | Reply = "", status: int = 200) -> Iterator[tuple[FakeOpenAI, str]]:
    """Run a FakeOpenAI on a free port; yields (fake, base_url)."""
    with FakeOpenAI(reply, status) as fake:
        yield fake, fake.base_url
