"""Short answers of the extractive generator: the words of a cited sentence that answer
the question (a typed candidate near the question's words, or the phrase after them)."""

from __future__ import annotations

import re

import Stemmer

from rag.answer.extractive.answer_types import NAME, PLACE, Candidate as AnswerCandidate, strength
from rag.records import Span
from rag.text import content_terms

_WORDS = re.compile(r"\w+(?:[’'\-]\w+)*")
_STEMMER = Stemmer.Stemmer("english")   # the stemmer rag.text's tokens use
_QUOTATION = re.compile(r"“([^”]{2,80})”|\"([^\"]{2,80})\"")
_CLAUSE_END = re.compile(r"[,;:!?()–—]|(?<![A-Z])\.(?=\s|$)|”|\b(?:but|while|which|who|because|after|"
                         r"before|when|once|if|adding|saying|said)\b")
_LEAD_WORDS = re.compile(r"^(?:[\s,]|\b(?:as|is|was|were|are|be|been|to|that|of|include|"
                         r"includes|included|would|could|will|had|has|have|"
                         r"there|it|he|she|they|said|says|and|but|or)\b)+", re.IGNORECASE)
_PURPOSE = re.compile(r"\b(?:because|in (?:an )?(?:attempt|effort|bid|order) to|so that|"
                      r"to (?=[a-z]))", re.IGNORECASE)
MAX_PHRASE_WORDS = 14
_PREPOSITIONS = frozenset("from by in on at with for of into over under after before since during "
                          "between against about across through toward towards near".split())
_BEATEN = re.compile(r"\b(?:defeat\w*|beat\w*|against|over|versus|vs\.?|before|ahead of)\s+(?:\w+\s+)?$",
                     re.IGNORECASE)


def term_positions(text: str, wanted: set[str]) -> list[tuple[int, int]]:
    """Character spans of the question's content words in a sentence."""
    return [(m.start(), m.end()) for m in _WORDS.finditer(text)
            if _STEMMER.stemWord(m.group().lower()) in wanted]


def _distance(candidate: AnswerCandidate, positions: list[tuple[int, int]]) -> float:
    """About how many words lie between a candidate and the nearest question word."""
    if not positions:
        return 50.0
    gaps = [max(start - candidate.end, candidate.start - end, 0) for start, end in positions]
    return min(gaps) / 6


def rank(candidate: AnswerCandidate, answers: list[AnswerCandidate],
          positions: list[tuple[int, int]], wanted: str | None, sentence: str) -> float:
    """Lower is better: words to the nearest question word, less for specific candidates,
    more for a place when a name is wanted."""
    rank = _distance(candidate, positions) - 2 * strength(candidate)
    if wanted == NAME and _BEATEN.search(sentence[max(0, candidate.start - 14):candidate.start]):
        rank += 6                         # "defeating Croatia": the other side, not the subject
    kinds = {c.kind for c in answers}
    if wanted == NAME and candidate.kind == PLACE and NAME in kinds:
        rank += 2
    if wanted == PLACE and candidate.kind == NAME and PLACE in kinds:
        rank += 2
    return rank


def with_noun(sentence: Span, short: Span, noun: str) -> Span:
    """The short answer with the rest of its list and the noun the question asks about
    ("German" → "German, French and British officials" for "Which officials ...")."""
    rest = sentence.text[short.end - sentence.start:]
    more = re.match(rf"(?:,\s*[A-Z][\w’'\-]*)*(?:,?\s+(?:and|or)\s+[A-Z][\w’'\-]*)?\s+"
                    rf"{re.escape(noun.rstrip('s'))}s?\b", rest)
    if not more:
        return short
    end = short.end + more.end()
    return Span(short.start, end, sentence.text[short.start - sentence.start:end - sentence.start])


def phrase_after(span: Span, wanted: set[str], why: bool = False) -> Span | None:
    """An untyped question's short answer: a short quotation the question does not hold,
    else the clause after the last question word that is followed by new words (leading
    function words dropped), at most MAX_PHRASE_WORDS words; in article offsets."""
    text = span.text
    positions = term_positions(text, wanted)
    if not positions:
        return None
    if why:   # a reason or a purpose: "in an attempt to bolster ...", "because ..."
        reason = _PURPOSE.search(text, positions[0][1])
        if reason:
            stop = _CLAUSE_END.search(text, reason.end())
            stop = stop.start() if stop else len(text)
            words = list(_WORDS.finditer(text, reason.start(), stop))[:MAX_PHRASE_WORDS]
            if words:
                return Span(span.start + reason.start(), span.start + words[-1].end(),
                            text[reason.start():words[-1].end()])
    for m in _QUOTATION.finditer(text):
        inner = m.group(1) or m.group(2)
        words = _WORDS.findall(inner)
        right_after = any(0 <= m.start() - end <= 3 for _, end in positions)
        if right_after and 1 <= len(words) <= MAX_PHRASE_WORDS and not {
                _STEMMER.stemWord(w.lower()) for w in words} <= wanted:
            return Span(span.start + m.start(), span.start + m.end(), m.group())
    for _, start in reversed(positions):   # the clause after the last question word that says more
        clause = _CLAUSE_END.search(text, start)
        end = clause.start() if clause else len(text)
        lead = _LEAD_WORDS.match(text[start:end])
        begin = start + (lead.end() if lead else 0)
        words = list(_WORDS.finditer(text, begin, end))
        if not words or not content_terms(text[begin:words[-1].end()]) - wanted:
            continue                       # nothing the question does not already say
        if words[0].group().lower() in _PREPOSITIONS:
            continue                       # "demands from the US": a modifier, not the answer
        stop = words[:MAX_PHRASE_WORDS][-1].end()
        if text[stop:stop + 1] in "”’\"'" and text[begin - 1:begin] in "“‘\"'":
            begin, stop = begin - 1, stop + 1
        elif text[begin:stop].count("“") > text[begin:stop].count("”") and text[stop:stop + 1] == "”":
            stop += 1                       # close the quotation the phrase opened
        return Span(span.start + begin, span.start + stop, text[begin:stop])
    return None
