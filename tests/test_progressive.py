"""Searchable first, embedded next (issue 25): an ingest writes every new chunk to the
catalog and its lexical index before embedding any; a chunk waiting for its vector is
found lexically, the answer says how many articles wait, and whatever stopped the
embedding (a kill, embed=False), the next ingest or `rag serve`'s worker ends where a
clean ingest does. Real model, real Chroma."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
from filelock import FileLock

from rag.answer.pipeline import Newsdesk
from rag.index import embeddings as embedding_models
from rag.index.chunks import open_index, queued_chunks
from rag.index.embeddings import embedding_name, get_embeddings
from rag.ingest import ingest
from rag.ingest.follow import embed_in_background
from rag.ingest.sync import drain, lock_path
from rag.records import Filters, cosine
from rag.search.retriever import Retriever
from tests.support.counting import CountingEmbeddings
from ui.render import sources_html

NEW = ("A new flood barrier opened in Quokkaville on Monday, two years ahead of schedule, "
       "the harbour authority said. The barrier cost 40 million euros. ") * 3


def _index(settings):
    embeddings = get_embeddings(settings)
    return open_index(settings, embedding_name(embeddings), embeddings.dimension)


def _contents(settings) -> dict[str, tuple[str, dict, np.ndarray]]:
    """chunk id -> (text, metadata, vector) as Chroma holds them; the catalog agrees."""
    index = _index(settings)
    got = index.store.collection.get(include=["documents", "metadatas", "embeddings"])
    assert set(got["ids"]) == set(index.states()) and index.pending_count() == 0
    return {cid: (doc, meta, np.asarray(vec)) for cid, doc, meta, vec in
            zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}


def _same(got, clean) -> None:
    assert set(got) == set(clean)
    for cid, (text, meta, vector) in clean.items():
        assert got[cid][0] == text and got[cid][1] == meta
        assert np.allclose(got[cid][2], vector, atol=1e-5), f"vector of {cid} differs"


def _add_new_article(settings) -> None:
    (settings.corpus_dir / "quokkaville.json").write_text(json.dumps(
        {"title": "Flood barrier opens in Quokkaville", "date": "2026-12-07", "body": NEW}))


def test_a_new_article_is_found_lexically_before_it_is_embedded(settings):
    ingest(settings.corpus_dir, settings, progress=False)
    _add_new_article(settings)
    report = ingest(settings.corpus_dir, settings, progress=False, embed=False)  # = a kill here
    assert report.added > 0 and report.embedded == 0
    index = _index(settings)
    assert index.pending_count() == report.added and index.not_embedded() == 1
    assert index.vector_count() == index.count() - report.added, "nothing queued is in Chroma"

    retriever = Retriever(settings)
    found = retriever.retrieve("Where did the flood barrier open?")
    assert found.not_embedded == 1
    assert "quokkaville" in found.passages[0].doc_id and found.passages[0].dense_similarity == 0
    # a filter narrow enough to hand Chroma the allowed ids never names a queued chunk
    narrow = Filters(date_from="2026-12-01")
    assert retriever.retrieve("flood barrier", filters=narrow).passages[0].doc_id.endswith(
        "quokkaville.json")
    answer = Newsdesk(settings).answer("Where did the flood barrier open?").to_dict()
    assert answer["not_embedded"] == 1
    assert "1 article not embedded yet" in sources_html(answer)
    assert "not embedded" not in sources_html({**answer, "not_embedded": 0})


def test_an_answer_with_queued_passages_embeds_its_question_once(settings, monkeypatch):
    """The dense similarity of the queued passages reuses the question's vector from its
    retrieval (the question was embedded twice)."""
    ingest(settings.corpus_dir, settings, progress=False)
    _add_new_article(settings)
    ingest(settings.corpus_dir, settings, progress=False, embed=False)
    real = get_embeddings(settings)
    counting = CountingEmbeddings(real)
    key = (settings.embedding, settings.embedding_model, settings.embedding_base_url)
    monkeypatch.setitem(embedding_models._cache, key, counting)  # what get_embeddings gives

    question = "Where did the flood barrier open?"
    answer = Newsdesk(settings).answer(question)
    assert answer.not_embedded == 1 and not answer.refused
    assert counting.questions == [question]
    new = next(p for p in answer.passages if "quokkaville" in p.doc_id)
    expected = cosine(real.embed_query(question), real.embed_documents([new.text])[0])
    assert new.dense_similarity == expected > 0.5, "the queued passage is scored as before"


def test_the_next_ingest_after_a_stop_before_embedding_ends_like_a_clean_ingest(settings, tmp_path):
    _add_new_article(settings)
    ingest(settings.corpus_dir, settings, progress=False, embed=False)
    assert _index(settings).vector_count() == 0
    again = ingest(settings.corpus_dir, settings, progress=False)
    assert again.added == 0 and again.embedded == again.chunks
    clean = settings.model_copy(update={"collection": "clean"})
    ingest(settings.corpus_dir, clean, progress=False)
    _same(_contents(settings), _contents(clean))
    assert Retriever(settings).retrieve("flood barrier").not_embedded == 0


def test_a_kill_after_the_vectors_before_the_mark_ends_like_a_clean_ingest(settings):
    """Chroma got the vectors of a batch, the catalog still queues it: the next ingest
    stores them again (same ids, same vectors), nothing is orphaned."""
    ingest(settings.corpus_dir, settings, progress=False, embed=False)
    index = _index(settings)
    part = index.pending_rows(3)
    vectors = get_embeddings(settings).embed_documents([r.text for r in part])
    index.store.collection.upsert(ids=[r.chunk_id for r in part], embeddings=vectors)  # no mark
    assert index.pending_count() == index.count()
    ingest(settings.corpus_dir, settings, progress=False)
    clean = settings.model_copy(update={"collection": "clean"})
    ingest(settings.corpus_dir, clean, progress=False)
    _same(_contents(settings), _contents(clean))


def test_drain_embeds_the_queue_unless_an_ingest_holds_the_lock(settings):
    ingest(settings.corpus_dir, settings, progress=False, embed=False)
    queued = queued_chunks(settings)
    assert queued > 3
    lock = FileLock(str(lock_path(settings)))
    with lock.acquire(timeout=0):
        assert drain(settings) == 0 and queued_chunks(settings) == queued
    assert drain(settings) == queued and queued_chunks(settings) == 0
    assert drain(settings) == 0  # an empty queue: only the catalog is read


def test_the_serve_worker_drains_the_queue_in_the_background(settings):
    ingest(settings.corpus_dir, settings, progress=False)
    retriever = Retriever(settings)  # a reader open before the worker writes, as in `rag serve`
    _add_new_article(settings)
    ingest(settings.corpus_dir, settings, progress=False, embed=False)
    errors: list[str] = []
    embedded = threading.Event()
    stop = embed_in_background(settings, on_error=errors.append,
                               on_embedded=lambda n: embedded.set(), every=0.2)
    try:
        assert embedded.wait(120), errors
    finally:
        stop.set()
    assert queued_chunks(settings) == 0 and not errors
    time.sleep(1.1)  # a reader looks for other writers once a second
    found = retriever.retrieve("Where did the flood barrier open?")
    assert found.not_embedded == 0
    top = found.passages[0]
    assert top.doc_id.endswith("quokkaville.json") and top.dense_similarity > 0, \
        "the reader sees the worker's vectors"
