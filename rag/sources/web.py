"""Polite, safe fetching of feeds and article pages over http(s).

One `Fetcher` per ingest: a user agent naming Newsdesk, a timeout on every request (and
on the whole download, so a trickling server cannot hold it), a size cap, a pause between
two requests to the same host, redirects followed one by one (each target checked, loops
and long chains refused), only http and https, and no loopback or private-network address
unless `fetch_allow_private` is on. Every refusal is a `FetchError` whose message is one
line saying why, so the caller can skip that page and go on.

Limits: the address check resolves the host before the request; a DNS answer that
changes between the check and the connection is not caught. Proxy variables of the
environment are not used (the check must see the address really connected to).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

import httpx

from rag.config import Settings
from rag.errors import NewsdeskError

USER_AGENT = "Newsdesk/0.1 (news question answering; feed reader)"
ACCEPT = ("text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
          "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5")
REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(NewsdeskError):
    """A feed or page that could not be fetched; the message is the one-line reason."""


@dataclass
class Fetched:
    """A response: 200 with a body, or 304 (not modified since the validators sent)."""

    url: str                       # after redirects
    status: int
    content_type: str = ""         # media type only, lower case
    charset: str | None = None
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _media_type(header: str) -> tuple[str, str | None]:
    message = Message()
    message["content-type"] = header or ""
    return message.get_content_type().lower() if header else "", message.get_param("charset")


def check_address(url: str, allow_private: bool) -> None:
    """Refuse anything but http(s), and (unless allowed) hosts that resolve to loopback,
    private, link-local or otherwise non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"only http and https addresses are fetched, not {parts.scheme or 'a relative address'}:")
    if not parts.hostname:
        raise FetchError("the address has no host name")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise FetchError(f"host name {parts.hostname} not found") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(f"{parts.hostname} is a private or loopback address ({address}); "
                             "set fetch_allow_private = true to read the local network")


class Fetcher:
    """Fetches one URL at a time, politely; use as a context manager."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.fetch_timeout_seconds
        self.max_bytes = settings.fetch_max_bytes
        self.delay = settings.fetch_delay_seconds
        self.max_redirects = settings.fetch_max_redirects
        self.allow_private = settings.fetch_allow_private
        self.requests = 0
        self.seconds = 0.0                     # time spent in requests and pauses
        self._last_request: dict[str, float] = {}
        self._client = httpx.Client(follow_redirects=False, trust_env=False,
                                    timeout=httpx.Timeout(self.timeout),
                                    headers={"User-Agent": USER_AGENT, "Accept": ACCEPT})

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """The response for url, following redirects; 304 when the validators still hold.
        Raises FetchError with the reason when there is nothing usable."""
        started = time.perf_counter()
        try:
            return self._follow(url, etag, last_modified)
        finally:
            self.seconds += time.perf_counter() - started

    def _follow(self, url: str, etag: str | None, last_modified: str | None) -> Fetched:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        visited = [url]
        while True:
            check_address(url, self.allow_private)
            self._pause(url)
            fetched, location = self._request(url, headers)
            if location is None:
                return fetched
            target = urljoin(url, location).split("#", 1)[0]
            if target in visited:
                raise FetchError(f"redirect loop ({' -> '.join([*visited, target])})")
            if len(visited) > self.max_redirects:
                raise FetchError(f"too many redirects (more than {self.max_redirects}; "
                                 "setting fetch_max_redirects)")
            visited.append(target)
            url = target

    def _pause(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        last = self._last_request.get(host)
        if last is not None:
            wait = self.delay - (time.monotonic() - last)
            if wait > 0:
                time.sleep(wait)
        self._last_request[host] = time.monotonic()

    def _request(self, url: str, headers: dict[str, str]) -> tuple[Fetched, str | None]:
        """One request: (response, None), or (_, Location) for a redirect."""
        deadline = time.monotonic() + self.timeout
        self.requests += 1
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code in REDIRECTS and response.headers.get("location"):
                    return Fetched(url, response.status_code), response.headers["location"]
                if response.status_code == 304:
                    return Fetched(url, 304, etag=response.headers.get("etag"),
                                   last_modified=response.headers.get("last-modified")), None
                if response.status_code >= 300:
                    phrase = response.reason_phrase or ""
                    raise FetchError(f"HTTP {response.status_code} {phrase}".rstrip())
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(self._too_large(int(declared)))
                body = bytearray()
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > self.max_bytes:
                        raise FetchError(self._too_large(None))
                    if time.monotonic() > deadline:
                        raise FetchError(f"timed out after {self.timeout:g} s "
                                         "(setting fetch_timeout_seconds)")
                media, charset = _media_type(response.headers.get("content-type", ""))
                return Fetched(str(response.url), response.status_code, media, charset,
                               bytes(body), response.headers.get("etag"),
                               response.headers.get("last-modified")), None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout:g} s "
                             "(setting fetch_timeout_seconds)") from None
        except httpx.InvalidURL as err:
            raise FetchError(f"not a valid address ({err})") from None
        except httpx.HTTPError as err:
            raise FetchError(f"request failed ({type(err).__name__}: {str(err)[:120]})") from None

    def _too_large(self, size: int | None) -> str:
        shown = f"{size:,} bytes" if size else f"over {self.max_bytes:,} bytes"
        return f"too large ({shown}; the limit is {self.max_bytes:,}, setting fetch_max_bytes)"
