"""The names of the files and folders an index folder holds: defined here and nowhere else."""

from __future__ import annotations

import shutil
from pathlib import Path

CATALOG_NAME = "catalog.sqlite3"  # documents, passages, vectors and the change log
MANIFEST_NAME = "manifest.json"  # what the index was built with
SNAPSHOT_FOLDER = "snapshots"  # mapped search views, one folder per generation
SNAPSHOT_PREFIX = "snap-"
SNAPSHOT_META = "snapshot.json"
BACKGROUND_PREFIX = "background-"  # cached background vectors, one file per model


def catalog_path(index_dir: Path) -> Path:
    """The catalogue database of an index folder."""
    return index_dir / CATALOG_NAME


def snapshot_folder(index_dir: Path, generation: int) -> Path:
    """The folder of one snapshot generation."""
    return index_dir / SNAPSHOT_FOLDER / f"{SNAPSHOT_PREFIX}{generation:012d}"


def remove_index(index_dir: Path) -> None:
    """Delete an index's files (catalogue with its WAL files, manifest, snapshots), nothing else."""
    for name in (CATALOG_NAME, f"{CATALOG_NAME}-wal", f"{CATALOG_NAME}-shm", MANIFEST_NAME):
        (index_dir / name).unlink(missing_ok=True)
    shutil.rmtree(index_dir / SNAPSHOT_FOLDER, ignore_errors=True)
