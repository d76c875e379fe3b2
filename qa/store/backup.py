"""Consistent backups of an index folder, safe while servers are reading and writing it.

Only the catalogue (SQLite, the source of truth) and the manifest are copied: snapshots are a
cache that the importing side rebuilds. SQLite's online backup API copies one committed state
even while other processes commit, and restoring through it into a live catalogue is seen by
running servers as one foreign commit (they reload, because the catalogue id changes).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from qa.errors import InvalidInputError, NotFoundError
from qa.store.layout import CATALOG_NAME, MANIFEST_NAME, SNAPSHOT_FOLDER
from qa.store.manifest import read_manifest, write_manifest


def _copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dst.execute("PRAGMA busy_timeout=30000")
        src.backup(dst, pages=4096)  # steps; restarts by itself if the source changes
        dst.execute("PRAGMA journal_mode=WAL")
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise InvalidInputError(f"the copy of {source} failed SQLite's integrity check")
    finally:
        dst.close()
        src.close()


def export_index(index_dir: Path, target: Path) -> Path:
    """Copy a consistent snapshot of the index into a new folder `target`."""
    catalog = index_dir / CATALOG_NAME
    manifest = read_manifest(index_dir)
    if manifest is None or not catalog.exists():
        raise NotFoundError(f"no index in {index_dir}")
    if target.exists() and any(target.iterdir()):
        raise InvalidInputError(f"{target} exists and is not empty")
    target.mkdir(parents=True, exist_ok=True)
    _copy(catalog, target / CATALOG_NAME)
    write_manifest(target, manifest)
    return target


def import_index(source: Path, index_dir: Path, replace: bool = False) -> None:
    """Restore an exported folder into index_dir (replacing an existing index only if asked)."""
    manifest = read_manifest(source)
    if manifest is None or not (source / CATALOG_NAME).exists():
        raise NotFoundError(f"{source} holds no exported index ({MANIFEST_NAME}, {CATALOG_NAME})")
    existing = index_dir / CATALOG_NAME
    if existing.exists() and not replace:
        raise InvalidInputError(f"{index_dir} already holds an index; pass --replace to overwrite")
    index_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(index_dir, manifest)
    _copy(source / CATALOG_NAME, existing)
    shutil.rmtree(index_dir / SNAPSHOT_FOLDER, ignore_errors=True)
