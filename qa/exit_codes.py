"""The exception tree mapped once to process exit codes (the API maps it to HTTP codes)."""

from __future__ import annotations

from qa.errors import (
    ConfigError,
    IndexMismatchError,
    IndexNotReadyError,
    InvalidInputError,
    NotFoundError,
    QAError,
)

EXIT_CODES: dict[type[QAError], int] = {
    InvalidInputError: 2,
    NotFoundError: 3,
    IndexMismatchError: 4,
    IndexNotReadyError: 5,
    ConfigError: 6,
}


def exit_code(error: QAError) -> int:
    """The exit code for an error: its closest mapped ancestor, else 1."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1
