"""Time in questions: what dates a question names, whether it wants the latest news or a
timeline, and the post-retrieval step that ranks the evidence accordingly.

`interpret_time(question, as_of)` reads absolute dates and ranges ("on June 3, 2024",
"in January 2022", "between 10 and 12 May"), relative ones ("yesterday", "last week",
"this year", "three days ago"), recency intent ("latest", "now", "still") and timeline
intent ("how did X unfold", "timeline of X", "what happened with X since Y", "what
happened in X in the previous week"). Relative expressions are anchored to the as-of
date (today unless given); read against today, when they leave nothing and the question
names a story, they are read against that story's latest report instead (`story_time`,
`plan_story_time`). The expressions are found with patterns and resolved with
`dateparser` (RELATIVE_BASE = the as-of date).

How the interpretation is used:
- `time_filters` turns it into retrieval filters: a named day, week or month restricts
  retrieval to articles of that period (plus reports published up to `time_report_lag_days`
  later); "by/as of DATE" keeps articles on or before it; "since DATE" on or after it;
  `as_of` always keeps articles published on or before it. A date filter the user set
  explicitly wins over the question's wording. A bare year ("Wimbledon in 2019") names
  an event more often than a publication date, so it only boosts.
- the `time_rank` step (`TimeRank`, registered in `STEPS`) puts articles of the named period first (a boost),
  orders recency questions newest first and timeline questions oldest first (one
  passage per article); a question with no time in it is left exactly as it was.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Callable

from rag.config import Settings
from rag.records import Filters, Passage, date_int
from rag.search.query import Query, Step, reads_time, register_step
from rag.text import content_terms

RELEVANCE, NEWEST, CHRONOLOGICAL = "relevance", "newest", "chronological"

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec")
_M = rf"(?:{_MONTHS})\.?"
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                 "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
                 "twelve": 12}
_N = rf"(?:\d{{1,2}}|{'|'.join(_NUMBER_WORDS)})"
_D = r"\d{1,2}(?:st|nd|rd|th)?"
_Y = r"(?:19|20)\d{2}"
# a single calendar day, most specific spellings first
_DAY = rf"(?:{_Y}-\d{{2}}-\d{{2}}|{_M}\s+{_D}(?:,?\s+{_Y})?|{_D}\s+(?:of\s+)?{_M}(?:,?\s+{_Y})?)"

_RANGE = re.compile(  # between 10 and 12 May · from June 3 to June 5 · June 3-5, 2024
    rf"\b(?:between|from)\s+(?P<a>{_DAY}|{_D})\s+(?:and|to|until|till)\s+(?P<b>{_DAY})"
    rf"|\b(?P<m>{_M})\s+(?P<d1>\d{{1,2}})\s*[-–]\s*(?P<d2>\d{{1,2}})(?:,?\s+(?P<y>{_Y}))?", re.I)
_BOUND = re.compile(rf"\b(?P<word>by|as of|until|till|up to|before|since|after)\s+(?P<day>{_DAY})\b", re.I)
_ON_DAY = re.compile(rf"\b(?:on\s+)?(?P<day>{_DAY})\b", re.I)
_MONTH = re.compile(rf"\b(?:in|during|of|for)?\s*(?P<m>{_M})\s+(?P<y>{_Y})\b", re.I)
_BARE_YEAR = re.compile(rf"\b(?:in|during)\s+(?P<y>{_Y})\b", re.I)
_RELATIVE = re.compile(
    rf"\b(?P<ago>{_N}\s+(?P<unit>day|week|month)s?\s+ago)\b"
    r"|\b(?P<word>the day before yesterday|today|yesterday)\b"
    r"|\b(?P<which>this|last|past|previous)\s+(?P<span>week|month|year)\b", re.I)
_RECENCY = re.compile(
    r"\b(?:latest|most recent(?:ly)?|newest|now|right now|currently|current|still|"
    r"so far|to date|up to date|these days|at the moment)\b", re.I)
_TIMELINE = re.compile(
    r"\bhow\s+(?:did|has|have|does|do)\b.*\b(?:unfold(?:ed)?|develop(?:ed)?|evolve[ds]?|"
    r"progress(?:ed)?|play(?:ed)? out|change[ds]?)\b"
    r"|\btimeline\b|\bchronolog(?:y|ical)\b|\bsequence of events\b"
    r"|\bwhat\s+(?:has\s+)?happened\s+(?:with|to|in|on)\b.*\bsince\b"
    # a story over a past period ("what happened in the X race in the previous week")
    r"|\bwhat\s+happened\s+(?:with|to|in|on)\s+\S.*\b(?:in|during|over)\s+the\s+"
    r"(?:previous|last|past)\s+(?:week|month)\b", re.I)


@dataclass(frozen=True)
class TimeInterpretation:
    """How a question (and the as-of date) place it in time."""

    expression: str | None          # the words that named a time, e.g. "on June 3, 2024"
    date_from: str | None           # YYYY-MM-DD, inclusive
    date_to: str | None
    as_of: str | None               # the date the answer is given as of (None: today)
    order: str = RELEVANCE          # relevance | newest | chronological
    restrict: bool = False          # the dates restrict retrieval (else they only boost)
    read_against: str | None = None  # a story's day its relative words were read against
                                     # (None: the as-of date or today; see `story_time`)

    def to_dict(self) -> dict[str, Any]:
        """The answer JSON's `time` object."""
        data = asdict(self)
        data.pop("restrict")
        return data


