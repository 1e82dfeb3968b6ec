"""Dated answers: timelines of a story ("how did X unfold") and date labels on answers
whose facts come from articles of different dates ("As of June 10, 2024: ...").

A timeline lists the key dated events in chronological order, one sentence each from a
different article, each starting with its date and citing its passage. The extractive
writer picks each article's sentence that best covers the question's topic; model
generators write their own (`Generator.timeline`, prompts/timeline_*.md).
"""

from __future__ import annotations

import re
from datetime import date

from rag.answer.generators.base import Draft, Generator
from rag.answer.outcome import Outcome
from rag.records import Passage
from rag.text import MARKER, MARKER_DIGITS, content_terms, split_sentences, strip_markers

# words that ask for a timeline rather than name its topic
_INTENT_WORDS = content_terms("how did does has have unfold unfolded develop developed evolve "
                              "evolved progress progressed play played out change changed "
                              "timeline chronology sequence events event what happened happen "
                              "since story key")
MIN_TOPIC_SHARE = 0.5   # an event must cover this share of the best event's topic words
LATEST_MIN_SHARE = 0.75  # "latest": the newest report may miss a question word in four
_SEGMENT = re.compile(rf"\s*(.+?(?:\s*\[{MARKER_DIGITS}\])+)")  # "text [1][2]"


def spoken_date(iso: str | None) -> str:
    """2024-06-03 -> "June 3, 2024" (unknown dates as they are)."""
    try:
        day = date.fromisoformat(iso or "")
    except ValueError:
        return iso or "undated"
    return f"{day:%B} {day.day}, {day.year}"


def _topic_terms(question: str) -> set[str]:
    terms = content_terms(question) - _INTENT_WORDS
    return terms or content_terms(question)


def extractive_timeline(question: str, passages: list[Passage], max_events: int) -> Draft:
    """One sentence per article, oldest article first, each "DATE: sentence [n]"."""
    topic = _topic_terms(question)
    best_per_article: dict[str, tuple[float, Passage, str]] = {}
    for passage in passages:
        for span in split_sentences(passage.text):
            text = strip_markers(span.text).strip()
            if not text or text.rstrip("\"'”’) ").endswith("?"):
                continue
            share = len(topic & content_terms(text)) / len(topic) if topic else 0.0
            kept = best_per_article.get(passage.doc_id)
            if share > 0 and (kept is None or share > kept[0]):
                best_per_article[passage.doc_id] = (share, passage, text)
    if not best_per_article:
        return Draft.refusal(Outcome.BY_EVIDENCE)
    top = max(share for share, _, _ in best_per_article.values())
    events, seen_texts = [], set()
    for share, passage, text in sorted(best_per_article.values(),
                                       key=lambda e: (-e[0], e[1].date or "9999", e[1].n)):
        if share < MIN_TOPIC_SHARE * top or text in seen_texts:
            continue  # another story, or a syndicated copy of an event already listed
        seen_texts.add(text)
        events.append((passage, text))
        if len(events) == max_events:
            break
    events.sort(key=lambda e: (e[0].date or "9999-99-99", e[0].n))
    return Draft(" ".join(f"{spoken_date(p.date)}: {text} [{p.n}]" for p, text in events))


def latest_draft(generator: Generator, question: str, passages: list[Passage]) -> Draft:
    """For "latest"/"now" questions (passages newest first): the answer from the newest
    report's passages when it covers nearly as many of the question's words
    (`LATEST_MIN_SHARE`) as the answer from all passages, else the latter."""
    anywhere = generator.generate(question, passages)
    newest = [p for p in passages if p.date and p.date == passages[0].date]
    if not newest or len(newest) == len(passages):
        return anywhere
    latest = generator.generate(question, newest)
    if latest.refused:
        return anywhere
    wanted = content_terms(question)

    def covered(draft: Draft) -> int:
        return 0 if draft.refused else len(wanted & content_terms(strip_markers(draft.text)))

    return latest if covered(latest) >= LATEST_MIN_SHARE * covered(anywhere) else anywhere


def label_dates(draft: Draft, passages: list[Passage]) -> Draft:
    """When the sentences of an answer cite articles of different dates, start each with
    "As of DATE:" so the reader sees which date each fact is from."""
    if draft.refused:
        return draft
    by_n = {p.n: p for p in passages}
    segments = [(m.group(1), [int(n) for n in MARKER.findall(m.group(1))])
                for m in _SEGMENT.finditer(draft.text)]
    dates = [max((by_n[n].date or "" for n in numbers if n in by_n), default="")
             for _, numbers in segments]
    if len(segments) < 2 or len(set(dates)) < 2 or "" in dates \
            or "".join(s for s, _ in segments).replace(" ", "") != draft.text.replace(" ", ""):
        return draft
    return Draft(" ".join(f"As of {spoken_date(d)}: {text}" for (text, _), d in zip(segments, dates)))
