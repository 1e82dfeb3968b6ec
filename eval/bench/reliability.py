"""Reliability figures: run the reliability tests and print what they exercised.

Fuzz cases (hypothesis examples, summed over every property test), faults injected
(`tests/test_faults.py`'s own count plus each damaged-store, failing-server and bad-input
case of the Reliability II tests), SIGKILLs that landed mid-ingest, and the load run
(users, requests, failures, latency). Every figure comes from this run's output:

    python -m eval.bench.reliability            # about 10 minutes on 2 cores
    LOAD_SECONDS=20 python -m eval.bench.reliability   # a shorter load run
    python -m eval.bench.reliability memory     # only the fetch-memory figure

The `memory` group is measured, not tested: the peak RSS of `rag ingest URL` processes
on compressed bombs (brotli, zstd, gzip, deflate, gzip twice; each expanding to 1 GB)
served from 127.0.0.1, against the same command on a normal article page.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import os
import re
import subprocess
import sys
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {
    "fuzz": ["tests/test_fuzz_ingest.py", "tests/test_bad_questions.py",
             "tests/test_reliability_ii_sources.py", "tests/test_reliability_iii_property.py"],
    "faults": ["tests/test_faults.py", "tests/test_reliability_ii_store.py",
               "tests/test_reliability_ii_cli.py", "tests/test_secrets.py",
               "tests/test_reliability_iii_sources.py", "tests/test_reliability_iii_models.py"],
    "kills": ["tests/test_crash_safety.py", "tests/test_copies.py::"
              "test_an_ingest_of_copies_killed_mid_way_ends_like_a_clean_one"],
    "load": ["tests/test_load.py"],
}
_EXAMPLES = re.compile(r"- (\d+) passing, (\d+) failing")
_FAULTS = re.compile(r"faults injected in test_faults\.py: (\d+)")
_LANDED = re.compile(r"SIGKILL landed: (\[.*\])")
_LOAD = re.compile(r"^load: .*$", re.MULTILINE)


def _kills(listed: str) -> int:
    try:
        return len(ast.literal_eval(listed))
    except (ValueError, SyntaxError):
        return listed.count(",") + 1


def run(groups: list[str]) -> int:
    """Run the chosen groups' tests in one pytest session; print the figures; pytest's code."""
    paths = [p for g in groups for p in GROUPS[g]]
    with tempfile.TemporaryDirectory(prefix="reliability-bench-") as work:
        junit = Path(work) / "junit.xml"
        command = [sys.executable, "-m", "pytest", *paths, "-s", "-q", "-p", "no:cacheprovider",
                   "--hypothesis-show-statistics", f"--junitxml={junit}",
                   f"--basetemp={Path(work) / 'tmp'}"]
        print("$", " ".join(command[1:]), flush=True)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        output = done.stdout + done.stderr
        tally = outcomes(junit.read_text() if junit.exists() else "<testsuites/>", groups)
    print("\n## Reliability figures")
    print("\n".join(figures(output, tally, groups)))
    if done.returncode:
        print(f"\npytest exited {done.returncode}; its last lines:\n" + "\n".join(output.splitlines()[-30:]))
    return done.returncode


def outcomes(junit_xml: str, groups: list[str]) -> Counter:
    """(group, passed | failed | skipped) -> number of tests, from pytest's JUnit XML."""
    tally: Counter = Counter()
    for case in ET.fromstring(junit_xml).iter("testcase"):
        file = case.get("classname", "").replace(".", "/") + ".py"
        group = next((g for g in groups for p in GROUPS[g] if p.split("::")[0] == file), "?")
        failed = case.find("failure") is not None or case.find("error") is not None
        tally[(group, "failed" if failed else
               "skipped" if case.find("skipped") is not None else "passed")] += 1
    return tally


def figures(output: str, tally: Counter, groups: list[str]) -> list[str]:
    """The figure lines, read from the tests' own output (`-s`, hypothesis statistics)."""
    lines = [f"- {g} tests: {tally[(g, 'passed')]} passed, {tally[(g, 'failed')]} failed, "
             f"{tally[(g, 'skipped')]} skipped" for g in groups]
    if "fuzz" in groups:
        examples = [(int(a), int(b)) for a, b in _EXAMPLES.findall(output)]
        lines.append(f"- fuzz cases (hypothesis examples over {len(examples)} property tests): "
                     f"{sum(a for a, _ in examples):,} passing, {sum(b for _, b in examples)} failing")
    if "faults" in groups:
        faults = sum(int(n) for n in _FAULTS.findall(output))
        lines.append(f"- faults injected by test_faults.py: {faults} (model server down, slow, "
                     "stalling, garbage replies; Chroma server stopped and restarted); the "
                     "group's other tests inject one each (damaged, read-only or full store, "
                     "failing embedding server, bad settings, hostile names)")
    if "kills" in groups:
        landed = [_kills(m) for m in _LANDED.findall(output)]
        lines.append(f"- SIGKILLs landed mid-ingest: {sum(landed)} in {len(landed)} crash runs "
                     "(each then compared with a clean ingest)")
    if "load" in groups:
        lines += [f"- {line}" for line in _LOAD.findall(output)]
    return lines


