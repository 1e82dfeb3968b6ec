"""Corrections and conflicting reports among the passages of one answer.

A figure is a number with what it counts: "1,140 postal ballots" (the words after it),
"61.4 per cent" / "57.8%" turnout (for a share: the words after "of", else the sentence's
subject). Figures of other years or of comparison ("up from 49.2% four years ago", "in
2003") are left out.

- A **correction** is a passage that says so ("Correction:", "misstated", "corrected",
  "an earlier version") and gives "N ..., not M": N replaces M wherever M was reported;
  the answer says "N, corrected from M" and cites both.
- A **conflict** is one quantity given different values by passages of different
  articles that are not copies of each other (the same outlet at another time counts
  too, when no correction explains it): the answer names it and cites each value.

`find_conflicts` gives the contract's `conflicts` ([{about, kind, values: [{text, n,
source, date}]}], the corrected value first); `conflict_note` the sentence added to the
answer, with its citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rag.answer.citations import make_citation
from rag.records import Citation, Passage
from rag.text import Span, content_terms, split_sentences

MAX_DAYS_APART = 1
MIN_SHARED_WORDS = 1     # content words two sentences share besides the counted thing
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_FIGURE = re.compile(rf"(?<![\w.,$£€-])({_NUMBER})(\s*(?:%|per\s*cent\b|percent\b))?"
                     r"((?:\s+[A-Za-z][A-Za-z'-]*){0,3})")
_CORRECTION = re.compile(r"\b(?:correction|corrected|misstated|misreported|an earlier version)\b",
                         re.IGNORECASE)
_NOT = re.compile(rf"\b({_NUMBER})\b([^.;]*?),?\s+not\s+({_NUMBER})\b")
_OTHER_TIME = re.compile(r"\b(?:from|since|ago|last year|in \d{4}|years?|record)\b", re.IGNORECASE)
_LABEL = re.compile(r"\b(?:season|episode|chapter|page|number|no|vol|volume|version|part|round|"
                    r"game|stage|act|route|flight|level|grade|article|section|rule|model|"
                    r"series|edition|term|phase|week|day|year)\.?\s*$", re.IGNORECASE)
_MOVED_TO = re.compile(r"\b(?:rose|fell|climbed|dropped|jumped|slipped|gained|lost|up|down|"
                       r"increased|decreased|edged)\b[^.;]{0,24}\bto\s*$", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:in|of) ((?:19|20)\d\d)\b")   # "built in 1978": a figure of another year
_VERBS = {"rose", "fell", "reached", "grew", "increased", "dropped", "climbed", "put", "hit",
          "stood", "gained", "lost", "jumped", "slipped", "declined", "added", "be", "been",
          "about", "some", "around", "nearly", "almost", "over", "than", "more", "less", "just"}
_UNIT_STOP = {"the", "a", "an", "and", "or", "of", "in", "on", "at", "to", "by", "for", "with",
              "from", "had", "have", "has", "were", "was", "are", "is", "that", "who", "which",
              "said", "says", "when", "after", "before", "this", "last", "their", "his", "her"}
_SKIP_UNITS = {"a", "p", "am", "pm", "percentage", "points", "point"}
_MONTHS = content_terms("january february march april may june july august september october "
                        "november december jan feb mar apr jun jul aug sep sept oct nov dec")


@dataclass
class Figure:
    """A number and what it counts, in one sentence of one passage."""

    value: float
    text: str          # the number as written, with its unit ("61.4 per cent")
    about: str         # what it counts ("turnout", "postal ballots")
    passage: Passage
    sentence: Span


def _value(number: str) -> float:
    return float(number.replace(",", ""))


def _unit(words: str) -> str:
    """The counted thing: the words after the number up to a function word."""
    kept = []
    for word in words.split():
        if word.lower() in _UNIT_STOP:
            break
        kept.append(word.lower().strip("'"))
    return " ".join(kept[:2])


def _share_subject(sentence: str, at: int, after: str) -> str:
    """What a share is of: "88 per cent of ballots" -> ballots; else the sentence's
    first content word ("Turnout in ... reached 61.4 per cent" -> turnout)."""
    of = re.match(r"\s+of\s+(?:the\s+)?([A-Za-z-]+)", after)
    if of:
        return of.group(1).lower()
    before = [t for t in re.findall(r"[A-Za-z]+", sentence[:at])
              if t.lower() not in _UNIT_STOP | _VERBS and not t.isupper()]  # a dateline's city aside
    if not before:
        return ""
    # compared by the nearest word before the share, named by the sentence's subject
    return before[-1].lower() if before[0].lower() == before[-1].lower() \
        else f"{before[0].lower()} | {before[-1].lower()}"


def figures(passage: Passage) -> list[Figure]:
    """The passage's figures that say what they count (dates, times and figures of
    another time or of comparison left out)."""
    found = []
    for sentence in split_sentences(passage.text, offset=passage.start):
        text = sentence.text
        for match in _FIGURE.finditer(text):
            number, share, after = match.group(1), match.group(2), match.group(3)
            before = text[max(0, match.start() - 16):match.start()]
            if _LABEL.search(before):
                continue  # "season 11, episode 24": a name, not a quantity
            if _MOVED_TO.search(before):
                continue  # "shares rose 11% to 449 pence": a market move's level
            year = (passage.date or "")[:4]
            if _OTHER_TIME.search(before) or any(
                    y != year for y in _YEAR.findall(text[match.end():match.end() + 50])) or re.match(r"\s+(?:years?|ago)\b", after) \
                    or content_terms(before.split()[-1] if before.split() else "") & _MONTHS \
                    or re.match(r"\s*(?:[ap]\.?m\b|:)", text[match.end(1):]) \
                    or (len(number) == 4 and number.startswith(("19", "20")) and not share):
                continue
            if share:
                about = _share_subject(text, match.start(), text[match.end(2):])
                shown = number + share
                about = f"{about} (share)" if about else ""
            else:
                about = _unit(after)
                shown = f"{number} {about}".strip()
                if about.split()[:1] and about.split()[0] in _SKIP_UNITS:
                    continue
                if re.search(r"\b(?:by|lead of|margin of)\s*$", before) and about:
                    about += " (margin)"  # "leading by 1,204 votes", "a lead of 555"
            if about:
                found.append(Figure(_value(number), shown, about, passage, sentence))
    return found


def corrections(passages: list[Passage]) -> list[tuple[Figure, float]]:
    """(corrected figure, wrong value) of every correction notice among the passages."""
    found = []
    for passage in passages:
        if not _CORRECTION.search(passage.text):
            continue
        for sentence in split_sentences(passage.text, offset=passage.start):
            match = _NOT.search(sentence.text)
            if not match:
                continue
            right = next((f for f in figures(passage) if f.sentence == sentence
                          and f.value == _value(match.group(1))), None)
            if right is not None:
                found.append((right, _value(match.group(3))))
    return found


def _copies(a: Passage, b: Passage) -> bool:
    return a.doc_id == b.doc_id or any(c["doc_id"] == b.doc_id for c in a.copies) \
        or any(c["doc_id"] == a.doc_id for c in b.copies)


def find_conflicts(passages: list[Passage]) -> list[dict]:
    """The contract's `conflicts`: corrections first, then quantities reported with
    different values by different articles; [] when none."""
    out: list[dict] = []
    corrected: set[tuple[str, float]] = set()
    all_figures = [f for p in passages for f in figures(p)]
    for right, wrong in corrections(passages):
        was = next((f for f in all_figures if _key(f.about) == _key(right.about) and f.value == wrong
                    and f.passage.doc_id != right.passage.doc_id), None)
        values = [_entry(right)] + ([_entry(was)] if was else [])
        out.append({"about": right.about.split(" | ")[0].replace(" (share)", ""), "kind": "correction", "values": values,
                    "corrected_from": _shown(right, wrong)})
        corrected.add((_key(right.about), wrong))
        corrected.add((_key(right.about), right.value))
    by_about: dict[str, list[Figure]] = {}
    for figure in all_figures:
        if _CORRECTION.search(figure.passage.text) or (_key(figure.about), figure.value) in corrected:
            continue
        by_about.setdefault(_key(figure.about), []).append(figure)
    for group in by_about.values():
        about = group[0].about.split(" | ")[0].replace(" (share)", "")
        values: list[Figure] = []
        for figure in group:
            if all(figure.value != v.value for v in values):
                values.append(figure)
        if len(values) < 2:
            continue
        said = {}  # the values each article gives: one that agrees on any is no conflict
        for figure in group:
            said.setdefault(figure.passage.doc_id, set()).add(figure.value)
        disagreeing = [v for v in values if any(
            v.value != w.value and not _copies(v.passage, w.passage) and _same_time(v, w)
            and _same_context(v, w) and not said[v.passage.doc_id] & said[w.passage.doc_id]
            for w in values)]
        if len(disagreeing) >= 2:
            out.append({"about": about, "kind": "conflict",
                        "values": [_entry(v) for v in disagreeing]})
    return out


def _key(about: str) -> str:
    """What is compared: the counted thing's first word and its kind ("homes without"
    and "homes" are one quantity), plural or singular; for a share, the word nearest
    before it ("turnout | election (share)" -> "election (share)")."""
    words = about.split(" | ")[-1].split()
    head = words[0].rstrip("s") if words else ""
    return " ".join([head] + [w for w in words[1:] if w.startswith("(")])


def _same_time(a: Figure, b: Figure) -> bool:
    """Reported within MAX_DAYS_APART of each other (or undated): a later figure that
    differs is news (the count went on), not a conflict."""
    if not a.passage.date or not b.passage.date:
        return True
    try:
        apart = abs((date.fromisoformat(a.passage.date) - date.fromisoformat(b.passage.date)).days)
    except ValueError:
        return True
    return apart <= MAX_DAYS_APART


def _same_context(a: Figure, b: Figure) -> bool:
    """Two figures are of one quantity when their sentences share a content word
    besides the counted thing (same event), e.g. "mayoral"."""
    about = content_terms(a.about.replace("(share)", ""))
    shared = (content_terms(a.sentence.text) & content_terms(b.sentence.text)) - about
    return len(shared) >= MIN_SHARED_WORDS


def _shown(figure: Figure, value: float) -> str:
    written = f"{value:,.0f}" if value == int(value) else f"{value}"
    return figure.text.replace(figure.text.split()[0].rstrip("%"), written, 1) if figure.text else written


def _entry(figure: Figure) -> dict:
    return {"text": figure.text, "n": figure.passage.n, "source": figure.passage.source,
            "date": figure.passage.date, "quote": figure.sentence.text,
            "start": figure.sentence.start, "end": figure.sentence.end}


def conflict_note(conflicts: list[dict], passages: list[Passage], cited: set[int]) -> tuple[str, list[Citation]]:
    """The sentences that tell the reader about corrections and conflicts touching the
    answer's cited passages, and the citations they add ("", [] when none)."""
    by_n = {p.n: p for p in passages}
    notes, citations = [], []
    for conflict in conflicts:
        values = conflict["values"]
        if not {v["n"] for v in values} & cited:
            continue
        spans = [(by_n[v["n"]], Span(v["start"], v["end"], v["quote"])) for v in values]
        citations += [make_citation(p, s) for p, s in spans]
        if conflict["kind"] == "correction":
            marks = "".join(f"[{v['n']}]" for v in values)
            notes.append(f"{values[0]['text'][:1].upper()}{values[0]['text'][1:]}, corrected "
                         f"from {conflict['corrected_from']} {marks}.")
        else:
            parts = [f"{v['text']} according to {v['source'] or 'one report'}"
                     f"{' on ' + v['date'] if v['date'] else ''} [{v['n']}]" for v in values]
            notes.append(f"Reports differ on {conflict['about']}: "
                         + ", ".join(parts) + ".")
    return " ".join(notes), citations
