"""The chat page under attack: hostile articles, hostile uploads, hostile callers.

- Article text is data: a dozen XSS vectors in an article (script, event handlers, SVG,
  iframes, javascript: links, Markdown images, mutation-XSS) are shown as text in the
  chat and the sources panel of a real browser (Debian's Chromium via Playwright); no
  script runs, no element is created from them, no request leaves for their URLs.
- Uploads, through the page and through Gradio's HTTP upload route: a size limit, only
  article types, no path traversal in file names, nothing written outside the corpus
  folder (and Gradio's own upload cache).
- Exposure: the page listens on 127.0.0.1 by default; another host needs ui_auth, or
  start-up fails; with ui_auth the page, the API and the upload route need the password.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from rag.config import ConfigError, Settings, load_settings
from tests.support.reliability import VENV_BIN, isolated_env
from tests.ui_fixtures import LAVROV, free_port, ingested_settings, serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BOT = "#nd-chat [data-testid='bot']"
TIMEOUT_MS = 60_000
TRAP_HOST = "203.0.113.77"  # TEST-NET-3: any request to it is a finding

XSS_ARTICLE = f"""title: Crane <script>window.__pwned = "title"</script> strike in Valletta
date: 2022-02-03
source: <img src=x onerror="window.__pwned = 'source'">Harbour Wire
url: javascript:window.__pwned='url'

The crane operators of Valletta harbour stopped work on Monday <script>window.__pwned = "script"</script> over night shifts.

The crane operators of Valletta harbour demanded a second night crew <img src=x onerror="window.__pwned = 'img'"> and a new canteen <svg onload="window.__pwned = 'svg'"></svg> before returning.

The port authority offered the crane operators a bonus <iframe srcdoc="<script>parent.__pwned = 'iframe'</script>"></iframe> of four hundred euros <a href="javascript:window.__pwned='link'">click here</a> per month.

The crane operators rejected the bonus [read more](javascript:window.__pwned='md') ![chart](http://{TRAP_HOST}/pixel.png) on Tuesday <details open ontoggle="window.__pwned='details'">x</details>.

The crane operators will vote on Friday <math><mtext><table><mglyph><style><img src=x onerror="window.__pwned='mxss'"> &lt;script&gt;window.__pwned='entity'&lt;/script&gt; <style>body {{ display: none }}</style> $$\\alert(1)$$ {{{{7*7}}}}.
"""
QUESTIONS = ["What did the crane operators of Valletta harbour demand?",
             "What bonus did the port authority offer the crane operators?",
             "When will the crane operators vote?"]
INJECTED_TAGS = "script, img, svg, iframe, frame, object, embed, math, style, video, audio, link, meta"
# elements of those kinds, or any element whose attributes carry the article's payloads
# (the hover text of a citation marker, `a[href^="#nd-a"]` title, is the quote as plain
# text: it may show the payload as text, never as markup)
# Plain text the page keeps in attributes (the marker's hover quote, a card's title,
# outlet, date and id for the previews, read with textContent) is allowed; markup is not.
FIND_INJECTED = """(nodes, [tags, trap]) => nodes.flatMap(n => [...n.querySelectorAll('*')])
    .filter(e => e.matches(tags) || [...e.attributes].some(a =>
        !(a.name === 'title' && e.matches('a[href^="#nd-a"]')) &&
        !(['data-title', 'data-source', 'data-date', 'data-doc'].includes(a.name) && e.matches('.nd-card')) &&
        !(a.name === 'data-quote' && e.matches('a[href^="#nd-a"]')) &&
        (/pwned|javascript:/i.test(a.value) || /^on/i.test(a.name) ||
        (a.value.includes(trap) && !(e.tagName === 'A' && a.name === 'href')))))
    .map(e => e.outerHTML.slice(0, 300))"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("ui-security") / "site"
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "valletta.txt").write_text(XSS_ARTICLE, encoding="utf-8")
    return ingested_settings(root, upload_max_bytes=20_000)


@pytest.fixture(scope="module")
def url(site):
    with serving(site) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    page.wait_for_selector("#nd-question textarea")
    yield page
    context.close()


def _ask(page, question: str) -> None:
    before = page.locator(BOT).count()
    page.fill("#nd-question textarea", question)
    page.click("#nd-ask")
    page.wait_for_function(
        """([question]) => {
            const box = document.querySelector('#nd-sources-box .nd-sources');
            return box && !box.querySelector('.nd-working') && box.innerText.includes(question);
        }""", arg=[question], polling="raf", timeout=TIMEOUT_MS)
    assert page.locator(BOT).count() > before


