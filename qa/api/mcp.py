"""`/mcp`: the MCP tools over streamable HTTP, behind the same API keys as the rest of the API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.api.errors import qa_error_response
from qa.api.security import bearer_token, check_access
from qa.config import Settings
from qa.errors import ConfigError, IndexNotReadyError, QAError
from qa.pipeline import Pipeline

MCP_PATH = "/mcp"
log = logging.getLogger("qa.api")

Lifespan = Callable[[], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


class _KeyGuard:
    """The key check of every other route, for a route that is a plain ASGI app."""

    path = MCP_PATH

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.state = fastapi_app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse with the API's JSON error before the MCP transport reads anything."""
        scope["route"] = self  # the metrics label requests by route template, like FastAPI's
        header = Headers(scope=scope).get("authorization")
        try:
            check_access(
                self.state.api_keys,
                bool(self.state.settings.protect_reads),
                scope["method"],
                self.path,
                bearer_token(header),
            )
        except QAError as error:
            await qa_error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_mcp(app: FastAPI, settings: Settings) -> Lifespan:
    """Add /mcp when the `mcp` extra is installed; returns what must run while the app serves."""
    try:
        from qa.mcp_server import build_server
    except ConfigError as missing:
        log.info("no /mcp: %s", missing)
        return _nothing

    def pipeline() -> Pipeline:
        loaded: Pipeline | None = app.state.pipeline
        if loaded is None:
            raise IndexNotReadyError("the index is still loading")
        return loaded

    server = build_server(pipeline)
    # Stateless, JSON replies: any worker of `qa serve --workers N` can answer any request of
    # a session (stateful sessions live in one process, and the next request may reach another).
    server.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=settings.host
    )
    manager = server.session_manager
    app.router.routes.append(Route(MCP_PATH, _KeyGuard(manager.asgi_app, app), name="mcp"))
    return manager.run
