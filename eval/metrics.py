"""Evaluation metrics: pure, deterministic functions, no model needed.

Answer metrics follow the official SQuAD v1.1 evaluation script: `normalize_answer`
(lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace),
exact match, and token F1 (bag-of-tokens overlap), each maximised over the accepted
references. `exact_match` and `token_f1` first fold typographic quotes and dashes to
ASCII (the articles use “ ” ’ –), which leaves ASCII text exactly as SQuAD scores it.

`contains_gold` is RGB's own rule (chen700564/RGB `checkanswer`): the lower-cased answer
must contain every gold answer; a gold given as a list of spellings needs any one.

Retrieval, citation, faithfulness, refusal and latency helpers work on plain lists of
booleans, strings and numbers, so the harness can compute them per question and
average them.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from typing import Callable, Iterable, Sequence

from rag.text import SPACED_MARKER

_TYPOGRAPHY = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'",
                             "–": "-", "—": "-", "\u00a0": " "})
_PUNCTUATION = set(string.punctuation)


# --- SQuAD v1.1 -------------------------------------------------------------

def normalize_answer(text: str) -> str:
    """SQuAD v1.1: lower-case, drop punctuation, drop a/an/the, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def fold_typography(text: str) -> str:
    """NFKC, typographic quotes and dashes as ASCII, non-breaking spaces as spaces."""
    return unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)


def strip_markers(text: str) -> str:
    """An answer without its `[n]` citation markers."""
    return SPACED_MARKER.sub("", text).strip()


def _squad_tokens(text: str) -> list[str]:
    return normalize_answer(fold_typography(text)).split()


def _max_over(metric: Callable[[str, str], float], prediction: str,
              references: str | Sequence[str]) -> float:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("at least one reference answer is needed")
    return max(metric(prediction, ref) for ref in refs)


def _exact(prediction: str, reference: str) -> float:
    return float(_squad_tokens(prediction) == _squad_tokens(reference))


def _f1(prediction: str, reference: str) -> float:
    pred, ref = _squad_tokens(prediction), _squad_tokens(reference)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference, else 0.0."""
    return _max_over(_exact, prediction, references)


def token_f1(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD token F1, the best over the references (0.0 when nothing overlaps)."""
    return _max_over(_f1, prediction, references)


# --- RGB --------------------------------------------------------------------

def gold_groups(answer: str | Sequence) -> list[list[str]]:
    """RGB's answer field as groups of accepted spellings: every group must match."""
    if isinstance(answer, str):
        return [[answer]]
    groups = []
    for item in answer:
        groups.append([item] if isinstance(item, str) else [str(x) for x in item])
    return groups


def contains_gold(prediction: str, answer: str | Sequence) -> bool:
    """RGB's rule: every gold group has a spelling inside the lower-cased prediction."""
    text = prediction.lower()
    groups = gold_groups(answer)
    return bool(groups) and all(any(s.lower() in text for s in group) for group in groups)


# --- evidence and retrieval -------------------------------------------------

def normalize_evidence(text: str) -> str:
    """Text for evidence matching: folded typography, lower case, single spaces."""
    return " ".join(fold_typography(text).lower().split())


def contains_evidence(text: str, evidence: str) -> bool:
    """Whether evidence occurs in text, ignoring case, spacing and quote style."""
    needle = normalize_evidence(evidence)
    return bool(needle) and needle in normalize_evidence(text)


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when one of the first k results is relevant."""
    return float(any(relevant[:k])) if k > 0 else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int | None = None) -> float:
    """1/rank of the first relevant result within the first k (0.0 if none)."""
    for rank, is_relevant in enumerate(relevant[:k] if k is not None else relevant, start=1):
        if is_relevant:
            return 1.0 / rank
    return 0.0


def evidence_recall(evidence: Sequence[str], texts: Iterable[str], mode: str = "all") -> float:
    """Share of evidence strings found in some text (mode "all"), or 1.0/0.0 whether any
    is found (mode "any", for alternative spellings of one fact)."""
    if not evidence:
        raise ValueError("no evidence to recall")
    pool = [normalize_evidence(t) for t in texts]
    found = [any(normalize_evidence(e) in t for t in pool) for e in evidence]
    if mode == "any":
        return float(any(found))
    if mode != "all":
        raise ValueError(f"evidence mode must be 'all' or 'any', not {mode!r}")
    return sum(found) / len(found)


# --- citations and faithfulness ---------------------------------------------

def share(flags: Sequence[bool]) -> float | None:
    """Share of true flags; None for an empty list (nothing to score)."""
    return sum(map(bool, flags)) / len(flags) if flags else None


def citation_precision(cited_supports: Sequence[bool]) -> float | None:
    """Share of citations whose cited passage contains evidence; None when none cited."""
    return share(cited_supports)


def faithfulness(sentences: Sequence[tuple[str, Sequence[str]]],
                 support: Callable[[str, str], float], min_support: float = 0.5) -> float | None:
    """Share of answer sentences supported by the passages they cite.

    `sentences` holds (claim, texts of the passages the sentence cites); a sentence is
    supported when `support(claim, " ".join(texts)) >= min_support`. A sentence that
    cites nothing is unsupported. None when there are no sentences.
    """
    flags = [bool(texts) and support(claim, " ".join(texts)) >= min_support
             for claim, texts in sentences]
    return share(flags)


_PLAIN_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def plain_words(text: str) -> list[str]:
    """Words as written (typography folded, lower case), no stemming, stop words kept: a
    tokenisation of its own, unlike the answerer's (stemmed, stop words dropped)."""
    return _PLAIN_WORD.findall(fold_typography(text).lower())


