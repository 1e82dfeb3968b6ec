"""The chat page's second pass in Debian's Chromium (Playwright): clickable citations,
plain-text copy, feedback, corpus overview, filter chips, phone layout.

Screenshots of desktop and phone go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.test_ui_browser import ARTIFACTS, BOT, CHROMIUM, CHROMIUM_ARGS, ask, browser  # noqa: F401
from tests.ui_fixtures import LAVROV, ui_settings, ui_url  # noqa: F401

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def desktop(browser, ui_url):
    context = browser.new_context(viewport={"width": 1440, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(ui_url)
    page.wait_for_selector("#nd-question textarea")
    yield page
    context.close()


@pytest.fixture
def phone(browser, ui_url):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(ui_url)
    page.wait_for_selector("#nd-question textarea")
    yield page
    context.close()


def test_clicking_a_citation_marker_highlights_its_source_card(desktop):
    ask(desktop, LAVROV)
    marker = desktop.locator(f"{BOT} a[href^='#nd-a']").first
    number = re.search(r"\d+", marker.inner_text()).group()

    marker.click()

    card = desktop.locator("#nd-sources-box .nd-card.nd-flash")
    card.wait_for(timeout=5_000)
    assert number in card.get_attribute("data-ns").split()
    assert marker.get_attribute("title") or marker.get_attribute("data-quote"), \
        "the marker carries no quote for its preview"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    desktop.screenshot(path=str(ARTIFACTS / "desktop.png"))


def test_citations_are_numbered_in_order_of_appearance_with_one_card_per_article(desktop):
    ask(desktop, LAVROV)

    shown = [int(n) for n in re.findall(r"\[(\d+)\]", desktop.locator(BOT).last.inner_text())]
    assert shown and shown[0] == 1
    assert sorted(set(shown)) == list(range(1, len(set(shown)) + 1))
    titles = desktop.locator("#nd-sources-box .nd-card:not(.nd-uncited) .nd-title").all_inner_texts()
    assert len(titles) == len(set(titles)) == 1


def test_copy_gives_plain_text_with_numbered_references(desktop):
    ask(desktop, LAVROV)

    desktop.click("#nd-sources-box .nd-copy")
    desktop.wait_for_function("() => document.querySelector('#nd-sources-box .nd-copy')"
                              ".textContent.includes('Copied')", timeout=5_000)
    copied = desktop.evaluate("() => navigator.clipboard.readText()")

    assert "\\[" not in copied and "**" not in copied
    assert re.search(r"\[1\]", copied.split("References")[0])
    assert "References\n[1] Blinken and Lavrov wrap up talks in Geneva, Reuters, 2022-01-21" in copied


def test_thumbs_down_with_a_comment_is_written_to_the_feedback_log(desktop, ui_settings):
    path = ui_settings.feedback_path
    before = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    ask(desktop, LAVROV)

    desktop.fill("#nd-comment textarea", "quote is cut short")
    desktop.click("#nd-thumbs-down")
    desktop.wait_for_function("() => document.querySelector('#nd-feedback-status').innerText"
                              ".includes('Thanks')", timeout=5_000)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(before) + 1
    record = json.loads(lines[-1])
    assert record["rating"] == "down" and record["comment"] == "quote is cut short"
    assert record["question"] == LAVROV and record["citations"]
    assert record["settings"]["top_k"] == ui_settings.top_k


def test_corpus_overview_matches_the_store(desktop, ui_settings):
    from rag.answer import Newsdesk

    facts = Newsdesk(ui_settings).retriever.index.facts()
    overview = desktop.locator("#nd-overview").inner_text()

    assert f"{facts['articles']} article" in overview
    assert f"{len(facts['sources'])} outlet" in overview and all(s in overview for s in facts["sources"][:4])
    assert facts["date_from"] in overview and "updated" in overview
    examples = desktop.locator(".nd-example").all_inner_texts()
    assert examples and not any(e.startswith("What happened:") for e in examples)
    assert "Why did Blinken and Lavrov wrap up talks in Geneva?" in examples  # answered, so offered


def test_active_filters_show_as_chips_that_remove_them_and_new_chat_resets_them(desktop):
    desktop.get_by_text("Search settings", exact=True).click()
    desktop.locator("#nd-date-from input").fill("2022-01-01")
    desktop.locator("#nd-date-from input").press("Enter")
    desktop.locator("#nd-as-of input").fill("2022-02-01")
    desktop.locator("#nd-as-of input").press("Enter")

    desktop.locator("#nd-chip-from").wait_for(state="visible", timeout=5_000)
    assert "From 2022-01-01" in desktop.locator("#nd-chip-from").inner_text()
    assert "As of 2022-02-01" in desktop.locator("#nd-chip-as-of").inner_text()
    desktop.click("#nd-chip-from")
    desktop.locator("#nd-chip-from").wait_for(state="hidden", timeout=5_000)
    assert desktop.locator("#nd-date-from input").input_value() == ""
    desktop.click("#nd-clear")
    desktop.locator("#nd-chip-as-of").wait_for(state="hidden", timeout=5_000)
    assert desktop.locator("#nd-as-of input").input_value() == ""


def test_empty_question_says_so_once_however_often_it_is_sent(desktop):
    for _ in range(3):
        desktop.click("#nd-ask")
        desktop.wait_for_timeout(300)

    shown = desktop.get_by_text("Type a question first").locator("visible=true")
    shown.first.wait_for(timeout=5_000)
    assert shown.count() == 1
    assert desktop.locator(BOT).count() == 0


def test_address_box_refuses_a_loopback_address_with_its_reason(desktop):
    desktop.get_by_text("Add articles", exact=True).click()
    desktop.fill("#nd-url textarea, #nd-url input", "http://127.0.0.1:9/news/1")
    desktop.click("#nd-url-button")

    desktop.get_by_text("private or loopback", exact=False).first.wait_for(timeout=15_000)


def test_over_long_question_is_not_echoed_in_full(desktop, ui_settings):
    long_question = "Lavrov " * 800
    desktop.fill("#nd-question textarea", long_question)
    desktop.click("#nd-ask")
    desktop.locator("#nd-sources-box .nd-error").wait_for(timeout=30_000)

    user = desktop.locator("#nd-chat [data-testid='user']").last.inner_text()
    assert len(user) < 300 and "characters" in user
    assert len(desktop.locator("#nd-sources-box").inner_text()) < 1000


def test_phone_shows_sources_within_one_screen_of_the_answer(phone):
    assert "on the right" not in phone.locator(".nd-header").inner_text()
    phone.locator(".nd-example").first.click()
    phone.wait_for_function("() => document.querySelector('#nd-sources-box .nd-card')",
                            timeout=60_000)

    answer = phone.locator(BOT).last.bounding_box()
    card = phone.locator("#nd-sources-box .nd-card").first.bounding_box()
    assert 0 <= card["y"] - answer["y"] <= PHONE["height"], (answer, card)
    print(f"\nphone 390x844: first source card {card['y'] - answer['y']:.0f} px below the "
          "answer's top")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.locator(BOT).last.scroll_into_view_if_needed()
    phone.screenshot(path=str(ARTIFACTS / "phone.png"))
    phone.screenshot(path=str(ARTIFACTS / "phone-full.png"), full_page=True)
