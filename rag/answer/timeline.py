"""Dated answers: timelines of a story ("how did X unfold") and date labels on answers
whose facts come from articles of different dates ("As of June 10, 2024: ...").

A timeline is a chronology: one event per story day, oldest first, spread over the
story's whole span (first, turning points, latest), each line starting with its date,
without the sentence's dateline, and citing its passage; copies count once. The page
shows it as a list (`ui.render.timeline_items`). The extractive
writer picks each article's sentence that best covers the question's topic; model
generators write their own (`Generator.timeline`, prompts/timeline_*.md).
"""

from __future__ import annotations

import re
from datetime import date

from rag.answer.generators.base import Draft, Generator
from rag.answer.outcome import Outcome
from rag.records import Passage
from rag.search.time import spoken_date
from rag.text import MARKER, MARKER_DIGITS, content_terms, split_sentences, strip_markers

# words that ask for a timeline rather than name its topic
_INTENT_WORDS = content_terms("how did does has have unfold unfolded develop developed evolve "
                              "evolved progress progressed play played out change changed "
                              "timeline chronology sequence events event what happened happen "
                              "since story key")
MIN_TOPIC_SHARE = 0.5   # an event must cover this share of the best event's topic words
LATEST_MIN_SHARE = 0.75  # "latest": the newest report may miss a question word in four
_SEGMENT = re.compile(rf"\s*(.+?(?:\s*\[{MARKER_DIGITS}\])+)")  # "text [1][2]"


def _topic_terms(question: str) -> set[str]:
    terms = content_terms(question) - _INTENT_WORDS
    return terms or content_terms(question)


_DATELINE = re.compile(r"^(?:[A-Z][A-Z.'’ -]{2,}(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?|\d{1,2})\s*"
                       r"(?:\([^)]{1,40}\)\s*)?[–—-]{1,2}\s+")


def without_dateline(text: str) -> str:
    """A sentence without the dateline it starts with ("ROTTERDAM, June 3 (Reuters) – ",
    "DUNMORE – ", or the "9 (Lakeside Wire) – " left after "Oct."): the timeline line
    already gives the date. Display only: citations quote the article as it is."""
    return _DATELINE.sub("", text, count=1)


def whole_sentences(text: str) -> list[str]:
    """The text's sentences, without those cut in two after an abbreviation ("... on
    Oct." + "10 about ..."), which the citation check would split again; a dateline cut
    so ("DUNMORE, Oct." + "9 (Wire) – Counting ...") leaves its sentence, the second part."""
    spans = split_sentences(text)
    cut = {i for i in range(1, len(spans)) if spans[i].text[:1].isdigit() or spans[i].text[:1].islower()}
    kept = []
    for i, span in enumerate(spans):
        if i in cut and without_dateline(span.text) != span.text:
            kept.append(span.text)   # the sentence after a dateline's "Oct."
        elif i not in cut and i + 1 not in cut:
            kept.append(span.text)
    return kept


