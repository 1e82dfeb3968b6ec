"""The ingest stage: chunk articles and bring the chunk index in line with them."""

from rag.ingest.sync import IngestBusyError, IngestReport, ingest

__all__ = ["IngestBusyError", "IngestReport", "ingest"]
