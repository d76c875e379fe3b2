"""Snapshot files of the in-memory view: a cache for fast start-up, never the source of truth.

A snapshot is a folder `snap-<generation>` holding the two FAISS indexes and the passage
state, plus `snapshot.json` (generation, catalogue id, index kinds, size and CRC-32 of each
file). It is written into a private temporary folder, fsynced, then renamed into place, so a
crash leaves either the whole snapshot or an ignored temporary. A reader checks sizes and
checksums before trusting one; a bad or foreign snapshot is skipped and the view is rebuilt
from SQLite (and the change log after the snapshot's generation is applied on top).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from qa.store.vectors import IndexSpec

log = logging.getLogger("qa.store")

FOLDER = "snapshots"
META = "snapshot.json"
KEEP = 2  # snapshots kept (a process may still be reading the previous one)
_FILES = ("dense.faiss", "clauses.faiss", "state.pickle")


@dataclass(frozen=True)
class SnapshotData:
    """The serialised view at one generation."""

    generation: int
    dense: npt.NDArray[np.uint8]
    clauses: npt.NDArray[np.uint8]
    specs: tuple[IndexSpec, IndexSpec]
    state: bytes


def _crc(data: bytes | memoryview) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(index_dir: Path, data: SnapshotData, catalog_id: str) -> Path | None:
    """Write a snapshot atomically; None when one of this generation already exists."""
    root = index_dir / FOLDER
    root.mkdir(exist_ok=True)
    final = root / f"snap-{data.generation:012d}"
    if final.exists():
        return None
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files: dict[str, list[int]] = {}
        for name, blob in zip(_FILES, (data.dense, data.clauses, data.state), strict=True):
            raw = memoryview(blob).cast("B")  # type: ignore[arg-type]
            with (tmp / name).open("wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            files[name] = [len(raw), _crc(raw)]
        meta = {
            "generation": data.generation,
            "catalog_id": catalog_id,
            "specs": [s.as_dict() for s in data.specs],
            "files": files,
        }
        with (tmp / META).open("w", encoding="utf-8") as handle:
            json.dump(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(tmp)
        os.rename(tmp, final)
        _fsync_dir(root)
    except FileExistsError:
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(root)
    return final


def _prune(root: Path) -> None:
    snaps = sorted(p for p in root.glob("snap-*") if p.is_dir())
    for old in snaps[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)


def clean_temporaries(index_dir: Path) -> None:
    """Remove temporaries left by a crashed writer (only those of dead processes)."""
    for tmp in (index_dir / FOLDER).glob(".tmp-*"):
        try:
            pid = int(tmp.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, PermissionError, IndexError):
            continue


def read_snapshot(index_dir: Path, catalog_id: str, max_generation: int) -> SnapshotData | None:
    """The newest intact snapshot of this catalogue at or below `max_generation`, if any."""
    root = index_dir / FOLDER
    if not root.is_dir():
        return None
    for folder in sorted(root.glob("snap-*"), reverse=True):
        try:
            data = _read(folder, catalog_id, max_generation)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring snapshot %s: %s", folder.name, exc)
            continue
        if data is not None:
            return data
    return None


def _read(folder: Path, catalog_id: str, max_generation: int) -> SnapshotData | None:
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    if meta["catalog_id"] != catalog_id:
        raise ValueError("snapshot of another catalogue")
    if meta["generation"] > max_generation:
        raise ValueError(f"generation {meta['generation']} is ahead of the catalogue")
    blobs: list[bytes] = []
    for name in _FILES:
        size, crc = meta["files"][name]
        raw = (folder / name).read_bytes()
        if len(raw) != size or _crc(raw) != crc:
            raise ValueError(f"{name} is torn or corrupt (size or checksum differs)")
        blobs.append(raw)
    specs = tuple(IndexSpec(**s) for s in meta["specs"])
    return SnapshotData(
        generation=int(meta["generation"]),
        dense=np.frombuffer(blobs[0], dtype=np.uint8),
        clauses=np.frombuffer(blobs[1], dtype=np.uint8),
        specs=(specs[0], specs[1]),
        state=blobs[2],
    )
