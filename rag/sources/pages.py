"""Article pages: the article's text and metadata from its HTML, with trafilatura.

trafilatura keeps the article body and drops navigation, adverts, cookie banners, "most
read" lists, comments and scripts (`favor_precision`); its metadata reader takes the
title, publication date (htmldate), outlet and byline from JSON-LD `NewsArticle`, Open
Graph and `<meta>` tags. What the page does not say comes from the feed item.

An article read from the web is identified by its canonical URL (the page's
`<link rel=canonical>`/`og:url` when it is on the same host, otherwise the address it
was fetched from), normalised (lower-case host, no default port, no tracking
parameters, no fragment): the same story reached by two links is one article.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rag.errors import NewsdeskError
from rag.records import Article
from rag.sources.feeds import FeedItem
from rag.text import normalise_text

MIN_ARTICLE_CHARS = 200


class PageError(NewsdeskError):
    """A page with no usable article; the message is the one-line reason."""


def normalise_url(url: str) -> str:
    """The URL with a lower-case host, no default port, no tracking parameters, no fragment,
    no user name or password."""
    from courlan import normalize_url

    from rag.sources.web import without_credentials

    url = without_credentials(url)
    try:
        return without_credentials(normalize_url(url).split("#", 1)[0])
    except ValueError:
        return url.split("#", 1)[0]


def canonical_url(fetched_url: str, declared: str | None) -> str:
    """The page's declared canonical URL if it is http(s) on the same host, else the
    fetched one (a page may not claim another site's article), normalised."""
    if declared:
        page, claim = urlsplit(fetched_url), urlsplit(declared)
        if claim.scheme in ("http", "https") and claim.hostname and \
                claim.hostname.lower() == (page.hostname or "").lower():
            return normalise_url(declared)
    return normalise_url(fetched_url)


def _clean(value: object) -> str | None:
    text = " ".join(normalise_text(str(value)).split()) if value else ""
    return text[:300] or None


def extract_article(html: bytes | str, url: str, item: FeedItem | None = None) -> Article:
    """The article on the page at url (after redirects); PageError when there is none."""
    import trafilatura
    from trafilatura.settings import set_date_params

    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        include_images=False, favor_precision=True,
        # dates from the page's markup only: htmldate's guesses (a year in the URL or the
        # copyright line) are worse than the feed's date
        date_extraction_params=set_date_params(extensive=False))
    if isinstance(document, dict):   # only asked-for dicts (as_dict=True) come back as one
        raise PageError("trafilatura returned an unexpected result")
    text = normalise_text((document.text or "") if document is not None else "")
    if document is None or len(text) < MIN_ARTICLE_CHARS:
        shown = f"{len(text)} characters" if text else "none found"
        raise PageError(f"no article text ({shown}; at least {MIN_ARTICLE_CHARS} needed)")
    # one paragraph per line in trafilatura's output: a blank line between paragraphs,
    # as the other loaders write them
    text = "\n\n".join(line.strip() for line in text.split("\n") if line.strip())
    address = canonical_url(url, document.url)
    fallback = item or FeedItem(link=url)
    host = urlsplit(address).hostname or None
    return Article(
        doc_id=address, text=text,
        title=_clean(document.title) or fallback.title or _clean(text.split("\n", 1)[0][:200]) or address,
        date=_iso_date(document.date) or fallback.date,
        source=_site_name(document.sitename, fallback.source, host),
        url=address, byline=_clean(document.author) or fallback.author, path=address)


def _site_name(page: str | None, feed: str | None, host: str | None) -> str | None:
    """The page's site name, unless it is only a host name (trafilatura's last resort),
    then the feed's, then the host."""
    page = _clean(page)
    if page and (" " in page or not any(c in page for c in ".:")):
        return page
    return feed or page or host


def _iso_date(value: object) -> str | None:
    text = str(value or "")[:10]
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.replace("-", "").isdigit():
        return text
    return None


def decode_html(body: bytes, charset: str | None) -> bytes | str:
    """Text when the server named a charset it can be decoded with, else the bytes (for
    trafilatura to detect the encoding)."""
    if charset:
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return body
