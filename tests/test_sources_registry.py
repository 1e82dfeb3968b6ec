"""Sources are kinds registered by name: the built-in folder, file and web kinds, and a
new kind added by one module (the README's example, run here)."""

import csv
from pathlib import Path

import pytest

from rag.answer import Newsdesk
from rag.ingest import ingest
from rag.sources.base import SOURCES
from rag.sources.mixed import SourceError, split_sources
from tests.conftest import make_settings
from tests.test_steps import readme_example


def test_the_built_in_kinds_are_registered_and_tell_values_apart(tmp_path):
    assert list(SOURCES)[:3] == ["folder", "file", "web"]
    (tmp_path / "a.txt").write_text("Title: A\n\nSome words about the harbour strike talks.")
    chosen = split_sources([tmp_path, str(tmp_path / "a.txt"), "https://example.com/feed.xml"])
    assert chosen.by_kind == {"folder": [tmp_path], "file": [tmp_path / "a.txt"],
                              "web": ["https://example.com/feed.xml"]}
    with pytest.raises(SourceError, match="only http"):
        split_sources(["ftp://example.com/feed.xml"])


def test_the_readme_example_source_is_one_module_and_ingest_reads_it(tmp_path):
    code = readme_example("**Sources.**")
    try:
        exec(compile(code, "README.md", "exec"), {})
        settings = make_settings(tmp_path)
        table = tmp_path / "wire.csv"
        with table.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, ["title", "date", "source", "url", "body"])
            writer.writeheader()
            writer.writerow({"title": "Harbour strike ends", "date": "2024-05-24", "source": "Wire",
                             "url": "", "body": "Port workers ended the harbour strike on Friday "
                                                "after the union accepted a pay offer of 6%."})
            writer.writerow({"title": "Flood orders lifted", "date": "2024-06-12", "source": "Post",
                             "url": "", "body": "Millbrook lifted its flood orders on Wednesday "
                                                "as the river fell below the warning level."})
        assert split_sources([table]).by_kind == {"csv": [table]}  # asked before `file`
        report = ingest([table], settings, progress=False)
        assert report.files == 1 and not report.skipped
        answer = Newsdesk(settings).answer("What pay offer ended the harbour strike?")
        assert answer.passages[0].doc_id == f"{tmp_path.name}/wire.csv#1"
        assert answer.passages[0].title == "Harbour strike ends"
    finally:
        SOURCES.pop("csv", None)
    assert split_sources([Path(table)]).by_kind == {"file": [table]}
