"""Write a torch module as an ONNX graph: dynamic batch and token axes, written aside and
renamed into place, so that a reader never sees half a file. The one exporter behind the
bundled e5's question graph, the reader's graph and sentence-transformers' question graphs."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

OPSET = 17


def aside(target: Path) -> Path:
    """A temporary name beside `target`, unique to this process and call."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")


def padded_mask() -> Any:
    """An example attention mask of 2 x 8 tokens whose second row is padded after 5, so that
    tracing sees padding and keeps no all-ones shortcut."""
    import torch

    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0
    return mask


def export_graph(
    module: Any,
    example: Sequence[Any],
    inputs: Sequence[str],
    output: str,
    target: Path,
) -> None:
    """Trace `module` on `example` (one tensor per input name; every input and the output
    have axes 0 = batch, 1 = tokens) and write the graph to `target`, atomically."""
    import torch

    axes = {name: {0: "batch", 1: "tokens"} for name in [*inputs, output]}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = aside(target)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                tuple(example),
                str(tmp),
                input_names=list(inputs),
                output_names=[output],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
