"""Snapshot files of the in-memory view: a cache for fast start-up, never the source of truth.

A snapshot is a folder `snap-<generation>` holding the two FAISS indexes, `columns.bin` (the
passage table and BM25 postings as plain arrays, each at an aligned offset) and `snapshot.json`
(format version, generation, catalogue id, index kinds, where each array lies, and size and
CRC-32 of each file). It is written into a private temporary folder, fsynced, then renamed into
place, so a crash leaves either the whole snapshot or an ignored temporary. A reader checks
sizes and checksums before trusting one, then maps the files instead of reading them: the
arrays are views of the mapped columns file. A bad, foreign or older-format snapshot is
skipped and the view is rebuilt from SQLite (and the change log after the snapshot's
generation is applied on top).
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.store.layout import SNAPSHOT_FOLDER, SNAPSHOT_META, SNAPSHOT_PREFIX, snapshot_folder
from qa.store.vectors import IndexSpec

log = logging.getLogger("qa.store")

FORMAT = 2  # 1 (unversioned) pickled the passages; it is ignored, then replaced
KEEP = 2  # snapshots kept (a process may still be reading the previous one)
DENSE, CLAUSES, COLUMNS = "dense.faiss", "clauses.faiss", "columns.bin"
_FILES = (DENSE, CLAUSES, COLUMNS)
_ALIGN = 64  # byte alignment of each array in the columns file

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class SnapshotData:
    """The serialised view at one generation, to be written."""

    generation: int
    dense: npt.NDArray[np.uint8]
    clauses: npt.NDArray[np.uint8]
    specs: tuple[IndexSpec, IndexSpec]
    columns: Mapping[str, Array]


@dataclass(frozen=True)
class Snapshot:
    """A checked snapshot on disk: FAISS files to map, arrays already mapped."""

    folder: Path
    generation: int
    specs: tuple[IndexSpec, IndexSpec]
    columns: Mapping[str, Array]

    @property
    def dense_path(self) -> Path:
        """The passage-vector index file."""
        return self.folder / DENSE

    @property
    def clauses_path(self) -> Path:
        """The clause-vector index file."""
        return self.folder / CLAUSES


def _crc(data: bytes | memoryview | mmap.mmap) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, chunks: list[memoryview]) -> list[int]:
    """Write and fsync a file; its [size, CRC-32]."""
    size, crc = 0, 0
    with path.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            size += len(chunk)
            crc = zlib.crc32(chunk, crc)
        handle.flush()
        os.fsync(handle.fileno())
    return [size, crc & 0xFFFFFFFF]


def _column_chunks(columns: Mapping[str, Array]) -> tuple[list[memoryview], dict[str, Any]]:
    """The arrays laid end to end at aligned offsets, and where each one lies."""
    chunks: list[memoryview] = []
    layout: dict[str, Any] = {}
    offset = 0
    for name, array in columns.items():
        pad = -offset % _ALIGN
        if pad:
            chunks.append(memoryview(bytes(pad)))
            offset += pad
        flat = np.ascontiguousarray(array)
        layout[name] = {"dtype": flat.dtype.str, "shape": list(flat.shape), "offset": offset}
        chunks.append(flat.reshape(-1).data.cast("B"))
        offset += flat.nbytes
    return chunks, layout


def _is_current(folder: Path) -> bool:
    try:
        meta = json.loads((folder / SNAPSHOT_META).read_text(encoding="utf-8"))
        return bool(meta.get("format") == FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def write_snapshot(index_dir: Path, data: SnapshotData, catalog_id: str) -> Path | None:
    """Write a snapshot atomically; None when one of this generation already exists.

    A folder of this generation in an older format (or unreadable) is replaced, or every
    start would keep ignoring it and rebuilding from SQLite.
    """
    root = index_dir / SNAPSHOT_FOLDER
    root.mkdir(exist_ok=True)
    final = snapshot_folder(index_dir, data.generation)
    if final.exists():
        if _is_current(final):
            return None
        _discard(root, final)
    tmp = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        chunks, layout = _column_chunks(data.columns)
        files = {
            DENSE: _write(tmp / DENSE, [data.dense.data.cast("B")]),
            CLAUSES: _write(tmp / CLAUSES, [data.clauses.data.cast("B")]),
            COLUMNS: _write(tmp / COLUMNS, chunks),
        }
        meta = {
            "format": FORMAT,
            "generation": data.generation,
            "catalog_id": catalog_id,
            "specs": [s.as_dict() for s in data.specs],
            "files": files,
            "columns": layout,
        }
        with (tmp / SNAPSHOT_META).open("w", encoding="utf-8") as handle:
            json.dump(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(tmp)
        os.rename(tmp, final)
        _fsync_dir(root)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if final.exists():  # another process wrote this generation first
            return None
        raise
    _prune(root)
    return final


def _discard(root: Path, folder: Path) -> None:
    """Move a folder out of the way (atomically), then delete it."""
    doomed = root / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-old"
    try:
        os.rename(folder, doomed)
    except OSError:  # gone already (another process replaced it)
        return
    shutil.rmtree(doomed, ignore_errors=True)


def snapshot_generations(index_dir: Path) -> list[int]:
    """Generations of the snapshot folders present (intact or not), oldest first."""
    found: list[int] = []
    for folder in (index_dir / SNAPSHOT_FOLDER).glob(f"{SNAPSHOT_PREFIX}*"):
        try:
            found.append(int(folder.name.removeprefix(SNAPSHOT_PREFIX)))
        except ValueError:
            continue
    return sorted(found)


def _prune(root: Path) -> None:
    snaps = sorted(p for p in root.glob(f"{SNAPSHOT_PREFIX}*") if p.is_dir())
    for old in snaps[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)


def clean_temporaries(index_dir: Path) -> None:
    """Remove temporaries left by a crashed writer (only those of dead processes)."""
    for tmp in (index_dir / SNAPSHOT_FOLDER).glob(".tmp-*"):
        try:
            pid = int(tmp.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, PermissionError, IndexError):
            continue


def read_snapshot(index_dir: Path, catalog_id: str, max_generation: int) -> Snapshot | None:
    """The newest intact snapshot of this catalogue at or below `max_generation`, if any."""
    root = index_dir / SNAPSHOT_FOLDER
    if not root.is_dir():
        return None
    for folder in sorted(root.glob(f"{SNAPSHOT_PREFIX}*"), reverse=True):
        try:
            snapshot = _read(folder, catalog_id, max_generation)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring snapshot %s: %s", folder.name, exc)
            continue
        if snapshot is not None:
            return snapshot
    return None


def _map(path: Path, size: int, crc: int) -> mmap.mmap | bytes:
    """The file's bytes, mapped, once its size and checksum are right."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size != size:
            raise ValueError(f"{path.name} is torn (size differs)")
        data: mmap.mmap | bytes = (
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        )
    if _crc(data) != crc:
        raise ValueError(f"{path.name} is corrupt (checksum differs)")
    return data


def _read(folder: Path, catalog_id: str, max_generation: int) -> Snapshot | None:
    meta = json.loads((folder / SNAPSHOT_META).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format', 1)}, this version reads {FORMAT}")
    if meta["catalog_id"] != catalog_id:
        raise ValueError("snapshot of another catalogue")
    if meta["generation"] > max_generation:
        raise ValueError(f"generation {meta['generation']} is ahead of the catalogue")
    for name in (DENSE, CLAUSES):  # checked here, mapped by FAISS itself
        data = _map(folder / name, *meta["files"][name])
        if isinstance(data, mmap.mmap):
            data.close()
    buffer = _map(folder / COLUMNS, *meta["files"][COLUMNS])
    columns: dict[str, Array] = {}
    for name, where in meta["columns"].items():
        dtype, shape = np.dtype(where["dtype"]), tuple(where["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if where["offset"] + count * dtype.itemsize > len(buffer):
            raise ValueError(f"column {name} lies past the end of {COLUMNS}")
        columns[name] = np.frombuffer(buffer, dtype, count, where["offset"]).reshape(shape)
    specs = tuple(IndexSpec(**s) for s in meta["specs"])
    return Snapshot(folder, int(meta["generation"]), (specs[0], specs[1]), columns)
