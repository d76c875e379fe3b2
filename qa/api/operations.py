"""Adds the integration and operations layer to the app: keys, limits, logs, metrics, chat."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from qa.api import chat
from qa.api.logs import configure_logging
from qa.api.metrics import Metrics, metrics_router
from qa.api.middleware import BodyLimitMiddleware, RequestContextMiddleware, TimeoutMiddleware
from qa.api.security import ApiKeys, declare_security, require_access
from qa.config import Settings


async def bind_metrics(request: Request) -> None:
    """Dependency on every route: make sure the metrics listen to the loaded pipeline."""
    request.app.state.metrics.bind(request.app.state.pipeline)


def _declare_keys_in_openapi(app: FastAPI, keys: bool, protect_reads: bool) -> None:
    """/openapi.json (and the Authorize button of /docs) says which operations need a key."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_security(generate(), keys, protect_reads)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_operations(app: FastAPI, settings: Settings) -> None:
    """Call before the other routers are included, so the key check covers them too."""
    configure_logging(settings.log_format, settings.log_level)
    keys = ",".join(key.get_secret_value() for key in settings.api_keys)
    app.state.api_keys = ApiKeys.parse(keys) if keys else None
    app.state.metrics = Metrics(settings.metrics_dir)
    app.router.dependencies.extend([Depends(require_access), Depends(bind_metrics)])
    _declare_keys_in_openapi(app, app.state.api_keys is not None, settings.protect_reads)
    app.include_router(chat.router)
    app.include_router(metrics_router)
    # added innermost first: request context wraps everything, CORS covers 413 and 504 too
    app.add_middleware(TimeoutMiddleware, seconds=settings.request_timeout_s)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestContextMiddleware, observe=app.state.metrics.observe_request)
