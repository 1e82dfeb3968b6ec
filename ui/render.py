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

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~<>&$:@])")  # ":" "@": no autolinked URLs or emails
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)  # "www.x.org" autolinks too
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+\.)", re.MULTILINE)
_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")
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


def answer_markdown(answer_text: str) -> str:
    """An answer for the chat: literal text with its [n] markers in bold."""
    return _MARKER.sub(r"**\\[\1\\]**", md_text(answer_text))


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


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` HTML-escaped, with the given (start, end) ranges wrapped in <mark>.

    Ranges are character offsets into `text`; overlapping or touching ranges are merged
    and ranges outside the text are clipped or dropped.
    """
    merged: list[_Span] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1].end:
            merged[-1] = _Span(merged[-1].start, max(merged[-1].end, end))
        else:
            merged.append(_Span(start, end))
    out, position = [], 0
    for span in merged:
        out.append(esc(text[position:span.start]))
        out.append(f"<mark>{esc(text[span.start:span.end])}</mark>")
        position = span.end
    out.append(esc(text[position:]))
    return "".join(out)


def _meta_line(item: dict[str, Any]) -> str:
    parts = [f"<span class='nd-date'>{esc(item['date'])}</span>" if item.get("date") else "",
             f"<span class='nd-source-name'>{esc(item['source'])}</span>" if item.get("source") else ""]
    url = safe_url(item.get("url"))
    if url:
        parts.append(f"<a href='{esc(url)}' target='_blank' rel='noopener noreferrer nofollow'>"
                     "original article ↗</a>")
    shown = [p for p in parts if p]
    return " · ".join(shown) if shown else "<span class='nd-muted'>no date or source recorded</span>"


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


def _card(passage: dict[str, Any], quotes: list[dict[str, Any]], cited: bool,
          context: int = CONTEXT_CHARS) -> str:
    text = passage.get("text", "")
    spans = [(q["start"] - passage["start"], q["end"] - passage["start"]) for q in quotes]
    start, end = _window(text, spans, context)
    shown = [(s - start, e - start) for s, e in spans]
    body = ("… " if start > 0 else "") + highlight(text[start:end], shown) + (" …" if end < len(text) else "")
    whole = ""
    if start > 0 or end < len(text):
        whole = (f"<details class='nd-whole'><summary>Whole passage</summary>"
                 f"<div class='nd-passage'>{highlight(text, spans)}</div></details>")
    n = int(passage["n"])
    kind = "nd-card" if cited else "nd-card nd-uncited"
    return (f"<article class='{kind}' id='nd-src-{n}' data-n='{n}'>"
            f"<header><span class='nd-badge'>[{n}]</span>"
            f"<span class='nd-title'>{esc(passage.get('title') or passage.get('doc_id'))}</span></header>"
            f"<div class='nd-meta'>{_meta_line(passage)}</div>"
            f"<blockquote class='nd-passage'>{body}</blockquote>{whole}</article>")


def sources_html(result: dict[str, Any]) -> str:
    """The sources panel for one answer (the JSON contract of `Answer.to_dict()`)."""
    passages = {int(p["n"]): p for p in result.get("passages", [])}
    by_n: dict[int, list[dict[str, Any]]] = {}
    for citation in result.get("citations", []):
        by_n.setdefault(int(citation["n"]), []).append(citation)
    question = f"<div class='nd-for'>Sources for <q>{esc(result.get('question', ''))}</q></div>"
    cards = []
    for n, quotes in sorted(by_n.items()):
        passage = passages.get(n) or {**quotes[0], "text": quotes[0]["quote"],
                                      "start": quotes[0]["start"], "end": quotes[0]["end"]}
        cards.append(_card(passage, quotes, cited=True))
    others = [p for n, p in sorted(passages.items()) if n not in by_n]
    if result.get("refused"):
        head = ("<div class='nd-refusal'><strong>No source answers this question.</strong> "
                "None of the passages found says it, so nothing is cited.</div>")
    elif not cards:
        head = "<div class='nd-muted'>This answer cites no passage.</div>"
    else:
        head = ""
    extra = ""
    if others:
        label = "Passages that were searched" if result.get("refused") else "Other passages retrieved"
        extra = (f"<details class='nd-others'><summary>{label} ({len(others)})</summary>"
                 + "".join(_card(p, [], cited=False) for p in others) + "</details>")
    timings = result.get("timings_ms") or {}
    foot = ""
    if timings.get("total") is not None:
        foot = (f"<div class='nd-foot'>{esc(result.get('generator', ''))} · "
                f"{len(passages)} passages · {int(timings['total'])} ms</div>")
    return f"<div class='nd-sources'>{question}{head}{''.join(cards)}{extra}{foot}</div>"


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
.nd-header h1 { margin: 0 0 2px 0; font-size: 1.6rem; }
.nd-header p { margin: 0; color: var(--body-text-color-subdued); }
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
"""
