"""Short answers of the extractive generator: the words of a cited sentence that answer
the question (a typed candidate near the question's words, or the phrase after them)."""

from __future__ import annotations

import re

import Stemmer

from rag.answer.extractive.answer_types import (NAME, NUMBER, PLACE, Candidate as AnswerCandidate,
                                                asked_noun, asked_unit, candidates, fits, is_new,
                                                kind_of_unit, named_words, place_class, strength, words_of,
                                                _asking_part)
from rag.records import Passage, Span
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
            clause_end = _CLAUSE_END.search(text, reason.end())
            stop = clause_end.start() if clause_end else len(text)
            words = list(_WORDS.finditer(text, reason.start(), stop))[:MAX_PHRASE_WORDS]
            if words:
                return Span(span.start + reason.start(), span.start + words[-1].end(),
                            text[reason.start():words[-1].end()])
    for m in _QUOTATION.finditer(text):
        inner = m.group(1) or m.group(2)
        quoted_words = _WORDS.findall(inner)
        right_after = any(0 <= m.start() - end <= 3 for _, end in positions)
        if right_after and 1 <= len(quoted_words) <= MAX_PHRASE_WORDS and not {
                _STEMMER.stemWord(w.lower()) for w in quoted_words} <= wanted:
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


# Untyped questions ("What did Lavrov demand?") get the phrase after the question's words
# only when this is on: measured on the calibration parts (issue 24), see short_answer_for.
UNTYPED_PHRASES = False
REQUIRE_NUMBERS = True   # the sentence must state the question's numbers ("in 2013")
MIN_NAME_SHARE = 0.0     # ... and this share of its capitalised names
_PLACE_UNITS = frozenset({"country", "state", "city", "place", "named_place"})
# Units whose candidates are often right in kind but wrong in fact (any name answers "who",
# any date "when"; measured on the calibration parts of seed, dated, RGB and RealTime QA:
# 24 of 79 right against 23 of 25 for counts, amounts and places): one feature of the
# fitted short-answer gate (rag.answer.extractive.scorer.ShortAnswerGate).
WEAK_UNITS = frozenset({"who", "date", "name", "work", "named_place"})


def _says_something_new(candidate: AnswerCandidate, question_words: set[str]) -> bool:
    """A number is new when the question does not hold it (its unit may repeat the
    question's noun: "171 jets" for "how many jets"); other kinds as `is_new`."""
    if candidate.kind == NUMBER:
        digits = {w for w in words_of(candidate.text) if any(ch.isdigit() for ch in w)}
        return not digits or not digits <= question_words
    return is_new(candidate, question_words)


def states_specifics(question: str, text: str) -> bool:
    """Whether a sentence states what the question pins down: every number of the
    question ("2013", "Q2", when REQUIRE_NUMBERS) and at least MIN_NAME_SHARE of its
    capitalised names."""
    numbers, names = named_words(_asking_part(question))
    words = words_of(text)
    if REQUIRE_NUMBERS and not numbers <= words:
        return False
    return not names or len(names & words) >= MIN_NAME_SHARE * len(names)


def support(short: str, passages: list[Passage], own_n: int) -> int:
    """How many other passages repeat a short answer (case-insensitive): an answer
    several reports give is more likely right than one a single sentence gives."""
    wanted = short.lower()
    return sum(1 for p in passages if p.n != own_n and wanted in p.text.lower())


def short_answer_for(question: str, sentence: Span, found: list[AnswerCandidate] | None = None,
                     antecedent: Span | None = None) -> Span | None:
    """The short answer a sentence gives to a question, in article offsets, or None.
    Typed questions only (`asked_unit`: who, when, where, how many/much, which/what + a
    noun of a known kind): the candidate of that kind *and unit* nearest the question's
    words ("300 troops" for "how many soldiers", never "nine water bombers" for "how many
    firefighters"), when the sentence states the question's numbers (`states_specifics`);
    for a "who" question whose sentence says "he said", the name it stands for
    (`antecedent`). Untyped questions get the phrase after the question's words only
    while UNTYPED_PHRASES is on. Whether it is shown is the fitted gate's call
    (`ShortAnswerGate`, with `support` and `rivals` among its features)."""
    unit = asked_unit(question)
    wanted = kind_of_unit(unit)
    terms = content_terms(question)
    if wanted is None:
        if not UNTYPED_PHRASES:
            return None
        return phrase_after(sentence, terms, why=bool(re.match(r"\W*why\b", question, re.IGNORECASE)))
    found = candidates(sentence.text) if found is None else found
    question_words = words_of(question)
    fitting = [c for c in found if fits(c, wanted, noun=unit) and _says_something_new(c, question_words)
               and not (unit == "who" and re.match(r"[’']s\b", c.after) and "whose" not in question_words)]
    if unit == "who" and any(place_class(c.text) is None for c in fitting):
        fitting = [c for c in fitting if place_class(c.text) is None]   # a person over "Russia"
    if not fitting or not states_specifics(question, sentence.text):
        if fitting or antecedent is None or unit not in ("who", "person") \
                or antecedent.text.lower() in sentence.text.lower():
            return None
        short = antecedent
    else:
        positions = term_positions(sentence.text, terms)
        best = min(fitting, key=lambda c: (rank(c, fitting, positions, wanted, sentence.text), c.start))
        start = best.start
        if unit in _PLACE_UNITS and re.search(r"\bthe $", best.before):
            start -= 4                        # "the Bahamas", "the Netherlands"
        short = Span(sentence.start + start, sentence.start + best.end, sentence.text[start:best.end])
        noun = asked_noun(question)
        if wanted == NAME and noun:
            short = with_noun(sentence, short, noun)
    return short


def rivals(question: str, sentence: Span, short: Span) -> int:
    """How many other candidates of the asked kind and unit the sentence holds."""
    unit = asked_unit(question)
    wanted = kind_of_unit(unit)
    question_words = words_of(question)
    return sum(1 for c in candidates(sentence.text)
               if fits(c, wanted, noun=unit) and _says_something_new(c, question_words)
               and c.text not in short.text)
