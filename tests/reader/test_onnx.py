"""The span reader on ONNX Runtime: export cache key, masking, engine choice, and closeness.

The unit tests use fakes (a session that returns given logits, a tiny torch module); the
integration test exports the shipped reader once and compares its logits with torch fp32.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from qa.answer.readers import load_span_scorer, with_precision  # noqa: E402
from qa.errors import ConfigError  # noqa: E402
from qa.reader.model import ADAPTER_FILE, MANIFEST_FILE, MASKED, WEIGHTS_DIR  # noqa: E402
from qa.reader.onnx import OnnxSpanLogits, reader_digest  # noqa: E402


class FakeSession:
    """Returns fixed logits and records what it was fed."""

    def __init__(self, logits: np.ndarray) -> None:
        self.logits = logits
        self.fed: list[dict[str, np.ndarray]] = []

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert names == ["logits"]
        self.fed.append(feed)
        return [self.logits]


def test_session_logits_are_split_and_masked_like_the_torch_model() -> None:
    logits = np.arange(2 * 4 * 2, dtype=np.float32).reshape(2, 4, 2)
    session = FakeSession(logits)
    ids = torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    allowed = torch.tensor([[True, False, True, False], [True, True, False, False]])
    embeddings = torch.nn.Embedding(8, 3)
    start, end = OnnxSpanLogits(session, embeddings)(ids, mask, allowed)
    assert start.shape == end.shape == (2, 4)
    assert start[0].tolist() == [0.0, MASKED, 4.0, MASKED]
    assert end[1].tolist() == [9.0, 11.0, MASKED, MASKED]
    [feed] = session.fed
    assert sorted(feed) == ["attention_mask", "inputs_embeds"]
    with torch.inference_mode():
        assert np.allclose(feed["inputs_embeds"], embeddings(ids).numpy())
    assert feed["attention_mask"].tolist()[1][3] == 0


def test_the_export_is_named_by_the_weights_and_the_base_model(tmp_path: Path) -> None:
    for name in (ADAPTER_FILE, MANIFEST_FILE):
        (tmp_path / name).write_bytes(b"v1 " + name.encode())
    first = reader_digest(tmp_path, "base-a")
    assert reader_digest(tmp_path, "base-a") == first
    assert reader_digest(tmp_path, "base-b") != first
    (tmp_path / ADAPTER_FILE).write_bytes(b"new weights")
    assert reader_digest(tmp_path, "base-a") != first


class _Reader:
    """A reader-shaped object whose model has a Linear body (what int8_linears quantizes)."""

    def __init__(self) -> None:
        model = torch.nn.Module()
        model.body = torch.nn.Sequential(torch.nn.Linear(4, 4))
        model.head = torch.nn.Linear(4, 2)
        self.model = model


def test_auto_engine_falls_back_to_torch_int8_and_onnx_engine_fails_loudly(
    tmp_path: Path,
) -> None:
    not_an_export = tmp_path / "model"
    not_an_export.mkdir()
    reader = with_precision(_Reader(), "int8", "auto", not_an_export, 1)
    assert type(reader.model.body[0]).__module__.startswith("torch.ao.nn.quantized")
    with pytest.raises(ConfigError, match="QA_READER_ENGINE=onnx"):
        with_precision(_Reader(), "int8", "onnx", not_an_export, 1)
    fp32 = with_precision(_Reader(), "fp32", "onnx", not_an_export, 1)
    assert type(fp32.model.body[0]) is torch.nn.Linear  # fp32 stays on torch
    with pytest.raises(ConfigError, match="unknown reader engine"):
        load_span_scorer("auto", tmp_path, engine="tpu")


@pytest.mark.integration
@pytest.mark.skipif(not (WEIGHTS_DIR / MANIFEST_FILE).exists(), reason="no shipped weights")
def test_the_onnx_int8_reader_stays_close_to_fp32_and_reads_the_same_span(
    exported_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from qa.reader.infer import batch_tensors, load_trained_reader
    from qa.reader.model import SpanModel, base_sha256
    from qa.reader.onnx import onnx_span_logits

    fp32 = load_trained_reader(exported_dir, threads=1)
    assert isinstance(fp32.model, SpanModel)
    cache = tmp_path / "cache"
    session = onnx_span_logits(fp32.model, WEIGHTS_DIR, base_sha256(exported_dir), cache, 1)
    assert len(list(cache.rglob("*.onnx"))) == 1, "one int8 file, no export leftovers"
    text = "برج إيفل برج حديدي في باريس. اكتمل بناء البرج عام 1889 بمناسبة المعرض العالمي."
    windows = fp32.windows("متى اكتمل بناء برج إيفل؟", [text, text[:40]])
    ids, mask, allowed = batch_tensors(windows, fp32.specials.pad)
    with torch.inference_mode():
        want = fp32.model(ids, mask, allowed)
    got = session(ids, mask, allowed)
    for a, b in zip(got, want, strict=True):
        # int8 weights move a logit by a share of the logits' spread (measured, 3-epoch
        # weights: at most 1.08 of a spread of 9.7, one position; most under 0.3), and the
        # best position stays the best
        spread = float(b[allowed].max() - b[allowed].min())
        assert float((a - b)[allowed].abs().max()) < 0.15 * spread
        assert int(a.masked_fill(~allowed, -1e9).argmax()) == int(
            b.masked_fill(~allowed, -1e9).argmax()
        )
    onnx_reader = load_trained_reader(exported_dir, threads=1)
    onnx_reader.model = session
    best = onnx_reader.read("متى اكتمل بناء برج إيفل؟", [text])[0]
    assert text[best.start : best.end] == "1889"
    shutil.rmtree(cache)
