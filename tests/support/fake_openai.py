"""A stand-in for the OpenAI API on 127.0.0.1 (the one thing outside the machine).

It answers /v1/chat/completions with a reply the test chooses, plain or streamed (SSE),
and records the requests it received so a test can check what the app sent.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class FakeOpenAI:
    """Replies with `reply` (or HTTP `status`) to every chat completion."""

    def __init__(self, reply: str = "", status: int = 200) -> None:
        self.reply, self.status = reply, status
        self.requests: list[dict] = []


def _handler(fake: FakeOpenAI):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            fake.requests.append({"path": self.path, "body": body,
                                  "authorization": self.headers.get("Authorization", "")})
            if fake.status != 200:
                self._json(fake.status, {"error": {"message": "rejected", "type": "invalid_request_error"}})
            elif body.get("stream"):
                self._stream(body.get("model", "fake"))
            else:
                self._json(200, {"id": "c1", "object": "chat.completion", "created": 0,
                                 "model": body.get("model", "fake"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": fake.reply}}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in fake.reply.split(" "):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@contextmanager
def fake_openai(reply: str = "", status: int = 200) -> Iterator[tuple[FakeOpenAI, str]]:
    """Run the fake on a free port; yields (fake, base_url)."""
    fake = FakeOpenAI(reply, status)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
