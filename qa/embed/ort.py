"""ONNX Runtime CPU sessions, set up one way for every graph qa runs (questions, the reader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_session(path: Path, threads: int | None = None, spin: bool = True) -> Any:
    """A session on `path` with every graph fusion and quiet logs; `threads` intra-op threads
    and one inter-op thread (None: ONNX Runtime's own). ImportError without onnxruntime.

    `spin`: idle intra-op threads spin a moment before they sleep. Every session here runs one
    question at a time (QA_QUERY_CONCURRENCY=1), and with two threads a sleeping one wakes too
    late to help: the reader's read took 53.3 instead of 60.1 ms (p50, 200 ARCD questions,
    alternating, `bench/reader_speed.py`); one 220-token window alone 38 vs 50 ms.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
