"""Where the workers of `qa serve --workers N` add up their Prometheus counts.

No prometheus_client import here: it picks its storage from PROMETHEUS_MULTIPROC_DIR when first
imported, so the variable is set before anything imports it (the workers import it afresh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_dir(workers: int, configured: Path | None) -> Iterator[Path | None]:
    """The folder the server's processes count into: the configured one (kept), a fresh one
    for several workers (removed after), or None (one process counts in memory)."""
    if configured is not None:
        os.environ[MULTIPROC_VARIABLE] = str(configured)
        os.environ["QA_METRICS_DIR"] = str(configured)
        yield configured
        return
    if workers < 2:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="qa-metrics-"))
    os.environ[MULTIPROC_VARIABLE] = str(folder)
    os.environ["QA_METRICS_DIR"] = str(folder)  # the workers build their own Settings
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_VARIABLE, None)
        os.environ.pop("QA_METRICS_DIR", None)
        shutil.rmtree(folder, ignore_errors=True)
