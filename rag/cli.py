"""The `rag` command: ingest articles, ask questions, chat, serve the page, evaluate.

Settings come from newsdesk.toml and NEWSDESK_* variables (see `rag config`); every
command takes --config and --profile to choose them.
"""

from __future__ import annotations

import errno
import gc
import json
import sys

import click

from rag.config import LoadedSettings, describe, load_settings
from rag.errors import NewsdeskError
from rag.text import printable

EXIT_FAILURE = 1
# Commands defined by the surfaces above this package, imported only when called (rag
# sits below eval and ui, so it never imports them at import time).
LAZY_COMMANDS = {"eval": ("eval.cli", "eval_command"), "serve": ("ui.cli", "serve_command"),
                 "mcp": ("ui.cli", "mcp_command")}


class NewsdeskGroup(click.Group):
    """Runs a command and turns known errors into a clear message and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            import importlib

            module, attribute = LAZY_COMMANDS[name]
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (NewsdeskError, FileNotFoundError, ValueError) as err:
            click.echo(f"error: {_printable_lines(err)}", err=True)
            ctx.exit(EXIT_FAILURE)
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            where = f" writing {printable(err.filename)}" if err.filename else ""
            click.echo(f"error: the disk is full{where}; free some space and run the command "
                       "again", err=True)
            ctx.exit(EXIT_FAILURE)


def _printable_lines(message: object) -> str:
    """An error message with each line made safe to print (lines of a multi-line message
    stay lines)."""
    return "\n".join(printable(line) for line in str(message).split("\n"))


@click.group(cls=NewsdeskGroup)
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Settings file (default: ./newsdesk.toml or $NEWSDESK_CONFIG).")
@click.option("--profile", help="Profile from the settings file, e.g. local, openai, ollama.")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, profile: str | None) -> None:
    """Newsdesk: ask questions about news articles (folders, pages, feeds), with cited answers."""
    ctx.obj = {"config_file": config_file, "profile": profile}


def settings_from(ctx: click.Context, **overrides) -> LoadedSettings:
    """The settings chosen by --config/--profile, the environment and `overrides`."""
    root = ctx.find_root()
    return load_settings(root.obj["config_file"], root.obj["profile"], **overrides)


def start_loading(settings) -> None:
    """Start loading the embedding model and the embedded store's vector index before the
    answer stage and chromadb's query path are imported: each loads on its own thread
    (rag.index.embeddings, rag.index.chunks.warm_up), so the loads overlap those imports
    instead of following them. A model or store that cannot load is left for the Newsdesk
    to report, after its check of the generator setting."""
    from rag.index.chunks import warm_up
    from rag.index.embeddings import embedding_name, get_embeddings
    from rag.index.store import forget_client

    try:
        model = get_embeddings(settings)
    except Exception:  # noqa: BLE001 - raised again, with its message, by Newsdesk
        return
    try:
        warm_up(settings, embedding_name(model), getattr(model, "dimension", None))
    except Exception:  # noqa: BLE001 - raised again, with its message, by Newsdesk
        # a failed open leaves chromadb's cached instance half made: drop it, so that the
        # Newsdesk opens the store afresh and reports the store's own error
        forget_client(settings)


def echo_report(report) -> None:
    """An ingest's skipped files and records and its notes (on stderr, names escaped so
    they cannot drive the terminal or forge lines) and its summary."""
    for path, reason in [*report.skipped, *getattr(report, "skipped_records", [])]:
        click.echo(f"skipped {printable(path)}: {printable(reason)}", err=True)
    for path, note in getattr(report, "notes", []):
        click.echo(f"note: {printable(path)}: {printable(note)}", err=True)
    click.echo(report.summary())


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--prune", is_flag=True,
              help="Delete articles whose files left the folder, or whose items left the feed.")
@click.option("--rebuild", is_flag=True, help="Drop the collection and embed everything again.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--no-embed", is_flag=True,
              help="Only make the articles searchable (by their words); `rag serve`'s "
                   "worker or the next `rag ingest` embeds them.")
@click.pass_context
def ingest(ctx: click.Context, sources: tuple[str, ...], prune: bool, rebuild: bool,
           quiet: bool, no_embed: bool) -> None:
    """Chunk, embed and store the articles of each SOURCE (default: corpus_dir).

    A SOURCE is a folder, an article file, or the http(s) URL of an article page or of an
    RSS/Atom feed (whose items are fetched as pages). Unchanged chunks are not embedded
    again; changed articles replace their chunks. Bad files and pages are skipped and
    listed with the reason; the rest is ingested. New articles are searchable by their
    words before any is embedded.
    """
    from rag.index.chunks import queued_chunks
    from rag.ingest import ingest as run_ingest

    settings = settings_from(ctx).settings
    report = run_ingest(list(sources) or settings.corpus_dir, settings, prune=prune,
                        rebuild=rebuild, progress=not quiet and sys.stderr.isatty(),
                        embed=not no_embed)
    echo_report(report)
    if no_embed and (waiting := queued_chunks(settings)):
        click.echo(f"{waiting} chunks searchable, not embedded yet: run `rag ingest` or "
                   "`rag serve` to embed them")


@main.command("sync")
@click.option("--prune", is_flag=True, help="Delete articles whose items left their feed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def sync_command(ctx: click.Context, prune: bool, quiet: bool) -> None:
    """Read every feed and page URL of the `feeds` setting; embed only what is new or
    changed (feeds are asked with ETag / Last-Modified, pages compared by content)."""
    from rag.ingest import sync_feeds

    settings = settings_from(ctx).settings
    echo_report(sync_feeds(settings, prune=prune, progress=not quiet and sys.stderr.isatty()))


def _filters(date_from: str | None, date_to: str | None, sources: tuple[str, ...]):
    from rag.records import Filters

    return Filters(date_from=date_from, date_to=date_to, sources=tuple(sources))


def _print_answer(answer) -> None:
    if answer.short_answer:
        click.echo(f"Answer: {answer.short_answer.text} [{answer.short_answer.n}]")
    click.echo(answer.answer)
    for c in answer.citations:
        meta = ", ".join(printable(v) for v in (c.date, c.source) if v)
        shown = f" ({meta})" if meta else ""
        click.echo(f"  [{c.n}] {printable(c.title)}{shown}: “{c.quote}”")
        if c.copies:
            outlets = dict.fromkeys(printable(m["source"] or m["title"]) for m in c.copies)
            click.echo("      also in: " + ", ".join(outlets))


def _iso_date(ctx, param, value: str | None) -> str | None:
    """A YYYY-MM-DD option value, or a usage error naming the option."""
    from datetime import date

    if value is None:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise click.BadParameter(f"{value!r} is not a date like 2024-06-03")


class GeneratorChoice(click.Choice):
    """The names in the generator registry when the command line is read, so a generator
    registered by a plug-in module is a choice too. The registry (which imports the
    built-in generators) is read only when a choice is checked or listed, not when the
    command is built: a question's start does not wait for it."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from rag.answer.generators import generator_names

        return tuple(generator_names())

    @choices.setter
    def choices(self, _value) -> None:
        pass


