"""`rag serve` (the page, the /v1 API and /mcp on one port) and `rag mcp` (MCP over
stdio), loaded by `rag` only when called."""

from __future__ import annotations

import os
import sys

import click

from rag.cli import echo_report, settings_from
from rag.config import Settings


@click.command("serve")
@click.option("--host", help="Address to listen on (default ui_host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default ui_port, 7860).")
@click.option("--no-ingest", is_flag=True, help="Do not ingest corpus_dir before serving.")
@click.pass_context
def serve_command(ctx: click.Context, host: str | None, port: int | None, no_ingest: bool) -> None:
    """Serve the chat page, the OpenAI-compatible API (/v1) and MCP (/mcp) on one port.

    Starts at once: corpus_dir's new articles are made searchable first (answered from
    their words), and a background worker embeds them while the page serves. With
    sync_interval_minutes set, re-reads the feeds of the `feeds` setting that often."""
    from rag.index.chunks import queued_chunks

    settings = settings_from(ctx, ui_host=host, ui_port=port).settings
    if not no_ingest:
        from rag.ingest import ingest

        echo_report(ingest(settings.corpus_dir, settings, progress=sys.stderr.isatty(),
                           embed=False))
    waiting = queued_chunks(settings)
    if waiting:
        check_embeddings(settings)
        click.echo(f"{waiting} chunks wait for embedding: answered from their words until the "
                   "background worker has embedded them")
    from rag.ingest import follow_feeds

    follow_feeds(settings, on_report=echo_report,
                 on_error=lambda message: click.echo(f"error: {message}", err=True))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ui.server import serve

    serve(settings)


def check_embeddings(settings: Settings) -> None:
    """Embed one text, so that a model that cannot load or a server that refuses stops
    `rag serve` with a clear error before the worker meets it in the background."""
    from rag.index.embeddings import get_embeddings

    get_embeddings(settings).embed_documents(["Newsdesk checks its embedding model."])


@click.command("mcp")
@click.pass_context
def mcp_command(ctx: click.Context) -> None:
    """Serve Newsdesk's MCP tools (ask, search, sources) over stdin/stdout, for desktop
    agents such as Claude Desktop. Reads the store as it is: run `rag ingest` first."""
    settings = settings_from(ctx).settings
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ui.mcp import serve_stdio

    serve_stdio(settings)
