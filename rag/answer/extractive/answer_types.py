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

Units (issue 24): `asked_unit(question)` says what the answer must be a count or an
amount *of* (money, a percentage, a rise, a year, a country, "soldiers" ...) and
`fits(candidate, wanted, noun=asked_unit(question))` checks a candidate's unit too, with a
small noun table, pytz's country and city names, US states and one generic rule for counts.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import Stemmer

from rag.text import content_terms

NAME, DATE, NUMBER, MONEY, PLACE = "name", "date", "number", "money", "place"
CONTEXT_CHARS = 40   # sentence text kept before and after a candidate
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
               "driver", "manager", "spokesman", "spokeswoman", "diplomat",
               "reporter", "source", "app", "product", "console", "phone",
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
    """The kind of answer a question asks for: name, date, number, money, place or None.
    The unit the question asks for (`asked_unit`) decides when it names one; else the
    question form and the noun tables (a typed question whose unit is unknown gets no
    verified short answer, but its kind still guides the choice of sentence)."""
    unit = asked_unit(question)
    if unit is not None:
        return kind_of_unit(unit)
    q = _asking_part(question).lower().replace("’", "'")
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
    """A span of a sentence that could answer a question of some kind, with a little of
    the sentence before and after it (what a number counts, "aged" before an age)."""

    kind: str
    start: int
    end: int
    text: str
    before: str = field(default="", compare=False)   # up to CONTEXT_CHARS before the span
    after: str = field(default="", compare=False)    # up to CONTEXT_CHARS after it


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
    "said", "says", "new", "last", "next", "first", "best", "top", "former", "season",
    "episode", "part", "chapter", "vol", "no.", "q1", "q2", "q3", "q4", "ceo", "director", "coach",
    "chairman", "chairwoman", "minister", "secretary", "senator",
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
    from dateutil import parser as date_parser  # only once a sentence holds a calendar date

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
            found.append(Candidate(kind, start, end, text, sentence[max(0, start - CONTEXT_CHARS):start],
                                   sentence[end:end + CONTEXT_CHARS]))

    for m in _MONEY.finditer(sentence):
        add(MONEY, m.start(), m.end())
    for m in _CALENDAR.finditer(sentence):
        if _valid_calendar(m.group()):
            add(DATE, m.start(), m.end())
    for m in _RELATIVE_DATE.finditer(sentence):
        add(DATE, m.start(), m.end())
    for m in _NUMBER.finditer(sentence):
        percent = _PERCENT.search(m.group())     # "6.5% pay": the percentage is the unit
        add(NUMBER, m.start(), m.start() + percent.end() if percent else m.end())
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


def fits(candidate: Candidate, wanted: str | None, noun: str | None = None) -> bool:
    """Whether the candidate is of a kind that answers a question of type `wanted` and,
    given the question's unit key (`noun`, from `asked_unit`), of that unit too."""
    return wanted is not None and candidate.kind in ACCEPTS[wanted] and unit_fits(candidate, noun)


# --- units: what a question's answer must be a count or an amount *of* (issue 24) -------
#
# A short answer is shown only when its candidate's unit fits the question's noun: people
# for "how many soldiers", money for "how much ... cost", a percentage or an amount for
# "pay rise", a date with a year for "what year", a country for "which country". The
# question gives a *unit key* (`asked_unit`): a class word (money, percent, rise, date,
# year, age, duration, distance, place, country, state, city, person, organisation, work,
# who, name) or, for "how many X", the counted noun X itself. `unit_fits` checks a
# candidate against it with the tables below and one generic rule for counts: the words
# after the number name X (same stem), a word of X's synonym group, or, for people, any
# noun of people when X is "people" (and "people" when X is a noun of people).

MONEY_UNIT, PERCENT_UNIT, RISE_UNIT = "money", "percent", "rise"
_STEMMER = Stemmer.Stemmer("english")