# room for "N years ago" either side; ui.app.check_as_of holds the same range
AS_OF_RANGE = (date(1000, 1, 1), date(8999, 12, 31))


def _anchor(as_of: str | date | None, today: date | None = None) -> date:
    if isinstance(as_of, date):
        day = as_of
    elif as_of:
        try:
            date_int(as_of)
            day = date.fromisoformat(as_of)
        except (TypeError, ValueError):
            raise ValueError(f"as_of {as_of!r} is not a date: give it as YYYY-MM-DD, "
                             "e.g. 2024-06-03") from None
    else:
        return today or date.today()
    first, last = AS_OF_RANGE
    if not first <= day <= last:
        raise ValueError(f"as_of {day.isoformat()} is out of range: give a date from "
                         f"{first.isoformat()} to {last.isoformat()}")
    return day


def _parse_day(text: str, anchor: date) -> date | None:
    """One day from its spelling, a missing year taken from the anchor's past."""
    import dateparser

    text = re.sub(r"(?<=\d)(st|nd|rd|th)\b|\bof\b", "", text, flags=re.I)
    parsed = dateparser.parse(text, languages=["en"], settings={
        "RELATIVE_BASE": datetime.combine(anchor, datetime.min.time()),
        "PREFER_DATES_FROM": "past", "PREFER_DAY_OF_MONTH": "first",
        "RETURN_AS_TIMEZONE_AWARE": False})
    return parsed.date() if parsed else None


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _relative(match: re.Match, anchor: date) -> tuple[date, date] | None:
    if match.group("ago"):
        day = _parse_day(re.sub(r"^\w+", lambda m: str(_NUMBER_WORDS.get(m.group().lower(), m.group())),
                                match.group("ago")), anchor)
        if day is None:
            return None
        unit = match.group("unit").lower()
        if unit == "day":
            return day, day
        if unit == "week":
            monday = day - timedelta(days=day.weekday())
            return monday, monday + timedelta(days=6)
        return _month_range(day.year, day.month)
    word = (match.group("word") or "").lower()
    if word:
        back = {"today": 0, "yesterday": 1, "the day before yesterday": 2}[word]
        day = anchor - timedelta(days=back)
        return day, day
    which, span = match.group("which").lower(), match.group("span").lower()
    if span == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        if which == "this":
            return monday, anchor
        if which == "past":
            return anchor - timedelta(days=7), anchor
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if span == "month":
        if which == "this":
            return anchor.replace(day=1), anchor
        if which == "past":
            return anchor - timedelta(days=30), anchor
        previous = anchor.replace(day=1) - timedelta(days=1)
        return _month_range(previous.year, previous.month)
    if which == "this":
        return date(anchor.year, 1, 1), anchor
    if which == "past":
        return anchor - timedelta(days=365), anchor
    return date(anchor.year - 1, 1, 1), date(anchor.year - 1, 12, 31)


def _in_a_name(question: str, match: re.Match) -> bool:
    """Whether relative time words are part of a name ("the USA TODAY Network", "Last Week
    Tonight"): capitalised inside a sentence."""
    before = question[:match.start()].rstrip()
    return match.group()[:1].isupper() and bool(before) and before[-1] not in ".!?:;\"'(“‘"


