"""App factory: assembles settings, the pipeline, routes and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from qa import __version__
from qa.api.errors import install_error_handlers
from qa.api.operations import install_operations
from qa.api.routes import ops, router
from qa.api.web import web_router
from qa.config import Settings
from qa.pipeline import Pipeline
from qa.wiring import pipeline_from_settings


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the FastAPI app; the pipeline loads at start-up unless one is given."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.pipeline is None:
            app.state.pipeline = await run_in_threadpool(pipeline_from_settings, settings)
            # the span reader loads before the first question, not during it
            await run_in_threadpool(app.state.pipeline.span_scorer)
        yield
        if app.state.pipeline is not None and pipeline is None:
            app.state.pipeline.close()

    app = FastAPI(
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
    return app
