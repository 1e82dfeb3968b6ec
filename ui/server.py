"""`rag serve`'s one process and port: the chat page, the OpenAI-compatible API, MCP.

    /                      the Gradio page (and its /ask API for gradio_client)
    /v1/models, /v1/chat/completions   OpenAI-compatible (ui.api)
    /mcp                   MCP over streamable HTTP (ui.mcp)

The page keeps every guarantee of `ui.app.launch`: the same `launch_options` (auth,
upload limit, no SSR, no Gradio MCP, no monitoring), its queue, 127.0.0.1 unless ui_auth
is set (checked by the settings). With ui_auth set, /v1 and /mcp need
`Authorization: Bearer <ui_auth value>`; the key is never logged or echoed.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator

import gradio as gr
from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.config import Settings
from ui.api import AnswerGate, add_api_routes, auth_error, authorized, bearer_token
from ui.app import Desk, build_app, launch_options
from ui.mcp import build_mcp

log = logging.getLogger("newsdesk.ui")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class BearerGuard:
    """ASGI wrapper: requests to the wrapped app need the bearer token (when one is set)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.token is not None:
            headers = dict(scope.get("headers") or [])
            header = headers.get(b"authorization", b"").decode("latin-1")
            if not authorized(header, self.token):
                await auth_error().response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _mcp_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection on a local address (Host and Origin must be local); on
    another host the bearer token guards /mcp."""
    if settings.ui_host in LOCAL_HOSTS:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"])
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def page_options(settings: Settings) -> dict[str, Any]:
    """`launch_options` as `gr.mount_gradio_app` takes them (share is always off)."""
    options = launch_options(settings)
    options.pop("share", None)
    return options


def build_server(settings: Settings, desk: Desk | None = None) -> FastAPI:
    """The FastAPI app with /v1, /mcp and the page mounted at / (last, so it does not
    shadow the other routes). The three share one Newsdesk (`desk`, a new one when None;
    kept as `app.state.desk`): one Chroma client and one model copy per process."""
    desk = desk or Desk(settings)
    blocks = build_app(settings, desk=desk)
    gate = AnswerGate()
    mcp = build_mcp(settings, desk, gate)
    mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", stateless_http=True,
                                      json_response=True, host=settings.ui_host,
                                      transport_security=_mcp_security(settings))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.desk = desk
    add_api_routes(app, settings, desk, gate)
    token = bearer_token(settings)
    for route in mcp_app.routes:  # the /mcp endpoint itself (an ASGI app), guarded like /v1
        app.router.routes.append(Route(route.path, endpoint=BearerGuard(route.endpoint, token)))
    gr.mount_gradio_app(app, blocks, path="/", **page_options(settings))
    return app


def serve(settings: Settings) -> None:
    """Serve the page, /v1 and /mcp on ui_host:ui_port until stopped."""
    import uvicorn

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    app = build_server(settings)
    host = f"[{settings.ui_host}]" if ":" in settings.ui_host else settings.ui_host
    base = f"http://{host}:{settings.ui_port}"
    print(f"Newsdesk: the page at {base}/ · OpenAI-compatible API at {base}/v1 · MCP at {base}/mcp",
          flush=True)
    stop = start_embedding_worker(settings)
    app.state.desk.embeds_in_background = True
    try:
        # access_log off: request lines are not needed, and headers are never logged
        uvicorn.run(app, host=settings.ui_host, port=settings.ui_port, log_level="warning",
                    access_log=False, timeout_graceful_shutdown=5)
    finally:
        stop.set()


def start_embedding_worker(settings: Settings):
    """The background thread that embeds chunks an ingest left queued (searchable
    lexically meanwhile); returns the event that stops it."""
    from rag.ingest.follow import embed_in_background

    return embed_in_background(
        settings, on_error=log.warning,
        on_embedded=lambda n: log.info("embedded %d queued chunks", n))
