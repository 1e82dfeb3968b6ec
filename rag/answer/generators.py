"""Who writes the answer: no model (extractive), OpenAI, or an OpenAI-compatible server.

Every generator turns (question, passages) into a draft with `[n]` markers, rewrites a
follow-up question into a standalone one, and can stream. Model generators are LCEL
chains (`prompt | model | parser`) with their prompts read from `prompts/`.
"""

from __future__ import annotations

import math
import re

import Stemmer
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator, Protocol

from rag.config import Settings
from rag.errors import NewsdeskError, server_errors
from rag.records import Passage, Span
from rag.text import content_terms, safe_text, split_sentences, strip_markers
from rag.answer.answer_types import (NAME, PLACE, Candidate as AnswerCandidate, answer_type,
                                     asked_noun, candidates, fits, is_new, named_words,
                                     strength, words_of)

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
REFUSAL_SENTINEL = "NOT IN ARTICLES"
NEARBY_CHARS = 400  # a second sentence this close to the first continues its story
_REFUSAL_PHRASES = re.compile(
    r"not in (?:the )?articles|(?:passages|articles) (?:do not|don't|does not|doesn't) "
    r"(?:contain|say|mention|provide)|no information (?:about|on)|cannot answer|can't answer",
    re.IGNORECASE)
# "He called ...", "..., she said ...": the sentence speaks for the one named before it.
_PRONOUN_SUBJECT = re.compile(r"^[\"“‘']?(?:he|she|they)\b|\b(?:he|she|they) (?:said|says|added|told|called|warned)\b",
                              re.IGNORECASE)
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
# A follow-up leans on the conversation: it opens with a connective, or it points at
# something it does not name. "he/his/their..." are resolved by a name before them in the
# question itself ("Where did Blinken and Lavrov hold their talks?" stands on its own);
# "it/this/there/them/him" point back at the conversation whatever the question names.
_CONNECTIVE = re.compile(r"^\s*(?:and|but|also|so|what about|how about)\b", re.IGNORECASE)
_PERSON_REFERENCE = re.compile(r"\b(?:he|she|they|his|her|hers|their|theirs)\b", re.IGNORECASE)
_THING_REFERENCE = re.compile(r"\b(?:it|its|this|that|these|those|there|then|them|him)\b",
                              re.IGNORECASE)
_NAME = re.compile(r"(?<=\s)[A-Z][\w'’-]+")  # a capitalised word not opening the question


class ModelError(NewsdeskError):
    """The language model could not be used; the message names its address."""


@dataclass
class Draft:
    """A generator's answer before citation checking; the extractive generator also
    gives its short answer (a span of passage `short_n`, article offsets)."""

    text: str
    refused: bool = False
    short_answer: Span | None = None
    short_n: int = 0


class AnswerWriter(Protocol):
    """What every generator offers."""

    name: str

    def condense(self, question: str, history: list[dict]) -> str: ...

    def generate(self, question: str, passages: list[Passage]) -> Draft: ...

    def stream(self, question: str, passages: list[Passage]) -> Generator[str, None, Draft]:
        """Yield pieces of the answer as they are written; return the whole draft."""


def looks_like_refusal(text: str) -> bool:
    """Whether a model's reply says the passages lack the answer."""
    return not text.strip() or bool(_REFUSAL_PHRASES.search(text))


def previous_user_turn(history: list[dict]) -> str | None:
    """The last question the user asked before this one."""
    for turn in reversed(history):
        if turn.get("role") == "user" and isinstance(turn.get("content"), str):
            return turn["content"]
    return None


def is_follow_up(question: str) -> bool:
    """Whether the question needs the conversation to be understood: it opens with a
    connective ("And what ..."), has fewer than two content words, points at a thing it
    does not name ("it", "there"), or at a person named nowhere before ("What did he say?")."""
    if _CONNECTIVE.search(question) or len(content_terms(question)) < 2:
        return True
    if _THING_REFERENCE.search(question):
        return True
    pronoun = _PERSON_REFERENCE.search(question)
    return bool(pronoun) and not _NAME.search(question[:pronoun.start()])


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