def _find_dates(question: str, anchor: date, day_anchor: date
                ) -> tuple[str, date | None, date | None, bool, str | None] | None:
    """(expression, from, to, restrict, bound word) for the first time expression found.
    Relative expressions count from `anchor`; a date without a year is the latest such
    date on or before `day_anchor`."""
    match = _RANGE.search(question)
    if match:
        if match.group("m"):
            year = match.group("y") or ""
            first = _parse_day(f"{match.group('m')} {match.group('d1')} {year}", day_anchor)
            last = _parse_day(f"{match.group('m')} {match.group('d2')} {year}", day_anchor)
        else:
            last = _parse_day(match.group("b"), day_anchor)
            a = match.group("a")
            first = _parse_day(a, day_anchor) if not re.fullmatch(_D, a.strip(), re.I) else (
                last.replace(day=int(re.findall(r"\d+", a)[0])) if last else None)
        if first and last:
            return match.group().strip(), min(first, last), max(first, last), True, None
    match = _BOUND.search(question)
    if match:
        day = _parse_day(match.group("day"), day_anchor)
        if day:
            word = match.group("word").lower()
            if word in ("since", "after"):
                start = day + timedelta(days=1) if word == "after" else day
                return match.group().strip(), start, None, True, word
            end = day - timedelta(days=1) if word == "before" else day
            return match.group().strip(), None, end, True, word
    match = _ON_DAY.search(question)
    if match:
        day = _parse_day(match.group("day"), day_anchor)
        if day:
            return match.group().strip(), day, day, True, "on"
    match = _MONTH.search(question)
    if match:
        day = _parse_day(f"{match.group('m')} 1 {match.group('y')}", day_anchor)
        if day:
            first, last = _month_range(day.year, day.month)
            return match.group().strip(), first, last, True, None
    match = next((m for m in _RELATIVE.finditer(question) if not _in_a_name(question, m)), None)
    if match:
        span = _relative(match, anchor)
        if span:
            return match.group().strip(), span[0], span[1], True, "on" if span[0] == span[1] else None
    match = _BARE_YEAR.search(question)
    if match:
        year = int(match.group("y"))
        return match.group().strip(), date(year, 1, 1), date(year, 12, 31), False, None
    return None


def interpret_time(question: str, as_of: str | date | None = None, today: date | None = None,
                   newest: str | None = None) -> TimeInterpretation | None:
    """The question's time interpretation, or None when neither the question nor `as_of`
    says anything about time. `newest` (the newest article's date) settles the year of
    a date named without one ("on June 3"): the latest June 3 up to the newest article
    (or the as-of date, if earlier)."""
    anchor = _anchor(as_of, today)
    as_of_text = anchor.isoformat() if as_of else None
    day_anchor = min(anchor, date.fromisoformat(newest)) if newest else anchor
    found = _find_dates(question, anchor, day_anchor)
    timeline = bool(_TIMELINE.search(question))
    recency = bool(_RECENCY.search(question))
    if found is None and not timeline and not recency:
        return None if as_of is None else TimeInterpretation(None, None, None, as_of_text)
    expression, start, end, restrict, word = found or (None, None, None, False, None)
    if timeline:
        order = CHRONOLOGICAL
    elif recency or word in ("by", "as of", "until", "till", "up to", "before"):
        order = NEWEST
    else:
        order = RELEVANCE
    if expression is None:
        intent = _TIMELINE.search(question) or _RECENCY.search(question)
        assert intent is not None   # the order above was read from one of them
        expression = intent.group().strip()
        if len(expression) > 40:  # "how did ... unfold": name the intent, not the topic
            expression = "how it unfolded"
    return TimeInterpretation(expression, start.isoformat() if start else None,
                              end.isoformat() if end else None, as_of_text, order, restrict)


def margin_start(interpretation: TimeInterpretation, margin_days: int) -> str | None:
    """Where the margin before a relative period of several days ("this week", "last
    month") begins, `margin_days` before its first day: such words are loose in use (a
    "this week" asked on a Monday still means the past days' news). None when there is
    none: a single day, a period named by its dates, a timeline (it lists the period's own
    events), or no margin."""
    start, end = interpretation.date_from, interpretation.date_to
    if margin_days <= 0 or not is_relative(interpretation) or not start or start == end \
            or interpretation.order == CHRONOLOGICAL:
        return None
    return (date.fromisoformat(start) - timedelta(days=margin_days)).isoformat()


