"""House style taken out of a text, for finding copies of it (`rag.ingest.copies` for
articles, `rag.search.copies` for passages).

What republishing outlets change is removed or spelled one way: datelines, bylines,
credit lines and editor's notes are dropped; times ("11 p.m."/"11pm"), percentages
("per cent"/"%"), number words ("nine"/"9") and month names ("Oct."/"October") get one
spelling; words are compared as `rag.text.comparable_words` (accents, hyphens, thousands
separators, British spellings). A shingle is the run of characters, spaces removed (so
"dock workers" matches "dockworkers"), that starts at a word and is as long as
`size` average words.
"""

from __future__ import annotations

import re
import zlib

from rag.text import comparable_words

CHARS_PER_WORD = 5        # a shingle of n words is n * 5 characters, spaces removed

# What a republishing outlet adds or takes away around the story (whole paragraphs).
_BOILERPLATE = re.compile(
    r"^\s*(?:\(?editor[’']?s note\b|\(?editing by\b|\(?reporting by\b|\(?additional reporting\b"
    r"|\(?writing by\b|\(?compiled by\b|copyright\b|©|all rights reserved|sign up\b"
    r"|\(this (?:story|article) (?:has been|was) (?:refiled|updated|corrected)"
    r"|this (?:story|article) (?:has been|was) (?:amended|updated|corrected|edited)"
    r"|by [A-Z][\w.’'-]+(?: [A-Z][\w.’'-]+){0,3}\s*$|[A-Z][a-z]+ [A-Z][a-z]+ (?:contributed|reported)\b)",
    re.IGNORECASE)
# "DUNMORE, Oct. 9 (Lakeside Wire) –", "GENEVA (AP) —", "LONDON -" at a paragraph's start
_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z.'’ -]{2,}(?:,\s*[A-Z][a-z]{2,9}\.?\s+\d{1,2}(?:,\s*\d{4})?)?\s*"
    r"(?:\([^)]{1,40}\)\s*)?[-–—]+\s+")
_TIME = re.compile(r"\b(\d{1,2})(?:[:.](\d\d))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)
_PERCENT = re.compile(r"\s*%|\bper\s*cent\b|\bpct\b", re.IGNORECASE)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_MONTHS = {m[:3]: m[:3] for m in ("january february march april may june july august "
                                  "september october november december").split()}
_MONTH_WORDS = {**{m: m for m in _MONTHS}, "sept": "sep",
                **{full: full[:3] for full in ("january february march april june july august "
                                               "september october november december").split()}}


def story_paragraphs(text: str) -> list[str]:
    """The article's paragraphs without bylines, credits and notes, datelines cut off."""
    found = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\S)", text):
        paragraph = paragraph.strip()
        if not paragraph or _BOILERPLATE.match(paragraph):
            continue
        found.append(_DATELINE.sub("", paragraph, count=1))
    return found


def _one_style(text: str) -> str:
    text = _TIME.sub(lambda m: f" {m.group(1)}{m.group(2) or ''} {m.group(3).lower()}m ", text)
    return _PERCENT.sub(" percent ", text)


def paragraph_words(paragraph: str) -> list[str]:
    words = []
    for word in comparable_words(_one_style(paragraph)):
        word = _NUMBER_WORDS.get(word, word)
        words.append(_MONTH_WORDS.get(word, word))
    return words


def house_words(text: str) -> list[str]:
    """The story's words in one house style (what two outlets' copies have in common)."""
    return [w for paragraph in story_paragraphs(text) for w in paragraph_words(paragraph)]


def shingles_of(words: list[str], size: int) -> set[int]:
    if not words:
        return set()
    length = size * CHARS_PER_WORD
    joined, starts = "", []
    for word in words:
        starts.append(len(joined))
        joined += word
    if len(joined) <= length:
        return {zlib.crc32(joined.encode())}
    return {zlib.crc32(joined[s:s + length].encode()) for s in starts if s + length <= len(joined)}


def shingles(text: str, size: int) -> set[int]:
    """The article's shingles (hashes of house-style character runs, see the module)."""
    return shingles_of(house_words(text), size)


def overlap(part: set[int], whole: set[int]) -> float:
    """Share of `part`'s shingles found in `whole` (0 when `part` is empty)."""
    return len(part & whole) / len(part) if part else 0.0
