"""Ingest: idempotent, incremental, prunes on request, skips bad files, guards the model."""

import json
import shutil
from pathlib import Path

import pytest

from rag.index.chunks import open_index
from rag.index.embeddings import embedding_name, get_embeddings
from rag.index.store import StoreError, open_store
from rag.ingest import ingest
from tests.conftest import SEED_ARTICLE


def _index(settings):
    embeddings = get_embeddings(settings)
    return open_index(settings, embedding_name(embeddings), embeddings.dimension)


def _rows(settings):
    return [row for page in _index(settings).catalog.iter_rows() for row in page]


def _chunks_by_doc(settings):
    docs: dict[str, set[str]] = {}
    for chunk_id, (doc_id, _) in _index(settings).catalog.states().items():
        docs.setdefault(doc_id, set()).add(chunk_id)
    return docs


def _add_article(folder, name, text, **meta):
    (folder / name).write_text(json.dumps({"body": text, **meta}), encoding="utf-8")


def test_first_ingest_stores_every_chunk_with_its_offsets(settings):
    report = ingest(settings.corpus_dir, settings, progress=False)
    assert report.articles == 1 and report.added == report.chunks == report.embedded > 3
    from rag.sources.files import load_file

    text = load_file(SEED_ARTICLE)[0].text
    rows = _rows(settings)
    assert len(rows) == report.chunks
    assert all(text[r.start_char:r.end_char] == r.text for r in rows)


def test_the_vector_store_and_the_catalog_hold_the_same_chunks(settings):
    ingest(settings.corpus_dir, settings, progress=False)
    _add_article(settings.corpus_dir, "later.json", "Talks resumed in Vienna on Monday. " * 3)
    ingest(settings.corpus_dir, settings, progress=False)
    index = _index(settings)
    assert index.vector_ids() == set(index.catalog.states()) and index.count() > 3


def test_reingesting_an_unchanged_corpus_embeds_nothing(settings):
    first = ingest(settings.corpus_dir, settings, progress=False)
    again = ingest(settings.corpus_dir, settings, progress=False)
    assert (again.added, again.embedded, again.deleted) == (0, 0, 0)
    assert again.unchanged == first.chunks == _index(settings).count()


def test_a_changed_article_replaces_its_old_chunks(settings):
    _add_article(settings.corpus_dir, "later.json", "Talks resumed in Vienna on Monday. " * 3, title="Vienna")
    ingest(settings.corpus_dir, settings, progress=False)
    before = _chunks_by_doc(settings)["corpus/later.json"]
    _add_article(settings.corpus_dir, "later.json", "Talks collapsed in Vienna on Tuesday. " * 3, title="Vienna")
    report = ingest(settings.corpus_dir, settings, progress=False)
    after = _chunks_by_doc(settings)["corpus/later.json"]
    assert before.isdisjoint(after)
    assert report.deleted == len(before) and report.added == len(after)
    rows = _index(settings).catalog.rows(list(after))
    assert all("collapsed" in r.text for r in rows.values())


def test_a_title_change_updates_metadata_without_embedding(settings):
    _add_article(settings.corpus_dir, "later.json", "Talks resumed in Vienna on Monday. " * 3, title="Old")
    ingest(settings.corpus_dir, settings, progress=False)
    _add_article(settings.corpus_dir, "later.json", "Talks resumed in Vienna on Monday. " * 3, title="New")
    report = ingest(settings.corpus_dir, settings, progress=False)
    assert report.embedded == 0 and report.updated >= 1
    assert {r.title for r in _rows(settings) if r.doc_id == "corpus/later.json"} == {"New"}
    metas = _index(settings).store.collection.get(where={"doc_id": "corpus/later.json"}, include=["metadatas"])["metadatas"]
    assert {m["title"] for m in metas} == {"New"}


def test_one_corpus_named_two_ways_is_not_rewritten(settings, monkeypatch):
    _add_article(settings.corpus_dir, "later.json", "Talks resumed in Vienna on Monday. " * 3, title="Vienna")
    ingest(settings.corpus_dir.resolve(), settings, progress=False)
    monkeypatch.chdir(settings.corpus_dir.parent)
    again = ingest(Path(settings.corpus_dir.name), settings, progress=False)
    assert (again.added, again.updated, again.embedded) == (0, 0, 0)
    paths = {r.doc_id: r.path for r in _rows(settings)}
    assert paths["corpus/later.json"] == str(settings.corpus_dir.resolve() / "later.json")


def test_removed_articles_stay_until_prune(settings):
    _add_article(settings.corpus_dir, "gone.json", "A short piece about a summit in Paris. " * 3)
    ingest(settings.corpus_dir, settings, progress=False)
    (settings.corpus_dir / "gone.json").unlink()
    kept = ingest(settings.corpus_dir, settings, progress=False)
    assert "corpus/gone.json" in _chunks_by_doc(settings) and kept.deleted == 0
    pruned = ingest(settings.corpus_dir, settings, prune=True, progress=False)
    assert "corpus/gone.json" not in _chunks_by_doc(settings)
    assert pruned.pruned_articles == 1 and pruned.deleted > 0


def test_bad_files_are_skipped_by_name_and_good_ones_ingested(settings):
    folder = settings.corpus_dir
    (folder / "empty.txt").write_text("")
    (folder / "photo.txt").write_bytes(b"\x89PNG\x00\x00\x00" * 100)
    (folder / "broken.json").write_text('{"body": "unterminated')
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    _add_article(folder, "good.json", "Ministers met in Brussels to discuss energy prices. " * 2)
    report = ingest(folder, settings, progress=False)
    skipped = {name.rsplit("/", 1)[-1]: reason for name, reason in report.skipped}
    assert set(skipped) == {"empty.txt", "photo.txt", "broken.json", "notes.docx"}
    assert "binary" in skipped["photo.txt"] and "malformed JSON" in skipped["broken.json"]
    assert set(_chunks_by_doc(settings)) == {"corpus/000_3ff6c92db07b6aa6.md", "corpus/good.json"}


def test_a_duplicate_file_under_another_name_is_not_ingested_twice(settings):
    shutil.copy(SEED_ARTICLE, settings.corpus_dir / "copy-of-seed.md")
    report = ingest(settings.corpus_dir, settings, progress=False)
    assert report.articles == 1
    assert any("copy-of-seed.md" in path and "same text" in why for path, why in report.skipped)


def test_a_collection_built_with_another_model_asks_for_a_reingest(settings):
    ingest(settings.corpus_dir, settings, progress=False)
    with pytest.raises(StoreError, match="re-ingest"):
        open_store(settings, "some-other-model", 768)


def test_rebuild_recreates_the_collection(settings):
    first = ingest(settings.corpus_dir, settings, progress=False)
    rebuilt = ingest(settings.corpus_dir, settings, rebuild=True, progress=False)
    assert rebuilt.embedded == first.chunks and _index(settings).count() == first.chunks


def test_a_missing_corpus_folder_is_a_clear_error(settings, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest(tmp_path / "nowhere", settings, progress=False)