def time_filters(filters: Filters, interpretation: TimeInterpretation | None,
                 lag_days: int = 2, margin_days: int = 0) -> Filters:
    """Retrieval filters for the interpretation: the user's own date filter wins; a named
    period restricts (single days and "on" dates with `lag_days` for later reports, a
    relative period of several days from `margin_days` before it); as-of caps date_to.
    Unchanged when there is no interpretation."""
    if interpretation is None:
        return filters
    date_from, date_to = filters.date_from, filters.date_to
    if not (date_from or date_to) and interpretation.restrict:
        date_from = margin_start(interpretation, margin_days) or interpretation.date_from
        date_to = interpretation.date_to
        if date_to and interpretation.date_from == interpretation.date_to:
            date_to = (date.fromisoformat(date_to) + timedelta(days=lag_days)).isoformat()
    if interpretation.as_of and (not date_to or date_to > interpretation.as_of):
        date_to = interpretation.as_of
    if date_from and date_to and date_from > date_to:
        date_to = date_from  # nothing was published in that window before the as-of date
    return replace(filters, date_from=date_from, date_to=date_to)


def plan_time(question: str, filters: Filters, as_of: str | None, settings: Settings,
              newest: str | None = None) -> tuple[TimeInterpretation | None, Filters]:
    """The interpretation and the retrieval filters for a question. With no configured
    step that reads time (time_rank switched off) only `as_of` acts (articles on or
    before it)."""
    interpretation = interpret_time(question, as_of, newest=newest)
    if not reads_time(settings.post_retrieval) and interpretation is not None:
        interpretation = None if as_of is None else TimeInterpretation(
            None, None, None, interpretation.as_of)
    return interpretation, time_filters(filters, interpretation, settings.time_report_lag_days,
                                        settings.time_margin_days)


def _window(interpretation: TimeInterpretation, lag_days: int,
            margin_days: int = 0) -> tuple[str, str]:
    """The first and last publication day (inclusive) counted as of the named period."""
    start = margin_start(interpretation, margin_days) or interpretation.date_from or "0000-00-00"
    end = interpretation.date_to or "9999-99-99"
    if interpretation.date_to and interpretation.date_from == interpretation.date_to:
        end = (date.fromisoformat(end) + timedelta(days=lag_days)).isoformat()
    return start, end


@register_step("time_rank")
class TimeRank(Step):
    """The `time_rank` step (see `time_rank`), with its settings `time_report_lag_days`,
    `recency_topic_share`, `recency_weight` and `recency_half_life_days`."""

    reads_time = True

    def __init__(self, report_lag_days: int = 2, recency_topic_share: float = 0.6,
                 recency_weight: float = 0.0, recency_half_life_days: float = 30.0,
                 margin_days: int = 0) -> None:
        self.report_lag_days = report_lag_days
        self.recency_topic_share = recency_topic_share
        self.recency_weight = recency_weight
        self.recency_half_life_days = recency_half_life_days
        self.margin_days = margin_days

    @classmethod
    def from_settings(cls, settings: Settings) -> "TimeRank":
        return cls(settings.time_report_lag_days, settings.recency_topic_share,
                   settings.recency_weight, settings.recency_half_life_days,
                   settings.time_margin_days)

    def __call__(self, passages: list[Passage], query: Query) -> list[Passage]:
        return time_rank(passages, query, self.report_lag_days, self.recency_topic_share,
                         self.recency_weight, self.recency_half_life_days,
                         self.margin_days)


def recency(passage_date: str | None, as_of: str, half_life_days: float) -> float:
    """How fresh an article is at the as-of date: 1.0 on that day, halving every
    `half_life_days` before it; 0.0 undated or dated after it."""
    if not passage_date or passage_date > as_of or half_life_days <= 0:
        return 0.0
    try:
        age = (date.fromisoformat(as_of) - date.fromisoformat(passage_date)).days
    except ValueError:
        return 0.0
    return 0.5 ** (age / half_life_days)


