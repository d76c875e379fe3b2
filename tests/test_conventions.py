"""What people expect of a Python tool: a licence, one version, `--version`, `python -m qa`,
shell completion, a changelog and an `.env.example` that lists every setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import qa
from qa.config import Settings
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def env_example_names(text: str) -> list[str]:
    """The variables an .env file sets or shows commented out (`# QA_X=...`)."""
    return re.findall(r"^#?[ \t]*([A-Z][A-Z0-9_]*)=", text, re.M)


def setting_variables() -> list[str]:
    """The environment variable of every setting: QA_<NAME>, or the alias a setting reads."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = []
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names.append(alias.upper() if isinstance(alias, str) else f"{prefix}{field}".upper())
    return names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QA_PORT=8000\n", ["QA_PORT"]),
        ("# QA_PORT=8000\n#QA_HOST=\n", ["QA_PORT", "QA_HOST"]),
        ("# Port `qa serve` listens on (QA_PORT=1 is an example).\n", []),
        ("PROMETHEUS_MULTIPROC_DIR=/tmp/m\n", ["PROMETHEUS_MULTIPROC_DIR"]),
        ("# Port (QA_PORT=1 is an example).\n  # QA_X\n# lower=1\n", []),
    ],
)
def test_env_example_names(text: str, expected: list[str]) -> None:
    assert env_example_names(text) == expected


def test_env_example_lists_every_setting_once() -> None:
    names = env_example_names((ROOT / ".env.example").read_text(encoding="utf-8"))
    settings = setting_variables()
    assert len(names) == len(set(names)), "a setting is listed twice"
    assert set(names) == set(settings), {
        "missing from .env.example": sorted(set(settings) - set(names)),
        "not a setting": sorted(set(names) - set(settings)),
    }


def test_one_version_string() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "qa.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", qa.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{qa.__version__}]" in changelog, "the changelog has no entry for this version"


def test_licence_matches_the_metadata() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def _qa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


@pytest.mark.integration
def test_version_and_python_dash_m() -> None:
    result = _qa("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"qa {qa.__version__}"
    helped = _qa("--help")
    assert helped.returncode == 0 and "Usage: qa " in helped.stdout


@pytest.mark.integration
def test_install_completion_writes_a_bash_completion(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    result = _qa("--install-completion", "bash", env=env)
    assert result.returncode == 0, result.stderr
    assert "bash completion installed" in result.stdout
    scripts = list(tmp_path.rglob("qa.sh"))
    assert scripts and "_QA_COMPLETE" in scripts[0].read_text()
    assert str(scripts[0]) in (tmp_path / ".bashrc").read_text()
