"""App factory: assembles settings, the pipeline, routes and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi_offline import FastAPIOffline

from qa import __version__
from qa.api.errors import install_error_handlers
from qa.api.mcp import install_mcp
from qa.api.openapi import install_openapi
from qa.api.operations import install_operations
from qa.api.routes import ops, router
from qa.api.web import web_router
from qa.config import Settings, load_settings
from qa.pipeline import Pipeline
from qa.wiring import pipeline_from_settings


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the FastAPI app; the pipeline loads at start-up unless one is given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.pipeline is None:
            app.state.pipeline = await run_in_threadpool(pipeline_from_settings, settings)
            # the span reader and the question encoder load before the first question
            await run_in_threadpool(app.state.pipeline.warm_up)
        async with mcp_running():
            yield
        if app.state.pipeline is not None and pipeline is None:
            app.state.pipeline.close()

    # /docs and /redoc with Swagger UI and ReDoc served from the installed package: FastAPI's
    # own pages load them from cdn.jsdelivr.net and stay blank on a machine without internet.
    app = FastAPIOffline(
        title="qa: multilingual question answering",
        version=__version__,
        description="Answers copied verbatim from your documents, with offsets and sources.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pipeline = pipeline
    install_error_handlers(app)
    install_operations(app, settings)
    app.include_router(router)
    app.include_router(ops)
    app.include_router(web_router)
    install_openapi(app, settings)
    mcp_running = install_mcp(app, settings)
    return app