def prefer_recent(passages: list[Passage], as_of: str, weight: float,
                  half_life_days: float) -> list[Passage]:
    """Passages re-ordered by fused score plus a recency bonus: an article of the as-of
    day gains `weight` times the best passage's fused score, one `half_life_days` older
    half of that (news questions asked on a day are mostly about that week's reports).
    The passages come back as copies whose `score` is the sum."""
    if weight <= 0 or not passages:
        return passages
    unit = weight * max(p.score for p in passages)
    rescored = [replace(p, score=p.score + unit * recency(p.date, as_of, half_life_days))
                for p in passages]
    return sorted(rescored, key=lambda p: p.score, reverse=True)


def time_rank(passages: list[Passage], query: Query, lag: int = 2,
              recency_topic_share: float = 0.6, recency_weight: float = 0.0,
              recency_half_life_days: float = 30.0, margin_days: int = 0) -> list[Passage]:
    """Time-aware order: with an as-of date, fresher articles first among the equally
    relevant (`prefer_recent`); articles of the named period first; recency questions
    newest first among the best; timeline questions one passage per article, oldest
    first. No time in the question and no as-of: the passages come back unchanged.
    `lag`: days after a named day whose reports still count as of it; `margin_days`:
    days before a relative period of several days that count as in it (`margin_start`)."""
    interpretation = query.extra.get("time", _MISSING)
    if interpretation is _MISSING:
        interpretation = interpret_time(query.question, query.as_of)
    if interpretation is None or not passages:
        return passages
    if interpretation.as_of and interpretation.order == RELEVANCE:
        passages = prefer_recent(passages, interpretation.as_of, recency_weight,
                                 recency_half_life_days)
    if interpretation.date_from or interpretation.date_to:
        start, end = _window(interpretation, lag, margin_days)
        inside = [p for p in passages if p.date and start <= p.date <= end]
        passages = inside + [p for p in passages if not (p.date and start <= p.date <= end)]
    if interpretation.order == NEWEST:
        # the passages about the question's topic (they hold nearly as many of its words
        # as the best one), newest first; then the rest in their order
        topic = content_terms(topic_question(query.question, interpretation))
        cover = [len(topic & content_terms(p.text + " " + p.title)) for p in passages]
        bar = recency_topic_share * max(cover, default=0)
        on_topic = [p for p, c in zip(passages, cover) if c and c >= bar]
        newest_first = sorted(on_topic, key=lambda p: p.date or "", reverse=True)
        return newest_first + [p for p, c in zip(passages, cover) if not (c and c >= bar)]
    if interpretation.order == CHRONOLOGICAL:
        seen: set[str] = set()
        firsts: list[Passage] = []
        rest: list[Passage] = []
        for p in passages:
            (rest if p.doc_id in seen else firsts).append(p)
            seen.add(p.doc_id)
        head = firsts[:max(query.top_k, 1)]
        head.sort(key=lambda p: (p.date or "9999-99-99", p.doc_id))
        return head + firsts[len(head):] + rest
    return passages


_MISSING = object()
_INTENT = re.compile(
    r"\b(?:what\s+(?:has\s+|have\s+)?happen(?:ed|s|ing)?|happen(?:ed|s|ing)?|announce[ds]?|"
    r"news|updates?|developments?)\b", re.I)


def topic_question(question: str, interpretation: TimeInterpretation | None) -> str:
    """The question without its time words ("on June 3", "latest", "now") and news
    intent words ("what happened", "announce"), for matching article text: the dates
    are served by filters and ordering instead. Unchanged without an interpretation
    that restricts or orders by date."""
    if interpretation is None or not (interpretation.restrict or interpretation.order != RELEVANCE):
        return question  # a bare year ("Wimbledon in 2019") is part of what is asked
    text = question
    if interpretation.expression and interpretation.restrict:
        text = text.replace(interpretation.expression, " ")
    text = _INTENT.sub(" ", _RECENCY.sub(" ", text))
    text = " ".join(text.split())
    return text if content_terms(text) else question


def is_relative(interpretation: TimeInterpretation | None) -> bool:
    """Whether the question's dates come from a relative expression ("last week", "the
    previous week", "yesterday", "three days ago") that restricts retrieval."""
    return bool(interpretation and interpretation.restrict and interpretation.expression
                and _RELATIVE.fullmatch(interpretation.expression))


