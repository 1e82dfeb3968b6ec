"""Split an article into overlapping, sentence-aligned chunks sized in tokens.

Every chunk keeps its character offsets, so `article.text[start:end] == chunk.text`,
and its id is a hash of the article id, the offsets and the text: an unchanged chunk
keeps its id across ingests, a changed one gets a new id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from rag.articles import Article
from rag.tokens import count_tokens

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before
# whitespace, or at a line break. Abbreviations like "U.S." stay whole because the
# next character must be whitespace followed by something that starts a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n+")
_ABBREVIATIONS = re.compile(r"\b(?:[A-Z]\.|Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Lt|Col|St|No|vs|U\.S|U\.K|U\.N)\.$")


@dataclass(frozen=True)
class Span:
    """A piece of text and where it sits in the article."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, ready to embed and store."""

    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentences of text with their offsets (plus `offset`), whitespace trimmed."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end() if match.group().strip("\n") else match.start()
        if _ABBREVIATIONS.search(text[start:end]) and "\n" not in match.group():
            continue
        spans.extend(_trimmed(text, start, end, offset))
        start = match.end()
    spans.extend(_trimmed(text, start, len(text), offset))
    return spans


def _trimmed(text: str, start: int, end: int, offset: int) -> list[Span]:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return []
    lead = len(piece) - len(piece.lstrip())
    begin = start + lead
    return [Span(offset + begin, offset + begin + len(stripped), stripped)]


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
