"""Polite, safe fetching of feeds and article pages over http(s).

One `Fetcher` per ingest: a user agent naming Newsdesk, one wall-clock deadline per
request (connecting, the headers and the whole body: a server that trickles either cannot
hold it), a size cap on the decoded body that also bounds memory (bodies are decoded
here, piece by piece, never past the cap; only identity, gzip and deflate are accepted,
one of them at most), a pause between two requests to the same host, redirects followed
one by one (each target checked, loops and long chains refused), only http and https,
no user name or password in an address, and no loopback or private-network address
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
import zlib
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from rag.config import Settings
from rag.errors import NewsdeskError

USER_AGENT = "Newsdesk/0.1 (news question answering; feed reader)"
ACCEPT = ("text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
          "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5")
REDIRECTS = (301, 302, 303, 307, 308)
ACCEPT_ENCODING = "gzip, deflate"   # decoded here with a cap; br and zstd are not accepted


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
    charset = message.get_param("charset")
    return (message.get_content_type().lower() if header else "",
            charset if isinstance(charset, str) else None)


def has_credentials(url: str) -> bool:
    """Whether the address carries a user name or password (`http://user:pw@host/`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.username is not None or parts.password is not None


def without_credentials(url: str) -> str:
    """The address with any user name and password removed, for storing and showing."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def check_address(url: str, allow_private: bool) -> None:
    """Refuse anything but http(s), addresses with a user name or password, and (unless
    allowed) hosts that resolve to loopback, private, link-local or otherwise non-public
    addresses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError("only http and https addresses are fetched, not "
                         f"{parts.scheme or 'a relative address'}:")
    if not parts.hostname:
        raise FetchError("the address has no host name")
    if has_credentials(url):
        raise FetchError("the address holds a user name or password; Newsdesk does not send or "
                         "store them: give the address without them")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise FetchError(f"host name {parts.hostname} not found") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(f"{parts.hostname} is a private or loopback address ({address}); "
                             "set fetch_allow_private = true to read the local network")


class _Deadline:
    """The wall-clock deadline of the request under way; every socket operation waits at
    most until it (httpx's timeouts count per operation, so a server sending one header
    byte a second would never trip them)."""

    def __init__(self) -> None:
        self.at = float("inf")

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise error("deadline passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(ssl_context, server_hostname,
                                        self._deadline.left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: _Deadline) -> None:
        self._backend, self._deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self._backend.connect_tcp(host, port, self._deadline.left(timeout, httpcore.ConnectTimeout),
                                           local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        stream = self._backend.connect_unix_socket(
            path, self._deadline.left(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _transport(deadline: _Deadline) -> httpx.HTTPTransport:
    """httpx's transport with a connection pool whose sockets keep the deadline."""
    transport = httpx.HTTPTransport(trust_env=False)
    pool = transport._pool
    transport._pool = httpcore.ConnectionPool(
        ssl_context=getattr(pool, "_ssl_context", None),
        max_connections=getattr(pool, "_max_connections", 10),
        keepalive_expiry=getattr(pool, "_keepalive_expiry", 5.0),
        network_backend=_DeadlineBackend(deadline))
    pool.close()
    return transport


_REFUSED_CODINGS = ("br", "zstd", "compress", "x-compress", "bzip2", "x-bzip2", "lzma", "xz",
                    "exi", "pack200-gzip", "aes128gcm")


class _Decoder:
    """The body's bytes from what the server sent, decoded piece by piece and never more
    than `limit` + 1 bytes at once (a 1.6 kB compressed body may expand to gigabytes)."""

    def __init__(self, encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        for coding in codings:
            if coding in _REFUSED_CODINGS:
                raise FetchError(f"the body's encoding {coding!r} is not accepted "
                                 "(only gzip and deflate)")
        # other tokens ("none", "utf-8" ...) are misconfigurations: read as identity
        codings = [c for c in codings if c in ("gzip", "x-gzip", "deflate")]
        if len(codings) > 1:
            raise FetchError(f"the body is encoded more than once (Content-Encoding: "
                             f"{', '.join(codings)[:60]}); refused")
        coding = codings[0] if codings else "identity"
        self.coding, self.limit = coding, limit
        self._zlib = self._new(coding) if coding != "identity" else None
        self._first = True

    @staticmethod
    def _new(coding: str, wbits: int | None = None):
        return zlib.decompressobj(wbits if wbits is not None else
                                  (zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS))

    def feed(self, data: bytes, room: int) -> bytes:
        """Up to room + 1 decoded bytes of data (more means: over the cap)."""
        if self._zlib is None:
            return data[:room + 1]
        out = bytearray()
        try:
            while data and len(out) <= room:
                try:
                    out += self._zlib.decompress(data, room + 1 - len(out))
                except zlib.error:
                    if not (self._first and self.coding == "deflate"):
                        raise
                    self._zlib = self._new("deflate", -zlib.MAX_WBITS)  # raw deflate
                    continue
                finally:
                    self._first = False
                if self._zlib.eof:   # another gzip member may follow
                    data = self._zlib.unused_data
                    if data:
                        self._zlib = self._new(self.coding)
                else:
                    data = self._zlib.unconsumed_tail
        except zlib.error:
            raise FetchError(f"the body is not valid {self.coding} data") from None
        return bytes(out)


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
        self._deadline = _Deadline()
        self._client = httpx.Client(follow_redirects=False, trust_env=False,
                                    timeout=httpx.Timeout(self.timeout),
                                    transport=_transport(self._deadline),
                                    headers={"User-Agent": USER_AGENT, "Accept": ACCEPT,
                                             "Accept-Encoding": ACCEPT_ENCODING})

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
                chain = " -> ".join(without_credentials(u) for u in [*visited, target])
                raise FetchError(f"redirect loop ({chain})")
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
        self._deadline.at = time.monotonic() + self.timeout
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
                decoder = _Decoder(response.headers.get("content-encoding", ""), self.max_bytes)
                body, received = bytearray(), 0
                for piece in response.iter_raw():
                    received += len(piece)
                    if received > self.max_bytes:
                        raise FetchError(self._too_large(None))
                    body += decoder.feed(piece, self.max_bytes - len(body))
                    if len(body) > self.max_bytes:
                        raise FetchError(self._too_large(None))
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
        finally:
            self._deadline.at = float("inf")

    def _too_large(self, size: int | None) -> str:
        shown = f"{size:,} bytes" if size else f"over {self.max_bytes:,} bytes"
        return f"too large ({shown}; the limit is {self.max_bytes:,}, setting fetch_max_bytes)"
