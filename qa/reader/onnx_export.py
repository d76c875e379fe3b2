"""Export the merged span reader to ONNX and quantize its weights to int8 (torch; a child process).

    python -m qa.reader.onnx_export MODEL_DIR WEIGHTS_DIR TARGET

qa.reader.onnx runs this in a child process the first time a reader is needed, so the serving
process never imports torch or transformers: the export needs them (and ~1 GB for a minute),
reading does not.
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import torch

from qa.embed.onnx_graph import aside, export_graph, padded_mask
from qa.reader.model import SpanModel, load_span_model


class _Logits(torch.nn.Module):
    """The span model from token vectors on, without the `allowed` mask (applied after)."""

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


def export_int8(model: SpanModel, target: Path) -> None:
    """Export the merged fp32 model (dynamic batch and length), quantize it, atomically.

    The token table stays out of the graph (looked up by the caller): with it the file would be
    470 MB and its quantization minutes long; without it the int8 file is ~22 MB.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    inner = copy.deepcopy(model).float().eval()
    inner.body.set_attn_implementation("eager")  # type: ignore[operator]
    embeds = torch.randn((2, 8, int(getattr(inner.body, "config").hidden_size)))  # noqa: B009
    mask = padded_mask()
    fp32 = aside(target.with_suffix(".fp32.onnx"))
    tmp = aside(target)
    try:
        inputs = ("inputs_embeds", "attention_mask")
        export_graph(_Logits(inner), (embeds, mask), inputs, "logits", fp32)
        quantize_dynamic(str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        os.replace(tmp, target)
    finally:
        fp32.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("weights", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, _ = load_span_model(args.model_dir, args.weights)
    export_int8(model, args.target)


if __name__ == "__main__":
    main()
