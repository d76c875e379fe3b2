"""Any sentence-transformers model by name or path (imported only when chosen: it is slow)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.base import Vectors, l2_normalise
from qa.embed.onnx_query import OnnxQueryEncoder
from qa.embed.parallel import embed_rows
from qa.embed.precision import cpu_flags, resolve_precision, torch_dtype
from qa.errors import ConfigError

QUERY_ENGINES = ("auto", "torch")
QUERY_BATCH = 8  # up to this many texts run as one direct forward pass (no encode overhead)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; e5-style models get their query/passage prefixes."""

    def __init__(
        self,
        name_or_path: str,
        device: str | None = None,
        batch_size: int = 32,
        model_id: str | None = None,
        precision: str = "auto",
        cache_dir: Path | None = None,
        query_engine: str = "auto",
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                "this embedder needs sentence-transformers: pip install 'qa[st]'"
            ) from exc
        try:
            self._model: Any = SentenceTransformer(name_or_path, device=device or "cpu")
        except OSError as exc:
            raise ConfigError(
                f"cannot load sentence-transformers model {name_or_path!r}: {exc}"
            ) from exc
        self._name = name_or_path
        self._device = str(self._model.device)
        self.precision = resolve_precision(precision, self._device, cpu_flags())
        self._model_id = model_id
        self._batch_size = batch_size
        is_e5 = "e5" in Path(name_or_path).name.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""
        self._lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        if query_engine not in QUERY_ENGINES:
            raise ConfigError(f"unknown query engine {query_engine!r} (auto or torch)")
        # Questions through ONNX Runtime (exported on first use) where the model allows it.
        self._onnx_wanted = (
            query_engine == "auto"
            and cache_dir is not None
            and self._device == "cpu"
            and Path(name_or_path).is_dir()
        )
        self._cache_dir = cache_dir
        self._passage_model: Any = None  # the model in the batch precision, made on first use
        self._onnx: OnnxQueryEncoder | None = None
        self._onnx_lock = threading.Lock()

    @property
    def query_engine(self) -> str:
        """'onnx' once questions run through ONNX Runtime, else 'torch'."""
        return "onnx" if self._query_encoder() is not None else "torch"

    def _query_encoder(self) -> OnnxQueryEncoder | None:
        """The ONNX encoder, built (exported if need be) on the first question; tried once."""
        if not self._onnx_wanted:
            return self._onnx
        with self._onnx_lock:
            if self._onnx_wanted and self._cache_dir is not None:
                self._onnx = OnnxQueryEncoder.for_model(
                    self._model, Path(self._name), self._cache_dir
                )
                self._onnx_wanted = False
            return self._onnx

    @property
    def model_id(self) -> str:
        if self._model_id:
            return self._model_id
        path = Path(self._name)
        return f"{path.parent.name}/{path.name}" if path.exists() else self._name

    @property
    def dim(self) -> int:
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        texts = [self._query_prefix + t for t in texts]
        if 0 < len(texts) <= QUERY_BATCH:
            onnx = self._query_encoder()
            return onnx.encode(texts) if onnx is not None else self._forward(texts)
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode([self._passage_prefix + t for t in texts], passages=True)

    def count_tokens(self, text: str) -> int:
        # verbose=False: counting a text longer than the model reads is the point, not a mistake
        tokens = self._model.tokenizer(self._passage_prefix + text, verbose=False)
        return len(tokens["input_ids"])

    def _forward(self, texts: list[str]) -> Vectors:
        """A few texts straight through the model: `encode`'s batching costs ~4 ms a call."""
        import torch

        with self._lock, torch.inference_mode():
            return l2_normalise(self._run(self._model, texts))

    def _run(self, model: Any, texts: list[str]) -> Vectors:
        """Un-normalised vectors of one batch (the caller holds inference mode)."""
        import torch

        with self._tokenizer_lock:  # a fast tokenizer must not be entered by two threads
            preprocess = getattr(model, "preprocess", None) or model.tokenize
            features = preprocess(texts)
        features = {
            k: v.to(self._device) if isinstance(v, torch.Tensor) else v for k, v in features.items()
        }
        out: Vectors = model(features)["sentence_embedding"].float().cpu().numpy()
        return out

    def _encode(self, texts: list[str], passages: bool = False) -> Vectors:
        """Many texts in length-sorted batches (little padding), run side by side on a CPU."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        size = self._batch_size
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        with self._lock:
            model = self._batch_model() if passages else self._model
            out = embed_rows(
                torch,
                self._device,
                lambda b: self._run(model, [texts[i] for i in b]),
                batches,
                (len(texts), self.dim),
            )
        return l2_normalise(out)

    def _batch_model(self) -> Any:
        """The model passages run through: a copy in bfloat16 when that is the precision.

        Questions keep the float32 model (and its ONNX export); the copy costs half its size.
        """
        if self.precision == "fp32":
            return self._model
        if self._passage_model is None:
            import torch

            self._passage_model = copy.deepcopy(self._model).to(torch_dtype(torch, self.precision))
        return self._passage_model