class ExtractiveGenerator:
    """No model: answers with the passage sentences that best answer the question.

    The question's answer type (`rag.answer.answer_types`: a name, a date, a number, an
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

    def __init__(self, settings: Settings) -> None:
        self.min_coverage = settings.min_term_coverage
        self.use_types = settings.answer_types
        self.type_bonus = settings.answer_type_bonus

    def condense(self, question: str, history: list[dict]) -> str:
        """The question with the previous one appended when it is a follow-up; a question
        that stands on its own is left exactly as asked."""
        previous = previous_user_turn(history)
        if previous and is_follow_up(question):
            return f"{question} ({previous})"
        return question

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
            return Draft(REFUSAL_SENTINEL, refused=True)
        frequency = Counter(t for s in sentences for t in s.terms)
        idf = {t: math.log(1 + len(sentences) / (1 + frequency[t])) + 0.5 for t in wanted}
        total = sum(idf.values())

        def weight(found: set[str]) -> float:
            return sum(idf[t] for t in wanted & found) / total

        numbers, names = named_words(question)
        everywhere = set().union(*(words_of(p.text + " " + p.title) for p in passages))
        noun = asked_noun(question)
        if not names <= everywhere or (noun and not {noun, noun.rstrip("s"), noun + "s"} & everywhere):
            return Draft(REFUSAL_SENTINEL, refused=True)   # it names what no passage mentions
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
            return Draft(REFUSAL_SENTINEL, refused=True)
        best = supported[0]
        best_own = weight(best.terms)
        chosen = [best]
        short = self._answer(best, wanted) if wanted_type else _phrase_after(
            best.span, wanted, why=bool(re.match(r"\W*why\b", question, re.IGNORECASE)))
        if short is not None and noun and best.span.start <= short.start:
            short = _with_noun(best.span, short, noun)
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
            positions = _term_positions(s.span.text, wanted)
            best = min(s.answers, key=lambda c: (_rank(c, s.answers, positions, s.wanted_type, s.span.text), c.start))
            return Span(s.span.start + best.start, s.span.start + best.end, best.text)
        if s.antecedent is not None and s.antecedent[0].text.lower() not in s.span.text.lower():
            return s.antecedent[0]
        return None

    def _closeness(self, s: _Sentence, wanted: set[str]) -> float:
        if not s.answers:
            return 0.0
        positions = _term_positions(s.span.text, wanted)
        return max(strength(c) / (1 + max(_rank(c, s.answers, positions, s.wanted_type, s.span.text), 0) / 8)
                   for c in s.answers)

    def stream(self, question: str, passages: list[Passage]) -> Generator[str, None, Draft]:
        draft = self.generate(question, passages)
        if not draft.refused:
            yield from re.findall(r"\S+\s*", draft.text)
        return draft


def _term_positions(text: str, wanted: set[str]) -> list[tuple[int, int]]:
    """Character spans of the question's content words in a sentence."""
    return [(m.start(), m.end()) for m in _WORDS.finditer(text)
            if _STEMMER.stemWord(m.group().lower()) in wanted]


def _distance(candidate: AnswerCandidate, positions: list[tuple[int, int]]) -> float:
    """About how many words lie between a candidate and the nearest question word."""
    if not positions:
        return 50.0
    gaps = [max(start - candidate.end, candidate.start - end, 0) for start, end in positions]
    return min(gaps) / 6


