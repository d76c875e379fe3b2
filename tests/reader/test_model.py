"""LoRA merge equivalence, shipped-tensor selection, weights round trip and base-hash checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qa.embed.export import MANIFEST  # noqa: E402
from qa.errors import ConfigError, ReaderWeightsMismatchError  # noqa: E402
from qa.reader.features import WindowSpec  # noqa: E402
from qa.reader.lora import LoraLinear, add_lora, merge_lora  # noqa: E402
from qa.reader.manifest import (  # noqa: E402
    LoraConfig,
    ReaderManifest,
    check_base,
    read_manifest,
)
from qa.reader.model import (  # noqa: E402
    SpanModel,
    is_shipped,
    load_weights_into,
    quantize_body,
    save_weights,
)


def tiny_bert() -> Any:
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    return transformers.BertModel(config, add_pooling_layer=False)


def tiny_span_model(seed: int) -> SpanModel:
    torch.manual_seed(seed)
    body = tiny_bert()
    add_lora(body, LoraConfig(rank=4, alpha=8, dropout=0.0))
    model = SpanModel(body, 16)
    with torch.no_grad():  # B starts at zero; give the adapters something to merge
        for module in model.modules():
            if isinstance(module, LoraLinear):
                module.lora_b.normal_(0, 0.5)
    return model.eval()


def inputs() -> tuple[Any, Any, Any]:
    ids = torch.tensor([[0, 5, 6, 2, 2, 7, 8, 9, 2, 1], [0, 5, 2, 2, 11, 12, 2, 1, 1, 1]])
    mask = (ids != 1).long()
    allowed = torch.zeros_like(ids, dtype=torch.bool)
    allowed[:, 0] = True
    allowed[0, 5:8] = True
    allowed[1, 4:6] = True
    return ids, mask, allowed


def test_merged_model_matches_the_adapter_model() -> None:
    model = tiny_span_model(0)
    ids, mask, allowed = inputs()
    with torch.no_grad():
        before = model(ids, mask, allowed)
        wrapped = sum(isinstance(m, LoraLinear) for m in model.modules())
        assert merge_lora(model) == wrapped == 12  # 6 linears x 2 layers
        after = model(ids, mask, allowed)
    assert not any(isinstance(m, LoraLinear) for m in model.modules())
    for x, y in zip(before, after, strict=True):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


def test_adapters_change_the_output_and_masked_positions_stay_masked() -> None:
    model = tiny_span_model(0)
    ids, mask, allowed = inputs()
    with torch.no_grad():
        start, _ = model(ids, mask, allowed)
        for module in model.modules():
            if isinstance(module, LoraLinear):
                module.lora_b.zero_()
        plain, _ = model(ids, mask, allowed)
    assert not torch.allclose(start[allowed], plain[allowed])
    assert bool((start[~allowed] == -1e4).all())


@pytest.mark.parametrize(
    ("name", "shipped"),
    [
        ("head.weight", True),
        ("body.encoder.layer.0.attention.self.query.lora_a", True),
        ("body.encoder.layer.0.attention.self.query.base.bias", True),
        ("body.encoder.layer.0.attention.self.query.base.weight", False),
        ("body.encoder.layer.3.output.LayerNorm.weight", True),
        ("body.embeddings.word_embeddings.weight", False),
        ("body.embeddings.position_embeddings.weight", False),
    ],
)
def test_only_what_training_changes_ships(name: str, shipped: bool) -> None:
    assert is_shipped(name) is shipped


def _fake_export(folder: Path, sha: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(json.dumps({"source_sha256": sha}), encoding="utf-8")
    return folder


def _manifest(sha: str) -> ReaderManifest:
    return ReaderManifest(sha, LoraConfig(rank=4, alpha=8), WindowSpec(128, 32), {"note": "t"})


def test_weights_round_trip_restores_every_shipped_tensor(tmp_path: Path) -> None:
    trained = tiny_span_model(1)
    save_weights(trained, _manifest("a" * 64), tmp_path / "w")
    fresh = tiny_span_model(1)  # the same base (it comes from the export, not the file)
    with torch.no_grad():  # ... but other adapters, head, biases and norms
        for name, param in fresh.named_parameters():
            if is_shipped(name):
                param.normal_(0, 1)
    ids, mask, allowed = inputs()
    with torch.no_grad():
        assert not torch.allclose(fresh(ids, mask, allowed)[0], trained(ids, mask, allowed)[0])
    load_weights_into(fresh, tmp_path / "w")
    with torch.no_grad():
        torch.testing.assert_close(fresh(ids, mask, allowed), trained(ids, mask, allowed))
    manifest = read_manifest(tmp_path / "w")
    assert manifest.base_sha256 == "a" * 64
    assert manifest.lora == LoraConfig(rank=4, alpha=8)
    assert manifest.spec == WindowSpec(128, 32)
    assert manifest.extra["note"] == "t"


def test_weights_for_another_shape_are_refused(tmp_path: Path) -> None:
    save_weights(tiny_span_model(1), _manifest("a" * 64), tmp_path / "w")
    torch.manual_seed(0)
    body = tiny_bert()
    add_lora(body, LoraConfig(rank=2, alpha=8))
    with pytest.raises(ConfigError, match="do not fit"):
        load_weights_into(SpanModel(body, 16), tmp_path / "w")


def test_base_model_hash_mismatch_is_a_clear_config_error(tmp_path: Path) -> None:
    manifest = _manifest("a" * 64)
    check_base(manifest, _fake_export(tmp_path / "same", "a" * 64))
    with pytest.raises(ReaderWeightsMismatchError, match="retrain the reader") as caught:
        check_base(manifest, _fake_export(tmp_path / "other", "b" * 64))
    assert isinstance(caught.value, ConfigError)
    with pytest.raises(ConfigError, match="not a `qa model export` folder"):
        check_base(manifest, tmp_path)


def test_shipped_manifest_names_the_bundled_model(exported_dir: Path) -> None:
    from qa.reader.manifest import WEIGHTS_DIR

    if not (WEIGHTS_DIR / "manifest.json").exists():
        pytest.skip("no shipped weights yet")
    check_base(read_manifest(WEIGHTS_DIR), exported_dir)


def test_half_word_table_is_exact_for_float16_values_and_keeps_the_model_float32() -> None:
    from qa.embed.half_table import HalfEmbedding, half_word_embeddings

    model = tiny_span_model(3)
    body: Any = model.body
    table = body.get_submodule("embeddings.word_embeddings")
    with torch.no_grad():  # the exported table holds float16 values, as on disk
        table.weight.copy_(table.weight.half().float())
    before = model(*inputs())
    half_word_embeddings(model.body)
    swapped = body.get_submodule("embeddings.word_embeddings")
    assert isinstance(swapped, HalfEmbedding)
    assert swapped.get_buffer("weight").dtype == torch.float16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    after = model(*inputs())
    for old, new in zip(before, after, strict=True):
        assert torch.equal(old, new)


def test_half_word_table_changes_the_output_of_float32_values_only_slightly() -> None:
    from qa.embed.half_table import half_word_embeddings

    model = tiny_span_model(4)
    before = model(*inputs())
    half_word_embeddings(model.body)
    after = model(*inputs())
    assert not all(torch.equal(o, n) for o, n in zip(before, after, strict=True))
    for old, new in zip(before, after, strict=True):
        assert torch.allclose(old, new, atol=5e-2)


def test_int8_quantizes_the_body_and_keeps_the_head() -> None:
    model = SpanModel(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU()), 8)
    quantize_body(model)
    first = next(iter(model.body.children()))
    assert type(first).__module__.startswith("torch.ao.nn.quantized")
    assert type(model.head) is torch.nn.Linear  # scores keep their float32 scale
