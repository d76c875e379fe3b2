"""Reader fixtures: the exported tokenizer (the exported model is tests/conftest.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tokenizer(exported_dir: Path) -> object:
    """The exported tokenizer, read as `tokenizers` reads it (training and inference)."""
    from qa.reader.infer import load_tokenizer

    return load_tokenizer(exported_dir)
