"""Text helpers shared by every stage: normalising, sentences, word tokens, markers.

Pure functions over strings; the tokenizer is the one BM25 and answering share.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import Stemmer

from rag.records import Span
from rag.stopwords import STOPWORDS_EN_PLUS

_stemmer = Stemmer.Stemmer("english")
_LEXICAL_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (and scikit-learn's) token pattern
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before
# whitespace, or at a line break. Abbreviations like "U.S." stay whole because the
# next character must be whitespace followed by something that starts a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n+")
_ABBREVIATIONS = re.compile(r"\b(?:[A-Z]\.|Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Lt|Col|St|No|vs"
                            r"|U\.S|U\.K|U\.N)\.$")
# The one definition of a citation marker "[n]" (any number of digits: a checked answer
# holds only markers of passages it was given, so every "[digits]" in it is one).
MARKER_DIGITS = r"\d+"
MARKER = re.compile(rf"\[({MARKER_DIGITS})\]")
SPACED_MARKER = re.compile(rf"\s*\[{MARKER_DIGITS}\]")   # a marker with the space before it
_MARKER_GROUP = re.compile(r"\[\s*(?:passages?\s*)?(\d{1,3}(?:\s*[,;]\s*(?:passages?\s*)?\d{1,3})*)\s*\]",
                           re.IGNORECASE)
_ANY_MARKER = re.compile(r"\s*\[\s*(?:passages?\s*)?\d+(?:\s*[,;]\s*(?:passages?\s*)?\d+)*\s*\]",
                         re.IGNORECASE)


def safe_text(text: str) -> str:
    """Text without control/format characters or lone surrogates (newlines and tabs stay):
    they break JSON, terminals and pages, and can hide or reorder text."""
    return "".join(ch for ch in str(text)
                   if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))


def printable(text: object) -> str:
    """Text safe to print on one terminal line: control and format characters (newlines,
    ESC, bidi overrides, line separators) written as escapes such as `\\x1b` and `\\n`,
    so a file name can neither move the cursor nor forge an output line."""
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") else ch
                   for ch in str(text))


def normalise_text(text: str) -> str:
    """NFC, Unix newlines, no control characters, no trailing spaces, at most one blank line."""
    text = safe_text(unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"[ \t]+\n", "\n", text.replace("\t", " "))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


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


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stemmed word tokens without English stop words (shared with answering)."""
    # bm25s.tokenize(stopwords="english_plus", stemmer=...) without importing bm25s/scipy
    if isinstance(texts, str):
        texts = [texts]
    words = [[w for w in _LEXICAL_WORD.findall(text.lower()) if w not in STOPWORDS_EN_PLUS]
             for text in texts]
    unique = list(dict.fromkeys(w for doc in words for w in doc))
    stems = dict(zip(unique, _stemmer.stemWords(unique)))
    return [[stems[w] for w in doc] for doc in words]


def normalise_markers(text: str) -> str:
    """`[1, 2]`, `[Passage 3]` and `[1;2]` become `[1][2]`, `[3]`, `[1][2]`."""
    def expand(match: re.Match) -> str:
        numbers = re.findall(r"\d+", match.group(1))
        return "".join(f"[{int(n)}]" for n in numbers)
    text = _MARKER_GROUP.sub(expand, text)
    # "claim. [1] Next" -> "claim [1]. Next", so markers stay with their sentence
    return re.sub(r"([.!?…]+[\"'”’)]*)((?:\s*\[\d+\])+)", lambda m: m.group(2).rstrip() + m.group(1), text)


def marker_numbers(text: str) -> list[int]:
    """The numbers of the `[n]` markers in text, in order."""
    return [int(n) for n in MARKER.findall(text)]


def strip_markers(text: str) -> str:
    """Text without anything that reads as a citation marker ("[2]", "[Passage 5]",
    "[1, 3]"): article text quoted in an answer must not bring its own markers."""
    return _ANY_MARKER.sub("", text)


def content_terms(text: str) -> set[str]:
    """Stemmed content words, the unit of lexical support."""
    return set(tokenize([text])[0])


def support(claim: str, evidence: str) -> float:
    """Share of the claim's content words found in the evidence (0..1)."""
    claim_terms = content_terms(claim)
    if not claim_terms:
        return 0.0
    return len(claim_terms & content_terms(evidence)) / len(claim_terms)


_PHRASES = [(re.compile(r"\bper\s+cent\b"), "percent"),
            (re.compile(r"(?<=\d),(?=\d{3}\b)"), ""),        # 5,000 -> 5000
            (re.compile(r"(?<=[a-z])[-\u2010\u2011](?=[a-z])"), "")]  # cease-fire -> ceasefire
_SPELLING = [(re.compile(r"^(\w{3,})is(e|ed|es|ing|ation|ations|er|ers)$"), r"\1iz\2"),
             (re.compile(r"^(\w{2,})our(s|ed|ing|ite|ites)?$"), r"\1or\2"),
             (re.compile(r"^(\w{3,})tre(s)?$"), r"\1ter\2"),
             (re.compile(r"^(\w{3,})ll(ed|ing|er|ers)$"), r"\1l\2")]
_WORD = re.compile(r"[a-z0-9]+")


def comparable_words(text: str) -> list[str]:
    """Lower-cased words with accents, apostrophes, hyphens inside words, thousands
    separators and British spellings normalised away: what two outlets' copies of one
    text have in common ("cease-fire"/"ceasefire", "organise"/"organize")."""
    text = unicodedata.normalize("NFKD", text.lower())
    marks = {ch for ch in set(text) if unicodedata.combining(ch)}   # the text's distinct characters
    if marks:
        text = text.translate(dict.fromkeys(map(ord, marks)))
    text = re.sub(r"['\u2019\u2018`]", "", text)
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return [_one_spelling(word) for word in _WORD.findall(text)]


@functools.lru_cache(maxsize=1 << 16)
def _one_spelling(word: str) -> str:
    """The word in American spelling (words recur: each is spelled out once)."""
    for pattern, replacement in _SPELLING:
        word = pattern.sub(replacement, word)
    return word
