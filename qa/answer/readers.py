"""The one place that picks the span model: the reader trained on the bundled model, or none."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

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

    "auto" reads with the reader when its weights are installed, the bundled model has an
    export folder (`model_cache_dir`) and the reader can run (torch; or onnxruntime once its
    export exists); "on" makes each of those a configuration error; "off" keeps the clause
    answers. An int8 reader runs on ONNX Runtime when `engine` is "onnx" (or "auto" and
    onnxruntime is installed), else on torch; fp32 always runs on torch.
    """
    check_choices(mode, precision, engine)
    if mode == "off":
        return None
    if model_cache_dir is None:
        if mode == "on":
            raise ConfigError("QA_READER=on needs a model cache folder (QA_MODEL_CACHE_DIR)")
        return None
    from qa.embed.export import bundled_model_path

    try:
        require_a_runtime()  # before exporting the bundled model (seconds) for nothing
        model_dir = bundled_model_path(model_cache_dir)
        onnx = None
        if precision == "int8" and engine != "torch":
            onnx = onnx_reader(model_dir, threads, engine)
        return onnx or torch_reader(model_dir, threads, int8=precision == "int8")
    except ReaderWeightsMismatchError:
        raise  # weights for another base model: a clear error even in auto mode
    except ImportError as exc:
        if mode == "on":
            raise ConfigError(
                f"QA_READER=on needs torch, transformers and qa.reader ({exc}): "
                "pip install 'qa[st]'"
            ) from exc
        return None
    except (OSError, ConfigError) as exc:
        if mode == "on":
            raise ConfigError(f"QA_READER=on: the reader cannot load ({exc})") from exc
        return None  # auto: no weights shipped (yet), keep the clause answers


def require_a_runtime() -> None:
    """ImportError unless qa.reader and torch or onnxruntime are importable."""
    import qa.reader.infer  # noqa: F401

    if not any(importlib.util.find_spec(name) for name in ("onnxruntime", "torch")):
        raise ImportError("neither onnxruntime nor torch is installed")


def check_choices(mode: str, precision: str, engine: str) -> None:
    """ConfigError naming the setting that has no such value."""
    if mode not in READER_MODES:
        raise ConfigError(f"unknown reader mode {mode!r} (auto, on or off)")
    if precision not in READER_PRECISIONS:
        raise ConfigError(f"unknown reader precision {precision!r} (fp32 or int8)")
    if engine not in READER_ENGINES:
        raise ConfigError(f"unknown reader engine {engine!r} (auto, torch or onnx)")


def onnx_reader(model_dir: Path, threads: int | None, engine: str) -> SpanScorer | None:
    """The int8 reader on ONNX Runtime, or None (engine "auto") when it cannot run here.

    It keeps torch out of the serving process: at rest with the reader on, `qa serve` held
    1071 MB with the torch reader (torch, transformers, the Rust tokenizer, the token table)
    and holds about a quarter of that on ONNX Runtime (bench/run.py --only memory).
    """
    from qa.reader.onnx import load_onnx_reader

    try:
        return load_onnx_reader(model_dir, threads)
    except ReaderWeightsMismatchError:
        raise
    except (ImportError, OSError, ConfigError) as exc:
        if engine == "onnx":
            raise ConfigError(f"QA_READER_ENGINE=onnx: {exc}") from exc
        log.warning("ONNX Runtime reader unavailable (%s); reading on torch", exc)
        return None


def torch_reader(model_dir: Path, threads: int | None, int8: bool) -> SpanScorer:
    """The reader on torch (fp32, or int8 dynamic quantization); ImportError without torch."""
    from qa.reader.infer import load_trained_reader

    return load_trained_reader(model_dir, threads, int8=int8)
