"""Reader fixtures: the exported bundled model (once per session) and its tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def exported_dir() -> Path:
    """The bundled model exported as a BERT folder into the session's model cache."""
    from qa.embed.export import export_bundled_model

    return export_bundled_model(Path(os.environ["QA_MODEL_CACHE_DIR"]))


@pytest.fixture(scope="session")
def tokenizer(exported_dir: Path) -> object:
    """The exported fast tokenizer (what training and inference both use)."""
    from qa.reader.infer import load_tokenizer

    return load_tokenizer(exported_dir)
