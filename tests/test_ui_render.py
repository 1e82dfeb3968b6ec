"""What the chat page shows for an answer: escaped article text, highlighted quotes."""

from __future__ import annotations

import re

import pytest

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


def test_time_interpretation_becomes_a_chip_naming_the_time():
    from ui.app import _chip_updates

    *_, time_chip = _chip_updates(None, None, None, None, {
        "expression": "last week", "date_from": "2022-01-14", "date_to": "2022-01-21"})

    assert time_chip["visible"] is True
    assert time_chip["value"] == "Time: 14 January 2022 – 21 January 2022 ✕"


@pytest.mark.parametrize("info, name", [
    ({"expression": "in June 2024", "date_from": "2024-06-01", "date_to": "2024-06-30"}, "June 2024"),
    ({"expression": "How did the talks unfold", "date_from": None, "date_to": None,
      "order": "chronological"}, "timeline"),
    ({"expression": "latest", "date_from": None, "date_to": None, "order": "newest"}, "latest"),
    ({"expression": "on 3 June 2024", "date_from": "2024-06-03", "date_to": "2024-06-03"}, "3 June 2024"),
    ({"expression": None, "date_from": None, "date_to": None, "order": "relevance"}, None)])
def test_time_chip_names_the_time_not_the_question(info, name):
    from ui.app import time_name

    assert time_name(info) == name


def test_counts_have_correct_plurals():
    from ui.app import _upload_markdown
    from ui.uploads import UploadResult

    one = sources_html(hostile_result())
    assert "1 passage read" in one and "1 passages" not in one
    added = _upload_markdown(UploadResult(added=["Talks end — https://example.org/a"]))
    assert added.startswith("**Added 1 article:**") and "(s)" not in added


@pytest.mark.parametrize("outcome, words", [
    ("refused-not-relevant", "about something else"),
    ("refused-by-evidence", "no sentence in them answers"),
    ("refused-no-passages", "No article matched")])
def test_refusal_names_its_real_cause_and_the_filter_only_when_it_can_be_it(outcome, words):
    from ui.render import FILTER_HINT

    html = sources_html(hostile_result(refused=True, citations=[], outcome=outcome))
    assert words in html and FILTER_HINT not in html
    filtered = sources_html(hostile_result(refused=True, citations=[], outcome=outcome), filtered=True)
    assert (FILTER_HINT in filtered) == (outcome != "refused-by-evidence")


def test_errors_reach_the_page_as_one_line_without_class_names_or_paths():
    from ui.app import reader_text

    shown = reader_text("cannot reach http://127.0.0.1:8080/v1: httpx.ConnectError: [Errno 111] "
                        "Connection refused\nsee /home/me/.newsdesk/store/chroma.sqlite3")
    assert "ConnectError" not in shown and "Errno" not in shown and "/home/me" not in shown
    assert "\n" not in shown and "Connection refused" in shown and "http://127.0.0.1:8080/v1" in shown


def test_marker_numbers_travel_with_their_quotes_so_one_can_be_singled_out():
    text = "First claim here. Second claim there."
    html = highlight(text, [(0, 17), (18, 37)], None, [1, 2])

    assert "<mark data-n='1'>First claim here.</mark>" in html
    assert "<mark data-n='2'>Second claim there.</mark>" in html


def test_cards_open_the_whole_article_with_every_cited_quote_and_its_original_address():
    result = hostile_result()
    result["citations"][0]["url"] = "https://example.org/talks"
    result["passages"][0]["url"] = "https://example.org/talks"
    article = "x" * 100 + HOSTILE + " The end."
    html = sources_html(result, 3, {"evil": article})

    dialog = re.search(r"<dialog class='nd-article'.*?</dialog>", html, re.S).group(0)
    assert "The end." in dialog and "href='https://example.org/talks'" in dialog
    assert re.findall(r"<mark[^>]*>(.*?)</mark>", dialog) == [
        "Lavrov &lt;img src=x onerror=alert(1)&gt; demanded a written reply."]
    assert "<script" not in dialog and "class='nd-read'" in html


def test_article_text_is_put_back_together_from_overlapping_chunks():
    from ui.render import article_text

    assert article_text([(0, "Alpha beta gamma"), (11, "gamma delta"), (23, "omega")]) == \
        "Alpha beta gamma delta omega"