def _spread(days: list[tuple[float, str, object]], slots: int) -> list:
    """At most `slots` of the (score, date, event) days: the first and the latest, and
    between them the best-scoring day of each equal stretch of the span (then the best
    of the rest), so the events cover the whole story, not its first week."""
    days = sorted(days, key=lambda d: d[1])
    if len(days) <= slots:
        return days
    chosen = {0, len(days) - 1} if slots > 1 else {max(range(len(days)), key=lambda i: days[i][0])}
    middle = list(range(1, len(days) - 1))
    stretches = max(1, slots - len(chosen))
    for k in range(stretches):
        part = middle[k * len(middle) // stretches:(k + 1) * len(middle) // stretches]
        if part and len(chosen) < slots:
            chosen.add(max(part, key=lambda i: days[i][0]))
    for i in sorted(middle, key=lambda i: -days[i][0]):
        if len(chosen) >= slots:
            break
        chosen.add(i)
    return [days[i] for i in sorted(chosen)]


def on_topic(question: str, passages: list[Passage], keep: int) -> list[Passage]:
    """The passages a timeline can use, in their order: those whose best sentence covers
    at least MIN_TOPIC_SHARE of what the best passage's covers (other stories out), at
    most `keep` of them (the best-covering, one per day first, so they span the story);
    the first `keep` when none covers any topic word."""
    topic = _topic_terms(question)

    def cover(passage: Passage) -> float:
        return max((len(topic & content_terms(s.text)) for s in split_sentences(passage.text)),
                   default=0) / max(1, len(topic))

    covers = [cover(p) for p in passages]
    top = max(covers, default=0.0)
    if top == 0:
        return passages[:keep]
    ranked = sorted((i for i, c in enumerate(covers) if c >= MIN_TOPIC_SHARE * top),
                    key=lambda i: -covers[i])
    days: set[str | None] = set()
    first_of_day = []
    for i in ranked:
        if passages[i].date not in days:
            days.add(passages[i].date)
            first_of_day.append(i)
    spread = [i for _, _, i in _spread([(covers[i], passages[i].date or "9999", i)
                                        for i in first_of_day], keep)]
    chosen = (spread + [i for i in ranked if i not in spread])[:keep]
    return [passages[i] for i in sorted(chosen)]


def extractive_timeline(question: str, passages: list[Passage], max_events: int) -> Draft:
    """A chronology: one event per story day (its best sentence for the question's topic,
    copies and same-day reports of one story counted once), spread over the whole span,
    oldest first, each "DATE: sentence [n]" without the sentence's dateline."""
    topic = _topic_terms(question)
    best_per_article: dict[str, tuple[float, Passage, str]] = {}
    for passage in passages:
        for text in whole_sentences(passage.text):
            text = strip_markers(text).strip()
            if not text or text.rstrip("\"'”’) ").endswith("?"):
                continue
            share = len(topic & content_terms(text)) / len(topic) if topic else 0.0
            kept = best_per_article.get(passage.doc_id)
            if share > 0 and (kept is None or share > kept[0]):
                best_per_article[passage.doc_id] = (share, passage, text)
    if not best_per_article:
        return Draft.refusal(Outcome.BY_EVIDENCE)
    top = max(share for share, _, _ in best_per_article.values())
    copied = {c["doc_id"] for _, p, _ in best_per_article.values() for c in p.copies}
    per_day: dict[str, tuple[float, str, tuple[Passage, str]]] = {}
    for share, passage, text in sorted(best_per_article.values(),
                                       key=lambda e: (-e[0], e[1].date or "9999", e[1].n)):
        if share < MIN_TOPIC_SHARE * top:
            continue  # another story
        if passage.doc_id in copied and passage.story_id != passage.doc_id:
            continue  # a syndicated copy of a passage already here
        day = passage.date or "9999-99-99"
        if day not in per_day:  # one event per day: the best-covering report's
            per_day[day] = (share, day, (passage, without_dateline(text)))
    events = [event for _, _, event in _spread(list(per_day.values()), max_events)]
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
    # a verified short answer stays first, with its span: "6.5% — As of May 20, 2024: ..."
    lead = ""
    if draft.short_answer is not None and draft.text.startswith(f"{draft.short_answer.text} — "):
        lead = f"{draft.short_answer.text} — "
    text = draft.text[len(lead):]
    by_n = {p.n: p for p in passages}
    segments = [(m.group(1), [int(n) for n in MARKER.findall(m.group(1))])
                for m in _SEGMENT.finditer(text)]
    dates = [max((by_n[n].date or "" for n in numbers if n in by_n), default="")
             for _, numbers in segments]
    if len(segments) < 2 or len(set(dates)) < 2 or "" in dates \
            or "".join(s for s, _ in segments).replace(" ", "") != text.replace(" ", ""):
        return draft
    return Draft(lead + " ".join(f"As of {spoken_date(d)}: {segment}"
                                 for (segment, _), d in zip(segments, dates)),
                 short_answer=draft.short_answer if lead else None, short_n=draft.short_n)


# -- relative day words ("on Sunday", "the night before", "last Tuesday") ------------------

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_PART = r"(?:\s+(?:morning|afternoon|evening|night))?"
_DAY_WORDS = re.compile(
    r"\b(?:(?P<yesterday>yesterday|last night|the night before|the day before|overnight)"
    r"|(?P<today>today|tonight|this (?:morning|afternoon|evening))"
    r"|(?P<weekday_of_last>(?:on\s+)?(?P<wd3>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    + _PART + r"\s+of\s+last\s+week)"
    r"|(?P<last>last\s+(?P<wd1>monday|tuesday|wednesday|thursday|friday|saturday|sunday)" + _PART + r")"
    r"|(?P<on>(?:on|late on|early on|since)"
    r"\s+(?P<wd2>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    + _PART + r"))\b", re.IGNORECASE)
_FUTURE = re.compile(r"\b(?:will|would|is due|are due|is expected|are expected|plans? to|"
                     r"scheduled|next)\b", re.IGNORECASE)