def _assert_nothing_ran(page) -> None:
    assert page.evaluate("() => window.__pwned") is None, "a script from the article ran"
    assert page.dialogs == []
    assert len(page.frames) == 1, "an iframe from the article was created"
    assert not any(TRAP_HOST in u for u in page.requests), "a request left for the article's URL"
    for scope in (f"{BOT} .message-content", "#nd-sources-box .nd-sources"):
        found = page.locator(scope).evaluate_all(FIND_INJECTED, [INJECTED_TAGS, TRAP_HOST])
        assert found == [], f"elements from the article in {scope}: {found[:3]}"
    assert page.locator("body").is_visible(), "the article's <style> hid the page"


def test_article_markup_is_shown_as_text_and_never_runs_in_the_browser(page):
    for question in QUESTIONS:
        _ask(page, question)
    page.locator("#nd-sources-box details").evaluate_all("ds => ds.forEach(d => d.open = true)")
    page.wait_for_timeout(300)
    _assert_nothing_ran(page)
    chat = " ".join(page.locator(BOT).all_inner_texts())
    sources = page.locator("#nd-sources-box").inner_text()
    assert "four hundred euros" in chat or "four hundred euros" in sources
    assert '<script>window.__pwned = "script"</script>' in sources + chat
    assert "onerror=" in sources + chat, "the markup should be visible as text"


def test_a_bare_url_in_article_text_is_not_turned_into_a_link(page):
    _ask(page, "What did the crane operators reject on Tuesday?")
    links = page.locator(f"{BOT} .message-content a").evaluate_all("as => as.map(a => a.href)")
    assert not [href for href in links if TRAP_HOST in href], links


def test_clicking_an_earlier_answer_replays_its_sources_without_running_them(page):
    for question in QUESTIONS[:2]:
        _ask(page, question)
    page.locator(BOT).first.click()
    page.wait_for_timeout(500)
    _assert_nothing_ran(page)


def _files_outside(root: Path, allowed: list[Path]) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
            and not any(p.is_relative_to(a) for a in allowed)}


def test_uploads_through_the_page_land_in_the_corpus_folder_with_safe_names(page, site, tmp_path):
    corpus = Path(site.corpus_dir)
    root = corpus.parent
    before_outside = _files_outside(root, [corpus, Path(site.store_path)])
    before_corpus = {p.name for p in corpus.iterdir()}
    tag = uuid.uuid4().hex[:8]
    article = ("title: Ferry timetable\n\nThe ferry to Gozo leaves every forty-five minutes "
               "from Cirkewwa, the operator said on Monday.\n")
    names = {  # as a user's machine may name them (a Linux name may hold a backslash)
        f"..\\..\\escape-{tag}.txt": "good",
        f"%2e%2e%2fescape-{tag}-2.md": "good",
        f".hidden-{tag}.txt": "good",
        f"payload-{tag}.sh": "bad",
        f"payload-{tag}.pdf": "bad",
        f"payload-{tag}.html.exe": "bad",
    }
    uploads = []
    for i, name in enumerate(names):
        folder = tmp_path / f"u{i}"
        folder.mkdir()
        path = folder / name
        path.write_text(article.replace("forty-five", f"{40 + i}"), encoding="utf-8")
        uploads.append(str(path))
    page.get_by_text("Add articles", exact=True).click()
    page.locator("#nd-upload input[type=file]").set_input_files(uploads)
    page.wait_for_timeout(800)
    page.click("#nd-upload-button")
    page.wait_for_function("() => /Added|Rejected|Not added|rror/.test("
                           "document.querySelector('#nd-upload').innerText)", timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)
    added = {p.name for p in corpus.iterdir()} - before_corpus
    assert all(n.replace(".", "").replace("-", "").replace("_", "").isalnum() for n in added), added
    assert not any(n.startswith(".") for n in added), added
    assert not any(n.endswith((".sh", ".pdf", ".exe")) for n in added), added
    assert sum(kind == "good" for kind in names.values()) == len(added), (added, page.locator("#nd-upload").inner_text())
    assert _files_outside(root, [corpus, Path(site.store_path)]) == before_outside
    assert not list(Path("/tmp").glob(f"*escape-{tag}*")) and not list(root.parent.glob(f"*{tag}*"))
    _assert_nothing_ran(page)