# nouns of people: "how many people" is answered by "300 troops"; "how many firefighters"
# by "300 firefighters" or "300 people", never "nine water bombers"
PEOPLE_NOUNS = frozenset("""people persons individuals humans adults men women children kids
babies boys girls teenagers teens students pupils residents civilians citizens inhabitants
villagers locals migrants refugees immigrants asylum-seekers passengers travellers travelers
tourists visitors fans spectators attendees guests workers employees staff staffers jobs
members voters patients victims deaths dead fatalities killed injured wounded casualties
survivors hostages prisoners inmates detainees soldiers troops servicemen personnel
officers police policemen firefighters firemen doctors nurses teachers drivers pilots
crew players athletes delegates lawmakers senators protesters demonstrators strikers
customers users subscribers viewers readers shoppers buyers homeowners tenants families
households evacuees applicants candidates participants volunteers miners farmers
journalists reporters scientists researchers experts officials diplomats leaders
americans britons""".split())
_GENERIC_PEOPLE = frozenset("people persons individuals".split())
# words that count the same thing (any one answers a question counting another)
_SAME_UNIT = [frozenset(group.split()) for group in (
    "soldiers troops servicemen personnel",
    "deaths dead fatalities killed victims lives bodies",
    "injured injuries wounded casualties",
    "homes houses dwellings households residences",
    "workers employees staff staffers jobs",
    "cars vehicles autos",
    "jets planes aircraft airplanes airliners",
    "seconds secs", "minutes mins", "hours hrs",
    "miles mi", "kilometres kilometers km", "metres meters m", "feet foot ft",
    "inches in", "centimetres centimeters cm", "millimetres millimeters mm",
    "kilograms kilos kg", "pounds lbs lb", "tonnes tons")]
DURATION_UNITS = frozenset("seconds minutes hours days weeks months years decades centuries "
                           "secs mins hrs".split())
LENGTH_UNITS = frozenset("miles mi kilometres kilometers km metres meters m feet foot ft inches "
                         "centimetres centimeters cm millimetres millimeters mm yards".split())
_PERCENT = re.compile(r"%|\bper\s?cent\b|\bpercent(?:age points?)?\b", re.IGNORECASE)

# which/what + noun (the noun's last word, or two words) -> unit key
_NOUN_UNITS: dict[str, str] = {}
for _unit, _nouns in {
    MONEY_UNIT: "cost costs price prices revenue revenues sales salary salaries wage wages pay fee "
                "fees fine fines budget worth value valuation profit profits loss losses income "
                "sum money funding aid assistance bid compensation damages bonus settlement "
                "amount payout prize jackpot donation investment spending tax bill debt",
    RISE_UNIT: "rise raise increase hike cut fall drop decline growth gain jump pay-rise",
    PERCENT_UNIT: "percentage percent rate share proportion turnout inflation unemployment margin",
    "date": "date when day", "year": "year", "month": "month", "decade": "decade",
    "age": "age",
    "country": "country countries nation nations",
    "state": "state states",
    "city": "city cities town towns capital village suburb",
    "place": "place location venue site region area province county territory continent "
             "destination where",
    "named_place": "park island river lake mountain volcano airport stadium arena street road "
                   "bridge port beach glacier ocean sea hospital prison neighbourhood "
                   "neighborhood district",
    "person": "person man woman player actor actress singer star rapper musician artist author "
              "writer director coach president ceo chief executive leader minister official "
              "spokesman spokeswoman diplomat reporter founder owner chairman candidate "
              "champion winner driver manager golfer comedian host judge senator governor "
              "mayor king queen prince princess pope athlete boxer footballer quarterback "
              "pitcher tennis chef celebrity billionaire scientist astronaut whistleblower "
              "suspect victim killer",
    "team": "team teams side club",
    "organisation": "company companies firm firms automaker carmaker airline agency "
                    "organisation organization party club university college school bank "
                    "network broadcaster newspaper retailer chain restaurant store brand "
                    "startup maker manufacturer group league studio publisher developer "
                    "union charity channel outlet insurer lender exchange court",
    "work": "movie movies film films book books song songs album albums show shows series "
            "game games app apps console phone headset model character role "
            "program programme platform website site vaccine drug medicine variant storm "
            "hurricane rocket spacecraft satellite ship plane title award prize bill law "
            "novel play musical painting currency planet strip comic",
    "name": "name names called",
}.items():
    for _noun in _nouns.split():
        _NOUN_UNITS.setdefault(_noun, _unit)
