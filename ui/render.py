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
              strong: tuple[int, int] | None = None) -> str:
    """`text` HTML-escaped, with the given (start, end) ranges wrapped in <mark> and the
    `strong` range (the short answer) in <strong>.

    Ranges are character offsets into `text`; overlapping or touching ranges are merged
    and ranges outside the text are clipped or dropped.
    """
    def clip(s: int, e: int) -> tuple[int, int]:
        return max(0, s), min(len(text), e)

    marks = [clip(s, e) for s, e in spans]
    marks = [(s, e) for s, e in marks if e > s]
    bold = [clip(*strong)] if strong and clip(*strong)[1] > clip(*strong)[0] else []
    cuts = sorted({0, len(text), *(x for r in marks + bold for x in r)})
    pieces: list[tuple[tuple[bool, bool], str]] = []
    for a, b in zip(cuts, cuts[1:]):
        flags = (any(s <= a and b <= e for s, e in marks), any(s <= a and b <= e for s, e in bold))
        if pieces and pieces[-1][0] == flags:
            pieces[-1] = (flags, pieces[-1][1] + text[a:b])
        else:
            pieces.append((flags, text[a:b]))
    out = []
    for i, ((marked, strong_), piece) in enumerate(pieces):
        inner = f"<strong class='nd-short'>{esc(piece)}</strong>" if strong_ else esc(piece)
        opens = marked and not (i > 0 and pieces[i - 1][0][0])
        closes = marked and not (i + 1 < len(pieces) and pieces[i + 1][0][0])
        out.append(("<mark>" if opens else "") + inner + ("</mark>" if closes else ""))
    return "".join(out)


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
    body = ("… " if start > 0 else "") + highlight(text[start:end], shown, bold) + \
        (" …" if end < len(text) else "")
    whole = ""
    if start > 0 or end < len(text):
        whole = (f"<details class='nd-whole'><summary>Whole passage</summary>"
                 f"<div class='nd-passage'>{highlight(text, spans, strong)}</div></details>")
    numbers = "".join(f"<span class='nd-qn'>[{n}]</span>"
                      for n in sorted({int(q["n"]) for q in quotes} or {int(passage["n"])}))
    return f"<blockquote class='nd-passage'>{numbers} {body}</blockquote>{whole}"


def _article_card(group: list[tuple[dict[str, Any], list[dict[str, Any]]]], answer_id: int,
                  short: dict[str, Any] | None, cited: bool) -> str:
    """One card for one article: its numbers, title (a link when it has a url), outlet,
    date, where else it ran, and each cited passage with its quotes highlighted."""
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
    ident = f"nd-a{answer_id}-s{numbers[0]}"
    return (f"<article class='{kind}' id='{ident}' data-answer='{answer_id}' "
            f"data-ns='{' '.join(map(str, numbers))}'>"
            f"<header>{badges}<span class='nd-title'>{title}</span></header>"
            f"<div class='nd-meta'>{_meta_line(first)}</div>"
            f"{_also_in([p for p, _ in group] + quotes_all)}{excerpts}</article>")


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


def sources_html(result: dict[str, Any], answer_id: int = 0) -> str:
    """The sources panel for one answer (the JSON contract of `Answer.to_dict()`, as
    renumbered by `renumber`): one card per article, quotes highlighted, then the
    passages that were retrieved but not cited."""
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
    cards = [_article_card(group, answer_id, short, cited=True) for group in _group(pairs)]
    others = [(p, []) for n, p in sorted(passages.items()) if n not in by_n]
    if result.get("refused"):
        head = ("<div class='nd-refusal'><strong>No source answers this question.</strong> "
                "None of the passages found says it, so nothing is cited.</div>")
    elif not cards:
        head = "<div class='nd-muted'>This answer cites no passage.</div>"
    else:
        head = conflicts_html(result.get("conflicts") or [])
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
                f"{len(passages)} passages · {int(timings['total'])} ms</div>")
    copy = ""
    if not result.get("refused") and cards:
        copy = (f"<textarea class='nd-copy-text' hidden readonly>{esc(plain_text(result))}</textarea>"
                "<button class='nd-copy' type='button' title='Copy the answer as plain text with "
                "its numbered references'>Copy answer with references</button>")
    return (f"<div class='nd-sources' data-answer='{answer_id}'>{question}{head}{copy}"
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
#nd-chat a[href^="#nd-a"], #nd-chat a[href^="#nd-a"] strong { text-decoration: none; cursor: pointer; color: var(--color-accent); }
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
}
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


# Page script: [n] markers in the chat scroll to and flash their source card; the copy
# button puts the plain-text answer with references on the clipboard.
PAGE_JS = """<script>
(() => {
  const flash = (card) => {
    const others = card.closest('details');
    if (others) others.open = true;
    card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    card.classList.remove('nd-flash'); void card.offsetWidth; card.classList.add('nd-flash');
    setTimeout(() => card.classList.remove('nd-flash'), 4000);
  };
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const link = target.closest('a[href^="#nd-a"]');
    if (link) {
      event.preventDefault();
      const m = link.getAttribute('href').match(/^#nd-a(\\d+)-s(\\d+)$/);
      if (!m) return;
      let tries = 0;
      const look = () => {
        const card = document.querySelector(
          `#nd-sources-box .nd-sources[data-answer="${m[1]}"] .nd-card[data-ns~="${m[2]}"]`);
        if (card) return flash(card);
        if (tries++ < 60) setTimeout(look, 50);
      };
      look();
      return;
    }
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
