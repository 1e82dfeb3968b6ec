"""Turn answers into what the chat page shows: chat text and the sources panel.

Article text is untrusted (anyone can drop a file into the corpus or upload one), so
everything taken from an article, an answer or an error is escaped here: HTML-escaped
for the sources panel, backslash-escaped for the chat's Markdown. Nothing from an
article ever reaches the page as markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlsplit

from rag.text import MARKER as _PLAIN_MARKER, MARKER_DIGITS

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~<>&$:@])")  # ":" "@": no autolinked URLs or emails
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)  # "www.x.org" autolinks too
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+\.)", re.MULTILINE)
_MARKER = re.compile(rf"\\\[({MARKER_DIGITS})\\\]")  # a marker as md_text escapes it
CONTEXT_CHARS = 220  # article text shown either side of a highlighted quote


def esc(value: object) -> str:
    """HTML-escaped text (quotes too, so it is safe inside attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(text: str) -> str:
    """Text that Markdown shows literally: its special characters backslash-escaped.

    CommonMark (and marked, Gradio's renderer) treat a backslash before any ASCII
    punctuation as that literal character, so links, images, emphasis and raw HTML in an
    article cannot become markup. List and heading markers at a line start are escaped
    too. Newlines stay newlines.
    """
    text = _WWW.sub(r"\1\\.", _MD_SPECIAL.sub(r"\\\1", text))
    return _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def message_markdown(text: str) -> str:
    """One of our own messages for the chat: literal text, `commands` as code."""
    parts = re.split(r"`([^`\n]+)`", text)
    return "".join(f"`{part}`" if i % 2 else md_text(part) for i, part in enumerate(parts))


def message_html(text: str) -> str:
    """One of our own messages for the panel: escaped text, `commands` as <code>."""
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", esc(text))


def _title_text(text: str, limit: int = 300) -> str:
    """Text for a Markdown link title: one line, short, its quotes and backslashes escaped."""
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("\\", "\\\\").replace('"', '\\"')


_TIMELINE_ITEM = re.compile(r"(?:(?<=\])\s+|^)(?=[A-Z][a-z]+ \d{1,2}, \d{4}: )")


def timeline_items(answer_text: str) -> list[str]:
    """A timeline answer's lines ("June 3, 2024: ... [1]"), or [] for another answer."""
    items = [item.strip() for item in _TIMELINE_ITEM.split(answer_text) if item.strip()]
    return items if len(items) >= 2 and all(_TIMELINE_ITEM.match(i) for i in items) else []


def answer_markdown(answer_text: str, quotes: dict[int, str] | None = None,
                    short_answer: str | None = None, answer_id: int | None = None) -> str:
    """An answer for the chat: literal text, its short answer (if found in it) in bold, and
    each [n] marker a link to source card n of answer `answer_id` whose hover text is the
    quote (without `answer_id`, markers are just bold). A timeline is a list."""
    items = timeline_items(answer_text)
    if items:
        return "\n".join("- " + answer_markdown(item, quotes, None, answer_id) for item in items)
    quotes = quotes or {}
    at = answer_text.find(short_answer) if short_answer else -1
    if at >= 0 and short_answer.strip():
        before, after = answer_text[:at], answer_text[at + len(short_answer):]
        shown = f"{md_text(before)}**{md_text(short_answer.strip())}**{md_text(after)}"
        if short_answer != short_answer.strip():  # keep the spaces outside the bold
            lead = short_answer[:len(short_answer) - len(short_answer.lstrip())]
            trail = short_answer[len(short_answer.rstrip()):]
            shown = f"{md_text(before)}{lead}**{md_text(short_answer.strip())}**{trail}{md_text(after)}"
    else:
        shown = md_text(answer_text)
    if answer_id is None:
        return _MARKER.sub(r"**\\[\1\\]**", shown)

    def link(match: re.Match) -> str:
        n = int(match.group(1))
        title = f' "{_title_text(quotes[n])}"' if quotes.get(n) else ""
        return f"[**\\[{n}\\]**](#nd-a{answer_id}-s{n}{title})"

    return _MARKER.sub(link, shown)



def renumber(result: dict[str, Any]) -> dict[str, Any]:
    """A copy of the answer JSON with citations numbered in order of first appearance in
    the answer text ("… [1] … [2]"), consistently in the text, citations, passages and
    short answer; passages no marker points at come after. Only for display: the JSON
    contract keeps the pipeline's numbers."""
    order: list[int] = []
    for match in _PLAIN_MARKER.finditer(result.get("answer", "")):
        if int(match.group(1)) not in order:
            order.append(int(match.group(1)))
    for n in [int(c["n"]) for c in result.get("citations", [])] + \
             [int(p["n"]) for p in result.get("passages", [])]:
        if n not in order:
            order.append(n)
    new = {old: i for i, old in enumerate(order, start=1)}
    out = dict(result)
    if result.get("answer") and not result.get("refused"):
        out["answer"] = _PLAIN_MARKER.sub(
            lambda m: f"[{new.get(int(m.group(1)), int(m.group(1)))}]", result["answer"])
    out["citations"] = sorted(({**c, "n": new[int(c["n"])]} for c in result.get("citations", [])),
                              key=lambda c: (c["n"], c.get("start", 0)))
    out["passages"] = sorted(({**p, "n": new[int(p["n"])]} for p in result.get("passages", [])),
                             key=lambda p: p["n"])
    short = result.get("short_answer")
    if isinstance(short, dict) and short.get("n") is not None and int(short["n"]) in new:
        out["short_answer"] = {**short, "n": new[int(short["n"])]}
    out["conflicts"] = [{**c, "values": [{**v, "n": new.get(int(v["n"]), v["n"])} for v in c.get("values", [])]}
                        for c in result.get("conflicts") or []]
    return out


def plain_text(result: dict[str, Any]) -> str:
    """The answer as plain text with a numbered reference list (title, outlet, date, url),
    what the copy button puts on the clipboard: no Markdown, no escapes."""
    if result.get("refused"):
        return result.get("answer", "")
    lines = [result.get("answer", ""), ""]
    cited: dict[int, dict[str, Any]] = {}
    for c in result.get("citations", []):
        cited.setdefault(int(c["n"]), c)
    if cited:
        lines.append("References")
    for n, c in sorted(cited.items()):
        parts = [c.get("title") or c.get("doc_id") or "untitled"]
        parts += [v for v in (c.get("source"), c.get("date")) if v]
        url = safe_url(c.get("url"))
        lines.append(f"[{n}] " + ", ".join(parts) + (f". {url}" if url else ""))
    return "\n".join(lines).strip()


def human_bytes(size: int) -> str:
    """A byte count as people read it, in the units Gradio's upload message uses
    (1024-based): 2,000,000 -> "1.9 MB"."""
    value, unit = float(size), "bytes"
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) link, else None (no javascript:, data:, ...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def highlight(text: str, spans: Iterable[tuple[int, int]],
              strong: tuple[int, int] | None = None,
              numbers: Iterable[int] | None = None) -> str:
    """`text` HTML-escaped, with the given (start, end) ranges wrapped in <mark> and the
    `strong` range (the short answer) in <strong>.

    Ranges are character offsets into `text`; ranges outside the text are clipped or
    dropped. With `numbers` (the citation number of each range), each <mark> carries the
    numbers of the quotes it shows in `data-n`, so a marker can single out its sentence;
    without, overlapping or touching ranges are merged into one highlight.
    """
    def clip(s: int, e: int) -> tuple[int, int]:
        return max(0, s), min(len(text), e)

    spans = list(spans)
    labels = list(numbers) if numbers is not None else [0] * len(spans)
    marks = [(clip(s, e), n) for (s, e), n in zip(spans, labels)]
    marks = [((s, e), n) for (s, e), n in marks if e > s]
    bold = [clip(*strong)] if strong and clip(*strong)[1] > clip(*strong)[0] else []
    cuts = sorted({0, len(text), *(x for r, _ in marks for x in r), *(x for r in bold for x in r)})
    pieces: list[tuple[tuple[tuple[int, ...], bool], str]] = []
    for a, b in zip(cuts, cuts[1:]):
        ns = tuple(sorted({n for (s, e), n in marks if s <= a and b <= e}))
        marked = bool([1 for (s, e), _ in marks if s <= a and b <= e])
        flags = (ns if marked else (), any(s <= a and b <= e for s, e in bold))
        if pieces and pieces[-1][0] == flags:
            pieces[-1] = (flags, pieces[-1][1] + text[a:b])
        else:
            pieces.append((flags, text[a:b]))
    out = []
    for i, ((ns, strong_), piece) in enumerate(pieces):
        inner = f"<strong class='nd-short'>{esc(piece)}</strong>" if strong_ else esc(piece)
        opens = bool(ns) and not (i > 0 and pieces[i - 1][0][0] == ns)
        closes = bool(ns) and not (i + 1 < len(pieces) and pieces[i + 1][0][0] == ns)
        attr = f" data-n='{' '.join(map(str, ns))}'" if numbers is not None and ns else ""
        out.append((f"<mark{attr}>" if opens else "") + inner + ("</mark>" if closes else ""))
    return "".join(out)


def article_text(spans: Iterable[tuple[int, str]]) -> str:
    """An article's normalised text put back together from its chunks' (start, text):
    the offsets citations use."""
    text = ""
    for start, chunk in sorted(spans, key=lambda s: s[0]):
        if start >= len(text):
            text += " " * (start - len(text)) + chunk
        elif start + len(chunk) > len(text):
            text = text[:start] + chunk
    return text


def _meta_line(item: dict[str, Any]) -> str:
    parts = [f"<span class='nd-source-name'>{esc(item['source'])}</span>" if item.get("source") else "",
             f"<span class='nd-date'>{esc(item['date'])}</span>" if item.get("date") else ""]
    url = safe_url(item.get("url"))
    if url:
        parts.append(f"<a href='{esc(url)}' target='_blank' rel='noopener noreferrer nofollow'>"
                     "original article ↗</a>")
    shown = [p for p in parts if p]
    return " · ".join(shown) if shown else "<span class='nd-muted'>no date or source recorded</span>"


def _also_in(items: list[dict[str, Any]]) -> str:
    """"Also in: AP, The Guardian" from the items' `copies` (syndicated copies), if any."""
    names: list[str] = []
    for item in items:
        for copy in item.get("copies", []) or []:
            if not isinstance(copy, dict):
                continue
            name = copy.get("source") or copy.get("title") or copy.get("doc_id")
            if name and name not in names:
                names.append(str(name))
    if not names:
        return ""
    return f"<div class='nd-also'>Also in: {esc(', '.join(names))}</div>"


def _window(text: str, spans: list[tuple[int, int]], context: int) -> tuple[int, int]:
    """Start and end of the part of `text` to show: the spans with `context` characters
    either side, widened to whole words."""
    if not spans:
        return 0, min(len(text), 2 * context)
    start = max(0, min(s for s, _ in spans) - context)
    end = min(len(text), max(e for _, e in spans) + context)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _excerpt(passage: dict[str, Any], quotes: list[dict[str, Any]],
             short: dict[str, Any] | None, context: int = CONTEXT_CHARS) -> str:
    """One passage of a card: the window around its quotes, quotes highlighted, the short
    answer in bold, and the whole passage behind a toggle when the window cuts it."""
    text, offset = passage.get("text", ""), int(passage.get("start", 0))
    spans = [(int(q["start"]) - offset, int(q["end"]) - offset) for q in quotes]
    strong = None
    if short and short.get("start") is not None:
        strong = (int(short["start"]) - offset, int(short["end"]) - offset)
        if not (0 <= strong[0] < strong[1] <= len(text)):
            strong = None
    start, end = _window(text, spans, context)
    shown = [(s - start, e - start) for s, e in spans]
    bold = (strong[0] - start, strong[1] - start) if strong else None
    ns = [int(q["n"]) for q in quotes]
    body = ("… " if start > 0 else "") + highlight(text[start:end], shown, bold, ns) + \
        (" …" if end < len(text) else "")
    whole = ""
    if start > 0 or end < len(text):
        whole = (f"<details class='nd-whole'><summary>Whole passage</summary>"
                 f"<div class='nd-passage'>{highlight(text, spans, strong, ns)}</div></details>")
    numbers = "".join(f"<span class='nd-qn'>[{n}]</span>"
                      for n in sorted({int(q["n"]) for q in quotes} or {int(passage["n"])}))
    return f"<blockquote class='nd-passage'>{numbers} {body}</blockquote>{whole}"


def _article_view(first: dict[str, Any], text: str, quotes: list[dict[str, Any]],
                  ident: str) -> str:
    """The whole article in a dialog: title, outlet, date, the original's address when
    there is one, and every quote the answer cites from it highlighted."""
    url = safe_url(first.get("url"))
    link = (f"<a href='{esc(url)}' target='_blank' rel='noopener noreferrer nofollow'>"
            "Original article ↗</a>") if url else \
        "<span class='nd-muted'>No original address recorded</span>"
    meta = " · ".join(esc(v) for v in (first.get("source"), first.get("date")) if v)
    body = highlight(text, [(int(q["start"]), int(q["end"])) for q in quotes], None,
                     [int(q["n"]) for q in quotes])
    return (f"<dialog class='nd-article' id='{ident}-article' aria-labelledby='{ident}-h'>"
            f"<header><h2 id='{ident}-h'>{esc(first.get('title') or first.get('doc_id'))}</h2>"
            f"<button type='button' class='nd-close' aria-label='Close the article'>✕</button></header>"
            f"<div class='nd-meta'>{meta}{' · ' if meta else ''}{link}</div>"
            f"<div class='nd-article-text'>{body}</div></dialog>")


def _article_card(group: list[tuple[dict[str, Any], list[dict[str, Any]]]], answer_id: int,
                  short: dict[str, Any] | None, cited: bool,
                  articles: dict[str, str] | None = None) -> str:
    """One card for one article: its numbers, title (a link when it has a url), outlet,
    date, where else it ran, each cited passage with its quotes highlighted, and (when
    its text is in `articles`) a button opening the whole article."""
    first = group[0][0]
    numbers = sorted({int(q["n"]) for _, quotes in group for q in quotes} or
                     {int(p["n"]) for p, _ in group})
    badges = "".join(f"<span class='nd-badge'>[{n}]</span>" for n in numbers)
    title = esc(first.get("title") or first.get("doc_id"))
    url = safe_url(first.get("url"))
    if url:
        title = (f"<a href='{esc(url)}' target='_blank' rel='noopener noreferrer nofollow'>"
                 f"{title}</a>")
    quotes_all = [q for _, quotes in group for q in quotes]
    excerpts = "".join(_excerpt(p, quotes, short if short and int(short.get("n", -1)) == int(p["n"])
                                else None) for p, quotes in group)
    kind = "nd-card" if cited else "nd-card nd-uncited"
    ident = f"nd-a{answer_id}-s{numbers[0]}" + ("" if cited else "-u")
    text = (articles or {}).get(str(first.get("doc_id")))
    view = ""
    if text:
        view = (f"<button type='button' class='nd-read' data-dialog='{ident}-article'>Read the "
                f"whole article</button>{_article_view(first, text, quotes_all, ident)}")
    return (f"<article class='{kind}' id='{ident}' data-answer='{answer_id}' "
            f"data-ns='{' '.join(map(str, numbers))}' data-title='{esc(first.get('title') or first.get('doc_id'))}' "
            f"data-source='{esc(first.get('source') or '')}' data-date='{esc(first.get('date') or '')}' "
            f"data-doc='{esc(first.get('doc_id') or '')}'>"
            f"<header>{badges}<span class='nd-title'>{title}</span></header>"
            f"<div class='nd-meta'>{_meta_line(first)}</div>"
            f"{_also_in([p for p, _ in group] + quotes_all)}{excerpts}{view}</article>")


def _group(pairs: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[list]:
    """(passage, quotes) pairs grouped by article, in order of each article's first number."""
    groups: dict[str, list] = {}
    for passage, quotes in pairs:
        groups.setdefault(str(passage.get("doc_id")), []).append((passage, quotes))
    return list(groups.values())


def conflicts_html(conflicts: list[dict[str, Any]]) -> str:
    """The answer's corrections and conflicting reports: what, each value and its source."""
    rows = []
    for conflict in conflicts:
        values = "; ".join(f"{esc(v.get('text'))} ({esc(v.get('source') or 'unknown')}, "
                           f"{esc(v.get('date') or 'undated')}) [{esc(v.get('n'))}]"
                           for v in conflict.get("values", []))
        label = "Corrected" if conflict.get("kind") == "correction" else "Reports differ"
        rows.append(f"<li><strong>{label}: {esc(conflict.get('about'))}</strong> — {values}</li>")
    return f"<ul class='nd-conflicts'>{''.join(rows)}</ul>" if rows else ""


REFUSAL_REASONS = {
    "refused-no-passages": "No article matched the question.",
    "refused-not-relevant": "The closest passages are about something else.",
    "refused-by-evidence": "The passages found are on the topic, but no sentence in them "
                           "answers the question.",
    "refused-by-model": "The language model found that the passages do not say.",
    "refused-empty": "The answer written held no checked sentence.",
}
FILTER_HINT = "The date or source filter limited the search; widening it may help."


def refusal_reason(result: dict[str, Any], filtered: bool = False) -> str:
    """Why the answer was refused, from its typed `outcome`; the filter is named only
    when it can be the cause (nothing, or nothing relevant, was found with it on)."""
    outcome = result.get("outcome") or "refused-by-evidence"
    reason = REFUSAL_REASONS.get(outcome, "None of the passages found says it.")
    if filtered and outcome in ("refused-no-passages", "refused-not-relevant"):
        reason += " " + FILTER_HINT
    return reason


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """"1 passage", "2 passages" (or the given plural)."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def _source_strip(groups: list[list], answer_id: int) -> str:
    """One chip per cited article, named by its outlet, with a preview (title, outlet,
    date, quote) shown on hover, focus and tap."""
    chips = []
    for group in groups:
        first = group[0][0]
        quotes = [q for _, qs in group for q in qs]
        n = min(int(q["n"]) for q in quotes) if quotes else int(first["n"])
        name = first.get("source") or first.get("title") or first.get("doc_id")
        quote = quotes[0]["quote"] if quotes else ""
        meta = " · ".join(esc(v) for v in (first.get("source"), first.get("date")) if v)
        chips.append(
            f"<span class='nd-chipwrap'><button type='button' class='nd-chip' "
            f"data-answer='{answer_id}' data-n='{n}' aria-describedby='nd-a{answer_id}-p{n}'>"
            f"<span class='nd-chip-n'>{n}</span> {esc(name)}</button>"
            f"<span class='nd-preview' role='tooltip' id='nd-a{answer_id}-p{n}'>"
            f"<strong>{esc(first.get('title') or first.get('doc_id'))}</strong>"
            f"<span class='nd-preview-meta'>{meta}</span>"
            f"<q>{esc(quote)}</q></span></span>")
    return f"<div class='nd-strip' aria-label='Sources of this answer'>{''.join(chips)}</div>"


def sources_html(result: dict[str, Any], answer_id: int = 0, articles: dict[str, str] | None = None,
                 filtered: bool = False) -> str:
    """The sources panel for one answer (the JSON contract of `Answer.to_dict()`, as
    renumbered by `renumber`): a strip of outlet chips, one card per article, quotes
    highlighted, each card opening its whole article when `articles` (doc id -> text)
    has it, then the passages that were retrieved but not cited."""
    passages = {int(p["n"]): p for p in result.get("passages", [])}
    by_n: dict[int, list[dict[str, Any]]] = {}
    for citation in result.get("citations", []):
        by_n.setdefault(int(citation["n"]), []).append(citation)
    short = result.get("short_answer") if isinstance(result.get("short_answer"), dict) else None
    question = f"<div class='nd-for'>Sources for <q>{esc(result.get('question', ''))}</q></div>"
    pairs = []
    for n, quotes in sorted(by_n.items()):
        passage = passages.get(n) or {**quotes[0], "text": quotes[0]["quote"],
                                      "start": quotes[0]["start"], "end": quotes[0]["end"]}
        pairs.append((passage, quotes))
    groups = _group(pairs)
    cards = [_article_card(group, answer_id, short, cited=True, articles=articles) for group in groups]
    others = [(p, []) for n, p in sorted(passages.items()) if n not in by_n]
    if result.get("refused"):
        head = ("<div class='nd-refusal'><strong>No source answers this question.</strong> "
                f"{esc(refusal_reason(result, filtered))} Nothing is cited.</div>")
    elif not cards:
        head = "<div class='nd-muted'>This answer cites no passage.</div>"
    else:
        head = _source_strip(groups, answer_id)
    conflicts = conflicts_html(result.get("conflicts") or []) if cards and not result.get("refused") else ""
    extra = ""
    if others:
        label = "Passages that were searched" if result.get("refused") else "Other passages retrieved"
        extra = (f"<details class='nd-others'><summary>{label} ({len(others)})</summary>"
                 + "".join(_article_card([pair], answer_id, None, cited=False) for pair in others)
                 + "</details>")
    timings = result.get("timings_ms") or {}
    foot = ""
    if timings.get("total") is not None:
        foot = (f"<div class='nd-foot'>{esc(result.get('generator', ''))} · "
                f"{plural(len(passages), 'passage')} read · {int(timings['total']):,} ms</div>")
    if int(result.get("not_embedded") or 0) > 0:  # searchable first, embedded next
        foot += (f"<div class='nd-muted nd-not-embedded'>{plural(int(result['not_embedded']), 'article')}"
                 " not embedded yet: found by their words only</div>")
    copy = ""
    if not result.get("refused") and cards:
        copy = (f"<textarea class='nd-copy-text' hidden readonly>{esc(plain_text(result))}</textarea>"
                "<button class='nd-copy' type='button' title='Copy the answer as plain text with "
                "its numbered references'>Copy answer with references</button>")
    if copy and head.startswith("<div class='nd-strip'"):  # one row: chips, then copy
        head, copy = head[:-len("</div>")] + copy + "</div>", ""
    return (f"<div class='nd-sources' data-answer='{answer_id}'>{question}{head}{copy}{conflicts}"
            f"{''.join(cards)}{extra}{foot}</div>")


def notice_html(title: str, message: str, kind: str = "info", question: str | None = None) -> str:
    """A boxed message in the sources panel (kind: info, error, working)."""
    head = f"<div class='nd-for'>For <q>{esc(question)}</q></div>" if question else ""
    return (f"<div class='nd-sources'>{head}<div class='nd-notice nd-{esc(kind)}'>"
            f"<strong>{esc(title)}</strong><div>{message_html(message)}</div></div></div>")


EMPTY_SOURCES = ("<div class='nd-sources'><div class='nd-placeholder'>Ask a question: the "
                 "passages that back each <b>[n]</b> in the answer appear here, with the quoted "
                 "sentence highlighted. Click an earlier answer to see its sources again."
                 "</div></div>")

CSS = """
#nd-chat { flex-grow: 1; }
.nd-sources { display: flex; flex-direction: column; gap: 10px; font-size: 0.95rem; }
.nd-for { color: var(--body-text-color-subdued); font-size: 0.85rem; }
.nd-card { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent);
           border-radius: 8px; padding: 10px 12px; background: var(--background-fill-primary); }
.nd-card.nd-uncited { border-left-color: var(--border-color-primary); opacity: 0.85; margin-top: 8px; }
.nd-card header { display: flex; gap: 8px; align-items: baseline; font-weight: 600; }
.nd-badge { color: var(--color-accent); font-variant-numeric: tabular-nums; white-space: nowrap; }
.nd-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 2px 0 6px 0; }
.nd-meta a { color: var(--link-text-color); }
.nd-passage { margin: 0; padding: 0; border: none; white-space: pre-wrap; line-height: 1.45;
              color: var(--body-text-color-subdued); font-size: 0.9rem; }
