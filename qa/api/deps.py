"""Dependencies named once as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qa.config import Settings
from qa.errors import IndexNotReadyError
from qa.pipeline import Pipeline


def get_pipeline(request: Request) -> Pipeline:
    """The app's pipeline (built at start-up)."""
    pipeline: Pipeline | None = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise IndexNotReadyError("the index is still loading")
    return pipeline


def get_settings(request: Request) -> Settings:
    """The app's validated settings."""
    settings: Settings = request.app.state.settings
    return settings


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
