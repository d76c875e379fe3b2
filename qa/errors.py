"""One small exception tree; api/errors.py and cli.py each map it once to codes."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error the service reports to a caller."""

    code = "error"


class InvalidInputError(QAError):
    """The caller sent something we cannot use (empty question, bad top_k, bad file)."""

    code = "invalid_input"


class UnsupportedFormatError(InvalidInputError):
    """A file whose format we do not ingest."""

    code = "unsupported_format"


class PayloadTooLargeError(InvalidInputError):
    """A body, file or question over the configured limits."""

    code = "payload_too_large"


class NotFoundError(QAError):
    """An unknown document (or path)."""

    code = "not_found"


class IndexMismatchError(QAError):
    """The index on disk was built with another model or format than the one configured."""

    code = "index_mismatch"


class IndexNotReadyError(QAError):
    """No index is loaded yet, or it is empty."""

    code = "index_not_ready"


class ConfigError(QAError):
    """A setting or optional dependency is missing or wrong."""

    code = "config_error"


class AuthenticationError(QAError):
    """No API key, or an unknown one, where a key is required."""

    code = "unauthorized"


class PermissionDeniedError(QAError):
    """A valid API key that may not do this (a read-only key on a write)."""

    code = "forbidden"


class IndexCorruptError(IndexMismatchError):
    """The index on disk is inconsistent and could not be repaired from its catalogue."""

    code = "index_corrupt"


class ReaderWeightsMismatchError(ConfigError):
    """The shipped reader weights were trained on another base model than the one loaded."""

    code = "reader_weights_mismatch"
