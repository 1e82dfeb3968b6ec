"""Run xllamacpp's embedded OpenAI-compatible llama.cpp server until told to stop.

Usage: python llm_server_launcher.py MODEL.gguf [--port N] [--ctx 2048] [--threads 2]

Prints one line ``LISTENING <url>`` on stdout once the model is loaded and the HTTP
server is up (port 0 = let the OS pick a free port), then blocks until SIGTERM,
SIGINT, or EOF on stdin (so it dies with the parent that holds its stdin pipe).
llama.cpp logs go to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--alias", default="SmolLM2-135M-Instruct")
    args = ap.parse_args()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}  # otherwise /v1/models reports the full file path
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_gpu_layers = 0
    params.ui = False

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    # Server() loads the model and starts the HTTP listener; raises RuntimeError on failure.
    server = xllamacpp.Server(params)
    print(f"LISTENING {server.listening_address}", flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.wait(0.5):
        pass
    del server  # stops the HTTP listener and the main loop
    return 0


if __name__ == "__main__":
    sys.exit(main())