_WHEN = re.compile(r"^\s*(?:and\s+)?(?:when|on what (?:day|date)|what (?:day|date))\b", re.IGNORECASE)
_EXPLICIT_DATE = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b"
                            r"|\b\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")


def resolve_day(match: re.Match, written: date, sentence: str) -> date | None:
    """The date a day expression of an article written on `written` means: "yesterday"
    and "the night before" the day before, "on Sunday" the last Sunday up to that day (the
    next one when the sentence speaks of the future), "last Tuesday" the last Tuesday
    before it, "Thursday of last week" that day of the week before."""
    from datetime import timedelta
    if match.group("yesterday"):
        return written - timedelta(days=1)
    if match.group("today"):
        return written
    if match.group("weekday_of_last"):
        weekday = _WEEKDAYS.index(match.group("wd3").lower())
        monday_last_week = written - timedelta(days=written.weekday() + 7)
        return monday_last_week + timedelta(days=weekday)
    if match.group("last"):
        weekday = _WEEKDAYS.index(match.group("wd1").lower())
        back = (written.weekday() - weekday) % 7 or 7
        return written - timedelta(days=back)
    if match.group("on"):
        weekday = _WEEKDAYS.index(match.group("wd2").lower())
        if _FUTURE.search(sentence[:match.start()]):
            return written + timedelta(days=(weekday - written.weekday()) % 7 or 7)
        return written - timedelta(days=(written.weekday() - weekday) % 7)
    return None


def day_words(sentence: str, written: str | None) -> list[tuple[str, date, int]]:
    """(expression, resolved date, position) of each relative day expression in a
    sentence of an article dated `written` (YYYY-MM-DD); [] when undated."""
    try:
        day = date.fromisoformat(written or "")
    except ValueError:
        return []
    found = []
    for match in _DAY_WORDS.finditer(sentence):
        resolved = resolve_day(match, day, sentence)
        if resolved is not None:
            found.append((match.group(0), resolved, match.start()))
    return found


def day_notes(passage: Passage, limit: int = 6) -> str | None:
    """The dates a passage's day words mean, read against its article's date, for a
    model's prompt: 'Days meant (article dated Monday, October 16, 2023): "on Sunday
    afternoon" = Sunday, October 15, 2023'. A model answering "when" from the passage
    alone would give the article's date; None without day words or an article date."""
    meant: dict[str, date] = {}
    for sentence in split_sentences(passage.text):
        for words, day, _ in day_words(sentence.text, passage.date):
            meant.setdefault(" ".join(words.split()), day)
    if not meant or not passage.date:
        return None
    written = date.fromisoformat(passage.date)
    listed = "; ".join(f'"{words}" = {day:%A}, {spoken_date(day.isoformat())}'
                       for words, day in list(meant.items())[:limit])
    return f"Days meant (article dated {written:%A}, {spoken_date(passage.date)}): {listed}"


def resolve_when(question: str, draft: Draft, passages: list[Passage]) -> Draft | None:
    """For a "when" question whose answer quotes a sentence that dates the event with a
    day word ("on Sunday afternoon", "the night before"), the answer led by the date it
    means, read against its article's date: "Sunday, October 15, 2023 — <the quote with
    its day word> [1]"; None when there is nothing to resolve (a "when" question answered
    by an explicit date, or another question)."""
    if draft.refused or not _WHEN.search(question):
        return None
    first = _SEGMENT.match(draft.text)
    if not first:
        return None
    numbers = [int(n) for n in MARKER.findall(first.group(1))]
    by_n = {p.n: p for p in passages}
    passage = next((by_n[n] for n in numbers if n in by_n), None)
    claim = strip_markers(first.group(1)).strip()
    if passage is None or _EXPLICIT_DATE.search(claim.split(" — ", 1)[-1]):
        return None
    found = day_words(claim, passage.date)
    if not found:
        return None
    topic = [t for t in _topic_terms(question) if t not in {"when", "day", "date"}]
    words = [(m.start(), m.group(0)) for m in re.finditer(r"[A-Za-z]+", claim)]
    places = [at for at, word in words if content_terms(word) & set(topic)]

    def distance(item: tuple[str, date, int]) -> int:
        return min((abs(item[2] - at) for at in places), default=item[2])

    _, resolved, _ = min(found, key=distance)
    lead = f"{resolved:%A}, {spoken_date(resolved.isoformat())}"  # the quote says the day word
    rest = draft.text.split(" — ", 1)[1] if " — " in first.group(1) else draft.text
    return Draft(f"{lead} — {rest}")
