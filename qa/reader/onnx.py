"""The span reader on ONNX Runtime: int8 weights, numpy in and out, no torch in this process.

Measured here (one thread, a busy 2-core CPU, alternating in one process): one window of
~100-125 tokens costs about 0.7x the time of torch's dynamic int8 (fbgemm), and 0.3x of torch
fp32; its logits stay within ~0.3 of fp32 (torch int8: ~2). The merged model (base + adapters
+ head, from the token vectors on) is exported once into the model cache by a child process
(qa.reader.onnx_export), keyed by a digest of the reader weights and the base model, with its
MatMul weights in int8 (per channel; activations quantized per call).

The token table is read from the exported model.safetensors through a memory map: only the
rows of tokens seen are paged in (the whole table, 250k x 384 float16, is 192 MB).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.embed.export import export_in_child, export_sha256, word_table
from qa.embed.ort import cpu_session
from qa.reader.features import MASKED
from qa.reader.infer import Flags, Ids, Logits, TrainedReader, load_tokenizer
from qa.reader.manifest import (
    ADAPTER_FILE,
    MANIFEST_FILE,
    WEIGHTS_DIR,
    check_base,
    read_manifest,
)

log = logging.getLogger("qa.reader")

EXPORT_VERSION = 2  # bump when the exported graph changes
# Two threads by default: one question is computed at a time (QA_QUERY_CONCURRENCY=1), and a
# 64-word window took 27.3 instead of 31.5 ms (p50, 139 ARCD questions, alternating, load 3.4).
THREADS = 2


def reader_digest(weights: Path, base_sha256: str) -> str:
    """A short digest naming one export: reader weights, manifest, base model, export version."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}\0{base_sha256}\0".encode())
    for name in (ADAPTER_FILE, MANIFEST_FILE):
        digest.update((weights / name).read_bytes())
    return digest.hexdigest()[:16]


EXPORT_PREFIX = "reader-onnx-"


def export_path(cache_dir: Path, weights: Path, base: str) -> Path:
    """Where the int8 export of these weights on this base model lives."""
    return cache_dir / f"{EXPORT_PREFIX}{reader_digest(weights, base)}" / "reader-int8.onnx"


def remove_other_exports(target: Path) -> list[Path]:
    """Delete the cache's other reader exports (older weights or base model); return them.

    Each change of the reader weights makes a new ~22 MB export beside the old ones, which
    nothing reads again. A process still reading an old one keeps it open (its session holds
    the graph in memory); a checkout that ships older weights exports them again, once.
    """
    removed = []
    for folder in target.parent.parent.glob(f"{EXPORT_PREFIX}*"):
        if folder.is_dir() and folder != target.parent:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class OnnxSpanLogits:
    """Start and end logits from an ONNX Runtime session (a SpanLogits of qa.reader.infer)."""

    def __init__(self, session: Any, table: npt.NDArray[Any]) -> None:
        self._session = session
        self._table = table

    def __call__(
        self, input_ids: Ids, attention_mask: Ids, allowed: Flags
    ) -> tuple[Logits, Logits]:
        """Start and end logits (batch, length); positions outside `allowed` get MASKED."""
        feed = {
            "inputs_embeds": np.asarray(self._table[input_ids], dtype=np.float32),
            "attention_mask": attention_mask,
        }
        (logits,) = self._session.run(["logits"], feed)
        out = np.where(allowed[..., None], logits, np.float32(MASKED)).astype(np.float32)
        return out[..., 0], out[..., 1]


def open_session(path: Path, threads: int | None, spin: bool = False) -> Any:
    """The reader's ONNX Runtime session on `path` (THREADS threads unless told)."""
    return cpu_session(path, threads or THREADS, spin)


def load_onnx_reader(
    model_dir: Path, threads: int | None = None, weights: Path = WEIGHTS_DIR
) -> TrainedReader:
    """The shipped reader on ONNX Runtime in int8 (exported into the folder above model_dir once).

    ImportError without onnxruntime; ConfigError (ReaderWeightsMismatchError) when the weights
    do not fit model_dir or the export fails.
    """
    import onnxruntime  # noqa: F401  (fail before a minute of exporting)

    manifest = read_manifest(weights)
    check_base(manifest, model_dir)
    target = export_path(model_dir.parent, weights, export_sha256(model_dir))
    if not target.exists():
        args = [str(model_dir), str(weights), str(target)]
        export_in_child("qa.reader.onnx_export", args, target, "the span reader")
        for folder in remove_other_exports(target):
            log.info("removed an older reader export: %s", folder)
    logits = OnnxSpanLogits(open_session(target, threads), word_table(model_dir))
    return TrainedReader(logits, load_tokenizer(model_dir), manifest.spec)