def test_an_oversized_upload_through_the_page_changes_nothing(page, site, tmp_path):
    corpus = Path(site.corpus_dir)
    before = {p.name for p in corpus.iterdir()}
    big = tmp_path / "huge.txt"
    big.write_text("title: Huge\n\n" + "The ferry was late again. " * 2000, encoding="utf-8")
    assert big.stat().st_size > site.upload_max_bytes
    page.get_by_text("Add articles", exact=True).click()
    page.locator("#nd-upload input[type=file]").set_input_files(str(big))
    page.wait_for_timeout(1500)
    if page.locator("#nd-upload-button").is_enabled():
        page.click("#nd-upload-button")
        page.wait_for_timeout(2000)
    assert {p.name for p in corpus.iterdir()} == before
    assert "maximum allowed size" in page.content() or "upload limit" in page.content()


@pytest.mark.parametrize("name", ["../../../../../tmp/pwned-{tag}.txt", "/tmp/pwned-{tag}.txt",
                                  "..\\..\\..\\pwned-{tag}.txt", "....//....//pwned-{tag}.txt",
                                  "pwned-{tag}.txt\x00.png"])
def test_the_upload_route_keeps_traversing_names_inside_its_cache(url, site, name):
    tag = uuid.uuid4().hex[:8]
    name = name.format(tag=tag)
    reply = httpx.post(url + "gradio_api/upload",
                       files={"files": (name, b"The ferry was late again today.", "text/plain")},
                       timeout=30)
    if reply.status_code == 200:
        stored = Path(reply.json()[0]).resolve()
        cache = Path(os.environ.get("GRADIO_TEMP_DIR", "/tmp/gradio")).resolve()
        assert stored.is_relative_to(cache), stored
    assert not list(Path("/tmp").glob(f"pwned-{tag}*"))
    assert not list(Path(site.corpus_dir).glob(f"*{tag}*")), "the route wrote into the corpus"


def test_the_upload_route_refuses_a_file_over_upload_max_bytes(url, site):
    reply = httpx.post(url + "gradio_api/upload",
                       files={"files": ("big.txt", b"x" * (site.upload_max_bytes + 1), "text/plain")},
                       timeout=30)
    assert reply.status_code == 413


# --- exposure ----------------------------------------------------------------------------

def _lan_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_the_page_listens_on_127_0_0_1_by_default(site):
    assert Settings.model_fields["ui_host"].default == "127.0.0.1"
    settings = site.model_copy(update={"ui_port": free_port()})
    with serving(settings) as address:
        assert address.startswith(f"http://127.0.0.1:{settings.ui_port}")
        assert httpx.get(address, timeout=30).status_code == 200
        lan = _lan_address()
        if lan:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{lan}:{settings.ui_port}/", timeout=5)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "newsdesk.example.org"])
def test_exposing_the_page_without_ui_auth_is_refused_by_the_settings(host):
    with pytest.raises(ConfigError, match="ui_auth"):
        load_settings(None, None, ui_host=host)
    assert load_settings(None, None, ui_host=host, ui_auth="desk:s3cret").settings.ui_host == host


@pytest.mark.parametrize("how", ["option", "environment"])
def test_rag_serve_on_another_host_without_ui_auth_fails_before_listening(site, how, tmp_path):
    port = free_port()
    env = isolated_env(site, NEWSDESK_UI_PORT=str(port))
    args = [str(VENV_BIN / "rag"), "serve", "--no-ingest"]
    if how == "option":
        args += ["--host", "0.0.0.0"]
    else:
        env["NEWSDESK_UI_HOST"] = "0.0.0.0"
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert run.returncode == 1
    assert "ui_host '0.0.0.0' exposes the chat page: set ui_auth" in run.stderr
    assert "Traceback" not in run.stderr
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "something listens on the port"


def test_with_ui_auth_the_page_api_and_upload_route_need_the_password(site):
    settings = site.model_copy(update={"ui_port": free_port()})
    settings.ui_auth = "desk:correct horse battery"
    with serving(settings) as address:
        anonymous = httpx.Client(base_url=address, timeout=30)
        assert anonymous.get("config").status_code in (401, 403)
        assert anonymous.post("gradio_api/call/ask", json={"data": [LAVROV]}).status_code in (401, 403)
        assert anonymous.post("gradio_api/upload", files={"files": ("a.txt", b"text")}).status_code in (401, 403)
        assert anonymous.get("gradio_api/info").status_code in (401, 403)
        wrong = httpx.Client(base_url=address, timeout=30)
        assert wrong.post("login", data={"username": "desk", "password": "guess"}).status_code >= 400
        assert wrong.get("config").status_code in (401, 403)
        signed_in = httpx.Client(base_url=address, timeout=30)
        assert signed_in.post("login", data={"username": "desk",
                                             "password": "correct horse battery"}).status_code == 200
        assert signed_in.get("config").status_code == 200
