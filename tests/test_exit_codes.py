"""The error tree mapped to exit codes, and `main` printing one line (in process, no subprocess).

The same codes are checked end to end, through a real `qa` process, in tests/test_cli.py.
"""

from __future__ import annotations

import pytest

import qa.cli
from qa.errors import (
    AuthenticationError,
    ConfigError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotReadyError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QAError,
    UnsupportedFormatError,
)
from qa.exit_codes import exit_code


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInputError("bad"), 2),
        (UnsupportedFormatError("a .xyz file"), 2),  # a kind of bad input
        (PayloadTooLargeError("too big"), 2),
        (NotFoundError("no document"), 3),
        (IndexMismatchError("other model"), 4),
        (IndexCorruptError("broken"), 4),  # a kind of mismatch
        (IndexNotReadyError("empty"), 5),
        (ConfigError("unknown engine"), 6),
        (QAError("generic"), 1),  # no closer mapping
        (AuthenticationError("no key"), 1),  # HTTP-only errors fall back to 1
        (PermissionDeniedError("read-only key"), 1),
    ],
)
def test_exit_code_of_each_error(error: QAError, code: int) -> None:
    assert exit_code(error) == code


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInputError("the question is empty"), 2),
        (NotFoundError("no document 'x'"), 3),
        (IndexMismatchError("built with 'other/model'"), 4),
        (IndexNotReadyError("the index is empty"), 5),
        (ConfigError("unknown indexing engine 'bogus'"), 6),
    ],
)
def test_main_prints_one_line_and_exits_with_the_code(
    error: QAError, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_app(prog_name: str = "qa") -> None:
        raise error

    monkeypatch.setattr(qa.cli, "app", failing_app)
    with pytest.raises(SystemExit) as exited:
        qa.cli.main()
    assert exited.value.code == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [f"error: {error}"]
