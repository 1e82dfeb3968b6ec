"""Split an article into overlapping, sentence-aligned chunks sized in tokens.

Every chunk keeps its character offsets, so `article.text[start:end] == chunk.text`,
and its id is a hash of the article id, the offsets and the text: an unchanged chunk
keeps its id across ingests, a changed one gets a new id.
"""

from __future__ import annotations

import hashlib
import re

from rag.records import Article, Chunk, Span
from rag.text import split_sentences
from rag.tokens import count_tokens

def _pieces(text: str, max_tokens: int) -> list[Span]:
    """Sentences, with any sentence longer than max_tokens cut into word windows."""
    pieces = []
    for sentence in split_sentences(text):
        if count_tokens(sentence.text) <= max_tokens:
            pieces.append(sentence)
            continue
        words = list(re.finditer(r"\S+", sentence.text))
        step = max(1, max_tokens // 2)  # ~2 tokens per word on odd text keeps windows in budget
        for i in range(0, len(words), step):
            window = words[i:i + step]
            s, e = sentence.start + window[0].start(), sentence.start + window[-1].end()
            pieces.append(Span(s, e, text[s:e]))
    return pieces


def chunk_article(article: Article, chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Greedy sentence packing up to chunk_tokens, repeating tail sentences as overlap
    (up to overlap_tokens, and at least one sentence of at most half a chunk)."""
    pieces = _pieces(article.text, chunk_tokens)
    sizes = [count_tokens(p.text) for p in pieces]
    chunks: list[Chunk] = []
    first = 0
    while first < len(pieces):
        last, total = first, sizes[first]
        while last + 1 < len(pieces) and total + sizes[last + 1] <= chunk_tokens:
            last += 1
            total += sizes[last]
        start, end = pieces[first].start, pieces[last].end
        chunks.append(_make_chunk(article, len(chunks), start, end))
        if last + 1 >= len(pieces):
            break
        next_first, carried = last + 1, 0
        while next_first - 1 > first and carried + sizes[next_first - 1] <= overlap_tokens:
            next_first -= 1
            carried += sizes[next_first]
        if carried == 0 and overlap_tokens and last > first and sizes[last] <= chunk_tokens // 2:
            next_first = last  # at least one shared sentence, unless it is very long
        first = next_first
    return chunks


def _make_chunk(article: Article, index: int, start: int, end: int) -> Chunk:
    text = article.text[start:end]
    digest = hashlib.sha256(f"{article.doc_id}\0{start}\0{end}\0{text}".encode()).hexdigest()
    return Chunk(chunk_id=digest[:32], doc_id=article.doc_id, index=index,
                 start=start, end=end, text=text)
