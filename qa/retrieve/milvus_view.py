"""The Milvus path's live search view: reloaded whole when the shared change token moves.

With QA_VECTOR_STORE=milvus there is no SQLite change log and no snapshot on disk: replicas
are stateless. Each keeps a HybridIndex whose passage and clause searches run in Milvus
(text, BM25 and re-scoring vectors in memory) and rebuilds it from Milvus when the
catalogue's change token, written by every writer, differs from the one it was built at.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from qa.retrieve.hybrid import HybridIndex

if TYPE_CHECKING:
    from qa.store.milvus_catalog import MilvusCatalog


class MilvusView:
    """Owns the current Milvus-backed HybridIndex; the counterpart of LiveIndex."""

    def __init__(self, catalog: MilvusCatalog, dim: int) -> None:
        self.catalog = catalog
        self.dim = dim
        self._lock = threading.Lock()  # one reload at a time in this process
        self._version = -1
        self.view = self._empty()
        self.refresh(force=True)

    def _empty(self) -> HybridIndex:
        return HybridIndex(self.dim, None, self.catalog.dense_view, self.catalog.clause_view)

    def refresh(self, force: bool = False) -> None:
        """Reload the view when any replica has written since it was built."""
        version = self.catalog.data_version()
        if not force and version == self._version:
            return
        with self._lock:
            if not force and version == self._version:
                return
            view = self._empty()
            view.add(self.catalog.passages())
            self.view = view
            self._version = version

    def close(self) -> None:
        """Nothing to leave behind: Milvus holds everything."""
