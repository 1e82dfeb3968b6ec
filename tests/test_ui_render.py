"""What the chat page shows for an answer: escaped article text, highlighted quotes."""

from __future__ import annotations

import re

from ui.render import answer_markdown, highlight, md_text, safe_url, sources_html

HOSTILE = "<script>window.pwned=1</script> Lavrov <img src=x onerror=alert(1)> demanded a written reply."
QUOTE = "Lavrov <img src=x onerror=alert(1)> demanded a written reply."


def hostile_result(**changes) -> dict:
    start = HOSTILE.index(QUOTE)
    result = {
        "question": "What did <b>Lavrov</b> demand?", "answer": f"{QUOTE} [1]", "refused": False,
        "citations": [{"n": 1, "doc_id": "evil", "title": "<script>alert('t')</script>Talks",
                       "date": "2022-01-21", "source": "<i>Wire</i>", "url": "javascript:alert(1)",
                       "quote": QUOTE, "start": 100 + start, "end": 100 + start + len(QUOTE)}],
        "passages": [{"n": 1, "doc_id": "evil", "title": "<script>alert('t')</script>Talks",
                      "date": "2022-01-21", "source": "<i>Wire</i>", "url": "javascript:alert(1)",
                      "start": 100, "end": 100 + len(HOSTILE), "text": HOSTILE}],
        "generator": "extractive", "timings_ms": {"total": 12}}
    result.update(changes)
    return result


def test_sources_panel_escapes_every_article_field():
    html = sources_html(hostile_result())

    assert "<script" not in html and "<img" not in html and "<i>" not in html and "<b>" not in html
    assert "javascript:" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html


def test_sources_panel_highlights_exactly_the_cited_quote():
    html = sources_html(hostile_result())

    marked = re.findall(r"<mark>(.*?)</mark>", html)
    assert marked == ["Lavrov &lt;img src=x onerror=alert(1)&gt; demanded a written reply."]


def test_sources_panel_links_only_http_urls():
    passage = hostile_result()["passages"][0] | {"url": "https://example.org/a?b=1&c=<2>"}
    html = sources_html(hostile_result(passages=[passage]))

    assert "href='https://example.org/a?b=1&amp;c=&lt;2&gt;'" in html
    assert "rel='noopener noreferrer nofollow'" in html
    assert safe_url("data:text/html,hi") is None and safe_url("//evil.example") is None


def test_refusal_panel_says_no_source_answers_and_cites_nothing():
    html = sources_html(hostile_result(refused=True, citations=[]))

    assert "No source answers this question" in html
    assert "<mark>" not in html
    assert "Passages that were searched (1)" in html


def test_overlapping_quotes_are_merged_into_one_highlight():
    assert highlight("abcdefgh", [(1, 4), (3, 6), (7, 20)]) == "a<mark>bcdef</mark>g<mark>h</mark>"


def test_chat_text_cannot_become_markup():
    shown = md_text("![x](http://evil.example/x.png) <script>alert(1)</script> *bold*\n# title")

    assert "\\!\\[x\\]\\(" in shown and "\\<script\\>" in shown and "\\*bold\\*" in shown
    assert "\n\\# title" in shown


def test_answer_markers_are_kept_and_shown_in_bold():
    assert answer_markdown("He asked [1]. Then [2].") == "He asked **\\[1\\]**. Then **\\[2\\]**."