_filter_options = [
    click.option("--top-k", type=click.IntRange(min=1), help="Passages given to the generator."),
    click.option("--from", "date_from", help="Only articles dated on/after YYYY-MM-DD."),
    click.option("--to", "date_to", help="Only articles dated on/before YYYY-MM-DD."),
    click.option("--source", "sources", multiple=True, help="Only these sources (repeatable)."),
    click.option("--as-of", "as_of", callback=_iso_date, metavar="YYYY-MM-DD",
                 help="Answer as if on this date: only articles published on or before it; "
                      "\"yesterday\", \"last week\" and \"latest\" count from it."),
    click.option("--generator", type=GeneratorChoice(),
                 help="Override the generator setting."),
]


def filter_options(func):
    for option in reversed(_filter_options):
        func = option(func)
    return func


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer contract as JSON.")
@filter_options
@click.pass_context
def ask(ctx, question, as_json, top_k, date_from, date_to, sources, as_of, generator) -> None:
    """Answer QUESTION from the ingested articles, with cited quotes."""
    # One question, then exit: the cyclic garbage collector would only re-scan the objects
    # that importing chromadb and the answer stage creates, all alive until exit (~0.1 s of
    # CPU on a cold start). Reference counting still frees the rest. After the answer the
    # collector is switched back on (for callers that run the command in-process) with
    # what the question made frozen, so that it is not scanned all at once before exit.
    collecting = gc.isenabled()
    gc.disable()
    try:
        settings = settings_from(ctx, generator=generator).settings
        start_loading(settings)
        from rag.answer import Newsdesk

        desk = Newsdesk(settings)
        answer = desk.answer(question, top_k=top_k,
                             filters=_filters(date_from, date_to, sources), as_of=as_of)
        if as_json:
            click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        else:
            _print_answer(answer)
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


@main.command()
@filter_options
@click.pass_context
def chat(ctx, top_k, date_from, date_to, sources, as_of, generator) -> None:
    """A conversation in the terminal; follow-up questions use what was said before."""
    from rag.answer import Newsdesk, QuestionError
    from rag.answer.generators import ModelError

    desk = Newsdesk(settings_from(ctx, generator=generator).settings)
    filters = _filters(date_from, date_to, sources)
    history: list[dict] = []
    click.echo("Ask about the articles (empty line or Ctrl-D to leave).")
    while True:
        try:
            question = input("> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not question.strip():
            return
        try:
            answer = None
            for piece in desk.stream(question, history, top_k=top_k, filters=filters, as_of=as_of):
                if isinstance(piece, str):
                    continue
                answer = piece
        except (QuestionError, ModelError) as err:
            click.echo(f"error: {err}", err=True)
            continue
        assert answer is not None, "a stream always ends with the checked answer"
        _print_answer(answer)
        history += [{"role": "user", "content": question},
                    {"role": "assistant", "content": answer.answer}]


@main.command("config")
@click.pass_context
def show_config(ctx) -> None:
    """Show the settings in force and where each came from (secrets masked)."""
    loaded = settings_from(ctx)
    click.echo(f"settings file: {loaded.settings_file or '(none; defaults and environment)'}")
    rows = describe(loaded)
    width = max(len(name) for name, _, _ in rows)
    for name, value, origin in rows:
        click.echo(f"{name.ljust(width)}  {value}  [{origin}]")


if __name__ == "__main__":
    main()
