"""The ingest stage: chunk articles and bring the chunk index in line with them."""

from rag.ingest.follow import follow_feeds, sync_feeds
from rag.ingest.sync import IngestBusyError, IngestReport, ingest

__all__ = ["IngestBusyError", "IngestReport", "follow_feeds", "ingest", "sync_feeds"]
