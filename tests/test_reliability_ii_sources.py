"""Reliability II (issue 13), the sources and the prune rule: front-matter alias bombs
(item 2), a file that fails to load keeps what the store has of it (4), symbolic links
out of the corpus (5), article identity and drift from a clean ingest (6, with a property
test), deep and churning folders (9), impossible dates (10), JSON Lines and JSON lists
read record by record (issue 10, item 5).

Real files, the real embedding model and Chroma.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import rag.sources.files as files
from rag.index.chunks import chunk_row, meta_hash, open_index
from rag.index.embeddings import embedding_name, get_embeddings
from rag.ingest import ingest
from rag.ingest.chunking import chunk_article
from rag.sources.files import ArticleError, find_files, load_corpus, load_file
from tests.support.reliability import VENV_BIN, isolated_env, make_settings

SENTENCES = [
    "Ministers met in Brussels on Monday to discuss energy prices for the winter.",
    "The central bank raised its main interest rate by half a point on Thursday.",
    "Flooding closed the main rail line between the two cities for three days.",
    "A new museum of maritime history opened its doors in the old harbour.",
    "Talks between the unions and the airline broke down late on Friday night.",
    "The football club confirmed the sale of its stadium to a property developer.",
]


def _stored(settings) -> dict[str, set[str]]:
    """doc id -> chunk ids in the catalog; also checks Chroma holds exactly those vectors."""
    embeddings = get_embeddings(settings)
    index = open_index(settings, embedding_name(embeddings), getattr(embeddings, "dimension", None))
    states = index.catalog.states()
    assert index.vector_ids() == set(states), "Chroma and the catalog disagree"
    docs: dict[str, set[str]] = {}
    for chunk_id, (doc_id, _) in states.items():
        docs.setdefault(doc_id, set()).add(chunk_id)
    return docs


def _rows(settings) -> set[tuple[str, str, str]]:
    embeddings = get_embeddings(settings)
    index = open_index(settings, embedding_name(embeddings), getattr(embeddings, "dimension", None))
    return {(cid, doc, h) for cid, (doc, h) in index.catalog.states().items()}


def _clean_rows(folder: Path, settings) -> set[tuple[str, str, str]]:
    """What a clean ingest of the folder stores: every chunk of every good article."""
    rows = set()
    for article in load_corpus(folder).articles:
        for chunk in chunk_article(article, settings.chunk_tokens, settings.chunk_overlap):
            row = chunk_row(article, chunk, meta_hash(article))
            rows.add((row.chunk_id, row.doc_id, row.meta_hash))
    return rows


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


# -- item 2: YAML alias bombs -------------------------------------------------------------
def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "---\n" + "\n".join(lines) + "\ntitle: bomb\n---\nA perfectly ordinary article body.\n"


@pytest.mark.parametrize("levels", [8, 10])
def test_front_matter_with_yaml_aliases_is_refused_at_once(tmp_path, levels):
    path = tmp_path / "bomb.md"
    path.write_text(_alias_bomb(levels))
    started = time.perf_counter()
    with pytest.raises(ArticleError, match="alias") as refused:
        load_file(path)
    assert time.perf_counter() - started < 2
    assert str(refused.value).startswith(str(path))


def test_front_matter_over_the_size_limit_is_refused_with_the_limit(tmp_path):
    path = tmp_path / "big.md"
    path.write_text("---\n" + "".join(f"k{i}: {'x' * 60}\n" for i in range(2000)) + "---\nBody text here.\n")
    with pytest.raises(ArticleError, match="over the .*-character limit"):
        load_file(path)


def test_an_uploaded_alias_bomb_is_rejected_with_the_reason(tmp_path):
    from ui.uploads import add_articles

    settings = make_settings(tmp_path)
    upload = tmp_path / "upload.md"
    upload.write_text(_alias_bomb(10))
    started = time.perf_counter()
    result = add_articles([upload], settings, names=["bomb.md"])
    assert time.perf_counter() - started < 10
    assert not result.added and any("alias" in str(r) for r in result.rejected)


# -- item 10: dates that do not exist ------------------------------------------------------
@pytest.mark.parametrize("name,content", [
    ("feb31.md", "---\ntitle: Feb\ndate: 2022-02-31\n---\nTalks went on all day in Geneva on Friday.\n"),
    ("year0.md", "---\ntitle: Zero\ndate: 0000-01-01\n---\nTalks went on all day in Geneva on Friday.\n"),
    ("offset.md", "---\ntitle: Off\ndate: 2022-01-21T10:00:00+25:00\n---\nTalks went on all day in Geneva.\n"),
    ("feb31.txt", "title: Feb\ndate: 2022-02-31\n\nTalks went on all day in Geneva on Friday.\n"),
    ("feb31.json", json.dumps({"title": "Feb", "date": "2022-02-31", "body": "Talks went on all day in Geneva."})),
])
def test_an_impossible_date_keeps_the_article_drops_the_date_and_says_so(tmp_path, name, content):
    (tmp_path / name).write_text(content)
    corpus = load_corpus(tmp_path)
    (article,) = corpus.articles
    assert article.date is None and not corpus.skipped
    assert [where for where, note in corpus.notes if "not a real date" in note] == [str(tmp_path / name)]


@pytest.mark.slow
def test_the_cli_prints_the_dropped_date_note(tmp_path):
    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir(parents=True)
    (settings.corpus_dir / "feb31.md").write_text(
        "---\ntitle: Feb\ndate: 2022-02-31\n---\nTalks went on all day in Geneva on Friday.\n")
    run = subprocess.run([str(VENV_BIN / "rag"), "ingest", "--quiet"], capture_output=True,
                         text=True, env=isolated_env(settings), timeout=300)
    assert run.returncode == 0 and "1 article," in run.stdout, run.stderr
    assert "note:" in run.stderr and "2022-02-31" in run.stderr and "without a date" in run.stderr


# -- issue 10 item 5: JSON Lines and JSON lists record by record --------------------------
def test_a_broken_jsonl_line_skips_that_record_named_by_its_line(tmp_path):
    path = tmp_path / "wire.jsonl"
    path.write_text(_jsonl([{"body": SENTENCES[0]}, {"body": SENTENCES[1]}]) + '{"body": "cut\n'
                    + _jsonl([{"body": SENTENCES[2]}]))
    corpus = load_corpus(tmp_path)
    assert [a.text for a in corpus.articles] == SENTENCES[:3]
    assert [where for where, _ in corpus.skipped_records] == [f"{path} line 3"] and not corpus.skipped


def test_jsonl_and_json_lists_have_no_whole_file_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1_000)  # a small limit, a small test
    records = [{"id": i, "body": SENTENCES[i % 6] + f" Item {i}."} for i in range(40)]
    (tmp_path / "big.jsonl").write_text(_jsonl(records))
    (tmp_path / "big.json").write_text(json.dumps(records, indent=1))
    assert len(load_file(tmp_path / "big.jsonl")) == 40 and len(load_file(tmp_path / "big.json")) == 40


def test_a_json_list_with_a_bad_record_keeps_the_others(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"body": SENTENCES[0]}, 7, {"title": "no body"}, {"body": SENTENCES[1]}]))
    corpus = load_corpus(tmp_path)
    assert [a.text for a in corpus.articles] == [SENTENCES[0], SENTENCES[1]]
    assert [w.split(" (")[0] for w, _ in corpus.skipped_records] == [f"{path} record 1", f"{path} record 2"]


def test_a_truncated_json_export_keeps_the_records_before_the_break(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"body": s} for s in SENTENCES[:3]])[:-30])
    corpus = load_corpus(tmp_path)
    assert [a.text for a in corpus.articles] == SENTENCES[:2]
    assert len(corpus.skipped_records) == 1 and "record 2" in corpus.skipped_records[0][0]


# -- item 4: a file that fails to load keeps what the store has of it ---------------------
@pytest.mark.slow
def test_prune_keeps_the_records_of_a_jsonl_file_that_fails_to_load(tmp_path):
    settings = make_settings(tmp_path)
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    path = folder / "wire.jsonl"
    path.write_text(_jsonl([{"body": f"{SENTENCES[i % 6]} Story number {i}."} for i in range(60)]))
    first = ingest(folder, settings, progress=False)
    assert first.articles == 60
    before = _stored(settings)
    with open(path, "a") as handle:
        handle.write('{"body": "a partial li')
    partial = ingest(folder, settings, prune=True, progress=False)
    assert partial.deleted == 0 and _stored(settings) == before
    assert [where for where, _ in partial.skipped_records] == [f"{path} line 61"]
    path.write_bytes(b"\x00\x01 not text any more" * 10)
    broken = ingest(folder, settings, prune=True, progress=False)
    assert broken.deleted == 0 and _stored(settings) == before
    assert [where for where, _ in broken.skipped] == [str(path)]


# -- item 5: symbolic links ----------------------------------------------------------------
def test_a_symbolic_link_out_of_the_corpus_is_not_followed_and_is_reported(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash and other private lines")
    (folder / "passwd.txt").symlink_to(secret)
    (folder / "etc").symlink_to("/etc")
    (folder / "inside.txt").write_text(SENTENCES[0])
    (folder / "alias.txt").symlink_to(folder / "inside.txt")
    skipped: list = []
    found = find_files(folder, skipped)
    assert found == [folder / "alias.txt", folder / "inside.txt"]
    reasons = dict(skipped)
    assert "outside the corpus folder" in reasons[str(folder / "passwd.txt")]
    assert "outside the corpus folder" in reasons[str(folder / "etc")]


# -- item 9: deep and churning folders -----------------------------------------------------
def test_a_corpus_nested_1100_folders_deep_is_read(tmp_path):
    deep = tmp_path / "corpus"
    made = [str(deep)]
    os.mkdir(made[0])
    try:
        for _ in range(1100):  # os.makedirs and Path.mkdir(parents=True) recurse
            made.append(made[-1] + "/d")
            os.mkdir(made[-1])
        with open(made[-1] + "/bottom.txt", "w") as handle:
            handle.write(SENTENCES[0])
        corpus = load_corpus(deep)
        assert [a.text for a in corpus.articles] == [SENTENCES[0]] and not corpus.skipped
    finally:  # shutil.rmtree (and pytest's clean-up of old runs) recurse: bottom up here
        if os.path.exists(made[-1] + "/bottom.txt"):
            os.remove(made[-1] + "/bottom.txt")
        for folder in reversed(made):
            if os.path.isdir(folder):
                os.rmdir(folder)


def test_folders_deleted_while_listing_are_skipped_not_fatal(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "keep.txt").write_text(SENTENCES[0])
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            for i in range(60):
                sub = folder / f"tmp{i}" / "inner"
                sub.mkdir(parents=True, exist_ok=True)
                (sub / "x.txt").write_text("x")
            for i in range(60):
                shutil.rmtree(folder / f"tmp{i}", ignore_errors=True)

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    try:
        for _ in range(300):
            skipped: list = []
            found = find_files(folder, skipped)
            assert folder / "keep.txt" in found
            assert all("disappeared" in why or "cannot be read" in why for _, why in skipped)
    finally:
        stop.set()
        worker.join()


# -- item 6: identity and drift ------------------------------------------------------------
def test_article_ids_are_unambiguous_across_folders_files_and_records(tmp_path):
    folder = tmp_path / "desk"
    folder.mkdir()
    (folder / "recs.jsonl").write_text(_jsonl([{"id": 2, "body": SENTENCES[0]}, {"body": SENTENCES[1]}]))
    (folder / "recs#1.txt").write_text(SENTENCES[2])
    (folder / "recs.json").write_text(json.dumps([{"body": SENTENCES[3]}, {"body": SENTENCES[4]}]))
    (folder / "report.md").write_text(SENTENCES[5])
    (folder / "report.txt").write_text(SENTENCES[0] + " Updated.")
    ids = [a.doc_id for a in load_corpus(folder).articles]
    assert len(ids) == len(set(ids)) == 7
    assert "desk/recs.jsonl#id=2" in ids and "desk/recs.jsonl#2" in ids
    assert "desk/recs%231.txt" in ids and "desk/recs.json#1" in ids
    assert not any(i.startswith(("http://", "https://")) for i in ids)


def test_two_folders_with_the_same_file_name_both_stay(tmp_path):
    settings = make_settings(tmp_path)
    for year, sentence in (("desk2022", SENTENCES[0]), ("desk2023", SENTENCES[1])):
        (tmp_path / year).mkdir()
        (tmp_path / year / "index.md").write_text(sentence)
    ingest(tmp_path / "desk2022", settings, progress=False)
    second = ingest(tmp_path / "desk2023", settings, prune=True, progress=False)
    assert second.deleted == 0
    assert set(_stored(settings)) == {"desk2022/index.md", "desk2023/index.md"}


def test_pruning_one_file_given_alone_touches_only_that_files_records(tmp_path):
    """A file given as SOURCE answers for its own records: with prune, a record that left
    it goes, the folder's other articles stay, and a file that then fails to load keeps
    what the store has of it."""
    settings = make_settings(tmp_path)
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    (folder / "other.md").write_text(SENTENCES[5])
    wire = folder / "wire.jsonl"
    wire.write_text(_jsonl([{"id": i, "body": SENTENCES[i]} for i in range(3)]))
    ingest(folder, settings, progress=False)
    wire.write_text(_jsonl([{"id": i, "body": SENTENCES[i]} for i in range(2)]))
    report = ingest([wire], settings, prune=True, progress=False)
    assert report.pruned_articles == 1
    assert set(_stored(settings)) == {"corpus/other.md", "corpus/wire.jsonl#id=0",
                                      "corpus/wire.jsonl#id=1"}
    wire.write_bytes(b"\x00\x01 not text any more" * 10)
    broken = ingest([wire], settings, prune=True, progress=False)
    assert broken.deleted == 0 and [where for where, _ in broken.skipped] == [str(wire)]
    assert len(_stored(settings)) == 3


def test_prune_scopes_cover_a_folder_a_files_records_and_exactly_the_feed_items_that_left():
    from rag.ingest.sync import _in_scope

    scopes = {"corpus/", "desk/wire.jsonl", "https://news.example/world/"}
    assert _in_scope("corpus/sub/a.md", scopes) and not _in_scope("corpus-2/a.md", scopes)
    assert _in_scope("desk/wire.jsonl#id=3", scopes) and _in_scope("desk/wire.jsonl#4", scopes)
    assert not _in_scope("desk/wire.jsonl2", scopes) and not _in_scope("desk/other.md", scopes)
    assert _in_scope("https://news.example/world/", scopes)
    assert not _in_scope("https://news.example/world/story", scopes)


def test_deleting_one_of_two_same_named_files_leaves_the_other_untouched(tmp_path):
    settings = make_settings(tmp_path)
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    (folder / "report.md").write_text(SENTENCES[0])
    (folder / "report.txt").write_text(SENTENCES[1])
    ingest(folder, settings, progress=False)
    (folder / "report.md").unlink()
    again = ingest(folder, settings, progress=False)
    assert (again.added, again.deleted) == (0, 0)
    assert set(_stored(settings)) == {"corpus/report.md", "corpus/report.txt"}


def test_prune_drops_an_older_copy_when_a_new_one_sorts_first(tmp_path):
    settings = make_settings(tmp_path)
    folder = settings.corpus_dir
    folder.mkdir(parents=True)
    (folder / "b.txt").write_text(SENTENCES[0])
    ingest(folder, settings, progress=False)
    (folder / "a.txt").write_text(SENTENCES[0])
    ingest(folder, settings, prune=True, progress=False)
    assert _rows(settings) == _clean_rows(folder, settings)
    assert set(_stored(settings)) == {"corpus/a.txt"}


def test_a_collection_stored_under_the_old_ids_is_built_afresh(tmp_path):
    import sqlite3

    from rag.index.chunks import catalog_path

    settings = make_settings(tmp_path)
    settings.corpus_dir.mkdir(parents=True)
    (settings.corpus_dir / "a.txt").write_text(SENTENCES[0])
    ingest(settings.corpus_dir, settings, progress=False)
    with sqlite3.connect(catalog_path(settings)) as conn:  # as an older Newsdesk left it
        conn.execute("DELETE FROM meta WHERE key = 'doc_ids'")
        conn.execute("UPDATE chunks SET doc_id = 'a'")
    report = ingest(settings.corpus_dir, settings, progress=False)
    assert set(_stored(settings)) == {"corpus/a.txt"}
    assert any("old article ids" in note for _, note in report.notes)


# -- the property: any sequence of ingests ends where a clean ingest does ------------------
NAMES = ["a.md", "a.txt", "b.txt", "sub/a.md", "recs.jsonl", "recs.json", "recs#1.txt"]


def _content(name: str, picks: list[int], ids: list[int | None]) -> str:
    if name.endswith(".jsonl"):
        return _jsonl([{**({"id": i} if i is not None else {}), "body": SENTENCES[p]}
                       for p, i in zip(picks, ids)])
    if name.endswith(".json"):
        return json.dumps([{**({"id": i} if i is not None else {}), "body": SENTENCES[p]}
                           for p, i in zip(picks, ids)])
    title = f"---\ntitle: T{picks[0]}\n---\n" if name.endswith(".md") else ""
    return title + " ".join(SENTENCES[p] for p in picks)


operation = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.lists(st.integers(0, 5), min_size=1, max_size=3),
              st.lists(st.one_of(st.none(), st.integers(1, 3)), min_size=3, max_size=3), st.booleans()),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("copy"), st.sampled_from(NAMES), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("break"), st.sampled_from(NAMES)),
)


@pytest.mark.slow
@hsettings(max_examples=30, deadline=None, derandomize=True, database=None,
           suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=2, max_size=6))
def test_any_sequence_of_ingests_leaves_the_store_a_clean_ingest_would(operations):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = make_settings(root)
        folder = settings.corpus_dir
        folder.mkdir(parents=True)
        for op in operations:
            match op:
                case ("write", name, picks, ids, prune):
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_text(_content(name, picks, ids))
                case ("delete", name, prune):
                    (folder / name).unlink(missing_ok=True)
                case ("copy", source, target, prune):
                    if (folder / source).is_file() and Path(source).suffix == Path(target).suffix:
                        (folder / target).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(folder / source, folder / target)
                case ("break", name):
                    path = folder / name
                    if not path.is_file():
                        continue
                    good = path.read_bytes()
                    before = _rows(settings) if (root / "chroma").exists() else set()
                    path.write_bytes(good + b'\n{"body": "cut' if name.endswith(".jsonl") else b"\x00" * 64)
                    ingest(folder, settings, prune=True, progress=False)
                    doc = files.file_doc_id(path, folder)
                    mine = lambda rows: {r for r in rows if files.file_part(r[1]) == doc}  # noqa: E731
                    assert mine(_rows(settings)) == mine(before), "a broken file lost stored articles"
                    path.write_bytes(good)
                    prune = True
            report = ingest(folder, settings, prune=prune, progress=False)
            stored, clean = _rows(settings), _clean_rows(folder, settings)
            if prune:
                assert stored == clean, report.summary()
            else:
                assert clean <= stored
                present = {a.doc_id for a in load_corpus(folder).articles}
                assert not {doc for _, doc, _ in stored - clean} & present
        # and the incremental store equals a real clean ingest of the same folder
        ingest(folder, settings, prune=True, progress=False)
        rebuilt = make_settings(root, collection="clean")
        ingest(folder, rebuilt, progress=False)
        assert _rows(settings) == _rows(rebuilt)
        _stored(settings)
