"""What the last reads of feeds and pages left behind, so the next read asks only for
what changed: each URL's ETag / Last-Modified (for conditional GET), the hash of its
body (for servers that send neither), the article it gave, and a feed's items.

A small JSON file beside the store (`<store_path>/<collection>.sources.json`), written
atomically and only when something in it changed: reading an unchanged feed writes
nothing. It is saved after the index was written, so a crash in between only means the
next read fetches again.

A file that is not what this module writes (truncated, garbled, another shape) is never
taken as empty, which would let later prunes miss what left a feed: it is moved aside
(`<name>.damaged-<time>`) and the state is rebuilt from the index's web articles
(`rebuild`), which every feed then reads as its own when they are on its hosts.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.config import Settings
from rag.sources.feeds import FeedItem

VERSION = 1
_TEXT_FIELDS = ("etag", "last_modified", "body_hash", "doc_id", "fingerprint", "title", "text_hash")
_ITEM_FIELDS = {f.name for f in fields(FeedItem)}


def _problem(data: Any) -> str | None:
    """What is wrong with the file's JSON, or None when it is a state this module wrote."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return f"not a version {VERSION} sources state"
    urls, unclaimed = data.get("urls"), data.get("unclaimed", [])
    if not isinstance(urls, dict):
        return "its urls are not an object"
    if not isinstance(unclaimed, list) or not all(isinstance(u, str) for u in unclaimed):
        return "its unclaimed list is not a list of ids"
    for url, entry in urls.items():
        if not isinstance(entry, dict):
            return f"the entry of {url[:80]} is not an object"
        if entry.get("kind") not in (None, "feed", "page"):
            return f"the entry of {url[:80]} has an unknown kind"
        for key in _TEXT_FIELDS:
            if not isinstance(entry.get(key), (str, type(None))):
                return f"the {key} of {url[:80]} is not text"
        docs, items = entry.get("docs", []), entry.get("items", [])
        if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
            return f"the docs of {url[:80]} are not a list of ids"
        if not isinstance(items, list) or not all(
                isinstance(i, dict) and isinstance(i.get("link"), str) and set(i) <= _ITEM_FIELDS
                and all(isinstance(v, (str, type(None))) for v in i.values()) for i in items):
            return f"the items of {url[:80]} are not feed items"
    return None


def state_path(settings: Settings) -> Path:
    return settings.store_path / f"{settings.collection}.sources.json"


class SourceState:
    """URL -> what its last read left: kind ('feed' | 'page'), etag, last_modified,
    body_hash, and for a page doc_id and fingerprint (of the feed item that led to it),
    for a feed title and items."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]] | None = None,
                 unclaimed: list[str] | None = None) -> None:
        self.path = path
        self.entries = entries or {}
        self.unclaimed = set(unclaimed or ())  # web articles no feed has claimed (after a rebuild)
        self.dirty = False
        self.damaged: str | None = None        # one line when the file was damaged

    @classmethod
    def load(cls, path: Path) -> "SourceState":
        """The saved state (none when there is no file). A damaged file is moved aside and
        `damaged` says so; the caller then `rebuild`s the state from the index."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or type(err).__name__
            return cls._set_aside(path, f"unreadable ({reason})")
        try:
            data = json.loads(text)
        except ValueError as err:
            return cls._set_aside(path, f"not JSON ({str(err)[:60]})")
        problem = _problem(data)
        if problem:
            return cls._set_aside(path, problem)
        return cls(path, data["urls"], data.get("unclaimed"))

    @classmethod
    def _set_aside(cls, path: Path, reason: str) -> "SourceState":
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
            where = f"moved to {aside.name}"
        except OSError:
            where = "left in place"
        state = cls(path)
        state.damaged = (f"the sources state {path} was damaged ({reason}); it was {where} and "
                         "rebuilt from the index: feeds and pages are fetched again in full")
        state.dirty = True
        return state

    def rebuild(self, web_ids: set[str]) -> None:
        """Start again from the web articles the index holds: each is a page read before,
        not yet claimed by a feed (a feed read next claims those on its hosts)."""
        for doc_id in web_ids:
            self.entries.setdefault(doc_id, {"kind": "page", "doc_id": doc_id})
        self.unclaimed |= set(web_ids)
        self.dirty = True

    def claim(self, hosts: set[str]) -> set[str]:
        """The unclaimed articles on these hosts, now the claiming feed's."""
        mine = {d for d in self.unclaimed if (urlsplit(d).hostname or "").lower() in hosts}
        if mine:
            self.unclaimed -= mine
            self.dirty = True
        return mine

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
        data: dict[str, Any] = {"version": VERSION, "urls": self.entries}
        if self.unclaimed:
            data["unclaimed"] = sorted(self.unclaimed)
        temp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temp, self.path)
        self.dirty = False

    @staticmethod
    def remove(settings: Settings) -> None:
        """Forget everything (`rag ingest --rebuild`: fetch all again)."""
        state_path(settings).unlink(missing_ok=True)