.nd-passage mark { background: #fde68a; color: #1f2937; padding: 1px 2px; border-radius: 3px; }
.nd-refusal, .nd-notice { border-radius: 8px; padding: 10px 12px; }
.nd-refusal { background: var(--background-fill-secondary); border: 1px dashed var(--border-color-primary); }
.nd-notice.nd-error { background: #fef2f2; border: 1px solid #fca5a5; color: #7f1d1d; }
.nd-notice.nd-info, .nd-notice.nd-working { background: var(--background-fill-secondary);
                                           border: 1px solid var(--border-color-primary); }
.nd-whole summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.8rem; margin-top: 4px; }
.nd-notice code { background: rgba(0, 0, 0, 0.06); padding: 0 4px; border-radius: 4px; font-size: 0.85em; }
.nd-others summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.85rem; }
.nd-foot, .nd-muted { color: var(--body-text-color-subdued); font-size: 0.8rem; }
.nd-placeholder { color: var(--body-text-color-subdued); padding: 12px; border: 1px dashed
                  var(--border-color-primary); border-radius: 8px; }
.nd-examples-label p { margin: 4px 0 -6px 2px; font-size: 0.85rem; color: var(--body-text-color-subdued); }
.nd-examples button { font-size: 0.85rem !important; }
.nd-header h1 { margin: 4px 0 2px 0; font-size: 1.6rem; }
.nd-header p { margin: 0 0 4px 0; color: var(--body-text-color-subdued); }
.nd-narrow { display: none; }
.nd-overview { font-size: 0.85rem; color: var(--body-text-color-subdued); padding: 6px 10px;
               border: 1px solid var(--border-color-primary); border-radius: 8px;
               background: var(--background-fill-secondary); }
