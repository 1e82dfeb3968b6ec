"""Following feeds: `rag sync` reads every feed and page URL of the `feeds` setting, and
`rag serve` does it again every `sync_interval_minutes` in a background thread; another
thread of `rag serve` embeds the chunks an ingest left queued (killed, or embed=False)."""

from __future__ import annotations

import threading
import time
from typing import Callable

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.ingest.sync import IngestReport, drain, ingest

SYNC_WAIT_SECONDS = 600.0  # how long a sync waits for another ingest to finish
EMBED_POLL_SECONDS = 5.0   # how often `rag serve` looks for chunks waiting for vectors
EMBED_RETRY_SECONDS = 60.0  # after a failure (model or store down): retry, without a flood
EMBED_SLICE_SECONDS = 5.0  # the worker lets go of the ingest lock this often (between batches)
EMBED_GAP_SECONDS = 0.5    # ... for this long, so an upload or a feed sync waiting for it gets it
EMBED_CALL_TEXTS = 2       # texts per model call: a question waits for one call (same chunks/s as 32)


class NoFeedsError(NewsdeskError):
    """`rag sync` without any feed configured."""


def sync_feeds(settings: Settings, prune: bool = False, progress: bool = False,
               wait_seconds: float = SYNC_WAIT_SECONDS, embed: bool = True) -> IngestReport:
    """Read the configured feeds and pages; only new or changed articles are embedded
    (with embed=False: made searchable, left for `embed_in_background`)."""
    if not settings.feeds:
        raise NoFeedsError("no feeds to sync: list them in newsdesk.toml, e.g. "
                           'feeds = ["https://example.com/rss.xml"], or set NEWSDESK_FEEDS')
    return ingest(list(settings.feeds), settings, prune=prune, progress=progress,
                  wait_seconds=wait_seconds, embed=embed)


def follow_feeds(settings: Settings, on_report: Callable[[IngestReport], None],
                 on_error: Callable[[str], None]) -> threading.Event | None:
    """Sync the feeds now and then every sync_interval_minutes, in a daemon thread,
    leaving the new chunks searchable for `rag serve`'s embedding worker; set the
    returned event to stop. None when following is off (interval 0)."""
    if not settings.sync_interval_minutes or not settings.feeds:
        return None
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                on_report(sync_feeds(settings, embed=False))
            except NewsdeskError as err:
                on_error(f"feed sync failed: {err}")
            except Exception as err:  # the page keeps serving; the next round tries again
                on_error(f"feed sync failed: {type(err).__name__}: {err}")
            stop.wait(settings.sync_interval_minutes * 60)

    threading.Thread(target=run, name="newsdesk-feed-sync", daemon=True).start()
    return stop


def embed_in_background(settings: Settings, on_error: Callable[[str], None],
                        on_embedded: Callable[[int], None] = lambda n: None,
                        every: float = EMBED_POLL_SECONDS) -> threading.Event:
    """Drain the collection's embedding queue now and then every `every` seconds, in a
    daemon thread (skipped while an ingest holds the lock: it embeds the queue itself),
    letting go of the lock between batches every EMBED_SLICE_SECONDS so that an upload
    or a feed sync is not kept waiting for the whole queue; set the returned event to
    stop (between batches)."""
    stop = threading.Event()
    # the model serves one call at a time: small calls keep a question's wait short
    settings = settings.model_copy(update={"embedding_batch_size": min(
        settings.embedding_batch_size, EMBED_CALL_TEXTS)})

    def run() -> None:
        while not stop.is_set():
            wait = every
            try:
                done = drain(settings, stop=_Slice(stop, EMBED_SLICE_SECONDS))
                if done:
                    on_embedded(done)
                    wait = EMBED_GAP_SECONDS  # more may wait: go on after letting others in
            except NewsdeskError as err:
                on_error(f"embedding the queued chunks failed: {err}")
                wait = max(every, EMBED_RETRY_SECONDS)
            except Exception as err:  # the page keeps serving; the next round tries again
                on_error(f"embedding the queued chunks failed: {type(err).__name__}: {err}")
                wait = max(every, EMBED_RETRY_SECONDS)
            stop.wait(wait)

    threading.Thread(target=run, name="newsdesk-embed-queue", daemon=True).start()
    return stop


class _Slice:
    """A drain's `stop`: set when the worker stops or the slice's time is up (counted
    from the first batch, so each drain embeds one batch at least)."""

    def __init__(self, stop: threading.Event, seconds: float) -> None:
        self.stop, self.seconds = stop, seconds
        self.deadline: float | None = None

    def is_set(self) -> bool:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.seconds
        return self.stop.is_set() or now > self.deadline
