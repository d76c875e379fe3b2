"""The test sessions' model caches do not pile up on disk when a session is killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import _remove_orphaned_caches


def _finished_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_the_caches_of_ended_sessions_are_removed(tmp_path: Path) -> None:
    orphan = tmp_path / f"qa-model-cache-{_finished_pid()}-abc"
    mine = tmp_path / f"qa-model-cache-{os.getpid()}-def"
    unnamed = tmp_path / "qa-model-cache-xyz"  # an older layout: no pid to check, left alone
    for folder in (orphan, mine, unnamed):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "weights.bin").write_bytes(b"0" * 16)
    _remove_orphaned_caches(tmp_path)
    assert not orphan.exists()
    assert (mine / "model" / "weights.bin").is_file()
    assert unnamed.is_dir()
