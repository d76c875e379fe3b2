"""A replica process that replaces one document over and over, for the tests to SIGKILL.

    python tests/store/milvus_replica.py URI PREFIX MODE

MODE `idle` only writes the first version; `loop` alternates the document between its two
versions forever (the test kills it at a random moment); `before-flip` and `after-flip` stop
inside one replacement, just before or just after the head row flips, and print `paused` (the
test kills it there). It prints `ready` once the first version is stored. Uses the hashed fake
embedder: this checks plumbing, not quality.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from qa.backends import open_pipeline  # noqa: E402
from qa.domain import Document  # noqa: E402
from qa.pipeline import PipelineOptions  # noqa: E402
from qa.store.milvus_catalog import MilvusCatalog  # noqa: E402
from tests.store.hashed_embedder import HashedEmbedder  # noqa: E402


def version(n: int) -> Document:
    """Version n (0 or 1) of the document: many passages, so a replacement takes a while."""
    paragraphs = [
        f"Version {n} paragraph {i} tells about the harbour number {i} and its ships."
        for i in range(40)
    ]
    return Document(id="ledger", title=f"Ledger v{n}", text="\n\n".join(paragraphs))


def pause(label: str) -> None:
    print(label, flush=True)
    time.sleep(3600)


def main() -> None:
    uri, prefix, mode = sys.argv[1:4]
    options = PipelineOptions(
        index_dir=Path("unused-index"),
        vector_store="milvus",
        milvus_uri=uri,
        milvus_collection=prefix,
    )
    pipeline = open_pipeline(options, embedder=HashedEmbedder(64))
    pipeline.add_documents([version(0)])
    if mode == "before-flip":
        insert = MilvusCatalog._insert

        def then_pause(self: MilvusCatalog, name: str, rows: list[dict[str, Any]]) -> None:
            insert(self, name, rows)
            if name == self.passages_name:  # every row of the new version is written
                pause("paused")

        setattr(MilvusCatalog, "_insert", then_pause)  # noqa: B010 - a patched method
    elif mode == "after-flip":
        setattr(MilvusCatalog, "_retire", lambda self, *args, **kw: pause("paused"))  # noqa: B010
    print("ready", flush=True)
    if mode == "idle":
        time.sleep(3600)
    n = 1
    while True:
        pipeline.add_documents([version(n % 2)])
        n += 1


if __name__ == "__main__":
    main()
