"""The Milvus path's search view: nothing to load, nothing to reload.

With QA_VECTOR_STORE=milvus every search runs in Milvus (qa/retrieve/milvus_search.py), so a
replica holds no passage, vector or BM25 posting: its memory and start-up do not grow with the
corpus, and a write by any replica is visible to the next search of every other one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.retrieve.milvus_search import MilvusSearch

if TYPE_CHECKING:
    from qa.store.milvus_catalog import MilvusCatalog


class MilvusView:
    """Owns the Milvus search; the counterpart of LiveIndex."""

    def __init__(self, catalog: MilvusCatalog, dim: int) -> None:
        self.catalog = catalog
        self.dim = dim
        self.view = MilvusSearch(catalog, dim)

    def refresh(self, force: bool = False) -> None:
        """After a write here, read the passage count again (searches are always current)."""
        if force:
            self.view.forget_count()

    def close(self) -> None:
        """Stop the search threads (Milvus holds everything)."""
        self.view.close()