def test_source_strip_names_the_outlet_with_a_preview_of_title_date_and_quote():
    html = sources_html(hostile_result(), 2)

    chip = re.search(r"<span class='nd-chipwrap'>.*?</span></span>", html, re.S).group(0)
    assert "&lt;i&gt;Wire&lt;/i&gt;</button>" in chip
    assert "2022-01-21" in chip and "demanded a written reply" in chip and "Talks" in chip


def test_examples_are_questions_built_from_headlines():
    from ui.suggest import example_questions, questions_from_title

    assert questions_from_title("Blinken and Lavrov wrap up talks in Geneva") == [
        "Why did Blinken and Lavrov wrap up talks in Geneva?", "What did Blinken say about the talks?",
        "What did Blinken say?", "What did Lavrov say about the talks?", "What did Lavrov say?",
        "What happened in Geneva?"]
    shown = example_questions(["Council approves budget for new bridge",
                               "Blinken and Lavrov wrap up talks in Geneva"])
    assert shown[:2] == ["Why did Council approve budget for new bridge?",
                         "Why did Blinken and Lavrov wrap up talks in Geneva?"]
    assert not any(q.startswith("What happened:") for q in shown)
    # a headline whose verb is a participle ("orders lifted") makes no "Why did" question
    assert questions_from_title("Flood orders lifted") == []


def test_follow_up_suggestions_come_from_the_retrieved_articles():
    from ui.suggest import follow_up_questions

    result = {"question": "What did Lavrov demand?",
              "citations": [{"doc_id": "a", "quote": "Lavrov wanted a written reply."}],
              "passages": [{"doc_id": "a", "title": "Blinken and Lavrov wrap up talks in Geneva",
                            "text": "Antony Blinken said the talks were frank. Lavrov said no."},
                           {"doc_id": "b", "title": "Council approves budget for new bridge",
                            "text": "The council met."}]}
    shown = follow_up_questions(result, ["What did Lavrov demand?"])

    assert shown == ["What did Antony Blinken say?", "Why did Council approve budget for new bridge?",
                     "Why did Blinken and Lavrov wrap up talks in Geneva?"]
    more = follow_up_questions(result, ["What did Lavrov demand?"], count=6)
    assert more[3:] == ["What happened in Geneva?"]  # nothing more about Lavrov or Blinken


# -- issue 20: timelines as a list, corrections and conflicts on the page ----------------

def test_a_timeline_answer_is_a_markdown_list_one_event_a_line():
    from ui.render import answer_markdown, timeline_items
    text = "October 9, 2023: Counting resumed. [4] October 10, 2023: Marsh led by 555. [5]"
    assert timeline_items(text) == ["October 9, 2023: Counting resumed. [4]",
                                    "October 10, 2023: Marsh led by 555. [5]"]
    shown = answer_markdown(text, {4: "q"}, None, 1).splitlines()
    assert len(shown) == 2 and all(line.startswith("- ") for line in shown)
    assert timeline_items("As of October 9, 2023: it resumed. [1]") == []


def test_the_sources_panel_lists_conflicts_with_renumbered_citations():
    from ui.render import renumber, sources_html
    result = {"question": "q", "answer": "Reports differ on turnout: 61.4 per cent [3], 57.8% [1].",
              "refused": False, "citations": [
                  {"n": 3, "doc_id": "a", "title": "A", "date": "2023-10-09", "source": "Courier",
                   "url": None, "quote": "61.4 per cent", "start": 0, "end": 13, "copies": []},
                  {"n": 1, "doc_id": "b", "title": "B", "date": "2023-10-09", "source": "Gazette",
                   "url": None, "quote": "57.8%", "start": 0, "end": 5, "copies": []}],
              "passages": [], "conflicts": [{"about": "turnout", "kind": "conflict", "values": [
                  {"text": "61.4 per cent", "n": 3, "source": "Courier", "date": "2023-10-09"},
                  {"text": "57.8%", "n": 1, "source": "Gazette", "date": "2023-10-09"}]}]}
    html = sources_html(renumber(result))
    assert "Reports differ: turnout" in html
    assert "61.4 per cent (Courier, 2023-10-09) [1]" in html and "57.8% (Gazette, 2023-10-09) [2]" in html
