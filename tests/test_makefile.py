"""`make test` provisions Chromium for the browser tests, or says in one line why it cannot;
`make run` installs the service and its default engines, `make test` adds the test extra."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

MAKE = shutil.which("make")


def fake_bin(folder: Path, scripts: dict[str, str]) -> Path:
    """A folder of tiny shell scripts standing in for system commands."""
    folder.mkdir()
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return folder


def make_chromium(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None
    return subprocess.run(
        [MAKE, "--no-print-directory", "-s", "-f", str(ROOT / "Makefile"), "chromium"],
        cwd=ROOT,
        env={"PATH": str(path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(autouse=True)
def _needs_make() -> None:
    if MAKE is None:
        pytest.skip("no make here")


def test_present_chromium_is_used_as_is(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    path = fake_bin(tmp_path / "bin", {"chromium": "", "apt-get": f'echo "$@" >> {log}'})
    result = make_chromium(path)
    assert result.returncode == 0, result.stderr
    assert not log.exists()


def test_missing_chromium_is_installed_with_apt_get_as_root(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    path = fake_bin(tmp_path / "bin", {"id": "echo 0", "apt-get": f'echo "$@" >> {log}'})
    result = make_chromium(path)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "update",
        "install -y --no-install-recommends chromium",
    ]


@pytest.mark.parametrize(
    ("scripts", "reason"),
    [
        ({"id": "echo 1000"}, "no apt-get"),
        ({"id": "echo 1000", "apt-get": "exit 0", "sudo": "exit 1"}, "needs root"),
        ({"id": "echo 0", "apt-get": "exit 100"}, "could not install"),
    ],
)
def test_when_it_cannot_install_it_says_why_in_one_line(
    tmp_path: Path, scripts: dict[str, str], reason: str
) -> None:
    result = make_chromium(fake_bin(tmp_path / "bin", scripts))
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("make test:")]
    assert len(ours) == 1 and reason in ours[0] and "chromium" in ours[0].lower(), result.stderr


def test_skipping_the_browser_tests_skips_the_install(tmp_path: Path) -> None:
    result = make_chromium(fake_bin(tmp_path / "bin", {"id": "echo 1000"}), QA_SKIP_BROWSER="1")
    assert result.returncode == 0, result.stderr


def test_make_run_installs_the_default_engines_and_make_test_the_test_extra() -> None:
    assert MAKE is not None
    plan = subprocess.run(
        [MAKE, "-n", "-B", "-f", str(ROOT / "Makefile"), "setup", "VENV=/nonexistent/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    installs = re.findall(r'pip install --quiet "torch==2\.13\.0" -e "\.\[([^\]]*)\]"', plan)
    assert installs == ["st"], plan
    test_plan = subprocess.run(
        [MAKE, "-n", "-B", "-f", str(ROOT / "Makefile"), "setup-test", "VENV=/nonexistent/v"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert '-e ".[test]"' in test_plan
