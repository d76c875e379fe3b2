"""The fitted clause map: fitting, applying, the model check, and the shipped file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.embed.base import l2_normalise
from qa.embed.clause_map import (
    CLAUSE_MAP_FILE,
    ClauseMap,
    fit_weights,
    load_clause_map,
    save_clause_map,
)
from qa.errors import ConfigError
from qa.pipeline import CLAUSE_LAYERS

SHA = "ab" * 32


def _map(weights: np.ndarray, layers: int = 2) -> ClauseMap:
    return ClauseMap(weights.astype(np.float32), layers, SHA, {"note": "test"})


def test_fit_recovers_a_linear_map_with_its_bias() -> None:
    rng = np.random.default_rng(0)
    true = rng.normal(size=(9, 8))  # 8 components, then the bias row
    pooled = rng.normal(size=(400, 8)).astype(np.float32)
    target = (pooled @ true[:-1] + true[-1]).astype(np.float32)
    fitted = fit_weights(pooled, target, ridge=1e-6)
    assert fitted.shape == (9, 8) and fitted.dtype == np.float32
    np.testing.assert_allclose(fitted, true, atol=1e-3)


def test_ridge_shrinks_the_weights() -> None:
    rng = np.random.default_rng(1)
    pooled = rng.normal(size=(20, 8)).astype(np.float32)
    target = rng.normal(size=(20, 8)).astype(np.float32)
    loose, tight = fit_weights(pooled, target, 1e-6), fit_weights(pooled, target, 100.0)
    assert np.linalg.norm(tight) < 0.5 * np.linalg.norm(loose)


@pytest.mark.parametrize(
    ("pooled", "target"),
    [((5, 4), (5, 3)), ((5, 4), (4, 4)), ((0, 4), (0, 4)), ((4,), (4,))],
)
def test_fit_refuses_rows_that_do_not_pair(
    pooled: tuple[int, ...], target: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match="must match"):
        fit_weights(np.ones(pooled, np.float32), np.ones(target, np.float32), 0.1)


def test_apply_maps_then_normalises() -> None:
    weights = np.zeros((4, 3))
    weights[:3] = np.diag([2.0, 1.0, 1.0])
    weights[3] = [0.0, 0.0, 1.0]
    rows = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    mapped = _map(weights).apply(rows)
    expected = l2_normalise(np.array([[2.0, 0.0, 1.0], [0.0, 1.0, 1.0]], np.float32))
    np.testing.assert_allclose(mapped, expected, atol=1e-6)
    assert mapped.dtype == np.float32


def test_apply_keeps_an_empty_passage_empty_and_refuses_other_widths() -> None:
    clause_map = _map(np.eye(4, 3))
    assert clause_map.apply(np.zeros((0, 3), np.float32)).shape == (0, 3)
    with pytest.raises(ValueError, match="3 components"):
        clause_map.apply(np.ones((2, 5), np.float32))


@pytest.mark.parametrize(("sha", "layers"), [("cd" * 32, 2), (SHA, 4)])
def test_check_refuses_another_model_or_layer_count(sha: str, layers: int) -> None:
    _map(np.eye(4, 3)).check(SHA, 2)  # its own model and layers pass
    with pytest.raises(ConfigError, match="QA_CLAUSE_VECTORS=separate"):
        _map(np.eye(4, 3)).check(sha, layers)


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    weights = np.random.default_rng(2).normal(size=(5, 4))
    path = tmp_path / "deep" / "map.npz"
    save_clause_map(path, _map(weights, layers=3))
    loaded = load_clause_map(path)
    np.testing.assert_array_equal(loaded.weights, weights.astype(np.float32))
    assert (loaded.clause_layers, loaded.base_sha256, loaded.info) == (3, SHA, {"note": "test"})


def test_unreadable_maps_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_clause_map(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="cannot read"):
        load_clause_map(tmp_path / "junk.npz")
    np.savez(tmp_path / "square.npz", weights=np.eye(4), header=np.array('{"format_version": 1}'))
    with pytest.raises(ConfigError, match="shape"):
        load_clause_map(tmp_path / "square.npz")


def test_the_shipped_map_is_for_the_mapped_setting() -> None:
    shipped = load_clause_map(CLAUSE_MAP_FILE)
    assert shipped.clause_layers == CLAUSE_LAYERS["mapped"]
    assert shipped.weights.shape == (385, 384)
    assert len(shipped.base_sha256) == 64
    assert shipped.info["cosine_aside_mapped"] > shipped.info["cosine_aside_pooled"]