def story_time(interpretation: TimeInterpretation | None, story_dates: list[str | None],
               today: date | None = None) -> TimeInterpretation | None:
    """The question's relative expression read against the story's own time, for when
    reading it against the as-of date (or today) left no article: "the previous week" of
    a story is the week before its latest report (as if asked on that report's day, the
    way a reader of it would have said it). Only for words read against today: an as-of
    date the user gave anchors them on purpose ("last week" as of March 15 is the week
    before it, and an empty week is the answer, explained). None as well when the
    expression is not relative or the story has no dated article up to today."""
    if not is_relative(interpretation) or interpretation is None or interpretation.as_of:
        return None
    cap = (today or date.today()).isoformat()
    dated = [d for d in story_dates if d and d <= cap]
    if not dated:
        return None
    latest = max(dated)
    match = _RELATIVE.fullmatch(interpretation.expression or "")
    assert match is not None  # is_relative checked it
    span = _relative(match, date.fromisoformat(latest))
    if span is None:
        return None
    start, end = (d.isoformat() for d in span)
    if (start, end) == (interpretation.date_from, interpretation.date_to):
        return None   # the same window: reading it again finds nothing new
    return replace(interpretation, date_from=start, date_to=end, read_against=latest)


def plan_story_time(interpretation: TimeInterpretation | None, filters: Filters,
                    search: Callable[[Filters], list[Passage]], topic: str,
                    min_relevance: float, lag_days: int = 2, topic_share: float = 0.6
                    ) -> tuple[TimeInterpretation, Filters] | None:
    """When a relative expression read against today left no passage and the question
    names a story, the interpretation and filters that read it against that story's time
    (`story_time`); None otherwise (also with an as-of date or a date filter the user set:
    they are kept). `search(filters)` retrieves for the question. The question names a
    story when the passages found without the expression's dates are about it: as close
    as `min_relevance` and holding `topic_share` of the question's words that the best
    of them holds."""
    if not is_relative(interpretation) or interpretation is None or interpretation.as_of \
            or filters.date_from or filters.date_to:
        return None
    found = [p for p in search(filters) if p.dense_similarity >= min_relevance]
    words = content_terms(topic)
    cover = [len(words & content_terms(p.text + " " + p.title)) for p in found]
    bar = topic_share * max(cover, default=0)
    story = story_time(interpretation, [p.date for p, c in zip(found, cover) if c and c >= bar])
    return None if story is None else (story, time_filters(filters, story, lag_days))


def story_time_note(interpretation: TimeInterpretation | None) -> str | None:
    """What the answer says when its relative words were read against the story's time
    (`story_time`): that today's reading found nothing, the story's day and the range."""
    if interpretation is None or not interpretation.read_against:
        return None
    start, end = interpretation.date_from, interpretation.date_to
    span = (f"on {spoken_date(start)}" if start == end
            else f"from {spoken_date(start)} to {spoken_date(end)}")
    return (f"No article is dated \"{interpretation.expression}\" read against today; "
            f"read against this story's latest report "
            f"({spoken_date(interpretation.read_against)}), that is {span}.")


def explain_empty(interpretation: TimeInterpretation | None, newest: str | None) -> str | None:
    """Why a time filter left no passage, for the answer: the range the question (or the
    as-of date) implied, what it was read against, and the newest article's date; None
    when no time filter applied."""
    if interpretation is None:
        return None
    start = interpretation.date_from if interpretation.restrict else None
    end = interpretation.date_to if interpretation.restrict else None
    if interpretation.as_of and (not end or end > interpretation.as_of):
        end = interpretation.as_of
    if not start and not end:
        return None
    span = (f"from {spoken_date(start)} to {spoken_date(end)}" if start and end and start != end
            else f"on {spoken_date(start)}" if start and start == end
            else f"on or after {spoken_date(start)}" if start else f"up to {spoken_date(end)}")
    read = (f" (\"{interpretation.expression}\", read against "
            f"{'the as-of date ' + spoken_date(interpretation.as_of) if interpretation.as_of else 'today'})"
            if interpretation.expression and interpretation.restrict else "")
    newest_text = f" The newest article is dated {spoken_date(newest)}." if newest else ""
    return (f"No article was found dated {span}{read}, the time this question is limited to."
            f"{newest_text} Ask without the time words, or give another as-of date.")


def spoken_date(iso: str | None) -> str:
    """2024-06-03 -> "June 3, 2024" (unknown dates as they are)."""
    try:
        day = date.fromisoformat(iso or "")
    except ValueError:
        return iso or "undated"
    return f"{day:%B} {day.day}, {day.year}"
