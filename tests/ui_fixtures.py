"""Shared helpers for the chat page tests: a private copy of corpus/, its own Chroma
store, and the page served on a free 127.0.0.1 port.

Test modules import what they need (`from tests.ui_fixtures import ...`); pytest picks
up imported fixtures. Nothing here touches the user's `.newsdesk/` or `corpus/`.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client would otherwise call huggingface.co
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from eval.bench.common import free_port  # noqa: E402  (shared with the benchmark)
from rag.config import Settings  # noqa: E402
from tests.support.settings import make_settings as support_settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
LAVROV = "What did Lavrov demand?"


def make_settings(root: Path, **overrides) -> Settings:
    """The test kit's settings (tests.support.settings) over a copy of corpus/ in root,
    with the page's own collection and a free port."""
    return support_settings(root, copy_corpus=True,
                            **{"collection": "ui-test", "ui_port": free_port(), **overrides})


def ingested_settings(root: Path, **overrides) -> Settings:
    from rag.ingest import ingest

    settings = make_settings(root, **overrides)
    ingest(settings.corpus_dir, settings, progress=False)
    return settings


def copied_site(template: Settings, root: Path, **overrides) -> Settings:
    """A copy of an ingested site (corpus and store) under root: cheaper than ingesting
    again, since nothing is embedded."""
    shutil.copytree(Path(template.corpus_dir).parent, root)
    return make_settings(root, **overrides)


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The chat page for settings, served in this process; yields its URL."""
    from ui.app import build_app, launch_options

    app = build_app(settings)
    options = {**launch_options(settings), "server_port": settings.ui_port,
               "prevent_thread_lock": True, "quiet": True}
    _, url, _ = app.launch(**options)
    try:
        yield url
    finally:
        app.close(verbose=False)


@pytest.fixture(scope="module")
def ui_settings(tmp_path_factory) -> Settings:
    """An ingested private copy of corpus/."""
    return ingested_settings(tmp_path_factory.mktemp("ui"))


@pytest.fixture(scope="module")
def ui_url(ui_settings) -> Iterator[str]:
    """URL of the chat page over `ui_settings`."""
    with serving(ui_settings) as url:
        yield url


def article_text(settings: Settings, doc_id: str) -> str:
    """The normalised text of a corpus article (what citation offsets index)."""
    from rag.sources.files import file_doc_id, load_file

    folder = Path(settings.corpus_dir)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        base = file_doc_id(path, folder)
        if doc_id == base or doc_id.startswith(base + "#"):
            for article in load_file(path, base):
                if article.doc_id == doc_id:
                    return article.text
    raise AssertionError(f"no article {doc_id} in {folder}")