def _rank(candidate: AnswerCandidate, answers: list[AnswerCandidate],
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


def _with_noun(sentence: Span, short: Span, noun: str) -> Span:
    """The short answer with the rest of its list and the noun the question asks about
    ("German" → "German, French and British officials" for "Which officials ...")."""
    rest = sentence.text[short.end - sentence.start:]
    more = re.match(rf"(?:,\s*[A-Z][\w’'\-]*)*(?:,?\s+(?:and|or)\s+[A-Z][\w’'\-]*)?\s+"
                    rf"{re.escape(noun.rstrip('s'))}s?\b", rest)
    if not more:
        return short
    end = short.end + more.end()
    return Span(short.start, end, sentence.text[short.start - sentence.start:end - sentence.start])


def _phrase_after(span: Span, wanted: set[str], why: bool = False) -> Span | None:
    """An untyped question's short answer: a short quotation the question does not hold,
    else the clause after the last question word that is followed by new words (leading
    function words dropped), at most MAX_PHRASE_WORDS words; in article offsets."""
    text = span.text
    positions = _term_positions(text, wanted)
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


def read_prompt(name: str) -> str:
    """A prompt file of prompts/."""
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


def chat_model(settings: Settings):
    """The settings' chat model (OpenAI or an OpenAI-compatible server), one retry."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=settings.model, base_url=settings.base_url,
                      api_key=settings.resolved_api_key() or "not-needed",
                      temperature=settings.temperature, max_tokens=settings.max_tokens,
                      timeout=settings.request_timeout, max_retries=1)


def model_errors(settings: Settings):
    """The chat model's client errors as one-line ModelErrors naming the server, never
    the key (a context manager)."""
    address = settings.base_url or "https://api.openai.com/v1"
    return server_errors(
        ModelError, f"model server at {address}",
        missing=f"model {settings.model!r} is not served at {address}: check the model setting",
        unreachable="start it (e.g. `ollama serve`) or fix base_url",
        reply="an OpenAI chat response; check base_url and model")


def format_passages(passages: list[Passage]) -> str:
    """Passages as the model sees them: number, title, date, source, text."""
    blocks = []
    for p in passages:
        head = f"[{p.n}] {p.title}" + "".join(f" | {v}" for v in (p.date, p.source) if v)
        blocks.append(f"{head}\n{p.text}")
    return "\n\n".join(blocks)


def format_history(history: list[dict], turns: int = 6) -> str:
    return "\n".join(f"{t.get('role')}: {t.get('content')}" for t in history[-turns:]
                     if isinstance(t.get("content"), str))


class ChatGenerator:
    """An OpenAI or OpenAI-compatible chat model behind LCEL chains."""

    def __init__(self, settings: Settings) -> None:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        self.name = settings.generator
        self.settings = settings
        model = chat_model(settings)
        answer_prompt = ChatPromptTemplate.from_messages(
            [("system", read_prompt("answer_system.md")), ("human", read_prompt("answer_user.md"))])
        condense_prompt = ChatPromptTemplate.from_messages([("human", read_prompt("condense.md"))])
        self.answer_chain = answer_prompt | model | StrOutputParser()
        self.condense_chain = condense_prompt | model | StrOutputParser()

    def _inputs(self, question: str, passages: list[Passage]) -> dict:
        return {"question": question, "passages": format_passages(passages)}

    def _errors(self):
        return model_errors(self.settings)

    def condense(self, question: str, history: list[dict]) -> str:
        if not previous_user_turn(history):
            return question
        with self._errors():
            rewritten = safe_text(self.condense_chain.invoke(
                {"history": format_history(history), "question": question}))
        lines = [line.strip().strip('"') for line in rewritten.splitlines() if line.strip()]
        return lines[0] if lines and 3 <= len(lines[0]) <= 500 else question

    def generate(self, question: str, passages: list[Passage]) -> Draft:
        with self._errors():
            text = safe_text(self.answer_chain.invoke(self._inputs(question, passages)))
        return Draft(text, refused=looks_like_refusal(text))

    def stream(self, question: str, passages: list[Passage]) -> Generator[str, None, Draft]:
        pieces = []
        with self._errors():
            for piece in self.answer_chain.stream(self._inputs(question, passages)):
                piece = safe_text(piece)
                pieces.append(piece)
                yield piece
        text = "".join(pieces)
        return Draft(text, refused=looks_like_refusal(text))


def make_generator(settings: Settings, name: str | None = None) -> AnswerWriter:
    """The generator the settings (or `name`) choose."""
    match name or settings.generator:
        case "extractive":
            return ExtractiveGenerator(settings)
        case "openai" | "openai-compatible":
            return ChatGenerator(settings)
        case other:
            raise ValueError(f"unknown generator {other!r}")
