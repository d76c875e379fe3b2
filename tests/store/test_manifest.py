from pathlib import Path

import pytest

from qa.errors import IndexMismatchError
from qa.store.manifest import Manifest, read_manifest, write_manifest

BASE = Manifest(embedder="m", dimension=384, normalizer="ar-1", chunking={"max_tokens": 400})


def test_round_trip(tmp_path: Path) -> None:
    write_manifest(tmp_path, BASE)
    assert read_manifest(tmp_path) == BASE
    assert read_manifest(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("other", "match"),
    [
        (Manifest("other-model", 384, "ar-1", {}), "built with embedder 'other-model'"),
        (Manifest("m", 768, "ar-1", {}), "768-d"),
        (Manifest("m", 384, "ar-0", {}), "normaliser"),
        (Manifest("m", 384, "ar-1", {}, format_version=99), "format 99"),
    ],
)
def test_mismatches_are_refused(other: Manifest, match: str) -> None:
    with pytest.raises(IndexMismatchError, match=match):
        BASE.check_compatible(other)


def test_corrupt_manifest_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexMismatchError, match="unreadable"):
        read_manifest(tmp_path)


def test_writers_at_the_same_time_all_succeed(tmp_path: Path) -> None:
    """Two servers starting on one index both write the manifest: neither may fail."""
    from concurrent.futures import ThreadPoolExecutor

    def write(_: int) -> None:
        for _ in range(25):
            write_manifest(tmp_path, BASE)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))  # re-raises any writer's error
    assert read_manifest(tmp_path) == BASE
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left
