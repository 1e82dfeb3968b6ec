"""Check and repair the `[n]` markers of an answer against the passages the model saw.

Whatever a generator writes, the result only keeps markers that name a passage it was
given; each kept marker gets a citation whose quote is the passage sentence that best
supports the answer sentence, with its offsets in the article. Sentences a model left
uncited get a marker when one passage sentence clearly supports them: most of the
sentence's content words and at least two of them (one shared word, "PWNED" from an
injected article, is no support). Malformed markers (`[-1]`, `[1.5]`, `[+2]`) are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.records import Citation, Passage, Span
from rag.text import MARKER as _MARKER, content_terms, normalise_markers, split_sentences, support

# any length: "[99999999999]" must not survive as text
MIN_SUPPORT_TO_ADD = 0.5
MIN_SHARED_TERMS_TO_ADD = 2
# a number in brackets that is not a passage number: negative, signed or with a fraction
_MALFORMED_MARKER = re.compile(r"\s*\[\s*(?:[-+\u2212]\s*\d+(?:\.\d+)?|\d*\.\d+|\d+\.)\s*\]")


@dataclass
class CitationCheck:
    """What the checker changed: markers removed (no such passage) and markers added."""

    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)


def best_quote(claim: str, passage: Passage) -> tuple[Span, float]:
    """The claim itself if the passage holds it verbatim, else the passage sentence that
    best supports it; with article offsets."""
    exact = passage.text.find(claim) if len(claim) >= 10 else -1
    if exact >= 0:
        return Span(passage.start + exact, passage.start + exact + len(claim), claim), 1.0
    sentences = split_sentences(passage.text, offset=passage.start) or [
        Span(passage.start, passage.end, passage.text)]
    scored = [(support(claim, s.text), -i, s) for i, s in enumerate(sentences)]
    score, _, span = max(scored, key=lambda t: (t[0], t[1]))
    return span, score


def make_citation(passage: Passage, span: Span) -> Citation:
    """A citation for a span of a passage; raises if the span is not the passage's text."""
    local = span.start - passage.start
    if passage.text[local:local + len(span.text)] != span.text or span.end - span.start != len(span.text):
        raise ValueError(f"quote is not at its offsets in passage {passage.n}")
    return Citation(n=passage.n, doc_id=passage.doc_id, title=passage.title, date=passage.date,
                    source=passage.source, url=passage.url, quote=span.text,
                    start=span.start, end=span.end, chunk_id=passage.chunk_id,
                    copies=list(passage.copies))


def check_citations(answer: str, passages: list[Passage]) -> tuple[str, list[Citation], CitationCheck]:
    """Keep valid markers, drop invalid ones, add missing ones; build verified citations."""
    by_n = {p.n: p for p in passages}
    check = CitationCheck()
    text = normalise_markers(_MALFORMED_MARKER.sub("", answer))
    out_sentences: list[str] = []
    cited: dict[tuple[int, int], Span] = {}
    for sentence in split_sentences(text):
        # no space before closing punctuation; a straight quote opening a word keeps its space
        claim = re.sub(r"\s+([.!?,;:'”’)]|\"(?!\w))", r"\1", _MARKER.sub("", sentence.text)).strip()
        numbers = [int(n[:12]) for n in _MARKER.findall(sentence.text)]
        valid = [n for n in dict.fromkeys(numbers) if n in by_n]
        check.removed += [n for n in numbers if n not in by_n]
        if not valid and claim and passages:
            best = max(((best_quote(claim, p), p.n) for p in passages), key=lambda t: t[0][1])
            (span, score), n = best
            shared = content_terms(claim) & content_terms(span.text)
            if score >= MIN_SUPPORT_TO_ADD and len(shared) >= MIN_SHARED_TERMS_TO_ADD:
                valid = [n]
                check.added.append(n)
        for n in valid:
            span = best_quote(claim or sentence.text, by_n[n])[0]
            cited.setdefault((n, span.start), span)
        if claim:
            out_sentences.append(claim + "".join(f" [{n}]" for n in valid))
    citations = [make_citation(by_n[n], span) for (n, _), span in sorted(cited.items())]
    return " ".join(out_sentences), citations, check
