"""Settings → Pipeline: the bridge the API and the CLI share, so the core never reads config."""

from __future__ import annotations

from qa.backends import open_pipeline
from qa.config import Settings
from qa.pipeline import Pipeline, PipelineOptions


def options_from_settings(settings: Settings) -> PipelineOptions:
    """Plain pipeline options from validated settings."""
    return PipelineOptions(
        index_dir=settings.index_dir,
        embedder=settings.embedder,
        device=settings.device,
        indexing_engine=settings.indexing_engine,
        clause_vectors=settings.clause_vectors,
        embed_precision=settings.embed_precision,
        query_engine=settings.query_engine,
        model_cache_dir=settings.model_cache_dir,
        indexing_idle_s=settings.indexing_idle_s,
        max_top_k=settings.max_top_k,
        max_question_chars=settings.max_question_chars,
        query_concurrency=settings.query_concurrency,
        abstain_threshold=settings.abstain_threshold,
        reader=settings.reader,
        reader_threads=settings.reader_threads,
        reader_precision=settings.reader_precision,
        reader_engine=settings.reader_engine,
        reader_calibration=settings.reader_calibration,
        reader_model=settings.reader_model,
        reader_min_score=settings.reader_min_score,
        vector_store=settings.vector_store,
        milvus_uri=settings.milvus_uri,
        milvus_token=settings.milvus_token.get_secret_value() if settings.milvus_token else None,
        milvus_collection=settings.milvus_collection,
    )


def pipeline_from_settings(settings: Settings) -> Pipeline:
    """Open (or create) the configured index with the configured embedder."""
    return open_pipeline(options_from_settings(settings))
