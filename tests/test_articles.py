"""Loading articles: each format's text and metadata, and clear errors for bad files."""

import json
from pathlib import Path

import pytest

from rag.sources.files import ArticleError, load_file

from rag.text import normalise_text

SHARED_SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_3ff6c92db07b6aa6.txt"


def test_shipped_seed_article_carries_its_metadata():
    from tests.conftest import SEED_ARTICLE

    article = load_file(SEED_ARTICLE)[0]
    assert article.doc_id == "corpus/000_3ff6c92db07b6aa6.md"
    assert (article.title, article.date, article.source) == (
        "Blinken and Lavrov wrap up talks in Geneva", "2022-01-21", "Reuters")
    assert "Simon Lewis" in article.byline
    assert "Russia’s demands include halting NATO’s eastward expansion" in article.text


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="../shared/seed not beside the repo")
def test_plain_text_header_and_dateline_give_date_and_source():
    article = load_file(SHARED_SEED)[0]
    assert article.date == "2022-01-21"
    assert article.source == "Reuters"
    assert article.title.startswith("Blinken and Lavrov wrap up talks in Geneva")


def test_markdown_front_matter_and_heading(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("---\ndate: 21 January 2022\nsource: AP\n---\n# Talks end\n\nDiplomats met in Geneva on Friday.\n")
    article = load_file(path)[0]
    assert (article.title, article.date, article.source) == ("Talks end", "2022-01-21", "AP")


def test_html_keeps_the_article_and_drops_navigation_and_scripts(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Geneva talks</title><meta property='og:site_name' content='Reuters'>"
        "<meta property='article:published_time' content='2022-01-21T10:00:00Z'></head><body>"
        "<nav><a href='/'>Home</a> World Business</nav><article><h1>Geneva talks</h1>"
        "<p>Blinken met Lavrov in Geneva.</p><p>They agreed to keep talking.</p></article>"
        "<script>alert('x')</script><footer>Cookie policy</footer></body></html>")
    article = load_file(path)[0]
    assert "Blinken met Lavrov in Geneva." in article.text
    assert "Home" not in article.text and "Cookie" not in article.text and "alert" not in article.text
    assert (article.title, article.date, article.source) == ("Geneva talks", "2022-01-21", "Reuters")


def test_json_and_jsonl_records_become_articles(tmp_path):
    record = {"title": "T", "date": "2022-01-20", "source": "AFP", "url": "https://x.test/a",
              "body": "Blinken was in Kiev on Wednesday to assure Ukraine of support."}
    (tmp_path / "one.json").write_text(json.dumps(record))
    (tmp_path / "many.jsonl").write_text("\n".join(json.dumps({**record, "id": i}) for i in range(3)))
    one = load_file(tmp_path / "one.json")
    many = load_file(tmp_path / "many.jsonl")
    assert one[0].url == "https://x.test/a" and one[0].source == "AFP"
    folder = tmp_path.resolve().name
    assert [a.doc_id for a in many] == [f"{folder}/many.jsonl#id={i}" for i in range(3)]


@pytest.mark.parametrize("name,content,reason", [
    ("empty.txt", b"", "no article text"),
    ("binary.txt", b"\x00\x01\x02PNG\x00" * 50, "binary"),
    ("latin1.txt", "Caf\xe9 talks in Gen\xe8ve went on all day".encode("latin-1"), "UTF-8"),
    ("broken.json", b'{"title": "x", "body": ', "malformed JSON"),
    ("bad.jsonl", b'{"body": "fine text that is long enough"}\n{oops\n', "line 2"),
    ("nobody.json", b'{"title": "only a title"}', "no text field"),
])
def test_bad_file_error_names_the_file_and_the_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ArticleError) as err:
        load_file(path)
    assert name in str(err.value) and reason in str(err.value)


def test_normalised_text_has_no_control_characters_or_windows_newlines():
    text = normalise_text("a\r\nb\x00c\x1b[31m\u200b\n\n\n\nd  \n")
    assert text == "a\nbc[31m\n\nd"


def test_front_matter_keys_the_loader_does_not_know_are_ignored(tmp_path):
    path = tmp_path / "odd.md"
    path.write_text("---\npath: elsewhere\ntext: other\ntitle: Kept\n---\nThe body of the article, "
                    "long enough to keep.\n", encoding="utf-8")
    [article] = load_file(path)
    assert article.title == "Kept" and article.path == str(path) and "body" in article.text
