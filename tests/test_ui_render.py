"""What the chat page shows for an answer: escaped article text, highlighted quotes."""

from __future__ import annotations

import re

from ui.render import (answer_markdown, highlight, human_bytes, md_text, plain_text, renumber,
                       safe_url, sources_html)

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

    marked = re.findall(r"<mark[^>]*>(.*?)</mark>", html)
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


TWO = {"question": "q", "answer": "Second fact. [2] First fact. [1]", "refused": False,
       "citations": [{"n": 1, "doc_id": "a", "title": "A", "date": "2022-01-21", "source": "Reuters",
                      "url": None, "quote": "First fact.", "start": 0, "end": 11},
                     {"n": 2, "doc_id": "a", "title": "A", "date": "2022-01-21", "source": "Reuters",
                      "url": "https://example.org/a", "quote": "Second fact.", "start": 12, "end": 24,
                      "copies": [{"doc_id": "b", "title": "A", "source": "AP", "date": "2022-01-21",
                                  "url": None}]}],
       "passages": [{"n": 1, "doc_id": "a", "title": "A", "date": "2022-01-21", "source": "Reuters",
                     "url": "https://example.org/a", "start": 0, "end": 24,
                     "text": "First fact. Second fact."},
                    {"n": 2, "doc_id": "a", "title": "A", "date": "2022-01-21", "source": "Reuters",
                     "url": "https://example.org/a", "start": 12, "end": 24, "text": "Second fact."},
                    {"n": 3, "doc_id": "c", "title": "C", "start": 0, "end": 5, "text": "Other"}],
       "short_answer": {"text": "Second", "n": 2, "start": 12, "end": 18},
       "generator": "extractive"}


def test_citations_are_renumbered_in_order_of_appearance_everywhere():
    shown = renumber(TWO)

    assert shown["answer"] == "Second fact. [1] First fact. [2]"
    assert [(c["n"], c["quote"]) for c in shown["citations"]] == [(1, "Second fact."), (2, "First fact.")]
    assert [p["n"] for p in shown["passages"]] == [1, 2, 3] and shown["passages"][2]["doc_id"] == "c"
    assert shown["short_answer"]["n"] == 1
    assert TWO["answer"] == "Second fact. [2] First fact. [1]"  # the contract is left alone


def test_quotes_from_one_article_share_one_card_with_outlet_link_and_copies():
    html = sources_html(renumber(TWO), answer_id=7)

    cited = re.findall(r"<article class='nd-card' id='nd-a7-s1' data-answer='7' data-ns='([^']*)'", html)
    assert cited == ["1 2"]
    assert html.count("<article class='nd-card'") == 1
    assert "href='https://example.org/a'" in html and "Reuters" in html
    assert "Also in: AP" in html


def test_short_answer_is_bold_in_the_answer_and_in_its_quote():
    shown = renumber(TWO)

    assert answer_markdown(shown["answer"], short_answer="Second").startswith("**Second** fact.")
    assert re.search(r"<mark[^>]*><strong class='nd-short'>Second</strong> fact.</mark>", sources_html(shown))


def test_markers_link_to_their_card_with_the_quote_as_hover_text():
    text = answer_markdown("Said \"no\". [1]", {1: 'Said "no".'}, None, answer_id=4)

    assert text.endswith('[**\\[1\\]**](#nd-a4-s1 "Said \\"no\\".")')


def test_copy_text_is_plain_with_a_numbered_reference_list():
    text = plain_text(renumber(TWO))

    assert text == ("Second fact. [1] First fact. [2]\n\nReferences\n"
                    "[1] A, Reuters, 2022-01-21. https://example.org/a\n"
                    "[2] A, Reuters, 2022-01-21")


def test_upload_limit_reads_in_the_units_of_the_upload_message():
    assert human_bytes(2_000_000) == "1.9 MB" and human_bytes(5_000_000) == "4.8 MB"


def test_time_interpretation_becomes_a_chip():
    from ui.app import _chip_updates

    *_, time_chip = _chip_updates(None, None, None, None, {
        "expression": "last week", "date_from": "2022-01-14", "date_to": "2022-01-21"})

    assert time_chip["visible"] is True
    assert time_chip["value"] == "Time: last week (2022-01-14 – 2022-01-21) ✕"
