"""A real embedding model that counts the questions it is asked to embed."""

from __future__ import annotations

from rag.index.embeddings import Embeddings, embedding_name


class CountingEmbeddings(Embeddings):
    """Wraps a real model (same name and dimension, so it opens the same collection) and
    records every text passed to `embed_query`."""

    def __init__(self, model: Embeddings) -> None:
        self.model, self.questions = model, []
        self.name, self.dimension = embedding_name(model), getattr(model, "dimension", None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.questions.append(text)
        return self.model.embed_query(text)