def quote_faithful(claim: str, cited_texts: Sequence[str], n: int = 3,
                   min_share: float = 0.8) -> bool:
    """Whether a claim is backed by the texts it cites, word order included: the claim's
    words occur verbatim (as one run) in a cited text, or at least `min_share` of its word
    n-grams do. A claim shorter than n words must occur verbatim."""
    words = plain_words(claim)
    if not words or not cited_texts:
        return False
    sources = [" " + " ".join(plain_words(t)) + " " for t in cited_texts]
    if any(f" {' '.join(words)} " in source for source in sources):
        return True
    if len(words) < n:
        return False
    grams = [" " + " ".join(words[i:i + n]) + " " for i in range(len(words) - n + 1)]
    found = sum(any(g in source for source in sources) for g in grams)
    return found / len(grams) >= min_share


def verbatim_faithfulness(sentences: Sequence[tuple[str, Sequence[str]]], n: int = 3,
                          min_share: float = 0.8) -> float | None:
    """Share of answer sentences backed word-for-word by the passages they cite
    (`quote_faithful`); a sentence that cites nothing is unfaithful. None when empty.

    Independent of the answerer's `support()` (stemmed bag of words, half needed): this
    one keeps word order and stop words, so it catches a sentence that reuses a passage's
    words to say something else ("Lavrov said Blinken would understand" from "Blinken
    said Lavrov would understand" fails: the trigrams differ), a claim cited to the wrong
    passage, and any word the answer invented. It cannot judge meaning: a faithful
    paraphrase by a model scores low, and a verbatim sentence quoted out of context (an
    answer to another question) scores high."""
    return share([quote_faithful(claim, texts, n, min_share) for claim, texts in sentences])


# --- refusal ----------------------------------------------------------------

def refusal_accuracy(refused_on_unanswerable: Sequence[bool]) -> float | None:
    """Share of unanswerable questions that were refused."""
    return share(refused_on_unanswerable)


def false_refusal_rate(refused_on_answerable: Sequence[bool]) -> float | None:
    """Share of answerable questions that were refused."""
    return share(refused_on_answerable)


# --- aggregation ------------------------------------------------------------

def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile with linear interpolation between ranks (numpy's default)."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- answer form --------------------------------------------------------------

_DASH = " — "
_AS_OF_LABEL = re.compile(r"^As of [^:—]{3,40}:\s*", re.IGNORECASE)  # a time-aware answer's label


def _plain(text: str) -> str:
    return " ".join(strip_markers(fold_typography(text)).split())


_RESOLVED_DAY = re.compile(r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, [A-Z][a-z]+ \d{1,2}, \d{4}$")


def leading_fragment(answer: str, short_answer: str | None, quotes: Sequence[str] = ()) -> str | None:
    """The words an answer starts with when they are a fragment glued in front of it and
    not its verified short answer, else None.

    The lead is the text before the answer's first " — " (how the extractive answerer
    puts a short answer before its sentences: "short — sentence [1]"). It is no
    fragment when it is the verified `short_answer` (after an "As of <date>:" label), when it already holds a citation
    marker (the dash follows a cited sentence), when it is the date a day word of the quote
    means ("Sunday, October 15, 2023 — ... on Sunday ... [1]", computed from the article's
    date), or when the answer starts with one of its citations' quotes that runs past the
    dash (a dash inside a quoted sentence)."""
    text = answer.strip()
    cut = text.find(_DASH)
    if cut <= 0:
        return None
    lead = text[:cut].strip()
    if re.search(r"\[\d{1,3}\]", lead):
        return None
    if short_answer is not None and _AS_OF_LABEL.sub("", lead) == short_answer.strip():
        return None
    if _RESOLVED_DAY.match(lead):
        return None   # the date a quoted day word means (rag.answer.timeline.resolve_when)
    plain, plain_lead = _plain(_AS_OF_LABEL.sub("", text)), _plain(_AS_OF_LABEL.sub("", lead))
    for quote in quotes:
        quoted = _plain(quote)
        if len(quoted) > len(plain_lead) and plain.startswith(quoted[:len(plain_lead) + 3]):
            return None
    return lead or None


def dated_after(citation_dates: Sequence[str | None], as_of: str) -> list[bool]:
    """For each cited article's date (YYYY-MM-DD or None), whether it is after `as_of`;
    an undated article is not counted as after."""
    return [bool(d) and d[:10] > as_of for d in citation_dates]
