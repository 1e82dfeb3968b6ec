"""Stories on the chat page in Debian's Chromium (Playwright): a question whose answer
carries `conflicts` shows each value with its outlet, date and citation, and a timeline
question renders as a list, one item per event, oldest first.

The page is served on a free 127.0.0.1 port over a private copy of the frozen stories
set's articles (eval/datasets/stories, read-only) in its own store.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.test_ui_browser import ARTIFACTS, BOT, ask, browser, last_answer  # noqa: F401, F811
from tests.support.settings import EVAL_SETS, ingested_copy
from tests.ui_fixtures import free_port, serving

pytestmark = pytest.mark.slow

STORIES = EVAL_SETS / "stories"
TURNOUT = "What was the turnout in the Dunmore mayoral election?"
UNFOLD = "How did the Dunmore election count unfold?"


@pytest.fixture(scope="module")
def stories_url(tmp_path_factory):
    """The chat page over an ingested copy of the stories set."""
    settings = ingested_copy(STORIES, tmp_path_factory.mktemp("stories-page"),
                             collection="ui-test", ui_port=free_port())
    with serving(settings) as url:
        yield url


@pytest.fixture
def page(browser, stories_url):  # noqa: F811  (the imported fixture)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(stories_url)
    page.wait_for_selector("#nd-question textarea")
    yield page
    context.close()


def test_conflicting_reports_are_shown_with_each_value_its_outlet_and_citation(page):
    ask(page, TURNOUT)

    assert "Reports differ on turnout" in last_answer(page)
    rows = page.locator("#nd-sources-box .nd-conflicts li")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert row.startswith("Reports differ: turnout"), row
    shown = re.findall(r"(\d[\d.]*(?: per cent|%)) \(([^,]+), (\d{4}-\d{2}-\d{2})\) \[(\d+)\]", row)
    assert {(value, outlet) for value, outlet, _, _ in shown} == {
        ("61.4 per cent", "Dunmore Courier"), ("57.8%", "Eastfield Gazette")}, row
    cards = page.locator("#nd-sources-box .nd-card")
    for _, outlet, day, n in shown:  # each citation number is the card of that outlet
        card = cards.nth(int(n) - 1).inner_text()
        assert outlet in card and day in card, (n, card)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stories-conflict.png"), full_page=True)


def test_a_timeline_renders_as_a_list_one_event_per_item_oldest_first(page):
    ask(page, UNFOLD)

    answer = page.locator(BOT).last
    items = answer.locator("li").all_inner_texts()
    assert len(items) >= 5, answer.inner_text()
    days = [re.match(r"(\w+ \d{1,2}, \d{4}): ", item) for item in items]
    assert all(days), items
    dates = [datetime.strptime(d.group(1), "%B %d, %Y").date() for d in days]
    assert dates == sorted(dates) and len(set(dates)) == len(dates), dates
    assert all(re.search(r"\[\d+\]\s*$", item) for item in items), items  # each event cited
    assert answer.locator("ul, ol").count() == 1
    # the story's correction is listed too, each value pointing at a card of its outlet
    # (an uncited one sits under "Other passages retrieved")
    row = page.locator("#nd-sources-box .nd-conflicts li").first.inner_text()
    assert row.startswith("Corrected: postal ballots"), row
    for outlet, n in re.findall(r"\(([^,]+), \d{4}-\d{2}-\d{2}\) \[(\d+)\]", row):
        card = page.locator(f"#nd-sources-box article.nd-card[data-ns~='{n}']")
        assert card.count() == 1 and card.get_attribute("data-source") == outlet, (n, row)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stories-timeline.png"), full_page=True)
