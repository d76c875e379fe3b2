"""The one place that picks the span model: the reader trained on the bundled model, or none."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from qa.answer.reading import SpanScorer
from qa.errors import ConfigError

READER_MODES = ("auto", "on", "off")
READER_PRECISIONS = ("fp32", "int8")


def load_span_scorer(
    mode: str, model_cache_dir: Path | None, threads: int | None = None, precision: str = "fp32"
) -> SpanScorer | None:
    """The trained span reader, or None when `mode` is off (or auto and it cannot load).

    "auto" reads with the reader when torch and the reader's weights are installed and the
    bundled model has an export folder (`model_cache_dir`); "on" makes each of those a
    configuration error; "off" keeps the clause answers.
    """
    if mode not in READER_MODES:
        raise ConfigError(f"unknown reader mode {mode!r} (auto, on or off)")
    if precision not in READER_PRECISIONS:
        raise ConfigError(f"unknown reader precision {precision!r} (fp32 or int8)")
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
    return int8_linears(model) if precision == "int8" else model


def int8_linears(reader: Any) -> Any:
    """The reader with the Linear layers of its transformer body in int8 (dynamic quantization).

    On this project's 2-core CPU the forward pass of three windows takes about 2x less time
    (fbgemm int8 matrix products); the span head stays in float32, so scores keep their scale.
    """
    import torch

    model = getattr(reader, "model", None)
    if not isinstance(model, torch.nn.Module):
        raise ConfigError("int8 reader precision needs a torch reader (a `model` module)")
    target = getattr(model, "body", model)
    with warnings.catch_warnings():  # torch.ao's dynamic quantization is marked deprecated
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            target, {torch.nn.Linear}, dtype=torch.qint8
        )
    if target is model:
        reader.model = quantized
    else:
        model.body = quantized
    return reader