_UNIT_KIND = {MONEY_UNIT: MONEY, RISE_UNIT: NUMBER, PERCENT_UNIT: NUMBER, "age": NUMBER,
              "duration": NUMBER, "distance": NUMBER, "date": DATE, "year": DATE, "month": DATE,
              "decade": DATE, "day": DATE, "country": PLACE, "state": PLACE, "city": PLACE,
              "place": PLACE, "named_place": PLACE, "person": NAME, "organisation": NAME,
              "work": NAME, "name": NAME, "who": NAME, "team": NAME}
_RISE_VERBS = re.compile(r"\b(?:ris\w*|rose|increas\w*|rais\w*|grow\w*|grew|jump\w*|climb\w*|"
                         r"fall\w*|fell|drop\w*|declin\w*|cut|cuts|hik\w*|gain\w*|soar\w*|"
                         r"plung\w*|slump\w*)\b")
_RISE_WORDS = re.compile(r"\b(?:ris\w*|rose|rais\w*|increas\w*|hik\w*|grow\w*|grew|jump\w*|"
                         r"climb\w*|up|more|higher|extra|gain\w*|soar\w*|boost\w*|cut\w*|fell|"
                         r"fall\w*|drop\w*|declin\w*|lower|less|down|by)\b", re.IGNORECASE)
_MEASURE_NOUNS = frozenset("rain rainfall snow snowfall water weight time".split())
_COUNT_STOPS = frozenset("""did does do is was are were has have had will would could can should
may might must of in on at for to from by with about after before during since as than that
who which were been being now still currently already so far total overall more less""".split())

US_STATES = frozenset("""Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware
Florida Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland
Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma
Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Washington Wisconsin Wyoming""".split()
                      + ["New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina",
                         "North Dakota", "Rhode Island", "South Carolina", "South Dakota",
                         "West Virginia", "District of Columbia"])
_COUNTRY_ALIASES = ["US", "U.S.", "USA", "U.S.A.", "America", "United States of America", "UK",
                    "U.K.", "Britain", "Great Britain", "England", "Scotland", "Wales",
                    "Northern Ireland", "South Korea", "North Korea", "Korea", "Russia", "Iran",
                    "Syria", "Vietnam", "Laos", "Taiwan", "Bolivia", "Venezuela", "Tanzania",
                    "Moldova", "Czech Republic", "Czechia", "Ivory Coast", "Congo",
                    "Democratic Republic of Congo", "Palestine", "Bahamas", "Burma", "Holland",
                    "Vatican", "Micronesia", "Eswatini", "Swaziland", "Bosnia", "Kosovo"]
_NOT_CITIES = frozenset("""Center Central Eastern Western Mountain Pacific Atlantic Arctic Indian
Knox Casey Davis Palmer Mawson Troll Oral Regina Stanley Christmas Easter Marengo Monticello
Beulah Vevay Winamac Petersburg Creston Dawson Resolute Vincennes Syowa Rothera Macquarie
Kerguelen Chagos Canary Azores Madeira Faroe Cocos Comoro Reunion Mahe Midway Johnston Wake
Norfolk Chatham Pitcairn Gambier Marquesas Easter Galapagos Thule Nome Adak Sitka Juneau
Metlakatla Menominee Tell City New Salem Center Swift Current Rankin Inlet Cambridge Bay
Fort Nelson Glace Bay Goose Bay Blanc-Sablon Atikokan Danmarkshavn Scoresbysund Longyearbyen
Mariehamn Busingen Jersey Guernsey Isle of Man""".split())


