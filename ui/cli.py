"""`rag serve` (the page, the /v1 API and /mcp on one port) and `rag mcp` (MCP over
stdio), loaded by `rag` only when called."""

from __future__ import annotations

import os
import sys

import click

from rag.cli import echo_report, settings_from


@click.command("serve")
@click.option("--host", help="Address to listen on (default ui_host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default ui_port, 7860).")
@click.option("--no-ingest", is_flag=True, help="Do not ingest corpus_dir before serving.")
@click.pass_context
def serve_command(ctx: click.Context, host: str | None, port: int | None, no_ingest: bool) -> None:
    """Serve the chat page, the OpenAI-compatible API (/v1) and MCP (/mcp) on one port
    (ingests corpus_dir first, so new articles are in; with sync_interval_minutes set,
    re-reads the feeds of the `feeds` setting that often)."""
    settings = settings_from(ctx, ui_host=host, ui_port=port).settings
    if not no_ingest:
        from rag.ingest import ingest

        echo_report(ingest(settings.corpus_dir, settings, progress=sys.stderr.isatty()))
    from rag.ingest import follow_feeds

    follow_feeds(settings, on_report=echo_report,
                 on_error=lambda message: click.echo(f"error: {message}", err=True))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ui.server import serve

    serve(settings)


@click.command("mcp")
@click.pass_context
def mcp_command(ctx: click.Context) -> None:
    """Serve Newsdesk's MCP tools (ask, search, sources) over stdin/stdout, for desktop
    agents such as Claude Desktop. Reads the store as it is: run `rag ingest` first."""
    settings = settings_from(ctx).settings
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ui.mcp import serve_stdio

    serve_stdio(settings)
