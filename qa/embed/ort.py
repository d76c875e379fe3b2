"""ONNX Runtime CPU sessions, set up one way for every graph qa runs (questions, the reader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_session(path: Path, threads: int | None = None) -> Any:
    """A session on `path` with every graph fusion and quiet logs; `threads` intra-op threads
    and one inter-op thread (None: ONNX Runtime's own). ImportError without onnxruntime."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: the cores stay free for other requests.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