@functools.cache
def _gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """(countries, cities) in lower case: pytz's country names (with common short forms)
    and the cities its time zones are named after. Read on first use (pytz's tables take
    ~11 ms, which a question that never asks for a place does not pay)."""
    import pytz

    countries = set()
    for name in [*pytz.country_names.values(), *_COUNTRY_ALIASES]:
        countries.add(name.lower())
        countries.add(re.sub(r"\s*\(.*\)", "", name).replace("&", "and").lower())
        inner = re.search(r"\((.*)\)", name)
        if inner and inner.group(1)[:1].isupper() and " " not in inner.group(1):
            countries.add(inner.group(1).lower())          # "Myanmar (Burma)" -> burma
    countries |= {"korea " + side for side in ("north", "south")}
    cities = {zone.split("/")[-1].replace("_", " ").lower() for zone in pytz.all_timezones
              if zone.split("/")[0] in ("Africa", "America", "Asia", "Europe", "Australia",
                                        "Pacific", "Atlantic", "Indian")}
    cities -= {name.lower() for name in _NOT_CITIES}
    cities |= {"washington", "new york city", "london", "geneva", "kiev", "kyiv", "beijing",
               "delhi", "new delhi", "mumbai", "rio de janeiro", "san francisco", "boston",
               "philadelphia", "seattle", "miami", "atlanta", "dallas", "houston", "las vegas",
               "washington, d.c.", "washington dc", "munich", "milan", "barcelona", "osaka",
               "hamburg", "frankfurt", "glasgow", "manchester", "birmingham", "liverpool",
               "edinburgh", "cardiff", "belfast", "tel aviv", "doha", "abu dhabi", "marseille",
               "lyon", "naples", "venice", "florence", "st petersburg", "saint petersburg"}
    return frozenset(countries), frozenset(cities)


_STATES_LOWER = frozenset(s.lower() for s in US_STATES)


def place_class(text: str) -> str | None:
    """"country", "state" or "city" when a name is one (countries first), else None."""
    bare = re.sub(r"^(?:the|in|at|from|near|to)\s+", "", text.strip(), flags=re.IGNORECASE)
    bare = re.sub(r"[’']s$", "", bare).strip(" .,").lower()
    countries, cities = _gazetteer()
    if bare in countries or bare.replace(".", "") in countries:
        return "country"
    if bare in _STATES_LOWER:
        return "state"
    if bare in cities:
        return "city"
    return None


def _singular(word: str) -> str:
    return _STEMMER.stemWord(word.lower())


def _same_count(asked: str, unit_words: list[str]) -> bool:
    """Whether words after a number count what the question counts (the generic rule)."""
    asked_stem = _singular(asked)
    for word in unit_words:
        if _singular(word) == asked_stem:
            return True
        if any(asked in group and word in group for group in _SAME_UNIT):
            return True
        if asked in _GENERIC_PEOPLE and word in PEOPLE_NOUNS:
            return True
        if asked in PEOPLE_NOUNS and word in _GENERIC_PEOPLE:
            return True
    return False


_UNIT_RUN_STOPS = _COUNT_STOPS | {"and", "or", "but", "the", "a", "an", "its", "their", "his",
                                   "her", "said", "says", "were", "was", "are", "is", "be",
                                   "who", "which", "that", "this", "these", "those"}


def unit_words(candidate: "Candidate") -> list[str]:
    """The words naming what a number counts: its own words after the digits ("300
    troops") and up to four words after it ("hundreds of Western military instructors"),
    stopping at a function word or punctuation; lower case."""
    own = [w for w in _WORD.findall(candidate.text.lower()) if not any(ch.isdigit() for ch in w)]
    own = [w for w in own if not re.fullmatch(_NUMBER_WORDS, w) and w not in (
        "million", "billion", "trillion", "thousand", "hundred", "a")]
    words = []
    after = re.match(r"(?:th|st|nd|rd)?((?:[\s-]+[\w’'\-]+){0,5})", candidate.after or "")
    tail = after.group(1) if after else ""
    for i, w in enumerate(_WORD.findall(tail.lower())):
        if i == 0 and w == "of":
            continue
        if w in _UNIT_RUN_STOPS:
            break
        words.append(w)
        if len(words) == 4:
            break
    return own + words


