"""The search view's Protocols: what the pipeline searches, and who keeps it current.

They live beside retrieval (not in qa/store) because a view returns retrieval types: the store
layer must not depend on retrieval. Two pairs implement them: LiveIndex over an in-memory
HybridIndex (snapshots and the SQLite change log), and MilvusView over MilvusSearch (every
search runs in Milvus; a stateless replica holds nothing per passage).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from qa.domain import Query
from qa.retrieve.hybrid import Retrieval


class SearchView(Protocol):
    """Hybrid search over a store's passages at one moment."""

    def __len__(self) -> int:
        """Passages searchable."""
        ...

    @property
    def specs(self) -> dict[str, Any]:
        """The vector index kinds in use (recorded in the manifest)."""
        ...

    def search(
        self, query: Query, top_k: int, filters: Mapping[str, Any] | None = None
    ) -> Retrieval:
        """The top_k passages for a question, with the signals behind each score."""
        ...

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency of the given terms."""
        ...


class LiveView(Protocol):
    """Owns the current searchable view of a store."""

    @property
    def view(self) -> SearchView:
        """The view searches run on now."""
        ...

    def refresh(self, force: bool = False) -> None:
        """Catch up with what any process committed since the view was taken."""
        ...

    def close(self) -> None:
        """Leave what a fast next start needs (if anything) and release the view."""
        ...
