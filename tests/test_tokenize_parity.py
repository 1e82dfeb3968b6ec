"""The lexical tokenizer equals bm25s's (the catalog's FTS words were built with it), and a
question's path imports neither bm25s nor scipy nor LangChain."""

import subprocess
import sys
from pathlib import Path

import bm25s
from hypothesis import given, settings, strategies as st

from rag.stopwords import STOPWORDS_EN_PLUS
from rag.text import _stemmer, tokenize

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def bm25s_tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="english_plus", stemmer=_stemmer, return_ids=False,
                          show_progress=False)


def test_stop_words_are_bm25s_english_plus():
    from bm25s.stopwords import STOPWORDS_EN_PLUS as theirs

    assert STOPWORDS_EN_PLUS == frozenset(theirs)


def test_tokens_of_the_shipped_articles_equal_bm25s():
    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.rglob("*")) if p.is_file()
             and p.suffix in {".txt", ".md", ".json", ".jsonl", ".html"}]
    texts += ["", "The U.S. isn't here; it's 2022's news — Ünïcode wörds, don't, a1 b2 _x_"]
    assert texts and tokenize(texts) == bm25s_tokens(texts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=5))
def test_tokens_of_any_text_equal_bm25s(texts):
    assert tokenize(texts) == bm25s_tokens(texts)


def test_asking_imports_no_bm25s_scipy_or_langchain():
    code = ("import sys, rag.cli, rag.answer, rag.index.embeddings, rag.index.store, "
            "rag.search.retriever; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'bm25s', 'scipy', 'langchain_core', 'langchain', 'gradio', 'matplotlib', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
