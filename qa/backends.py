"""The one place that chooses the embedder, the store and its live view from the options."""

from __future__ import annotations

from qa.answer.reading import SpanScorer
from qa.embed.base import Embedder
from qa.embed.factory import make_embedder
from qa.pipeline import Pipeline, PipelineOptions
from qa.retrieve.live import LiveIndex
from qa.retrieve.view import LiveView
from qa.store.base import Store
from qa.store.catalog import Catalog
from qa.store.layout import catalog_path
from qa.store.manifest import Manifest, read_manifest
from qa.text.normalize import NORMALIZER_VERSION


def open_embedder(options: PipelineOptions) -> Embedder:
    """The embedder the options name."""
    return make_embedder(
        options.embedder,
        options.device,
        options.indexing_engine,
        options.model_cache_dir,
        options.embed_precision,
        options.query_engine,
        options.indexing_idle_s,
    )


def open_store(options: PipelineOptions, manifest: Manifest, dim: int) -> tuple[Store, LiveView]:
    """Open (or create) the configured store, refusing one built with another model."""
    if options.vector_store == "milvus":
        from qa.retrieve.milvus_view import MilvusView
        from qa.store.milvus_catalog import open_milvus

        milvus = open_milvus(
            options.milvus_uri, options.milvus_collection, manifest, options.milvus_token
        )
        return milvus, MilvusView(milvus, dim)
    options.index_dir.mkdir(parents=True, exist_ok=True)
    existing = read_manifest(options.index_dir)
    if existing is not None:
        manifest.check_compatible(existing)
    catalog = Catalog(catalog_path(options.index_dir), dim)
    if existing is None:
        catalog.record_manifest(manifest)
    return catalog, LiveIndex(options.index_dir, catalog, dim)


def open_pipeline(
    options: PipelineOptions,
    embedder: Embedder | None = None,
    span_scorer: SpanScorer | None = None,
) -> Pipeline:
    """A pipeline over the configured store, with the configured (or given) embedder and reader."""
    embedder = embedder or open_embedder(options)
    manifest = Manifest(
        embedder=embedder.model_id,
        dimension=embedder.dim,
        normalizer=NORMALIZER_VERSION,
        chunking=options.chunking.as_dict(),
    )
    store, live = open_store(options, manifest, embedder.dim)
    return Pipeline(options, embedder, store, live, manifest, span_scorer)