def asked_unit(question: str) -> str | None:
    """What the answer must be (a unit key, see above): "money" for "how much did it cost",
    "rise" for "what pay rise", "soldiers" for "how many soldiers", "country" for "which
    country", "year" for "what year", "who" for "who"; None when the question does not say
    (then no short answer is verified)."""
    q = _asking_part(question).lower().replace("’", "'")
    words = _WORD.findall(q)
    much = re.search(r"\bhow much\b(.*)", q)
    if much:
        rest = much.group(1)
        if re.match(r"\s+of\b", rest):
            return PERCENT_UNIT
        following = _WORD.findall(rest)[:2]
        if any(w in _MEASURE_NOUNS for w in following):
            return None                      # "how much rain": a measure we don't check
        return RISE_UNIT if _RISE_VERBS.search(rest) else MONEY_UNIT
    many = re.search(r"\bhow many\b(.*)", q)
    if many:
        run = []
        for w in _WORD.findall(many.group(1)):
            if w in _COUNT_STOPS or w in _VERB_AFTER_WH:
                break
            run.append(w)
            if len(run) == 5:
                break
        head = next((w for w in run if w in PEOPLE_NOUNS or w in DURATION_UNITS
                     or w in LENGTH_UNITS or (w.endswith("s") and len(w) > 3 and not w.endswith("ss")
                                              and not any(ch.isdigit() for ch in w))),
                    run[0] if run else None)
        return head
    if re.search(r"\bhow old\b", q):
        return "age"
    if re.search(r"\bhow long\b", q):
        return "duration"
    if re.search(r"\bhow (?:far|tall|high|deep|wide)\b", q):
        return "distance"
    if re.search(r"\b(?:release|premiere|launch|air|birth|expiry|due) date\b|\bdate of\b", q):
        return "date"
    if re.search(r"\bwhat (?:is|was|are|were) (?:the |its |his |her |their )?\w+(?: \w+)? called\b", q):
        return "name"
    if words and words[0] in _YES_NO_START:
        return None                        # "Did the talks ...?", "Is the bridge ...?"
    for i, word in enumerate(words):
        if word in ("which", "what"):
            after = words[i + 1:]
            if after and after[0] in _VERB_AFTER_WH:
                return None                # "what did X demand": any phrase
            unit = _noun_unit(_head_noun(after) or [])
            if unit is not None:
                return unit
            continue                       # "..., which aired ...": a relative clause
        if word in ("who", "whom", "whose"):
            return "who"
        if word == "when":
            return "date"
        if word == "where":
            return "place"
        if word in ("how", "why"):
            return None
    if any(w in ("which", "what") for w in words):
        return None
    # no question word: a noun phrase ending in a noun with a unit ("Super Bowl 2021 location")
    return _NOUN_UNITS.get(words[-1]) if words and not q.rstrip().endswith("?") else None


_YES_NO_START = frozenset("did does do is was are were has have had can could will would should "
                          "may might must".split())
_HEAD_SKIP = _AUXILIARIES | {"following", "these", "those", "one", "ones", "other", "new",
                             "latest", "current", "former", "main", "top", "biggest", "largest",
                             "most", "first", "last", "famous", "popular", "major"}
_UNIT_KIND_DATE = frozenset({"date", "year", "month", "decade"})   # "dates back": a verb
_HEAD_STOPS = _VERB_AFTER_WH | _NOUN_RUN_STOPS | {"its", "his", "her", "their", "our", "my",
                                                  "your", "the", "a", "an", "of", "is", "was", "are", "were",
                                                  "will", "has", "have", "had", "this", "that", "now",
                                                  "recently"}


def _head_noun(words: list[str]) -> list[str] | None:
    """The words of the noun phrase a which/what question asks about, e.g. ["pay", "rise"]
    for "what pay rise did ..."; None when no noun follows."""
    rest = list(words)
    while rest and rest[0] in _HEAD_SKIP:
        rest = rest[1:]
    head: list[str] = []
    for w in rest:
        if w in _HEAD_STOPS or (w.endswith("ed") and len(w) > 4 and head):
            break
        head.append(w)
        if len(head) == 6:
            break
    return head or None


