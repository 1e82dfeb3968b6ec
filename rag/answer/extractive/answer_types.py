"""What a question asks for, and the answers of that kind a sentence holds.

`answer_type(question)` reads the question form: who/whom/whose → a name (person or
organisation), when / what year / release date → a date, how many → a number, how much
→ an amount (money or number), where / which city → a place, which/what + noun → the
noun's kind (a movie, a company, a director: a name). Questions whose answer can be any
phrase ("What did Lavrov demand?") have no type (None).

`candidates(sentence)` finds the spans of each kind in a sentence: money ($10.4
billion), dates (July 21, 2017 — checked with python-dateutil —, on Friday, next month,
2019), numbers with their unit (hundreds of instructors, 3 medals) and names
(capitalised word runs, initials and particles allowed; a name after in/at/from is also
a place). Spans are offsets into the sentence text, so the answer can quote them.
No model: rules over the text, measured on the seed and RGB eval sets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dateutil import parser as date_parser

from rag.text import content_terms

NAME, DATE, NUMBER, MONEY, PLACE = "name", "date", "number", "money", "place"
# the candidate kinds that answer each question type
ACCEPTS = {NAME: {NAME, PLACE}, DATE: {DATE}, NUMBER: {NUMBER, MONEY}, MONEY: {MONEY, NUMBER},
           PLACE: {PLACE, NAME}}

_PLACE_NOUNS = {"city", "cities", "country", "countries", "state", "town", "place", "venue",
                "location", "capital", "nation", "region", "stadium", "hotel", "continent",
                "province", "county", "island", "where"}
_DATE_NOUNS = {"year", "date", "day", "month", "time", "decade", "century", "when"}
_MONEY_NOUNS = {"revenue", "revenues", "price", "cost", "salary", "profit", "budget", "worth",
                "value", "fee", "sales", "income", "fine", "valuation"}
_NUMBER_NOUNS = {"number", "percentage", "percent", "score", "age", "population", "total",
                 "amount", "rate", "share", "count", "size", "height", "length", "distance"}
_NAME_NOUNS = {"company", "companies", "team", "teams", "player", "players", "actor", "actress",
               "director", "person", "people", "man", "woman", "movie", "movies", "film", "films",
               "book", "game", "games", "song", "album", "band", "agency", "organisation",
               "organization", "party", "club", "university", "brand", "president", "ceo",
               "leader", "minister", "official", "officials", "winner", "name", "show", "series",
               "network", "newspaper", "artist", "singer", "author", "writer", "coach",
               "chairman", "founder", "owner", "firm", "group", "candidate", "champion",
               "driver", "manager", "official", "spokesman", "spokeswoman", "diplomat",
               "reporter", "source", "official", "app", "product", "console", "phone",
               "assistant", "headset", "model", "character", "role", "studio", "publisher",
               "developer", "airline", "bank", "school", "prize", "award", "title", "nationality"}
_AUXILIARIES = {"is", "was", "are", "were", "be", "been", "the", "a", "an", "its", "their", "his",
                "her", "of", "kind", "type", "sort", "s"}
_VERB_AFTER_WH = {"did", "does", "do", "has", "have", "had", "will", "would", "could", "can",
                  "should", "might", "must", "may", "happened", "happens", "caused", "made"}
_TYPE_OF_NOUN = [(_PLACE_NOUNS, PLACE), (_DATE_NOUNS, DATE), (_MONEY_NOUNS, MONEY),
                 (_NUMBER_NOUNS, NUMBER), (_NAME_NOUNS, NAME)]
_WORD = re.compile(r"[a-z0-9]+(?:[-'’][a-z0-9]+)*")


def _noun_type(words: list[str]) -> str | None:
    for word in words:
        for nouns, kind in _TYPE_OF_NOUN:
            if word in nouns or (word.endswith("s") and word[:-1] in nouns):
                return kind
    return None


def answer_type(question: str) -> str | None:
    """The kind of answer a question asks for: name, date, number, money, place or None."""
    q = question.lower().replace("’", "'")
    if re.search(r"\bhow much\b", q):
        return MONEY
    if re.search(r"\bhow many\b|\bhow old\b|\bhow long\b|\bhow far\b", q):
        return NUMBER
    if re.search(r"\b(?:release|premiere|launch|air|birth|expiry|due) date\b|\bdate of\b", q):
        return DATE
    words = _WORD.findall(q)
    for i, word in enumerate(words):
        if word in ("which", "what"):
            after = words[i + 1:]
            if after and after[0] in _VERB_AFTER_WH:
                return None                # "what did X demand": any phrase
            head = [w for w in after if w not in _AUXILIARIES][:3]
            stop = next((j for j, w in enumerate(head) if w in ("in", "on", "at", "for", "to",
                                                               "from", "by", "with")), len(head))
            return _noun_type(head[:stop])
        if word in ("who", "whom", "whose"):
            return NAME
        if word == "when":
            return DATE
        if word == "where":
            return PLACE
        if word in ("how", "why", "did", "does", "do", "is", "was", "are", "were", "has", "have",
                    "can", "could", "will", "would", "should"):
            return None
    # no question word ("Super Bowl 2021 location"): the last typed noun decides
    return _noun_type(list(reversed(words)))


@dataclass(frozen=True)
class Candidate:
    """A span of a sentence that could answer a question of some kind."""

    kind: str
    start: int
    end: int
    text: str


_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_YEAR = r"(?:1[5-9]\d\d|20\d\d)"
_CALENDAR = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?(?:{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+{_YEAR})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?(?:\s+{_YEAR})?"
    rf"|{_MONTH}\.?,?\s+{_YEAR}|\d{{4}}-\d{{2}}-\d{{2}})\b")
_RELATIVE_DATE = re.compile(
    rf"\b(?:(?:on|last|next|this|early|late)\s+)?{_WEEKDAY}\b"
    r"|\b(?:last|next|this|earlier this|later this)\s+(?:week|month|year|weekend|spring|summer|"
    r"autumn|fall|winter)\b|\b(?:yesterday|today|tomorrow)\b"
    rf"|\b(?:in\s+)?(?:early\s+|late\s+|mid-)?{_YEAR}\b|\b(?:in\s+)?the\s+(?:19|20)\d0s\b")
_SCALE = r"(?:\s?(?:million|billion|trillion|thousand|bn|mn|m|b|k)\b)?"
_MONEY = re.compile(
    rf"(?:\b(?:US|USD|C|A|HK)\s?)?[$€£¥]\s?\d[\d,]*(?:\.\d+)?{_SCALE}"
    rf"|\b\d[\d,]*(?:\.\d+)?{_SCALE}\s(?:dollars|euros|pounds|yen|yuan|rupees|francs|USD|EUR)\b")
_NUMBER_WORDS = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                 r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
                 r"fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|"
                 r"dozens?|a dozen|scores)")
_NUMBER = re.compile(
    rf"\b(?:\d[\d,]*(?:\.\d+)?(?:\s?(?:%|percent|per cent))?|{_NUMBER_WORDS}(?:[- ]{_NUMBER_WORDS})*)"
    rf"(?:\s(?:million|billion|trillion|thousand|hundred))?"
    r"(?:\s(?!(?:and|the|was|were|from|for|with|that|which|who|are|has|had|have|will|would|"
    r"is|of|in|on|at|to|by|as|but|or|than|this|its|his|her|their|also|over|into|after|"
    r"before|more|less|said|says)\b)[a-z]{3,})?")
# a capitalised word: letters (any script), inner apostrophes, hyphens and dots ("Jr.")
_CAP = r"(?:(?:[A-Z]\.){2,}|[A-ZÀ-ÖØ-Þ][\w’'\-]*\.?|[A-Z]\.)"
_NAME_RUN = re.compile(rf"{_CAP}(?:\s+(?:(?:de|da|del|der|van|von|le|la|du|bin|al|y|&)\s+)?{_CAP})*")
_NOT_NAMES = {
    "the", "a", "an", "in", "on", "at", "but", "and", "or", "he", "she", "it", "they", "we", "i",
    "you", "this", "that", "these", "those", "after", "before", "when", "while", "as", "if",
    "his", "her", "its", "their", "our", "my", "your", "there", "here", "what", "who", "which",
    "where", "why", "how", "with", "for", "from", "by", "to", "of", "so", "yet", "also", "then",
    "now", "asked", "describing", "according", "however", "meanwhile", "still", "both", "all",
    "some", "many", "most", "one", "two", "read", "more", "ahead", "based", "during", "since",
    "until", "though", "although", "because", "despite", "under", "over", "among", "between",
    "no", "not", "yes", "let", "let’s", "let's", "we’ll", "i’m", "it’s", "don’t", "can’t",
    "mr", "mrs", "ms", "dr", "president", "reporting", "editing", "written", "additional",
    "our", "said", "says", "new", "last", "next", "first", "best", "top", "former", "season",
    "episode", "part", "chapter", "vol", "no.", "q1", "q2", "q3", "q4", "ceo", "read",
    "director", "coach", "chairman", "chairwoman", "minister", "secretary", "senator",
    "governor", "star", "actor", "actress", "winner", "champion", "founder", "chief", "head",
    "update", "poll", "view", "watch", "home", "video", "photo", "list", "live", "state",
    "mp", "u.s", "us", "ex", "vice", "deputy", "commissioner", "general", "prime"}
_EVENT_WORDS = {"awards", "award", "show", "stadium", "cup", "championships", "championship",
                "oscars", "oscar", "open", "games", "olympics", "festival", "tournament",
                "ceremony", "prize", "conference", "summit", "awards™", "election", "draft",
                "league", "series", "edition", "trophy", "final", "finals", "bowl"}
_DEMONYM = re.compile(r"^[A-Z][a-z]+(?:ian|ean|ese|ish|can|ern|ch|ic)$")
_MONTH_OR_DAY = re.compile(rf"^(?:{_MONTH}\.?|{_WEEKDAY})$")
_LOCATIVE = re.compile(r"(?:\b(?:in|at|from|near|outside|across|to|into|hosted by|city of|"
                       r"capital of|held in|based in)\s+(?:the\s+)?)$", re.IGNORECASE)


def _valid_calendar(text: str) -> bool:
    """Whether python-dateutil reads the span as a date (e.g. not "May 45")."""
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text.replace(" of ", " "))
    try:
        date_parser.parse(cleaned, fuzzy=False)
    except (ValueError, OverflowError):
        return False
    return True


def _name_spans(sentence: str) -> list[tuple[int, int]]:
    spans = []
    for match in _NAME_RUN.finditer(sentence):
        words = list(re.finditer(r"\S+", match.group()))
        # a title or function word inside a run splits it ("Tesla CEO Elon Musk")
        groups: list[list[re.Match]] = [[]]
        for word in words:
            bare = re.sub(r"[’']s$", "", word.group().lower().strip(".,!:"))
            if bare in _NOT_NAMES or _MONTH_OR_DAY.match(word.group()):
                groups.append([])
            else:
                groups[-1].append(word)
        for group in groups:
            while group and group[-1].group().lower() in ("de", "van", "von", "&", "da", "del",
                                                           "der", "le", "la", "du", "bin", "al", "y"):
                group.pop()
            if group:
                span = _name_span(sentence, match.start() + group[0].start(),
                                  match.start() + group[-1].end())
                if span:
                    spans.append(span)
    return spans


def _name_span(sentence: str, start: int, end: int) -> tuple[int, int] | None:
    text = re.sub(r"[’']s$", "", sentence[start:end])
    text = text if re.search(r"(?:[A-Z]\.){2,}$", text) else text.rstrip(".’',:;!")
    if text.isupper() and len(text) > 5 and " " in text:
        return None                                   # a shouted heading, not a name
    following = sentence[start + len(text):start + len(text) + 2]
    if " " not in text and not content_terms(text):
        return None                                   # "Against all odds": a stop word
    if sentence[start - 1:start] == "(" and following[:1] == ")":
        return None                                   # "(Reuters)": a credit, no answer
    if _DEMONYM.match(text) and re.match(r"\s[a-z]", following):
        return None                                   # "Russian diplomats": an adjective
    if text.split()[-1].lower() in _EVENT_WORDS or (text.isupper() and len(text) <= 3
                                                    and text not in ("UK", "US", "EU", "UN")):
        return None                                   # an event or venue, or "HQ": no answer
    return (start, start + len(text)) if len(text) >= 2 else None


def candidates(sentence: str) -> list[Candidate]:
    """Every answer candidate in a sentence, earlier kinds winning overlaps: money, date,
    number, then names (a name after in/at/from/near is a place)."""
    found: list[Candidate] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        text = sentence[start:end].rstrip(" ,")
        end = start + len(text)
        if text and not any(start < e and s < end for s, e in taken):
            taken.append((start, end))
            found.append(Candidate(kind, start, end, text))

    for m in _MONEY.finditer(sentence):
        add(MONEY, m.start(), m.end())
    for m in _CALENDAR.finditer(sentence):
        if _valid_calendar(m.group()):
            add(DATE, m.start(), m.end())
    for m in _RELATIVE_DATE.finditer(sentence):
        add(DATE, m.start(), m.end())
    for m in _NUMBER.finditer(sentence):
        add(NUMBER, m.start(), m.end())
    for start, end in _name_spans(sentence):
        kind = PLACE if _LOCATIVE.search(sentence[max(0, start - 20):start]) else NAME
        add(kind, start, end)
    return sorted(found, key=lambda c: c.start)


def words_of(text: str) -> set[str]:
    """Lower-case words (possessive 's and the dots of "U.S." dropped), to tell whether a
    question names a span."""
    text = re.sub(r"\b([A-Za-z])\.(?=[A-Za-z]\.)", r"\1", text).replace("’", "'").lower()
    text = re.sub(r"\b([a-z])\.", r"\1", text)
    return {re.sub(r"'s$", "", w) for w in _WORD.findall(text)}


_NOUN_RUN_STOPS = {"in", "on", "at", "for", "to", "from", "by", "with", "about", "near", "that",
                   "who", "won", "wins", "win", "and", "or", "did", "does", "do", "say", "said"}
_GENERIC_NOUNS = _DATE_NOUNS | _NUMBER_NOUNS | {"name", "title", "kind", "type", "thing",
                                                "things", "one", "ones", "happened"}


def asked_noun(question: str) -> str | None:
    """The noun a which/what question asks about ("In which Geneva hotel ..." → "hotel",
    "what was its outcome" → "outcome"); None for generic nouns (name, date, year ...)."""
    words = _WORD.findall(question.lower().replace("’", "'"))
    for i, word in enumerate(words):
        if word in ("which", "what"):
            rest = words[i + 1:]
            while rest and rest[0] in _AUXILIARIES:
                rest = rest[1:]
            head = []
            for w in rest:
                if w in _VERB_AFTER_WH or w in _AUXILIARIES or w in _NOUN_RUN_STOPS \
                        or (w.endswith("ed") and len(w) > 4):
                    break
                head.append(w)
            noun = head[-1] if head else None
            if noun is None or any(ch.isdigit() for ch in noun) or noun in _GENERIC_NOUNS:
                return None
            return noun
    return None


def named_words(question: str) -> tuple[set[str], set[str]]:
    """What a question names that the passages must mention too: (its numbers, e.g.
    "2019", "q1"; its capitalised words not starting a sentence, e.g. "Zelenskiy")."""
    numbers, names = set(), set()
    initial = True
    for match in re.finditer(r"[\w’'.\-]+|[(?!.:;]", question):
        word = match.group().strip(".'’-")
        if any(ch.isdigit() for ch in word):
            numbers |= words_of(word)
        elif word[:1].isupper() and not initial:
            names |= words_of(word)
        initial = match.group() in "(?!.:;" or match.group().endswith(".")
    return numbers - {"s"}, names - {"i", "s"}


def is_new(candidate: Candidate, question_words: set[str]) -> bool:
    """Whether the candidate says something the question does not already name: fewer than
    half of its words are the question's ("Wimbledon Championships" is not new for a
    question about Wimbledon)."""
    words = words_of(candidate.text) - {"in", "on", "of", "the", "last", "next", "this", "a"}
    named = {w for w in words if w in question_words or w.rstrip("s") in question_words}
    if candidate.kind in (NAME, PLACE):
        return bool(words) and not named     # "Antony Blinken" is named by "Blinken"
    return bool(words) and len(named) < len(words) / 2


def strength(candidate: Candidate) -> float:
    """How specific a candidate is: a full date (day, month, year), an amount or a
    full name count fully; a month and day, or a one-word name, three quarters; a bare
    year or weekday half."""
    if candidate.kind == DATE:
        has_year = bool(re.search(_YEAR, candidate.text))
        has_day = bool(re.search(rf"{_MONTH}\.?\s+\d|\d\s+(?:of\s+)?{_MONTH}", candidate.text))
        return 1.0 if has_year and has_day else 0.75 if has_day or (
            has_year and re.search(_MONTH, candidate.text)) else 0.5
    if candidate.kind == NAME:
        return 1.0 if " " in candidate.text else 0.75    # "Antony Blinken" over "Russia"
    return 1.0


def fits(candidate: Candidate, wanted: str | None) -> bool:
    """Whether the candidate is of a kind that answers a question of type `wanted`."""
    return wanted is not None and candidate.kind in ACCEPTS[wanted]
