"""One base error: every failure Newsdesk explains in one line instead of a traceback."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class NewsdeskError(Exception):
    """A failure with a message that names the file, setting or address and what to do."""


@contextmanager
def server_errors(error: type[NewsdeskError], server: str, *, missing: str, unreachable: str,
                  reply: str) -> Iterator[None]:
    """Turn an OpenAI(-compatible) client's failures into one-line `error`s written by us:
    a server's own text can echo the API key, so it is never shown. `server` names it
    ("model server at URL"), `missing` is the whole 404 message, `unreachable` what to do
    when it is down, `reply` the kind of reply expected and which settings to check."""
    import httpx
    import openai

    try:
        yield
    except openai.AuthenticationError:
        raise error(f"{server} rejected the API key (401): check OPENAI_API_KEY or api_key "
                    "in newsdesk.toml") from None
    except openai.NotFoundError:
        raise error(missing) from None
    except openai.APITimeoutError:
        raise error(f"{server} did not answer in time; check that it is running or raise "
                    "request_timeout") from None
    except openai.APIConnectionError:
        raise error(f"{server} is not reachable: {unreachable}") from None
    except openai.APIStatusError as err:
        raise error(f"{server} answered HTTP {err.status_code}; check the server") from None
    except httpx.TimeoutException:  # a stream that stalls after it began
        raise error(f"{server} stopped answering mid-reply; check that it is running or "
                    "raise request_timeout") from None
    except (openai.APIError, httpx.HTTPError, ValueError, TypeError, KeyError, IndexError,
            AttributeError) as err:  # 200 OK carrying something that is not such a reply
        raise error(f"{server} sent a reply that is not {reply} "
                    f"({type(err).__name__})") from None
