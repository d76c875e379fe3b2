"""The one place that picks the span model: the reader trained on the bundled model, or none."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from qa.answer.reading import SpanScorer
from qa.errors import ConfigError, ReaderWeightsMismatchError

READER_MODES = ("auto", "on", "off")
READER_PRECISIONS = ("fp32", "int8")
READER_ENGINES = ("auto", "torch", "onnx")
log = logging.getLogger("qa.reader")


def load_span_scorer(
    mode: str,
    model_cache_dir: Path | None,
    threads: int | None = None,
    precision: str = "fp32",
    engine: str = "torch",
) -> SpanScorer | None:
    """The trained span reader, or None when `mode` is off (or auto and it cannot load).

    "auto" reads with the reader when torch and the reader's weights are installed and the
    bundled model has an export folder (`model_cache_dir`); "on" makes each of those a
    configuration error; "off" keeps the clause answers. An int8 reader runs on ONNX Runtime
    when `engine` is "onnx" (or "auto" and onnxruntime is installed), else on torch.
    """
    if mode not in READER_MODES:
        raise ConfigError(f"unknown reader mode {mode!r} (auto, on or off)")
    if precision not in READER_PRECISIONS:
        raise ConfigError(f"unknown reader precision {precision!r} (fp32 or int8)")
    if engine not in READER_ENGINES:
        raise ConfigError(f"unknown reader engine {engine!r} (auto, torch or onnx)")
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
        model_dir = bundled_model_path(model_cache_dir)
        model: SpanScorer = load_trained_reader(model_dir, threads)
    except ReaderWeightsMismatchError:
        raise  # weights for another base model: a clear error even in auto mode
    except (OSError, ConfigError) as exc:
        if mode == "on":
            raise ConfigError(f"QA_READER=on: the reader cannot load ({exc})") from exc
        return None  # auto: no weights shipped (yet), keep the clause answers
    reader: SpanScorer = with_precision(model, precision, engine, model_dir, threads)
    return reader


def with_precision(
    model: Any, precision: str, engine: str, model_dir: Path, threads: int | None
) -> Any:
    """The loaded reader in fp32, or in int8 on ONNX Runtime or torch as `engine` says.

    `model_dir` is the exported base model; its ONNX export is cached in the folder above it.
    """
    if precision == "fp32":
        return model
    if engine != "torch":
        try:
            return onnx_int8(model, model_dir, threads)
        except Exception as exc:  # any failure: torch still reads, only slower
            if engine == "onnx":
                raise ConfigError(f"QA_READER_ENGINE=onnx: {exc}") from exc
            log.warning("ONNX Runtime reader unavailable (%s); reading on torch", exc)
    return int8_linears(model)


def onnx_int8(reader: Any, model_dir: Path, threads: int | None) -> Any:
    """The reader with its forward pass on ONNX Runtime, weights in int8 (exported once).

    Per-channel int8 weights keep the logits within ~0.3 of fp32 where torch's dynamic int8
    moves them by up to ~2, in about 0.7x torch int8's time on this project's CPU.
    """
    from qa.reader.model import WEIGHTS_DIR, base_sha256
    from qa.reader.onnx import onnx_span_logits

    sha = base_sha256(model_dir)  # ConfigError when model_dir is not an export
    reader.model = onnx_span_logits(reader.model, WEIGHTS_DIR, sha, model_dir.parent, threads)
    return reader


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
