"""The span reader through ONNX Runtime: the merged reader exported once, weights in int8.

Measured here (one thread, a busy 2-core CPU, alternating in one process): one window of
~100-125 tokens costs about 0.7x the time of torch's dynamic int8 (fbgemm), and 0.3x of torch
fp32; its logits stay within ~0.3 of fp32 (torch int8: ~2). The merged model (base + adapters
+ head, from the token embeddings on) is exported once to ONNX into the model cache, keyed by
a digest of the reader weights and the base model, and its MatMul weights are quantized to
int8 (per channel; activations quantized per call) by onnxruntime.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qa.reader.model import ADAPTER_FILE, MANIFEST_FILE, MASKED, SpanModel

log = logging.getLogger("qa.reader")

OPSET = 17
EXPORT_VERSION = 2  # bump when the exported graph changes


def reader_digest(weights: Path, base_sha256: str) -> str:
    """A short digest naming one export: reader weights, manifest, base model, export version."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}\0{base_sha256}\0".encode())
    for name in (ADAPTER_FILE, MANIFEST_FILE):
        digest.update((weights / name).read_bytes())
    return digest.hexdigest()[:16]


class OnnxSpanLogits:
    """Start and end logits from an ONNX Runtime session, as SpanModel returns them.

    The token embeddings are looked up here, in torch: the 250k-row table would make the
    exported file 470 MB and its quantization minutes long; without it the int8 file is ~25 MB.
    """

    def __init__(self, session: Any, embeddings: torch.nn.Module) -> None:
        self._session = session
        self._embeddings = embeddings

    @torch.inference_mode()
    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, allowed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits (batch, length); positions outside `allowed` get MASKED."""
        feed = {
            "inputs_embeds": self._embeddings(input_ids).numpy(),
            "attention_mask": attention_mask.numpy(),
        }
        (logits,) = self._session.run(["logits"], feed)
        out = torch.from_numpy(np.ascontiguousarray(logits)).masked_fill(
            ~allowed.unsqueeze(-1), MASKED
        )
        return out[..., 0], out[..., 1]


def onnx_span_logits(
    model: SpanModel, weights: Path, base_sha256: str, cache_dir: Path, threads: int | None
) -> OnnxSpanLogits:
    """The reader's ONNX int8 session (exported and quantized into cache_dir on first use).

    ImportError without onnxruntime; other exceptions when the export fails.
    """
    import onnxruntime

    target = cache_dir / f"reader-onnx-{reader_digest(weights, base_sha256)}" / "reader-int8.onnx"
    if not target.exists():
        _export_int8(model, target)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.intra_op_num_threads = max(1, threads or 1)
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: the cores stay free for other requests.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    return OnnxSpanLogits(session, _word_embeddings(model))


def _word_embeddings(model: SpanModel) -> torch.nn.Module:
    embeddings = getattr(model.body, "embeddings")  # noqa: B009 (nn.Module types it as Tensor)
    return embeddings.word_embeddings  # type: ignore[no-any-return]


class _Logits(torch.nn.Module):
    """The span model without the `allowed` mask (applied after the session runs)."""

    def __init__(self, model: SpanModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model.body(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(attention_mask),
        ).last_hidden_state
        return self.model.head(hidden)  # type: ignore[no-any-return]


def _export_int8(model: SpanModel, target: Path) -> None:
    """Export the merged fp32 model (dynamic batch and length), quantize it, atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    inner = copy.deepcopy(model).float().eval()
    inner.body.set_attn_implementation("eager")  # type: ignore[operator]
    embeds = torch.randn((2, 8, int(getattr(inner.body, "config").hidden_size)))  # noqa: B009
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0  # a padded row, so no all-ones shortcut is traced
    names = ("inputs_embeds", "attention_mask", "logits")
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    fp32 = target.with_name(f".fp32-{tag}.onnx")
    tmp = target.with_name(f".{target.name}.{tag}")
    log.info("exporting the span reader to ONNX (once): %s", target)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Logits(inner),
                (embeds, mask),
                str(fp32),
                input_names=["inputs_embeds", "attention_mask"],
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        quantize_dynamic(str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        os.replace(tmp, target)
    finally:
        fp32.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
