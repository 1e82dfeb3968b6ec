"""What the last reads of feeds and pages left behind, so the next read asks only for
what changed: each URL's ETag / Last-Modified (for conditional GET), the hash of its
body (for servers that send neither), the article it gave, and a feed's items.

A small JSON file beside the store (`<store_path>/<collection>.sources.json`), written
atomically and only when something in it changed: reading an unchanged feed writes
nothing. It is saved after the index was written, so a crash in between only means the
next read fetches again.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.sources.feeds import FeedItem

VERSION = 1


def state_path(settings: Settings) -> Path:
    return settings.store_path / f"{settings.collection}.sources.json"


class SourceState:
    """URL -> what its last read left: kind ('feed' | 'page'), etag, last_modified,
    body_hash, and for a page doc_id and fingerprint (of the feed item that led to it),
    for a feed title and items."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.entries = entries or {}
        self.dirty = False

    @classmethod
    def load(cls, path: Path) -> "SourceState":
        """The saved state; an unreadable file is treated as none (everything is fetched
        again, nothing is lost)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == VERSION and isinstance(data.get("urls"), dict):
                return cls(path, data["urls"])
        except (OSError, ValueError, AttributeError):
            pass
        return cls(path)

    def get(self, url: str) -> dict[str, Any]:
        return self.entries.get(url, {})

    def put(self, url: str, **values: Any) -> None:
        """Change url's entry; only a real change marks the state for saving."""
        entry = self.entries.setdefault(url, {})
        for key, value in values.items():
            if entry.get(key) != value:
                entry[key] = value
                self.dirty = True

    def forget(self, url: str) -> None:
        if self.entries.pop(url, None) is not None:
            self.dirty = True

    def feed_items(self, url: str) -> list[FeedItem]:
        return [FeedItem(**item) for item in self.get(url).get("items", [])]

    def put_feed(self, url: str, items: list[FeedItem], **values: Any) -> None:
        self.put(url, kind="feed", items=[asdict(item) for item in items], **values)

    def save(self) -> None:
        """Write the file atomically, if anything changed."""
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        temp.write_text(json.dumps({"version": VERSION, "urls": self.entries}, indent=1,
                                   sort_keys=True), encoding="utf-8")
        os.replace(temp, self.path)
        self.dirty = False

    @staticmethod
    def remove(settings: Settings) -> None:
        """Forget everything (`rag ingest --rebuild`: fetch all again)."""
        state_path(settings).unlink(missing_ok=True)
