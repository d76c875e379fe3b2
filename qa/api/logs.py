"""Structured JSON log lines that carry the id of the request they belong to."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("qa_request_id", default=None)

_STANDARD = frozenset(vars(logging.makeLogRecord({})))
_HANDLER_NAME = "qa-structured"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id and any `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str, level: str) -> None:
    """Send the `qa` loggers (and uvicorn's) to stderr in the chosen format, once."""
    qa_logger = logging.getLogger("qa")
    qa_logger.setLevel(level.upper())
    if any(h.get_name() == _HANDLER_NAME for h in qa_logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        for name in ("uvicorn", "uvicorn.error"):
            for existing in logging.getLogger(name).handlers:
                existing.setFormatter(JsonFormatter())
        # our access line replaces uvicorn's plain-text one
        logging.getLogger("uvicorn.access").disabled = True
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    qa_logger.addHandler(handler)
