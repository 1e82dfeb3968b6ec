"""Questions the page offers: examples built from the newest headlines, and follow-ups
drawn from the articles an answer retrieved. Plain string rules, no model: a headline
"Blinken and Lavrov wrap up talks in Geneva" gives "Why did Blinken and Lavrov wrap up
talks in Geneva?", "What did Blinken say?" and "What happened in Geneva?"."""

from __future__ import annotations

import re
from typing import Any, Iterable

_SMALL = {"a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "by", "with",
          "from", "as", "after", "over", "into"}
# words that start a headline capitalised without being a name
_NOT_NAMES = {"The", "A", "An", "In", "On", "At", "After", "Before", "Why", "How", "What", "Who",
              "When", "Where", "New", "More", "Most", "Some", "This", "That", "It", "Its", "As",
              "US", "UK", "EU", "UN", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
              "Saturday", "Sunday", "January", "February", "March", "April", "May", "June", "July",
              "August", "September", "October", "November", "December"}
_WORD = re.compile(r"[\w'’.-]+")
_PLACE = re.compile(r"\b(?:in|at)\s+((?:[A-Z][\w'’-]+\s?){1,3})")
_NAME_RUN = re.compile(r"(?:[A-Z][\w'’-]+)(?:\s+[A-Z][\w'’-]+)*")


def _is_title_case(title: str) -> bool:
    words = [w for w in _WORD.findall(title) if w.lower() not in _SMALL]
    return len(words) >= 3 and all(w[:1].isupper() for w in words)


def _base_verb(word: str) -> str:
    """"approves" -> "approve", "ends" -> "end", "wrap" -> "wrap"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def names_in(text: str) -> list[str]:
    """Capitalised names in running text, not the sentence's first word unless it is
    followed by another name ("Blinken and Lavrov ..." -> Blinken, Lavrov)."""
    found: list[str] = []
    for match in _NAME_RUN.finditer(text):
        name = match.group(0).strip()
        words = name.split()
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        name = " ".join(words[-2:])  # "Foreign Minister Sergei Lavrov" -> "Sergei Lavrov"
        if not name or name in found or len(name) < 3:
            continue
        sentence_start = match.start() == 0 or text[:match.start()].rstrip().endswith((".", "!", "?", ":"))
        if sentence_start and len(words) == 1 and not re.match(rf"{re.escape(name)}\s+(?:and|said|says|told)\b",
                                                                text[match.start():]):
            continue
        found.append(name)
    return found


def questions_from_title(title: str) -> list[str]:
    """Up to three real questions about a headline (none for a headline in Title Case or
    one without a name: better no example than an odd one)."""
    title = " ".join(title.strip().rstrip(".?!").split())
    if not title or _is_title_case(title):
        return []
    questions: list[str] = []
    subject = re.match(r"((?:[A-Z][\w'’-]+\s+)+(?:(?:and|&)\s+(?:[A-Z][\w'’-]+\s+)+)?)"
                       r"([a-z][\w'’-]+)\s+(.+)$", title + " ")
    if subject and subject.group(1).split()[0] not in _NOT_NAMES:
        who, verb, rest = subject.group(1).strip(), subject.group(2), subject.group(3).strip()
        plural_subject = " and " in f" {who} " or " & " in who
        participle = rest.split()[0].endswith("ed") if rest else False  # "Flood orders lifted"
        if verb not in _SMALL and not verb.endswith(("ed", "ing")) and not participle and \
                (verb.endswith("s") != plural_subject):
            questions.append(f"Why did {who} {_base_verb(verb)} {rest}?".replace("  ", " "))
    topic = None
    if subject:
        words = [w for w in subject.group(3).split() if w not in ("up", "down", "out", "off", "over")]
        if words and words[0].isalpha() and words[0].islower() and words[0] not in _SMALL:
            topic = words[0]
    for name in names_in(title)[:2]:
        place = _PLACE.search(title)
        if place and name in place.group(1):
            continue
        if topic:
            questions.append(f"What did {name} say about the {topic}?")
        questions.append(f"What did {name} say?")
    place = _PLACE.search(title)
    if place:
        questions.append(f"What happened in {place.group(1).strip()}?")
    return list(dict.fromkeys(questions))


def example_questions(titles: Iterable[str], count: int = 3) -> list[str]:
    """`count` questions from the newest headlines: the first question of each headline,
    then the others, newest first."""
    per_title = [questions_from_title(t) for t in titles]
    chosen: list[str] = []
    for depth in range(3):
        for questions in per_title:
            if depth < len(questions) and questions[depth] not in chosen:
                chosen.append(questions[depth])
    return chosen[:count]


_SPEAKER = re.compile(r"((?:[A-Z][\w’'-]+\s+){0,2}[A-Z][\w’'-]+)\s+(?:said|says|told|added|warned|"
                      r"insisted|argued|announced|stressed)\b")


def speakers_in(text: str) -> list[str]:
    """Names that speak in the text ("Lavrov said", "Blinken told reporters")."""
    found = []
    for match in _SPEAKER.finditer(text):
        words = [w for w in match.group(1).split() if w not in _NOT_NAMES]
        name = " ".join(words[-2:])
        if name and name not in found:
            found.append(name)
    return found


def follow_up_questions(result: dict[str, Any], asked: Iterable[str], count: int = 3,
                        per_person: bool = True) -> list[str]:
    """Two or three questions to ask next, from the answer's articles: what the people
    quoted in them said (when the question did not name them), then questions from the
    headlines of the articles retrieved, other articles first."""
    asked_lower = {q.strip().lower() for q in asked}
    question = result.get("question", "")
    candidates: list[str] = []
    texts = [c.get("quote", "") for c in result.get("citations", [])] + \
        [p.get("text", "") for p in result.get("passages", [])]
    for text in texts:
        for name in speakers_in(text):
            if not any(part.lower() in question.lower() for part in name.split()):
                candidates.append(f"What did {name} say?")
    cited = {c.get("doc_id") for c in result.get("citations", [])}
    titles = [p.get("title", "") for p in result.get("passages", []) if p.get("doc_id") not in cited]
    titles += [p.get("title", "") for p in result.get("passages", []) if p.get("doc_id") in cited]
    for title in dict.fromkeys(t for t in titles if t):
        candidates += [q for q in questions_from_title(title)
                       if not (q.startswith("What did ") and " say" in q and
                               q[9:q.index(" say")].lower() in question.lower())]
    out = [c for c in dict.fromkeys(candidates) if c.lower() not in asked_lower]
    return (distinct_people(out) if per_person else out)[:count]


def distinct_people(questions: Iterable[str]) -> list[str]:
    """The questions with at most one "What did X say…?" per person (by last name)."""
    out: list[str] = []
    people: set[str] = set()
    for question in questions:
        person = question[9:question.index(" say")].split()[-1] \
            if question.startswith("What did ") and " say" in question else None
        if person in people:
            continue
        if person:
            people.add(person)
        out.append(question)
    return out