def _noun_unit(head: list[str]) -> str | None:
    """The unit key of a noun phrase: its last word with a unit in the table, two-word
    keys first ("pay rise"), plurals too ("programs")."""
    for i in range(len(head) - 1, -1, -1):
        if i and f"{head[i - 1]}-{head[i]}" in _NOUN_UNITS:
            return _NOUN_UNITS[f"{head[i - 1]}-{head[i]}"]
        word = head[i]
        plural = word.endswith("s") and _NOUN_UNITS.get(word[:-1]) not in _UNIT_KIND_DATE
        for form in (word, word[:-1] if plural else None, word[:-2] if word.endswith("es") else None):
            if form and form in _NOUN_UNITS:
                return _NOUN_UNITS[form]
    return None


def _asking_part(question: str) -> str:
    """The sentence of a question that asks (the last one with a question mark, else the
    last one): "X happened this week. Which state ...?" -> "Which state ...?"."""
    parts = [p for p in re.split(r"(?<=[.?!:])\s+(?=[A-Z\"“])", question.strip()) if p.strip()]
    asking = [p for p in parts if "?" in p]
    return (asking or parts or [question])[-1]


def kind_of_unit(unit: str | None) -> str | None:
    """The candidate kind a unit key asks for (a count noun asks for a number)."""
    if unit is None:
        return None
    return _UNIT_KIND.get(unit, NUMBER)


def unit_fits(candidate: "Candidate", unit: str | None) -> bool:
    """Whether a candidate is of the unit the question asks for (None: any)."""
    if unit is None:
        return True
    kind, text = candidate.kind, candidate.text
    if unit == MONEY_UNIT:
        return kind == MONEY
    if unit in (RISE_UNIT, PERCENT_UNIT):
        percent = kind == NUMBER and bool(_PERCENT.search(text + " " + candidate.after[:20]))
        if unit == PERCENT_UNIT:
            return percent
        # a rise is an amount said to rise: "a 6.5% raise", "rose 60%", not "hit $4.96"
        said_to_rise = _RISE_WORDS.search(candidate.before[-25:]) or _RISE_WORDS.search(candidate.after[:25])
        return (percent or kind == MONEY) and bool(said_to_rise)
    if unit in ("date", "day"):
        return kind == DATE
    if unit == "year":
        return kind == DATE and bool(re.search(rf"\b{_YEAR}\b", text))
    if unit == "decade":
        return kind == DATE and bool(re.search(r"\d0s\b", text))
    if unit == "month":
        return kind == DATE and bool(re.search(_MONTH, text))
    if unit == "who":
        return kind in (NAME, PLACE)
    if unit in ("name", "named_place", "team"):
        return kind in (NAME, PLACE)
    if unit in ("country", "state", "city", "place"):
        found = place_class(text)
        if unit == "place":
            return kind == PLACE or found is not None
        if unit == "city":
            return found == "city" or (kind == PLACE and found is None)
        return found == unit or (unit == "state" and found == "city"
                                 and text.lower().strip() in _STATES_LOWER)
    if unit in ("person", "organisation", "work"):
        if kind not in (NAME, PLACE) or _DEMONYM.match(text):
            return False
        return place_class(text) is None
    if kind != NUMBER or _PERCENT.search(text):
        return False
    words = unit_words(candidate)
    aged = bool(re.match(r"\d+(?:\s*(?:-|\s)\s*years?)?[- ]old\b|\d+(?:th|st|nd|rd) birthday",
                         re.sub(r"^\D+", "", text) + candidate.after))
    if unit == "age":
        return aged or bool(re.search(r"\b(?:aged|age of|turned|turns|turning)\s*$", candidate.before))
    if unit == "duration":
        return not aged and any(w in DURATION_UNITS for w in words[:2])
    if unit == "distance":
        return any(w in LENGTH_UNITS for w in words[:2])
    return _same_count(unit, words)
