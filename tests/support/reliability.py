"""Helpers for the reliability and security tests: a corpus big enough to interrupt, a
real `chroma run` server and the answer-contract check (settings and the fake OpenAI API
are the test kit's: tests.support.settings, tests.support.fake_openai).

Only the OpenAI API is faked (it is outside the machine); Chroma, the embedding model
and the stores are the real ones.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any, Iterator

from eval.bench.common import ChromaServer, free_port  # noqa: F401  (shared with the benchmark)
from rag.config import Settings
# the test kit's settings factory and fake OpenAI server, re-exported for older imports
from tests.support.fake_openai import FakeOpenAI, chat_completion, send  # noqa: F401
from tests.support.settings import (REPO, SEED_DIR, VENV_BIN, isolated_env,  # noqa: F401
                                    make_settings)

RGB_FILE = REPO.parent / "shared" / "datasets" / "rgb" / "en_fact.json"


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
