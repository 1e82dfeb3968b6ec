"""Adding articles from the chat page: validation, safe names, ingest, reasons for rejects."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer import Newsdesk
from tests.ui_fixtures import copied_site, ingested_settings
from ui.uploads import add_articles, safe_name

MARS = """title: Probe lands in Jezero crater
date: 2031-05-04
source: Newsdesk Test Wire

The Aurora probe landed in Jezero crater on Sunday after a seven-month cruise, the
mission team said. Its first task is to drill two metres into the old lake bed and
look for layered clay.
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return ingested_settings(tmp_path_factory.mktemp("template") / "site")


@pytest.fixture
def settings(tmp_path, template):
    return copied_site(template, tmp_path / "site")


def upload(tmp_path: Path, name: str, content: str | bytes) -> Path:
    folder = tmp_path / "uploaded" / str(len(list(tmp_path.glob("uploaded/*"))))
    folder.mkdir(parents=True)
    path = folder / "file"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_uploaded_article_is_saved_ingested_and_answerable(tmp_path, settings):
    result = add_articles([upload(tmp_path, "mars.txt", MARS)], settings, names=["mars.txt"])

    assert result.added == ["mars.txt"] and not result.rejected
    assert (settings.corpus_dir / "mars.txt").read_text() == MARS
    answer = Newsdesk(settings).answer("Where did the Aurora probe land?")
    assert any(c.doc_id == "corpus/mars.txt" and "Jezero" in c.quote for c in answer.citations)


@pytest.mark.parametrize("original", ["../../escape.txt", "..\\..\\escape.txt", "/etc/escape.txt",
                                      "sub/dir/escape.txt", "C:\\Users\\x\\escape.txt"])
def test_upload_name_loses_its_folders_and_lands_in_the_corpus_folder(tmp_path, settings, original):
    site = settings.corpus_dir.parent
    before = files_under(site)

    result = add_articles([upload(tmp_path, original, MARS)], settings, names=[original])

    assert result.added == ["escape.txt"]
    new_files = files_under(site) - before
    assert {f for f in new_files if not f.startswith("chroma/")} == {"corpus/escape.txt"}


@pytest.mark.parametrize("original, expected", [
    (".hidden.md", "hidden.md"), ("..txt", "article.txt"), ("My Report (final).HTML", "My_Report_final.html"),
    ("über<script>.json", "ber_script.json"), ("a" * 300 + ".jsonl", "a" * 100 + ".jsonl")])
def test_safe_name_keeps_letters_digits_and_the_type(original, expected):
    assert safe_name(original) == expected


def test_upload_never_replaces_an_existing_file(tmp_path, settings):
    (settings.corpus_dir / "mars.txt").write_text("keep me: " + MARS)

    result = add_articles([upload(tmp_path, "mars.txt", MARS)], settings, names=["mars.txt"])

    assert result.added == ["mars-2.txt"]
    assert (settings.corpus_dir / "mars.txt").read_text().startswith("keep me: ")


def test_too_large_upload_is_rejected_with_the_limit(tmp_path, settings):
    small = settings.model_copy(update={"upload_max_bytes": 100})

    result = add_articles([upload(tmp_path, "mars.txt", MARS)], small, names=["mars.txt"])

    assert result.added == []
    assert result.rejected[0][0] == "mars.txt" and "upload limit of 100 bytes" in result.rejected[0][1]
    assert not (settings.corpus_dir / "mars.txt").exists()


def test_bad_files_are_rejected_with_reasons_and_good_ones_still_added(tmp_path, settings):
    paths = [upload(tmp_path, n, c) for n, c in [
        ("virus.exe", "MZ..."), ("broken.json", '{"title": "x", "body": '),
        ("binary.txt", b"\x00\x01\x02" * 50), ("empty.md", ""), ("mars.txt", MARS)]]

    result = add_articles(paths, settings,
                          names=["virus.exe", "broken.json", "binary.txt", "empty.md", "mars.txt"])

    reasons = dict(result.rejected)
    assert result.added == ["mars.txt"]
    assert "not an article type" in reasons["virus.exe"]
    assert "malformed JSON" in reasons["broken.json"]
    assert "binary" in reasons["binary.txt"]
    assert "no article text" in reasons["empty.md"]
    assert files_under(settings.corpus_dir) == {"000_3ff6c92db07b6aa6.md", "mars.txt"}


def test_upload_with_the_text_of_an_existing_article_is_rejected(tmp_path, settings):
    seed = next(settings.corpus_dir.glob("*.md"))
    copy = seed.read_text().replace("title: Blinken", "title:  Blinken")  # same article text

    result = add_articles([upload(tmp_path, "0copy.md", copy)], settings, names=["0copy.md"])

    assert result.added == []
    assert "same text as" in result.rejected[0][1]
    assert not (settings.corpus_dir / "0copy.md").exists()


def test_uploading_a_file_already_there_changes_nothing(tmp_path, settings):
    seed = next(settings.corpus_dir.glob("*.md"))

    result = add_articles([upload(tmp_path, seed.name, seed.read_bytes())], settings,
                          names=[seed.name])

    assert result.added == [] and result.unchanged == [seed.name] and not result.rejected
    assert result.report is not None and result.report.added == 0


def test_the_page_accepts_exactly_the_file_types_the_loader_reads():
    from rag.sources.files import SUPPORTED_SUFFIXES
    from ui import app
    from ui.uploads import UPLOAD_TYPES

    assert app.UPLOAD_TYPES == UPLOAD_TYPES == list(SUPPORTED_SUFFIXES)
    assert ".htm" in UPLOAD_TYPES and ".markdown" in UPLOAD_TYPES