BOMB_BYTES = 1 << 30   # what each bomb expands to
_PARAGRAPH = ("The harbour bridge reopened to traffic on Saturday morning after a two-year "
              "repair programme that cost the city 48 million euros, the transport department said. ")
PAGE = ("<!DOCTYPE html><html><head><title>Harbour bridge reopens</title></head><body><article>"
        "<h1>Harbour bridge reopens</h1>" + "".join(f"<p>{_PARAGRAPH * 2}</p>" for _ in range(6))
        + "</article></body></html>").encode()


def _zeros_compressed(compress, flush) -> bytes:
    block, out = bytes(1 << 20), []
    for _ in range(BOMB_BYTES >> 20):
        out.append(compress(block))
    out.append(flush())
    return b"".join(out)


def bombs() -> dict[str, tuple[bytes, str]]:
    """path -> (body, Content-Encoding): each expands to BOMB_BYTES of zeros."""
    import brotli
    import zstandard

    gz = zlib.compressobj(9, zlib.DEFLATED, 31)
    gzip_bomb = _zeros_compressed(gz.compress, gz.flush)
    df = zlib.compressobj(9)
    br = brotli.Compressor(quality=5)
    zs = zstandard.ZstdCompressor().compressobj()
    return {"/gzip": (gzip_bomb, "gzip"), "/gzip-gzip": (gzip.compress(gzip_bomb, 9), "gzip, gzip"),
            "/deflate": (_zeros_compressed(df.compress, df.flush), "deflate"),
            "/br": (_zeros_compressed(br.process, br.finish), "br"),
            "/zstd": (_zeros_compressed(zs.compress, zs.flush), "zstd")}


def _serve(routes: dict[str, tuple[bytes, str]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, encoding = routes.get(self.path, (b"", ""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _ingest_peak_mb(urls: list[str], work: Path) -> tuple[float, str]:
    """Peak RSS (MB) of one `rag ingest` process on the URLs, in a fresh store; its last line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(NEWSDESK_STORE_PATH=str(work / "chroma"), NEWSDESK_CORPUS_DIR=str(work / "corpus"),
               NEWSDESK_FETCH_ALLOW_PRIVATE="true", NEWSDESK_FETCH_DELAY_SECONDS="0",
               HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    rag = Path(sys.executable).parent / "rag"
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen([str(rag), "ingest", "--quiet", *urls], cwd=work, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, text=True)
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0
        out.seek(0)
        lines = out.read().strip().splitlines()
    skipped = [line for line in lines if line.startswith("skipped ")]
    return usage.ru_maxrss / 1024, (skipped or lines or [""])[-1]


def fetch_memory() -> list[str]:
    """The figure lines: peak RSS of `rag ingest` on each bomb, alone and beside a normal
    page, against the normal page alone."""
    routes = {"/page": (PAGE, ""), **bombs()}
    server = _serve(routes)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    lines, ratios = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="fetch-memory-") as tmp:
            def peak(name: str, urls: list[str]) -> tuple[float, str]:
                work = Path(tmp) / name
                work.mkdir()
                return _ingest_peak_mb(urls, work)

            normal, said = peak("page", [f"{base}/page"])
            lines.append(f"- fetch memory: `rag ingest` of a normal page peaks at {normal:.0f} MB ({said})")
            for path, (body, encoding) in routes.items():
                if path == "/page":
                    continue
                alone, said = peak(path.strip("/") + "-alone", [f"{base}{path}"])
                both, _ = peak(path.strip("/") + "-both", [f"{base}/page", f"{base}{path}"])
                ratios += [alone / normal, both / normal]
                lines.append(f"- {encoding} bomb ({len(body):,} bytes -> {BOMB_BYTES:,}): alone "
                             f"{alone:.0f} MB ({alone / normal:.2f}x), with the page {both:.0f} MB "
                             f"({both / normal:.2f}x); {said[:160]}")
    finally:
        server.shutdown()
        server.server_close()
    lines.append(f"- fetch memory: largest bomb / normal page = {max(ratios):.2f}x (bound: 1.20x)")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    known = [*GROUPS, "memory"]
    parser.add_argument("groups", nargs="*", help=f"any of {', '.join(known)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in known]
    if unknown:
        parser.error(f"unknown group {', '.join(unknown)}: use {', '.join(known)}")
    chosen = args.groups or known
    tests = [g for g in chosen if g in GROUPS]
    code = run(tests) if tests else 0
    if "memory" in chosen:
        print("\n## Fetch memory\n" + "\n".join(fetch_memory()), flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
