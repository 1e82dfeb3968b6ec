"""Searchable first: how soon a new file is answerable (lexically) after `rag ingest`
starts on a batch that holds it, whatever the batch's size.

A folder of N generated news articles (300 by default, five paragraphs each, from
`eval.bench.feeds.article`) plus one new file whose text holds a word found nowhere
else, sorted last (the worst place in the batch). `rag ingest <folder>` runs in a fresh
process into a fresh store with the default embedding model; this process polls the
collection's catalog read-only (FTS5, as `rag ask`'s lexical stage reads it) every 50 ms
until the new file's chunk is the best lexical hit for that word. Printed: seconds from
starting `rag ingest` to that hit, to the end of the ingest (every chunk embedded), and
the goal (< 5 s).

    python -m eval.bench.progressive                 # 300 articles + the new file
    python -m eval.bench.progressive --articles 20   # quicker
    python -m eval.bench.progressive --articles 1000 --stop-at-hit  # kill it once found
    python -m eval.bench.progressive --code DIR      # the same with the code in DIR
                                                     # (e.g. `git archive` of main: before)

`--serve` measures `rag serve` instead: seconds from starting it on a folder of N real
news articles (RealTime QA's, when ../shared/datasets has them) and the new file (fresh
store) to the first correct /v1 answer about the new file (polled every 0.2 s), and to
every chunk embedded (`not_embedded` 0 in the answer JSON), before and after side by
side. Before is main's behaviour, a full ingest first: `rag ingest && rag serve
--no-ingest` with this code, or `rag serve` of the code in --before-code DIR.

    python -m eval.bench.progressive --serve --articles 250
    python -m eval.bench.progressive --serve --before-code /tmp/main-code
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

from eval.bench.common import free_port, isolated_env, make_settings, rag_command, stop_process
from eval.bench.feeds import article
from rag.index.chunks import lexical_doc_ids
from rag.text import tokenize

GOAL_SECONDS = 5.0
MARKER = "Quokkaville"   # a town no generated article names
NEW_FILE = "zz-new-article.md"
QUESTION = f"What opened in {MARKER}?"
ANSWER_GRACE_SECONDS = 90.0  # --serve: how long a served page may take to answer correctly


def write_corpus(folder: Path, articles: int) -> str:
    """N generated articles and the new file (last in sort order); its doc id."""
    rng = random.Random(25)
    folder.mkdir(parents=True)
    for n in range(articles):
        title, paragraphs, day = article(n, rng)
        (folder / f"{n:04d}.md").write_text(
            f"---\ntitle: \"{title}\"\ndate: {day}\nsource: Bench Courier\n---\n"
            + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    (folder / NEW_FILE).write_text(
        "---\ntitle: Flood barrier opens in " + MARKER + "\ndate: 2026-12-07\nsource: Bench "
        "Courier\n---\nThe new flood barrier in " + MARKER + " opened on Monday, two years "
        "ahead of schedule, the harbour authority said.\n", encoding="utf-8")
    return NEW_FILE


def write_news_corpus(folder: Path, articles: int, body_chars: int = 1000) -> str:
    """For --serve: N real news articles (RealTime QA's first N, bodies cut at
    `body_chars`) when its data is there, else N generated ones, and the new file. The
    generated articles share most of their words, so they are grouped as copies of one
    story: fine for finding the new file, not for answering questions about it."""
    from eval.bench.chunking import RTQA

    if RTQA is None:
        return write_corpus(folder, articles)
    write_corpus(folder, 0)
    with RTQA.open(encoding="utf-8") as lines:
        for n, line in zip(range(articles), lines):
            record = json.loads(line)
            (folder / f"{n:04d}.md").write_text(
                f"---\ntitle: {json.dumps(record.get('title') or record['id'])}\n"
                f"date: {record.get('date') or '2022-01-01'}\n"
                f"source: {json.dumps(record.get('source') or 'RealTime QA')}\n---\n"
                + record["body"][:body_chars] + "\n", encoding="utf-8")
    return NEW_FILE


def lexical_hit(settings, word: str) -> str | None:
    """The doc id of the best lexical hit for the word, or None (no catalog or no hit)."""
    found = lexical_doc_ids(settings, tokenize([word])[0], 1)
    return found[0] if found else None


def measure(articles: int, code: Path | None, timeout: float, stop_at_hit: bool = False) -> dict:
    """One ingest of the batch; seconds to the new file's lexical hit and to the end."""
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-progressive-") as work:
        corpus = Path(work) / "corpus"
        new_doc = write_corpus(corpus, articles)
        settings = make_settings(store_path=Path(work) / "chroma", corpus_dir=corpus,
                                 collection="progressive")
        env = isolated_env(settings)
        if code is not None:  # the code measured comes first on the path
            env["PYTHONPATH"] = os.pathsep.join([str(code.resolve()), env["PYTHONPATH"]])
        started = time.perf_counter()
        proc = subprocess.Popen([*rag_command(), "ingest", "--quiet", str(corpus)], cwd=work,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        hit = None
        try:
            while time.perf_counter() - started < timeout:
                if hit is None and (lexical_hit(settings, MARKER) or "").endswith(new_doc):
                    hit = time.perf_counter() - started
                if proc.poll() is not None or (hit is not None and stop_at_hit):
                    break
                time.sleep(0.05)
            if hit is None and (lexical_hit(settings, MARKER) or "").endswith(new_doc):
                hit = time.perf_counter() - started
            if hit is not None and stop_at_hit and proc.poll() is None:
                proc.kill()
            out, err = proc.communicate(timeout=max(1.0, timeout - (time.perf_counter() - started)))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        done = None if stop_at_hit else time.perf_counter() - started
        if proc.returncode != 0 and not stop_at_hit:
            raise SystemExit(f"rag ingest failed ({proc.returncode}): {err[-2000:]}")
        summary = out.strip().splitlines()[-1] if out.strip() else "(killed once found)"
        return {"hit_s": hit, "done_s": done, "summary": summary}


def ask_v1(url: str, question: str = QUESTION) -> dict | None:
    """The answer JSON (`newsdesk` field) of one /v1 question, or None (not up, error)."""
    import httpx

    try:
        reply = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
            "model": "newsdesk", "messages": [{"role": "user", "content": question}]})
    except httpx.HTTPError:
        return None
    return reply.json().get("newsdesk") if reply.status_code == 200 else None


