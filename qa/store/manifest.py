"""The index describes itself; loading refuses an index built differently."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import IndexMismatchError
from qa.store.layout import MANIFEST_NAME

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """What an index was built with: enough to refuse a mismatched model or format."""

    embedder: str
    dimension: int
    normalizer: str
    chunking: dict[str, int]
    format_version: int = FORMAT_VERSION
    vector_index: dict[str, Any] = field(default_factory=lambda: {"type": "flat-ip"})

    def check_compatible(self, other: Manifest) -> None:
        """Raise IndexMismatchError when an index on disk cannot serve this configuration."""
        if other.format_version != self.format_version:
            raise IndexMismatchError(
                f"index format {other.format_version} is not supported (expected "
                f"{self.format_version}); rebuild it with `qa index --rebuild`"
            )
        if other.embedder != self.embedder or other.dimension != self.dimension:
            raise IndexMismatchError(
                f"the index was built with embedder {other.embedder!r} ({other.dimension}-d) "
                f"but {self.embedder!r} ({self.dimension}-d) is configured; set QA_EMBEDDER="
                f"{other.embedder!r} or rebuild the index with `qa index --rebuild`"
            )
        if other.normalizer != self.normalizer:
            raise IndexMismatchError(
                f"the index used text normaliser {other.normalizer!r}, this version uses "
                f"{self.normalizer!r}; rebuild it with `qa index --rebuild`"
            )

    def to_json(self) -> str:
        """Stable JSON text of the manifest."""
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; an unreadable one is a mismatch, not a crash."""
        try:
            data = json.loads(text)
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise IndexMismatchError(f"unreadable index manifest: {exc}") from exc


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write manifest.json atomically (temp file, fsync, rename).

    The temp file's name is this writer's own: two servers starting on one index at once
    both write the manifest, and a shared name let one rename the other's file away.
    """
    path = directory / MANIFEST_NAME
    fd, name = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(manifest.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest of an index directory, or None when there is none yet."""
    path = directory / MANIFEST_NAME
    if not path.exists():
        return None
    return Manifest.from_json(path.read_text(encoding="utf-8"))
