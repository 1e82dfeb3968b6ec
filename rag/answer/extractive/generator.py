"""The extractive generator: no model, answers with the passage sentences that best
answer the question, quoted verbatim with their markers, led by a short answer."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from rag.answer.extractive.answer_types import (NAME, Candidate as AnswerCandidate, answer_type,
                                                asked_noun, candidates, fits, is_new, named_words,
                                                strength, words_of)
from rag.answer.extractive.short_answers import phrase_after, rank, term_positions, with_noun
from rag.answer.generators.base import Draft, Generator
from rag.answer.generators.registry import register
from rag.answer.outcome import Outcome
from rag.config import Settings
from rag.records import Passage, Span
from rag.text import content_terms, split_sentences, strip_markers

NEARBY_CHARS = 400  # a second sentence this close to the first continues its story
# "He called ...", "..., she said ...": the sentence speaks for the one named before it.
_PRONOUN_SUBJECT = re.compile(r"^[\"“‘']?(?:he|she|they)\b|\b(?:he|she|they) (?:said|says|added|told|called|warned)\b",
                              re.IGNORECASE)


@dataclass
class _Sentence:
    """A passage sentence as the extractive generator sees it."""

    passage: Passage
    span: Span
    terms: set[str]                       # its content words (+ the sentence before, for pronouns)
    window: set[str]                      # content words of it and its neighbours
    wanted_type: str | None = None        # what the question asks for
    answers: list[AnswerCandidate] = field(default_factory=list)  # of the wanted type, new
    antecedent: tuple[Span, Span] | None = None  # the name a pronoun subject stands for, and
                                                 # the sentence naming it (article offsets)
    score: float = 0.0


@register("extractive")
class ExtractiveGenerator(Generator):
    """No model: answers with the passage sentences that best answer the question.

    The question's answer type (`rag.answer.extractive.answer_types`: a name, a date, a number, an
    amount, a place, or any phrase) decides what a sentence must hold. A sentence's own
    words are its content words, plus those of the sentence before it when its subject
    is a pronoun ("He called ...", "..., he said ..."). It scores the idf-weighted share
    of the question's words it holds, plus half that share for words elsewhere in its
    passage, plus a bonus when it holds a candidate of the wanted type that the question
    does not already name (more when close to the question's words), plus a small prior
    for the passage's rank.

    It refuses by evidence: when the question names something (a capitalised word) that
    no passage mentions, or when no sentence both covers the question (the mean of its
    own and its window's share of the question's weighted words reaches
    `min_term_coverage`, every number of the question in its passage) and holds a
    candidate of the wanted type.
    The answer leads with the short answer, a verbatim span of a cited sentence, then
    the sentences, quoted verbatim with their markers.
    """

    name = "extractive"
    description = "no language model, quotes the best sentences"
    writes_own_timeline = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.min_coverage = settings.min_term_coverage
        self.use_types = settings.answer_types
        self.type_bonus = settings.answer_type_bonus

    def _sentences(self, passages: list[Passage], wanted_type: str | None,
                   question_words: set[str]) -> list[_Sentence]:
        sentences, seen = [], set()
        for passage in passages:
            spans = split_sentences(passage.text, offset=passage.start)
            terms = [content_terms(span.text) for span in spans]
            last_name: tuple[Span, Span] | None = None
            for i, span in enumerate(spans):
                pronoun = bool(_PRONOUN_SUBJECT.search(span.text))
                own = terms[i] | terms[i - 1] if pronoun and i else terms[i]
                window = set().union(*terms[max(0, i - 1):i + 2])
                found = candidates(span.text) if wanted_type else []
                answers = [c for c in found if fits(c, wanted_type) and is_new(c, question_words)]
                antecedent = last_name if pronoun else None
                names = [c for c in found if c.kind == NAME] if wanted_type == NAME else []
                if names:   # the person a later "he said" speaks for, unless the question names them
                    last = names[-1]
                    last_name = (Span(span.start + last.start, span.start + last.end, last.text),
                                 span) if is_new(last, question_words) else None
                is_question = span.text.rstrip("\"'”’) ").endswith("?")
                if (passage.doc_id, span.start) not in seen and not is_question:
                    seen.add((passage.doc_id, span.start))
                    sentences.append(_Sentence(passage, span, own, window, wanted_type,
                                               answers, antecedent))
        return sentences

    def generate(self, question: str, passages: list[Passage]) -> Draft:
        wanted = content_terms(question)
        wanted_type = answer_type(question) if self.use_types else None
        question_words = words_of(question)
        sentences = self._sentences(passages, wanted_type, question_words)
        if not wanted or not sentences:
            return Draft.refusal(Outcome.BY_EVIDENCE)
        frequency = Counter(t for s in sentences for t in s.terms)
        idf = {t: math.log(1 + len(sentences) / (1 + frequency[t])) + 0.5 for t in wanted}
        total = sum(idf.values())

        def weight(found: set[str]) -> float:
            return sum(idf[t] for t in wanted & found) / total

        numbers, names = named_words(question)
        everywhere = set().union(*(words_of(p.text + " " + p.title) for p in passages))
        noun = asked_noun(question)
        if not names <= everywhere or (noun and not {noun, noun.rstrip("s"), noun + "s"} & everywhere):
            return Draft.refusal(Outcome.BY_EVIDENCE)   # it names what no passage mentions
        passage_terms = {p.n: content_terms(p.text) for p in passages}
        passage_words = {p.n: words_of(p.text) for p in passages}
        for s in sentences:
            s.score = weight(s.terms) + 0.5 * weight(passage_terms[s.passage.n] - s.terms) \
                + 0.05 / s.passage.n
            if wanted_type and self._answer(s, wanted) is not None:
                s.score += self.type_bonus * (0.5 + 0.5 * self._closeness(s, wanted))

        def evidence(s: _Sentence) -> bool:
            """It covers the question (itself and with its neighbours, on average), its
            passage holds the question's numbers, and it answers with the wanted type."""
            covers = weight(s.terms) > 0 and \
                (weight(s.terms) + weight(s.window)) / 2 >= self.min_coverage
            typed = not wanted_type or self._answer(s, wanted) is not None
            return covers and typed and numbers <= passage_words[s.passage.n]

        supported = sorted((s for s in sentences if evidence(s)), key=lambda s: s.score,
                           reverse=True)
        if not supported:
            return Draft.refusal(Outcome.BY_EVIDENCE)
        best = supported[0]
        best_own = weight(best.terms)
        chosen = [best]
        short = self._answer(best, wanted) if wanted_type else phrase_after(
            best.span, wanted, why=bool(re.match(r"\W*why\b", question, re.IGNORECASE)))
        if short is not None and noun and best.span.start <= short.start:
            short = with_noun(best.span, short, noun)
        if short is not None and short.start < best.span.start and best.antecedent:
            chosen.append(_Sentence(best.passage, best.antecedent[1], set(), set()))
        else:
            ranked = sorted(sentences, key=lambda s: s.score, reverse=True)
            for s in ranked:
                own, adds = weight(s.terms), bool(wanted & s.terms - best.terms)
                near = s.passage.doc_id == best.passage.doc_id and \
                    abs(s.span.start - best.span.start) <= NEARBY_CHARS
                if s.span.text != best.span.text and (
                        own >= 0.8 * best_own or ((adds or near) and own >= 0.4 * best_own)):
                    chosen.append(s)
                    break
        # the sentence holding the short answer first, then the rest in story order
        holds = (lambda s: s.span.start <= short.start < s.span.end) if short else (lambda s: s is best)
        chosen.sort(key=lambda s: (not holds(s), s.passage.doc_id != best.passage.doc_id,
                                   s.span.start))
        body = " ".join(f"{strip_markers(s.span.text)} [{s.passage.n}]" for s in chosen)
        if short is None or "[" in short.text or "]" in short.text:
            return Draft(body)
        return Draft(f"{short.text} — {body}", short_answer=short, short_n=best.passage.n)

    @staticmethod
    def _answer(s: _Sentence, wanted: set[str]) -> Span | None:
        """A typed question's short answer in a sentence, in article offsets: its candidate
        of the wanted type nearest the question's words, else the name its pronoun subject
        stands for (a name in the article, named just before)."""
        if s.answers:
            positions = term_positions(s.span.text, wanted)
            best = min(s.answers, key=lambda c: (rank(c, s.answers, positions, s.wanted_type, s.span.text), c.start))
            return Span(s.span.start + best.start, s.span.start + best.end, best.text)
        if s.antecedent is not None and s.antecedent[0].text.lower() not in s.span.text.lower():
            return s.antecedent[0]
        return None

    def _closeness(self, s: _Sentence, wanted: set[str]) -> float:
        if not s.answers:
            return 0.0
        positions = term_positions(s.span.text, wanted)
        return max(strength(c) / (1 + max(rank(c, s.answers, positions, s.wanted_type, s.span.text), 0) / 8)
                   for c in s.answers)

    def timeline(self, question: str, passages: list[Passage]) -> Draft:
        """One sentence per article, oldest first (rag.answer.timeline)."""
        from rag.answer.timeline import extractive_timeline

        return extractive_timeline(question, passages, self.settings.timeline_events)
