"""Low-rank adapters (LoRA) on a model's linear layers, and merging them back in.

Training wraps each target `nn.Linear` as W x + b + (alpha/r) B A x with W frozen; at load time
B A is added into W once, so inference costs what the base model costs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from qa.reader.manifest import LoraConfig


class LoraLinear(nn.Module):
    """A frozen linear plus a trainable low-rank update."""

    def __init__(self, base: nn.Linear, config: LoraConfig) -> None:
        super().__init__()
        self.base = base
        self.scale = config.scale
        self.lora_a = nn.Parameter(torch.empty(config.rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, config.rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.dropout = nn.Dropout(config.dropout)
        base.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Base output plus the scaled low-rank path."""
        update = (self.dropout(x) @ self.lora_a.T) @ self.lora_b.T
        out: torch.Tensor = self.base(x) + update * self.scale
        return out

    def merged(self) -> nn.Linear:
        """A plain linear with B A folded into its weight."""
        out = nn.Linear(self.base.in_features, self.base.out_features, self.base.bias is not None)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.scale * (self.lora_b @ self.lora_a))
            if self.base.bias is not None and out.bias is not None:
                out.bias.copy_(self.base.bias)
        return out


def _targets(model: nn.Module, suffixes: Iterable[str]) -> list[str]:
    ends = tuple("." + s for s in suffixes)
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and (name.endswith(ends) or name in suffixes)
    ]


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def add_lora(model: nn.Module, config: LoraConfig) -> list[str]:
    """Wrap every target linear in a LoraLinear; returns the wrapped module names."""
    names = _targets(model, config.targets)
    if not names:
        raise ValueError(f"no linear layer ends with any of {config.targets}")
    for name in names:
        base = model.get_submodule(name)
        assert isinstance(base, nn.Linear)
        _set(model, name, LoraLinear(base, config))
    return names


def merge_lora(model: nn.Module) -> int:
    """Replace every LoraLinear by its merged linear; returns how many were merged."""
    names = [name for name, m in model.named_modules() if isinstance(m, LoraLinear)]
    for name in names:
        wrapped = model.get_submodule(name)
        assert isinstance(wrapped, LoraLinear)
        _set(model, name, wrapped.merged())
    return len(names)
