"""Shared fixtures: every test gets its own Chroma store and its own copy of the corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import Settings
from tests.support.settings import REPO, SEED_ARTICLE, make_settings  # noqa: F401  (the test kit's)

# the news site fixtures (`site`, `web_settings`) for the source tests
pytest_plugins = ["tests.support.news_site"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the shipped corpus."""
    folder = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def seeded_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a store with the shipped corpus ingested once per test session."""
    from rag.ingest import ingest

    root = tmp_path_factory.mktemp("seeded")
    shutil.copytree(REPO / "corpus", root / "corpus")
    settings = make_settings(root)
    ingest(settings.corpus_dir, settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def desk(seeded_settings: Settings):
    """One Newsdesk (extractive) over the seeded store, shared by read-only tests."""
    from rag.answer import Newsdesk

    return Newsdesk(seeded_settings)
