"""The chat page in a real browser: Debian's Chromium driven by Playwright.

The page is served in-process on a free 127.0.0.1 port over a private copy of corpus/.
The first test leaves a screenshot of an answered question in tests/artifacts/ui.png.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.ui_fixtures import LAVROV, REPO, ui_settings, ui_url  # noqa: F401

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "tests" / "artifacts"
ANSWER_TIMEOUT_MS = 60_000
BOT = "#nd-chat [data-testid='bot']"

HOSTILE_ARTICLE = """title: Harbour <script>window.__pwned = 1</script> strike ends
date: 2022-02-02
source: Harbour Wire

Dock workers at the harbour of Valletta ended their strike on Tuesday <script>window.__pwned = 3</script> after the port authority agreed to a pay rise of nine percent. <img src=x onerror="window.__pwned = 4"> The union said the cranes would run again by Thursday. ![pixel](http://203.0.113.9/pixel.png)
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium chromium-driver "
                    "(the README's test set-up, `make install-test`, does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, ui_url):
    """The page, loaded, recording every request, console error and dialog."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(ui_url)
    page.wait_for_selector("#nd-question textarea")
    yield page
    context.close()


def ask(page, question: str) -> tuple[float, float]:
    """Type and send a question; seconds until the first streamed text and until the
    answer is complete (sources panel filled)."""
    answers_before = page.locator(BOT).count()
    page.fill("#nd-question textarea", question)
    started = time.perf_counter()
    page.click("#nd-ask")
    page.wait_for_function(
        """([selector, before]) => {
            const bots = document.querySelectorAll(selector);
            if (bots.length <= before) return false;
            const text = bots[bots.length - 1].innerText.trim();
            return text.length > 0 && text !== "…";
        }""", arg=[BOT, answers_before], polling="raf", timeout=ANSWER_TIMEOUT_MS)
    first = time.perf_counter() - started
    page.wait_for_function(
        """([question]) => {
            const box = document.querySelector('#nd-sources-box .nd-sources');
            return box && !box.querySelector('.nd-working') && box.innerText.includes(question);
        }""", arg=[question], polling="raf", timeout=ANSWER_TIMEOUT_MS)
    return first, time.perf_counter() - started


def last_answer(page) -> str:
    return page.locator(BOT).last.inner_text()


def open_panel(page, title: str) -> None:
    page.get_by_text(title, exact=True).click()


def test_question_streams_an_answer_with_its_quoted_passages_highlighted(page, ui_settings):
    first, total = ask(page, LAVROV)

    answer = last_answer(page)
    assert re.search(r"\[\d+\]", answer), answer
    marked = page.locator("#nd-sources-box mark").all_inner_texts()
    assert marked, "no highlighted quote in the sources panel"
    assert any("written response" in m or "NATO" in m for m in marked), marked
    for quote in marked:
        assert quote in answer  # the extractive answer quotes the very sentences it cites
    sources = page.locator("#nd-sources-box").inner_text()
    assert "Blinken and Lavrov wrap up talks in Geneva" in sources
    assert "2022-01-21" in sources and "Reuters" in sources
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)
    print(f"\nbrowser: first streamed text after {first * 1000:.0f} ms, "
          f"answer and sources complete after {total * 1000:.0f} ms")


def test_page_makes_no_request_outside_127_0_0_1(page):
    ask(page, LAVROV)

    hosts = {urlsplit(url).hostname for url in page.requests if url.startswith("http")}
    assert hosts == {"127.0.0.1"}, hosts


def test_follow_up_question_answers_about_the_earlier_topic(page):
    ask(page, LAVROV)
    ask(page, "And what did Blinken say about it?")

    marked = " ".join(page.locator("#nd-sources-box mark").all_inner_texts())
    assert "Blinken" in marked
    assert page.locator(BOT).count() == 2


def test_clicking_an_earlier_answer_shows_its_sources_again(page):
    ask(page, LAVROV)
    ask(page, "What did Blinken call the talks?")
    assert "frank and substantial" in page.locator("#nd-sources-box").inner_text()

    page.locator(BOT).first.click()

    page.wait_for_function("() => document.querySelector('#nd-sources-box').innerText"
                           f".includes({LAVROV!r})", timeout=10_000)
    assert "frank and substantial" not in " ".join(
        page.locator("#nd-sources-box mark").all_inner_texts())


def test_question_the_articles_do_not_answer_is_shown_as_a_refusal(page):
    answers_before = page.locator(BOT).count()
    page.fill("#nd-question textarea", "Who won the 2022 World Cup?")
    page.click("#nd-ask")
    page.wait_for_function(
        "() => (document.querySelector('#nd-sources-box').innerText || '').includes('No source answers')",
        timeout=ANSWER_TIMEOUT_MS)

    assert page.locator(BOT).count() == answers_before + 1
    assert "The articles don't say" in last_answer(page)
    assert page.locator("#nd-sources-box .nd-error").count() == 0


def test_malformed_date_is_marked_by_the_date_picker_and_not_applied(page):
    open_panel(page, "Search settings")
    box = page.locator("#nd-date-from input").first
    box.fill("yesterday")
    box.press("Enter")

    ask(page, LAVROV)

    assert "invalid" in (box.get_attribute("class") or "")
    assert page.locator("#nd-chip-from").is_hidden()
    assert page.locator("#nd-sources-box .nd-card").count() >= 1
    assert "Traceback" not in page.content()


def test_uploaded_article_is_answerable_and_its_markup_stays_text(page, ui_settings, tmp_path):
    upload = tmp_path / "harbour strike.txt"
    upload.write_text(HOSTILE_ARTICLE, encoding="utf-8")
    open_panel(page, "Add articles")
    page.locator("#nd-upload input[type=file]").set_input_files(str(upload))
    page.wait_for_timeout(500)  # the file is sent to the server before the button may be used
    page.click("#nd-upload-button")
    page.wait_for_function("() => document.body.innerText.includes('Added 1 file')",
                           timeout=ANSWER_TIMEOUT_MS)
    assert (Path(ui_settings.corpus_dir) / "harbour_strike.txt").is_file()

    ask(page, "What pay rise did the port authority agree for the Valletta dock workers?")

    assert "nine percent" in " ".join(page.locator("#nd-sources-box mark").all_inner_texts())
    assert "<script>window.__pwned = 3</script>" in page.locator("#nd-sources-box").inner_text()
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    assert page.locator("#nd-sources-box img, #nd-chat .message-content img").count() == 0
    assert not any("203.0.113.9" in url for url in page.requests)


RECORD_BOT_TEXT = """() => {
    window.__botTexts = [];
    const started = performance.now();
    new MutationObserver(() => {
        const bots = document.querySelectorAll("#nd-chat [data-testid='bot']");
        if (!bots.length) return;
        const text = bots[bots.length - 1].innerText.trim();
        const seen = window.__botTexts;
        if (!seen.length || seen[seen.length - 1].text !== text)
            seen.push({text, ms: performance.now() - started});
    }).observe(document.querySelector("#nd-chat"), {subtree: true, childList: true, characterData: true});
}"""


def test_model_answer_streams_into_the_page_piece_by_piece(browser, ui_settings):
    """With a real local model (SmolLM2 on llama.cpp's server) the answer grows on screen."""
    from tests.support.llm_server import MODEL_NAME, running_llm_server
    from tests.ui_fixtures import free_port, serving

    with running_llm_server() as base_url:
        settings = ui_settings.model_copy(update={
            "generator": "openai-compatible", "base_url": base_url, "model": MODEL_NAME,
            "max_tokens": 96, "ui_port": free_port()})
        with serving(settings) as url:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("#nd-question textarea")
            page.evaluate(RECORD_BOT_TEXT)
            first, total = ask(page, LAVROV)
            texts = page.evaluate("() => window.__botTexts")
            context.close()

    shown = [t["text"] for t in texts if t["text"] not in ("", "…")]
    growing = [t for t in shown if t.endswith("▍")]  # the draft, with its cursor
    assert len(growing) >= 3, shown
    assert len(growing[-1]) > len(growing[0])
    print(f"\nbrowser, SmolLM2 via llama.cpp: first streamed text after {first * 1000:.0f} ms, "
          f"complete after {total * 1000:.0f} ms, {len(growing)} visible updates")
