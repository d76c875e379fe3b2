"""Export the bundled e5's transformer (from token vectors to token states) to ONNX, in fp32.

    python -m qa.embed.e5_onnx_export MODEL_DIR TARGET

qa.embed.e5_onnx runs this once in a child process, so that the serving process needs neither
torch nor transformers to embed questions.
"""

from __future__ import annotations

import argparse
import os
import uuid
import warnings
from pathlib import Path

import torch

OPSET = 17


class _States(torch.nn.Module):
    """BertModel from inputs_embeds: the last hidden states (pooling is done by the caller)."""

    def __init__(self, body: torch.nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.body(  # type: ignore[no-any-return]
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(attention_mask),
        ).last_hidden_state


def export_states(model_dir: Path, target: Path) -> None:
    """Write the fp32 graph (dynamic batch and length) to target, atomically."""
    from transformers import BertModel

    body = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False, dtype=torch.float32)
    body.set_attn_implementation("eager")
    body.eval()  # type: ignore[no-untyped-call]
    hidden = int(body.config.hidden_size)
    embeds = torch.randn((2, 8, hidden))
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0  # a padded row, so no all-ones shortcut is traced
    names = ("inputs_embeds", "attention_mask", "states")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _States(body),
                (embeds, mask),
                str(tmp),
                input_names=list(names[:2]),
                output_names=[names[2]],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in names},
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    export_states(args.model_dir, args.target)


if __name__ == "__main__":
    main()
