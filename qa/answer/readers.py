"""The one place that picks the span model: the reader trained on the bundled model, or none."""

from __future__ import annotations

from pathlib import Path

from qa.answer.reading import SpanScorer
from qa.errors import ConfigError

READER_MODES = ("auto", "on", "off")


def load_span_scorer(
    mode: str, model_cache_dir: Path | None, threads: int | None = None
) -> SpanScorer | None:
    """The trained span reader, or None when `mode` is off (or auto and it cannot load).

    "auto" reads with the reader when torch and the reader's weights are installed and the
    bundled model has an export folder (`model_cache_dir`); "on" makes each of those a
    configuration error; "off" keeps the clause answers.
    """
    if mode not in READER_MODES:
        raise ConfigError(f"unknown reader mode {mode!r} (auto, on or off)")
    if mode == "off":
        return None
    try:
        from qa.reader.infer import load_trained_reader
    except ImportError as exc:
        if mode == "on":
            raise ConfigError(
                f"QA_READER=on needs torch, transformers and qa.reader ({exc}): "
                "pip install 'qa[st]'"
            ) from exc
        return None
    if model_cache_dir is None:
        if mode == "on":
            raise ConfigError("QA_READER=on needs a model cache folder (QA_MODEL_CACHE_DIR)")
        return None
    from qa.embed.export import bundled_model_path

    try:
        model: SpanScorer = load_trained_reader(bundled_model_path(model_cache_dir), threads)
    except FileNotFoundError as exc:
        if mode == "on":
            raise ConfigError(f"QA_READER=on: the reader's weights are missing ({exc})") from exc
        return None
    return model
