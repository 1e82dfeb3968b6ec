"""Who writes the answer: no model (extractive), OpenAI, or an OpenAI-compatible server.

Every generator turns (question, passages) into a draft with `[n]` markers, rewrites a
follow-up question into a standalone one, and can stream. Model generators are LCEL
chains (`prompt | model | parser`) with their prompts read from `prompts/`.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Generator, Iterator, Protocol

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.records import Passage, Span
from rag.text import content_terms, safe_text, split_sentences, strip_markers

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
    """A generator's answer before citation checking."""

    text: str
    refused: bool = False


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
class _Candidate:
    passage: Passage
    span: Span
    terms: set[str]
    score: float = 0.0


class ExtractiveGenerator:
    """No model: answers with the one or two passage sentences that best cover the question.

    A sentence's own words are its content words, plus those of the sentence before it
    when its subject is a pronoun ("He called ...", "..., he said ..."). It scores the idf-weighted share of
    the question's words it holds, plus half that share for words elsewhere in its
    passage, plus a small prior for the passage's rank. Sentences are quoted verbatim.
    """

    name = "extractive"

    def __init__(self, settings: Settings) -> None:
        self.min_coverage = settings.min_term_coverage

    def condense(self, question: str, history: list[dict]) -> str:
        """The question with the previous one appended when it is a follow-up; a question
        that stands on its own is left exactly as asked."""
        previous = previous_user_turn(history)
        if previous and is_follow_up(question):
            return f"{question} ({previous})"
        return question

    @staticmethod
    def _candidates(passages: list[Passage]) -> list[_Candidate]:
        candidates, seen = [], set()
        for passage in passages:
            previous: set[str] = set()
            for span in split_sentences(passage.text, offset=passage.start):
                terms = content_terms(span.text)
                own = terms | previous if _PRONOUN_SUBJECT.search(span.text) else terms
                previous = terms
                is_question = span.text.rstrip("\"'”’) ").endswith("?")
                if (passage.doc_id, span.start) not in seen and not is_question:
                    seen.add((passage.doc_id, span.start))
                    candidates.append(_Candidate(passage, span, own))
        return candidates

    def generate(self, question: str, passages: list[Passage]) -> Draft:
        wanted = content_terms(question)
        candidates = self._candidates(passages)
        if not wanted or not candidates:
            return Draft(REFUSAL_SENTINEL, refused=True)
        frequency = Counter(t for c in candidates for t in c.terms)
        idf = {t: math.log(1 + len(candidates) / (1 + frequency[t])) + 0.5 for t in wanted}
        total = sum(idf.values())

        def weight(found: set[str]) -> float:
            return sum(idf[t] for t in wanted & found) / total

        passage_terms = {p.n: content_terms(p.text) for p in passages}
        for c in candidates:
            c.score = weight(c.terms) + 0.5 * weight(passage_terms[c.passage.n] - c.terms) \
                + 0.05 / c.passage.n
        candidates.sort(key=lambda c: c.score, reverse=True)
        best, best_own = candidates[0], weight(candidates[0].terms)
        chosen = [best]
        for c in candidates[1:]:
            own, adds = weight(c.terms), bool(wanted & c.terms - best.terms)
            near = c.passage.doc_id == best.passage.doc_id and \
                abs(c.span.start - best.span.start) <= NEARBY_CHARS
            if c.span.text != best.span.text and (
                    own >= 0.8 * best_own or ((adds or near) and own >= 0.4 * best_own)):
                chosen.append(c)
                break
        covered = set().union(*(c.terms | passage_terms[c.passage.n] for c in chosen))
        if best_own == 0 or weight(covered) < self.min_coverage:
            return Draft(REFUSAL_SENTINEL, refused=True)
        chosen.sort(key=lambda c: (c.passage.doc_id != best.passage.doc_id, c.span.start))
        return Draft(" ".join(f"{strip_markers(c.span.text)} [{c.passage.n}]" for c in chosen))

    def stream(self, question: str, passages: list[Passage]) -> Generator[str, None, Draft]:
        draft = self.generate(question, passages)
        if not draft.refused:
            yield from re.findall(r"\S+\s*", draft.text)
        return draft


def _read_prompt(name: str) -> str:
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


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
        from langchain_openai import ChatOpenAI

        self.name = settings.generator
        self.address = settings.base_url or "https://api.openai.com/v1"
        self.model_name = settings.model
        model = ChatOpenAI(model=settings.model, base_url=settings.base_url,
                           api_key=settings.resolved_api_key() or "not-needed",
                           temperature=settings.temperature, max_tokens=settings.max_tokens,
                           timeout=settings.request_timeout, max_retries=1)
        answer_prompt = ChatPromptTemplate.from_messages(
            [("system", _read_prompt("answer_system.md")), ("human", _read_prompt("answer_user.md"))])
        condense_prompt = ChatPromptTemplate.from_messages([("human", _read_prompt("condense.md"))])
        self.answer_chain = answer_prompt | model | StrOutputParser()
        self.condense_chain = condense_prompt | model | StrOutputParser()

    def _inputs(self, question: str, passages: list[Passage]) -> dict:
        return {"question": question, "passages": format_passages(passages)}

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn client errors into ModelError naming the server, never the key."""
        import httpx
        import openai

        try:
            yield
        except openai.AuthenticationError:
            raise ModelError(f"{self.address} rejected the API key (401): check OPENAI_API_KEY "
                             "or api_key in newsdesk.toml") from None
        except openai.NotFoundError:
            raise ModelError(f"model {self.model_name!r} is not served at {self.address}: "
                             "check the model setting") from None
        except openai.APITimeoutError:
            raise ModelError(f"model server at {self.address} did not answer in time; "
                             "check that it is running or raise request_timeout") from None
        except openai.APIConnectionError:
            raise ModelError(f"model server at {self.address} is not reachable: start it "
                             "(e.g. `ollama serve`) or fix base_url") from None
        except openai.APIStatusError as err:
            raise ModelError(f"model server at {self.address} answered HTTP "
                             f"{err.status_code}") from None
        except httpx.TimeoutException:  # a stream that stalls after it began
            raise ModelError(f"model server at {self.address} stopped answering mid-reply; "
                             "check that it is running or raise request_timeout") from None
        except (openai.APIError, httpx.HTTPError, ValueError, TypeError, KeyError,
                AttributeError) as err:  # 200 OK carrying something that is no chat reply
            raise ModelError(f"model server at {self.address} sent a reply that is not an "
                             f"OpenAI chat response ({type(err).__name__}); check base_url "
                             "and model") from None

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
