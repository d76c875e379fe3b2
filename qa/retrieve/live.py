"""The live search view: loaded fast from a snapshot, kept current from the change log.

SQLite is the source of truth. At start-up the newest intact snapshot is read, the change log
after its generation applied, and the result checked against the catalogue (passage ids,
vector and clause counts); a view that disagrees is rebuilt from SQLite, and one that still
disagrees is refused. Afterwards each refresh applies only the changes committed since the
view's generation, whichever process committed them.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from qa.errors import IndexCorruptError
from qa.retrieve.hybrid import HybridIndex
from qa.store.catalog import Catalog
from qa.store.snapshot import (
    clean_temporaries,
    read_snapshot,
    snapshot_generations,
    write_snapshot,
)

log = logging.getLogger("qa.store")

SNAPSHOT_MIN_CHANGES = 2000  # log rows since the last snapshot before a new one is written


class LiveIndex:
    """Owns the current HybridIndex and moves it forward generation by generation."""

    def __init__(self, index_dir: Path, catalog: Catalog, dim: int) -> None:
        self.index_dir = index_dir
        self.catalog = catalog
        self.dim = dim
        self.catalog_id = catalog.identity()
        self._lock = threading.Lock()  # one refresh at a time in this process
        self._version = -1
        self._snapshot_generation = -1
        self._snapshot_thread: threading.Thread | None = None
        self.view = self._load()

    # ------------------------------------------------------------------ loading
    def _load(self) -> HybridIndex:
        clean_temporaries(self.index_dir)
        self.catalog_id = self.catalog.identity()
        self._version = self.catalog.data_version()
        data = read_snapshot(self.index_dir, self.catalog_id, self.catalog.generation())
        view: HybridIndex | None = None
        if data is not None:
            try:
                view = HybridIndex.restore(self.dim, data)
                self._snapshot_generation = data.generation
            except Exception as exc:  # a snapshot is only a cache: any failure means rebuild
                log.warning("snapshot %d unreadable (%s); rebuilding", data.generation, exc)
        if view is not None:
            self._catch_up(view)
            problem = self._disagreement(view)
            if problem is None:
                return view
            log.warning("snapshot disagrees with the catalogue (%s); rebuilding", problem)
        view = self.rebuild()
        problem = self._disagreement(view)
        if problem is not None:
            raise IndexCorruptError(
                f"the index in {self.index_dir} is inconsistent after a rebuild ({problem}); "
                "restore it from a backup (`qa import`) or re-index with `qa index --rebuild`"
            )
        return view

    def rebuild(self) -> HybridIndex:
        """A fresh view of every committed passage, read from SQLite in one snapshot."""
        self.catalog_id = self.catalog.identity()
        view = HybridIndex(self.dim)
        for generation, chunk in self.catalog.scan():
            view.apply((), chunk, generation)
        self._snapshot_generation = -1
        return view

    def _catch_up(self, view: HybridIndex) -> bool:
        delta = self.catalog.delta(view.generation)
        if delta.full or delta.catalog_id != self.catalog_id:  # restored from a backup
            return False
        view.apply(delta.removed, delta.added, delta.generation)
        return True

    def _disagreement(self, view: HybridIndex) -> str | None:
        for _ in range(5):  # a concurrent writer may commit between the reads: catch up, retry
            generation = self.catalog.generation()
            if generation != view.generation and not self._catch_up(view):
                return "the catalogue was replaced"
            passages, clauses = self.catalog.counts()
            rids = self.catalog.rids()
            if self.catalog.generation() != view.generation:
                continue
            held, dense, expected, clause_vectors = view.counts()
            if view.rids() != rids:
                return f"{len(rids ^ view.rids())} passage ids differ"
            if not held == dense == passages:
                return f"{passages} passages, {dense} passage vectors"
            if not expected == clause_vectors == clauses:
                return f"{clauses} clauses, {clause_vectors} clause vectors"
            return None
        return None  # too busy to pin down: the per-query refresh keeps it current

    # ------------------------------------------------------------------ refreshing
    def refresh(self, force: bool = False) -> None:
        """Apply what other writers (or this process) committed since the view's generation."""
        version = self.catalog.data_version()
        if not force and version == self._version:
            return
        with self._lock:
            version = self.catalog.data_version()
            if not force and version == self._version:
                return
            if not self._catch_up(self.view):  # replaced, or too far behind a compacted log
                self.view = self._load()
            self._version = version
        self.maybe_snapshot()

    def maybe_snapshot(self, wait: bool = False) -> None:
        """Write a snapshot in the background once enough changes piled up since the last."""
        due = max(SNAPSHOT_MIN_CHANGES, len(self.view) // 10)
        if not wait and self.view.generation - self._snapshot_generation < due:
            return
        if self._snapshot_thread is not None and self._snapshot_thread.is_alive():
            if not wait:
                return
            self._snapshot_thread.join()
        if self.view.generation == self._snapshot_generation:
            return
        thread = threading.Thread(target=self.save_snapshot, name="qa-snapshot", daemon=True)
        self._snapshot_thread = thread
        thread.start()
        if wait:
            thread.join()

    def save_snapshot(self) -> None:
        """Write the current view to disk (a failure is logged: it is only a cache)."""
        data = self.view.snapshot()
        try:
            write_snapshot(self.index_dir, data, self.catalog_id)
            self._snapshot_generation = data.generation
            kept = snapshot_generations(self.index_dir)
            if kept:  # every snapshot kept can still catch up from what remains of the log
                self.catalog.compact_log(min(kept))
        except OSError as exc:
            log.warning("could not write a snapshot: %s", exc)

    def close(self) -> None:
        """Leave a current snapshot behind for the next start."""
        self.maybe_snapshot(wait=True)