.nd-overview b { color: var(--body-text-color); }
.nd-chips { gap: 6px !important; flex-wrap: wrap; }
.nd-chips button { flex: 0 0 auto !important; border-radius: 999px !important; font-size: 0.8rem !important;
                   padding: 2px 10px !important; background: #e0ecff !important; color: #1e3a8a !important; }
#nd-chat a[href^="#nd-a"], #nd-chat a[href^="#nd-a"] strong { text-decoration: none; cursor: pointer; color: #1e3a8a !important; }
.nd-card { scroll-margin: 12px; transition: box-shadow 0.3s, background 0.3s; }
.nd-card.nd-flash { box-shadow: 0 0 0 3px #f59e0b; background: #fffbeb; }
.nd-card header { flex-wrap: wrap; }
.nd-card header a { color: inherit; }
.nd-qn { color: var(--color-accent); font-weight: 600; font-size: 0.8rem; }
.nd-passage + .nd-passage, .nd-whole + .nd-passage { margin-top: 8px; }
.nd-also { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: -2px 0 6px 0; }
.nd-passage strong.nd-short { font-weight: 700; color: #111827; }
.nd-copy { align-self: flex-start; font-size: 0.8rem; padding: 3px 10px; border-radius: 6px;
           border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
           cursor: pointer; }
#nd-feedback button { white-space: nowrap; }
.toast-item:has(~ .toast-item), .toast-message-item:has(~ .toast-message-item) { display: none !important; }  /* only the newest toast */
@media (max-width: 700px) {
  .nd-wide { display: none; }
  .nd-narrow { display: inline; }
  .nd-header h1 { font-size: 1.3rem; }
  /* the conversation grows with the page, so the newest answer sits right above the
     question box and its source cards, and its top is not scrolled away */
  #nd-chat { height: auto !important; min-height: 160px; overflow: visible !important; }
  #nd-chat .wrapper, #nd-chat .bubble-wrap { height: auto !important; overflow: visible !important; }
  /* the conversation's own bin icon starts a new chat: no second row for the button */
  #nd-clear { display: none !important; }
  /* the sources come right after the question box; feedback and settings after them */
  #nd-feedback, #nd-feedback-status { order: 1; }
  #nd-sources-title { display: none; }
  .nd-sources { gap: 6px; }
  #nd-chat .option { padding: 2px 8px !important; white-space: nowrap; }
  #nd-chat .options { flex-wrap: nowrap !important; overflow-x: auto; justify-content: flex-start !important; }
  .nd-for { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  #nd-settings, #nd-upload, #nd-history { order: 2; }
}
"""

# Third pass: singled-out quotes, outlet chips with previews, the article dialog, readable
# contrast (>= 4.5:1) and a visible focus ring (>= 2 px).
CSS += """
.block .float, label.float, [data-testid="block-info"] { color: #1e3a8a !important; }
body, .gradio-container { --color-accent: #1d4ed8 !important; --button-primary-background-fill: #1d4ed8 !important;
  --button-primary-background-fill-hover: #1e40af !important; --button-primary-text-color: #ffffff !important; }
.nd-badge, .nd-qn { color: #1d4ed8; }
:root, .gradio-container { --body-text-color-subdued: #4b5563; --input-placeholder-color: #4b5563;
                           --block-info-text-color: #4b5563; }
:focus-visible, .nd-chip:focus, .nd-read:focus, #nd-chat a:focus {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px !important; }
input:focus-visible, textarea:focus-visible { outline: 3px solid #1d4ed8 !important; }
.nd-passage mark.nd-on, .nd-article-text mark.nd-on { background: #f59e0b; color: #111827;
                                                      box-shadow: 0 0 0 2px #b45309; }
.nd-passage mark.nd-dim { background: #f3f4f6; color: #374151; }
.nd-strip { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.nd-strip .nd-copy { margin-left: auto; }
.nd-chipwrap { position: relative; }
.nd-chip { border: 1px solid #93c5fd; background: #eff6ff; color: #1e3a8a; border-radius: 999px;
           padding: 3px 10px; font-size: 0.85rem; cursor: pointer; }
.nd-chip-n { font-weight: 700; font-variant-numeric: tabular-nums; }
.nd-preview, #nd-pop { display: none; position: absolute; z-index: 50; left: 0; top: calc(100% + 6px);
  width: min(320px, 80vw); background: #ffffff; color: #111827; border: 1px solid #9ca3af;
  border-radius: 8px; padding: 8px 10px; box-shadow: 0 6px 18px rgba(0,0,0,0.15); font-size: 0.85rem;
  line-height: 1.4; font-family: var(--font, inherit); }
.nd-chipwrap:hover .nd-preview, .nd-chipwrap:focus-within .nd-preview,
.nd-chipwrap.nd-open .nd-preview { display: block; }
.nd-preview strong, #nd-pop b, .nd-preview-meta { display: block; }
.nd-preview-meta { color: #4b5563; margin: 2px 0 4px 0; }
#nd-pop { display: block; position: absolute; }
#nd-pop[hidden] { display: none; }
.nd-read { align-self: flex-start; margin-top: 8px; font-size: 0.85rem; padding: 3px 10px;
           border-radius: 6px; border: 1px solid #6b7280; background: #ffffff; color: #1f2937; cursor: pointer; }
dialog.nd-article { width: min(760px, 94vw); max-height: 86vh; border: 1px solid #9ca3af;
                    border-radius: 10px; padding: 16px 20px; color: #111827; background: #ffffff; }
dialog.nd-article::backdrop { background: rgba(17, 24, 39, 0.45); }
dialog.nd-article header { display: flex; justify-content: space-between; gap: 12px; align-items: start; }
dialog.nd-article h2 { font-size: 1.2rem; margin: 0; }
.nd-close { border: none; background: none; font-size: 1.2rem; cursor: pointer; color: #1f2937; }
.nd-article-text { white-space: pre-wrap; line-height: 1.55; margin-top: 10px; }
.nd-article-text mark { background: #fde68a; color: #111827; padding: 1px 2px; border-radius: 3px; }
.nd-refusal .nd-muted { display: block; margin-top: 4px; }
.nd-dates { flex-wrap: wrap !important; gap: 8px !important; }
.nd-dates > * { min-width: 150px !important; flex: 1 1 150px !important; }
.nd-dates .timebox, #nd-as-of .timebox { display: flex; gap: 4px; }
.nd-dates input, #nd-as-of input { min-width: 0; flex: 1 1 auto; }
#nd-chat .options { display: flex !important; flex-wrap: wrap; gap: 6px; margin-top: 4px; }
#nd-chat .option { padding: 4px 10px !important; min-height: 0 !important; font-size: 0.85rem;
                   flex: 0 1 auto !important; width: auto !important; margin: 0 !important; }
.nd-followups { display: flex; flex-wrap: wrap; gap: 6px; }
.nd-followups button { font-size: 0.85rem !important; }
#nd-history-box { font-size: 0.9rem; }
.nd-hist-item { display: flex; gap: 6px; align-items: center; justify-content: space-between;
                padding: 2px 0; }
.nd-hist-open { flex: 1; text-align: left; background: none; border: none; color: #1e3a8a;
                cursor: pointer; padding: 4px; font-size: 0.9rem; }
.nd-hist-del { background: none; border: 1px solid #9ca3af; border-radius: 6px; cursor: pointer;
               color: #7f1d1d; font-size: 0.8rem; padding: 2px 8px; }
"""


def overview_html(facts: Any) -> str:
    """The corpus overview above the conversation: articles, outlets, date range and
    when the store last changed (facts: ui.app.CorpusFacts)."""
    if not facts.articles:
        return ("<div class='nd-overview nd-empty'>No articles are indexed yet: add some with "
                "“Add articles” or <code>rag ingest FOLDER</code>.</div>")
    outlets = facts.sources
    shown = ", ".join(outlets[:4]) + (f" and {len(outlets) - 4} more" if len(outlets) > 4 else "")
    span = ""
    if facts.first_date:
        span = (facts.first_date if facts.first_date == facts.last_date
                else f"{facts.first_date} – {facts.last_date}")
    items = [f"<span class='nd-fact' data-fact='articles'><b>{facts.articles:,}</b> "
             f"article{'s' if facts.articles != 1 else ''}</span>",
             f"<span class='nd-fact' data-fact='outlets' title='{esc(', '.join(outlets))}'>"
             f"<b>{len(outlets):,}</b> outlet{'s' if len(outlets) != 1 else ''}"
             f"{': ' + esc(shown) if shown else ''}</span>"]
    if span:
        items.append(f"<span class='nd-fact' data-fact='dates'>{esc(span)}</span>")
    if facts.updated:
        items.append(f"<span class='nd-fact' data-fact='updated'>updated {esc(facts.updated)}</span>")
    return f"<div class='nd-overview'>{' · '.join(items)}</div>"


# Page script: [n] markers in the chat single out their quote (highlight it, dim the
# others, scroll to it) and preview their source on hover or focus; outlet chips preview
# on hover, focus and tap; "Read the whole article" opens the article dialog; the copy
# button puts the plain-text answer with references on the clipboard.
PAGE_JS = """<script>
(() => {
  const panel = () => document.querySelector('#nd-sources-box');
  const cardFor = (answer, n) => document.querySelector(
    `#nd-sources-box .nd-sources[data-answer="${answer}"] .nd-card[data-ns~="${n}"]`);
  const single = (answer, n) => {
    const card = cardFor(answer, n);
    if (!card) return false;
    const others = card.closest('details');
    if (others) others.open = true;
    const box = panel();
    box.querySelectorAll('mark').forEach((m) => {
      const mine = card.contains(m) && (m.dataset.n || '').split(' ').includes(String(n));
      m.classList.toggle('nd-on', mine); m.classList.toggle('nd-dim', !mine);
    });
    box.querySelectorAll('.nd-card').forEach((c) => c.classList.remove('nd-flash'));
    void card.offsetWidth; card.classList.add('nd-flash');
    const quote = [...card.querySelectorAll('mark.nd-on')].find((x) => x.getClientRects().length) || card;
    // centre the quote in the panel's own scroll box; move the page only as far as needed
    let box2 = quote.parentElement;
    while (box2 && box2 !== document.body && !(box2.scrollHeight > box2.clientHeight + 1 &&
           /(auto|scroll)/.test(getComputedStyle(box2).overflowY))) box2 = box2.parentElement;
    if (box2 && box2 !== document.body) {
      const top = quote.getBoundingClientRect().top - box2.getBoundingClientRect().top + box2.scrollTop;
      box2.scrollTo({top: Math.max(0, top - box2.clientHeight / 2 + quote.offsetHeight / 2), behavior: 'smooth'});
      const r = box2.getBoundingClientRect();
      if (r.top < 0 || r.bottom > window.innerHeight) box2.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    } else {
      quote.scrollIntoView({behavior: 'smooth', block: 'center'});
    }
    setTimeout(() => card.classList.remove('nd-flash'), 4000);
    return true;
  };
  const pop = () => {
    let el = document.getElementById('nd-pop');
    if (!el) {
      el = document.createElement('div'); el.id = 'nd-pop'; el.setAttribute('role', 'tooltip');
      document.body.appendChild(el);
    }
    return el;
  };
  const hidePop = () => { const el = document.getElementById('nd-pop'); if (el) el.hidden = true; };
  const showPop = (link) => {
    const m = (link.getAttribute('href') || '').match(/^#nd-a(\\d+)-s(\\d+)$/);
    if (!m) return;
    if (link.title) { link.dataset.quote = link.title; link.removeAttribute('title'); }
    const card = cardFor(m[1], m[2]);
    const el = pop(); el.textContent = '';
    const add = (tag, text, cls) => { if (!text) return; const x = document.createElement(tag);
      x.textContent = text; if (cls) x.className = cls; el.appendChild(x); };
    let quote = link.dataset.quote || '';
    if (card) {
      add('b', card.dataset.title);
      add('span', [card.dataset.source, card.dataset.date].filter(Boolean).join(' · '), 'nd-preview-meta');
      const marks = [...card.querySelectorAll('mark')].filter(
        (x) => (x.dataset.n || '').split(' ').includes(m[2]));
      if (marks.length) quote = [...new Set(marks.map((x) => x.textContent.trim()))].join(' … ');
    }
    add('q', quote);
    const r = link.getBoundingClientRect();
    el.hidden = false;
    const w = Math.min(360, window.innerWidth - 16);
    el.style.width = w + 'px';
    el.style.left = Math.max(8, Math.min(window.scrollX + r.left, window.scrollX + window.innerWidth - w - 8)) + 'px';
    el.style.top = (window.scrollY + r.bottom + 6) + 'px';
  };
  const markerOf = (t) => t instanceof Element ? t.closest('#nd-chat a[href^="#nd-a"]') : null;
  document.addEventListener('mouseover', (e) => { const l = markerOf(e.target); if (l) showPop(l); });
  document.addEventListener('mouseout', (e) => { if (markerOf(e.target)) hidePop(); });
  document.addEventListener('focusin', (e) => { const l = markerOf(e.target); if (l) showPop(l); });
  document.addEventListener('focusout', (e) => { if (markerOf(e.target)) hidePop(); });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') hidePop(); });
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const link = markerOf(target);
    if (link) {
      event.preventDefault();
      const m = link.getAttribute('href').match(/^#nd-a(\\d+)-s(\\d+)$/);
      if (!m) return;
      showPop(link);
      let tries = 0;
      const look = () => { if (!single(m[1], m[2]) && tries++ < 60) setTimeout(look, 50); };
      look();
      return;
    }
    if (!target.closest('#nd-pop')) hidePop();
    const chip = target.closest('.nd-chip');
    document.querySelectorAll('.nd-chipwrap.nd-open').forEach((w) => {
      if (!chip || !w.contains(chip)) w.classList.remove('nd-open'); });
    if (chip) {
      chip.closest('.nd-chipwrap').classList.toggle('nd-open');
      single(chip.dataset.answer, chip.dataset.n);
      return;
    }
    const read = target.closest('.nd-read');
    if (read) {
      const dialog = document.getElementById(read.dataset.dialog);
      if (dialog) {
        dialog.showModal();
        const first = dialog.querySelector('mark');
        if (first) first.scrollIntoView({block: 'center'});
      }
      return;
    }
    const close = target.closest('.nd-article .nd-close');
    if (close) { close.closest('dialog').close(); return; }
    if (target.matches('dialog.nd-article')) { target.close(); return; }  // the backdrop
    const button = target.closest('.nd-copy');
    if (button) {
      const text = button.closest('.nd-sources').querySelector('.nd-copy-text').value;
      const done = () => { button.textContent = 'Copied ✓';
                           setTimeout(() => button.textContent = 'Copy answer with references', 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        const area = document.createElement('textarea');
        area.value = text; document.body.appendChild(area); area.select();
        document.execCommand('copy'); area.remove(); done();
      }
    }
  }, true);
})();
</script>"""


# Page script, part two: past conversations kept in this browser's localStorage (list,
# open, delete; nothing is sent anywhere until a conversation is opened, which hands it
# back to this page's own server), labels for inputs Gradio leaves unnamed, and date
# pickers that open on the newest article's month.
HISTORY_KEY = "newsdesk.conversations"
PAGE_JS += """<script>
(() => {
  const KEY = '""" + HISTORY_KEY + """', LIMIT = 30;
  const unescape = (s) => String(s || '').replace(/\\\\(.)/g, '$1');
  const load = () => { try { const v = JSON.parse(localStorage.getItem(KEY) || '[]');
                             return Array.isArray(v) ? v : []; } catch (e) { return []; } };
  const store = (list) => { try { localStorage.setItem(KEY, JSON.stringify(list.slice(0, LIMIT))); }
                            catch (e) { /* storage full or off: nothing kept */ } };
  const render = () => {
    const box = document.querySelector('#nd-history-box .nd-history');
    if (!box) return;
    const list = load();
    box.textContent = '';
    if (!list.length) {
      const p = document.createElement('p'); p.className = 'nd-muted';
      p.textContent = 'No past conversations yet: they are kept here, in this browser only.';
      box.appendChild(p); return;
    }
    const ul = document.createElement('ul'); ul.className = 'nd-hist-list';
    for (const item of list) {
      const li = document.createElement('li'); li.className = 'nd-hist-item'; li.dataset.id = item.id;
      const open = document.createElement('button'); open.type = 'button'; open.className = 'nd-hist-open';
      open.textContent = item.title + ' (' + new Date(item.time).toLocaleString() + ')';
      open.addEventListener('click', () => window.ndHistory.open(item.id));
      const del = document.createElement('button'); del.type = 'button'; del.className = 'nd-hist-del';
      del.textContent = 'Delete'; del.setAttribute('aria-label', 'Delete the conversation ' + item.title);
      del.addEventListener('click', () => window.ndHistory.remove(item.id));
      li.append(open, del); ul.appendChild(li);
    }
    box.appendChild(ul);
  };
  window.ndHistory = {
    load, render,
    save(text) {
      let kept; try { kept = JSON.parse(text || 'null'); } catch (e) { return; }
      if (!kept || !kept.id || !Array.isArray(kept.messages) || !kept.messages.length) return;
      const first = kept.messages.find((m) => m.role === 'user');
      const item = {id: kept.id, title: unescape(first ? first.content : 'Conversation').slice(0, 80),
                    time: Date.now(), messages: kept.messages, history: kept.history || []};
      store([item, ...load().filter((x) => x.id !== kept.id)]);
      render();
    },
    remove(id) { store(load().filter((x) => x.id !== id)); render(); },
    open(id) {
      const item = load().find((x) => x.id === id);
      const box = document.querySelector('#nd-restore textarea, #nd-restore input');
      const button = document.querySelector('#nd-restore-button');
      if (!item || !box || !button) return;
      box.value = JSON.stringify(item);
      box.dispatchEvent(new Event('input', {bubbles: true}));
      setTimeout(() => button.click(), 50);
    },
  };
  const label = () => {
    document.querySelectorAll('input:not([type=hidden]):not([aria-label]), textarea:not([aria-label])').forEach((el) => {
      if (el.labels && el.labels.length && el.labels[0].textContent.trim()) return;
      const block = el.closest('.block');
      const info = block && block.querySelector('[data-testid="block-info"]');
      const name = (info && info.textContent.trim()) || el.getAttribute('placeholder');
      if (name) el.setAttribute('aria-label', name);
    });
    document.querySelectorAll('button.calendar:not([aria-label])').forEach((b) => {
      const info = b.closest('.block') && b.closest('.block').querySelector('[data-testid="block-info"]');
      b.setAttribute('aria-label', 'Choose a date' + (info ? ': ' + info.textContent.trim() : ''));
    });
    render();
  };
  new MutationObserver(() => { clearTimeout(window.__ndLabel); window.__ndLabel = setTimeout(label, 100); })
    .observe(document.documentElement, {childList: true, subtree: true});
  // "Copy message" beside an answer: the plain text (with its numbered references when
  // its sources are shown), not the Markdown the chat holds
  document.addEventListener('click', (event) => {
    const btn = event.target instanceof Element ? event.target.closest('#nd-chat button[aria-label="Copy message"]') : null;
    if (!btn) return;
    let scope = btn.parentElement;
    while (scope && !scope.querySelector('[data-testid="bot"], [data-testid="user"]')) scope = scope.parentElement;
    if (!scope) return;
    const before = [...scope.querySelectorAll('[data-testid="bot"], [data-testid="user"]')].filter(
      (m) => m.compareDocumentPosition(btn) & Node.DOCUMENT_POSITION_FOLLOWING);
    const message = before[before.length - 1];
    if (!message) return;
    event.stopPropagation(); event.preventDefault();
    let text = (message.querySelector('.message-content') || message).innerText.trim();
    const marker = message.querySelector('a[href^="#nd-a"]');
    const id = marker && (marker.getAttribute('href').match(/^#nd-a(\\d+)-/) || [])[1];
    const full = id && document.querySelector(`#nd-sources-box .nd-sources[data-answer="${id}"] .nd-copy-text`);
    if (full) text = full.value;
    const done = () => { btn.setAttribute('title', 'Copied'); setTimeout(() => btn.setAttribute('title', 'Copy message'), 2000); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done);
    else { const a = document.createElement('textarea'); a.value = text; document.body.appendChild(a);
           a.select(); document.execCommand('copy'); a.remove(); done(); }
  }, true);
  const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august',
                  'september', 'october', 'november', 'december'];
  document.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button.calendar') : null;
    if (!button) return;
    const block = button.closest('.block');
    const input = block && block.querySelector('input.time');
    const day = (document.querySelector('#nd-newest-day') || {dataset: {}}).dataset.day;
    if (!input || input.value || !day) return;
    const [year, month] = day.split('-').map(Number);
    let tries = 0;
    const step = () => {
      const shown = [...document.querySelectorAll('.month-year')].find((x) => x.getClientRects().length);
      if (!shown) { if (tries++ < 40) setTimeout(step, 25); return; }
      const [name, y] = shown.textContent.trim().toLowerCase().split(/\\s+/);
      const diff = (year - Number(y)) * 12 + (month - 1 - MONTHS.indexOf(name));
      if (!diff || tries++ > 400) return;
      const navs = shown.parentElement.querySelectorAll('.nav-button');
      const nav = diff < 0 ? navs[0] : navs[navs.length - 1];
      for (let i = 0; i < Math.abs(diff); i++) nav.click();
      setTimeout(step, 20);
    };
    setTimeout(step, 30);
  }, true);
})();
</script>"""
