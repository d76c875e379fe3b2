"""Export the bundled e5's transformer (from token vectors to token states) to ONNX, in fp32.

    python -m qa.embed.e5_onnx_export MODEL_DIR TARGET

qa.embed.e5_onnx runs this once in a child process, so that the serving process needs neither
torch nor transformers to embed questions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from qa.embed.onnx_graph import export_graph, padded_mask


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
    mask = padded_mask()
    inputs = ("inputs_embeds", "attention_mask")
    export_graph(_States(body), (embeds, mask), inputs, "states", target)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    export_states(args.model_dir, args.target)


if __name__ == "__main__":
    main()
