"""ONNX Runtime CPU sessions, set up one way for every graph qa runs (questions, the reader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_session(path: Path, threads: int | None = None, spin: bool = False) -> Any:
    """A session on `path` with every graph fusion and quiet logs; `threads` intra-op threads
    and one inter-op thread (None: ONNX Runtime's own). ImportError without onnxruntime.

    `spin`: idle intra-op threads spin a moment before they sleep. Off: alone in a process
    spinning read faster (the reader's read 53.3 vs 60.1 ms p50, `bench/reader_speed.py`), but
    served beside its HTTP handling and clients on 2 cores it took their CPU: `/v1/ask` with the
    reader p50 101 vs 58 ms, 208 vs 112 CPU ms a request (`bench/run.py --only service`).
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