def is_up(url: str) -> bool:
    """Whether `rag serve` answers /v1/models."""
    import httpx

    try:
        return httpx.get(f"{url}/v1/models", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def cites_new_file(result: dict | None) -> bool:
    """Whether an answer is the right one: not refused, citing the new file."""
    return bool(result) and not result.get("refused") and any(
        str(c.get("doc_id", "")).endswith(NEW_FILE) for c in result.get("citations") or [])


def measure_serve(articles: int, before: bool, before_code: Path | None,
                  timeout: float) -> dict:
    """One `rag serve` start on a fresh store: seconds to the first correct /v1 answer and
    to every chunk embedded, and the articles not embedded at that first answer."""
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-serve-") as work:
        corpus = Path(work) / "corpus"
        write_news_corpus(corpus, articles)
        settings = make_settings(store_path=Path(work) / "chroma", corpus_dir=corpus,
                                 collection="progressive")
        port = free_port()
        env = isolated_env(settings, NEWSDESK_UI_PORT=str(port),
                           NEWSDESK_FEEDBACK_PATH=str(Path(work) / "feedback.jsonl"))
        rag = shlex.join(rag_command())
        if before and before_code is None:   # main's order: everything embedded, then serve
            command = ["sh", "-c", f"{rag} ingest --quiet && exec {rag} serve --no-ingest"]
        else:
            command = [*rag_command(), "serve"]
            if before_code is not None and before:
                env["PYTHONPATH"] = os.pathsep.join([str(before_code.resolve()), env["PYTHONPATH"]])
        url = f"http://127.0.0.1:{port}"
        log_path = Path(work) / "serve.log"
        up = first = done = None
        first_result: dict | None = None
        with open(log_path, "wb") as log:
            started = time.perf_counter()
            proc = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                while time.perf_counter() - started < timeout and proc.poll() is None:
                    if up is None:
                        if not is_up(url):
                            time.sleep(0.2)
                            continue
                        up = time.perf_counter() - started
                    if first is None and time.perf_counter() - started > up + ANSWER_GRACE_SECONDS:
                        break   # serving, but not this answer: reported as n/a
                    result = ask_v1(url)
                    if cites_new_file(result):
                        if first is None:
                            first, first_result = time.perf_counter() - started, result
                        if not result.get("not_embedded"):
                            done = time.perf_counter() - started
                            break
                    time.sleep(0.2 if first is None else 1.0)
            finally:
                stop_process(proc)
        if before and up is not None:
            done = up   # main's order: every chunk was embedded before serving
        if up is None:
            raise SystemExit(f"rag serve did not serve within {timeout:.0f} s; its log:\n"
                             + log_path.read_text(errors="replace")[-3000:])
        return {"up_s": up, "first_s": first, "done_s": done,
                "not_embedded_at_first": (first_result or {}).get("not_embedded"),
                "answer_ms": (first_result or {}).get("timings_ms", {}).get("total")}


def main_serve(args) -> None:
    """Before and after, side by side."""
    before = measure_serve(args.articles, True, args.before_code, args.timeout)
    after = measure_serve(args.articles, False, None, args.timeout)
    how = (f"`rag serve` of {args.before_code}" if args.before_code
           else "`rag ingest && rag serve --no-ingest`")
    from eval.bench.chunking import RTQA

    kind = "RealTime QA articles (bodies cut at 1,000 characters)" if RTQA else "generated articles"
    print(f"corpus: {args.articles} {kind} + 1 new file, default model; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; question: {QUESTION!r}")

    def seconds(value: float | None) -> str:
        return f"{value:7.1f} s" if value is not None else "    n/a"

    print(f"{'':34}{'before':>10}{'after':>10}")
    print(f"{'serving (/v1/models answers)':34}{seconds(before['up_s']):>10}{seconds(after['up_s']):>10}")
    print(f"{'first correct /v1 answer':34}{seconds(before['first_s']):>10}{seconds(after['first_s']):>10}")
    print(f"{'every chunk embedded':34}{seconds(before['done_s']):>10}{seconds(after['done_s']):>10}")
    print(f"{'articles not embedded at 1st':34}{before['not_embedded_at_first']!s:>10}"
          f"{after['not_embedded_at_first']!s:>10}")
    print(f"{'that answer took (ms, server)':34}{before['answer_ms']!s:>10}{after['answer_ms']!s:>10}")
    print(f"before: {how} (full ingest first); after: `rag serve` (searchable first, "
          "embedded in the background)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300, help="other new articles in the batch")
    parser.add_argument("--code", type=Path, help="measure the code in this folder instead")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--stop-at-hit", action="store_true",
                        help="kill the ingest once the new file is found (large batches)")
    parser.add_argument("--serve", action="store_true",
                        help="measure `rag serve` to its first correct /v1 answer, before and after")
    parser.add_argument("--before-code", type=Path,
                        help="with --serve: main's code in this folder is the before")
    args = parser.parse_args(argv)
    if args.serve:
        main_serve(args)
        return
    got = measure(args.articles, args.code, args.timeout, args.stop_at_hit)
    hit = got["hit_s"]
    print(f"batch: {args.articles} generated articles + 1 new file (last), default model; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
          + (f"; code {args.code}" if args.code else ""))
    print(f"ingest: {got['summary']}")
    print(f"new file answerable lexically after {hit:.2f} s" if hit is not None else
          "new file never found lexically")
    if got["done_s"] is not None:
        print(f"ingest finished (everything embedded) after {got['done_s']:.1f} s")
    ok = hit is not None and hit < GOAL_SECONDS
    print(f"goal: < {GOAL_SECONDS:.0f} s from the start of `rag ingest` -> {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
