"""The live search view's Protocol: what the pipeline searches, kept current by its owner.

It lives beside retrieval (not in qa/store) because it hands out a HybridIndex: the store layer
must not depend on retrieval. Two implement it: LiveIndex (snapshots and the SQLite change log)
and MilvusView (stateless replicas over Milvus).
"""

from __future__ import annotations

from typing import Protocol

from qa.retrieve.hybrid import HybridIndex


class LiveView(Protocol):
    """Owns the current searchable view of a store."""

    @property
    def view(self) -> HybridIndex:
        """The view searches run on now."""
        ...

    def refresh(self, force: bool = False) -> None:
        """Catch up with what any process committed since the view was taken."""
        ...

    def close(self) -> None:
        """Leave what a fast next start needs (if anything) and release the view."""
        ...
