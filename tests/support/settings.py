"""The one settings factory for tests: every path (corpus, store, feedback log) under a
folder the test owns, and the environment that makes a `rag` subprocess use exactly them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from rag.config import Settings

REPO = Path(__file__).resolve().parents[2]
SEED_DIR = REPO / "corpus"
SEED_ARTICLE = SEED_DIR / "000_3ff6c92db07b6aa6.md"
EVAL_SETS = REPO / "eval" / "datasets"
VENV_BIN = Path(sys.executable).parent


def make_settings(root: Path, *, copy_corpus: bool = False, **overrides: Any) -> Settings:
    """Settings whose corpus (root/corpus), store (root/chroma) and feedback log live under
    root, whatever the cwd holds (the default collection name, so a `rag` run over the same
    paths finds it); `copy_corpus` copies the shipped corpus/ there first (if not there)."""
    root = Path(root)
    if copy_corpus and not (root / "corpus").exists():
        shutil.copytree(SEED_DIR, root / "corpus")
    values: dict[str, Any] = {"corpus_dir": root / "corpus", "store_path": root / "chroma",
                              "feedback_path": root / "feedback.jsonl"}
    values.update(overrides)
    return Settings(**values)


def ingested_copy(folder: Path, root: Path, **overrides: Any) -> Settings:
    """Settings over a private copy of `folder` (e.g. a frozen eval set, read-only) as
    root/corpus, ingested into root's own store."""
    from rag.ingest import ingest

    shutil.copytree(folder, Path(root) / "corpus")
    settings = make_settings(root, **overrides)
    ingest(settings.corpus_dir, settings, progress=False)
    return settings


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
