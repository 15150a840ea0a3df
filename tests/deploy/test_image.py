"""The container image: hadolint-clean Dockerfile, and the commands it runs exist in the wheel.

No container engine runs on these machines and base images cannot be pulled, so the
image itself is not built here (CI's image job builds it: .github/workflows/ci.yml).
What can be checked offline is checked: the Dockerfile's shape and lint, that the
build context the .dockerignore lets through is enough to build the wheel, and that
every command the image, the compose file and the chart run is a real subcommand
of the wheel's console script.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import shutil
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.deploy.conftest import REPO, ok, run
from treeflow import healthcheck
from treeflow.cli import app
from treeflow.devserver import free_port

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "deploy" / "compose" / "compose.yaml"
CHART = REPO / "deploy" / "helm" / "treeflow"


def instructions(stage: str | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    if stage is None:
        return rows
    starts = [i for i, (word, rest) in enumerate(rows) if word == "FROM"]
    index = next(i for i in starts if rows[i][1].endswith(f" AS {stage}"))
    end = next((i for i in starts if i > index), len(rows))
    return rows[index:end]


def test_hadolint_passes(deploy_tools: dict[str, Path]) -> None:
    ok(run(deploy_tools["hadolint"], "--failure-threshold", "info", DOCKERFILE))


def test_hadolint_catches_a_bad_dockerfile(deploy_tools: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD treeflow api\n")
    result = run(deploy_tools["hadolint"], bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3025" in result.stdout  # shell-form CMD: signals would not reach treeflow


def test_runtime_stage_is_slim_non_root_and_forwards_signals() -> None:
    runtime = instructions("runtime")
    words = [word for word, _ in runtime]
    assert len([w for w, _ in instructions() if w == "FROM"]) >= 2, "multi-stage"
    user = dict(runtime)["USER"]
    assert user.split(":")[0].isdigit(), "numeric, so runAsNonRoot can check it"
    assert not user.startswith("0"), user
    entrypoint = json.loads(dict(runtime)["ENTRYPOINT"])
    assert entrypoint == ["treeflow"], "exec form: treeflow is PID 1 and gets SIGTERM"
    assert "HEALTHCHECK" in words
    labels = " ".join(rest for word, rest in runtime if word == "LABEL")
    for key in ("title", "source", "version", "revision", "licenses", "created"):
        assert f"org.opencontainers.image.{key}=" in labels
    runs = " ".join(rest for word, rest in runtime if word == "RUN")
    for tool in ("pip ", "apt-get", "build", "gcc", "npm"):
        assert tool not in runs, f"build tool {tool!r} in the final stage"
    copies = [rest for word, rest in runtime if word == "COPY"]
    assert copies == ["--from=wheel /opt/treeflow /opt/treeflow"]


def context_files() -> list[Path]:
    """Files of the repository that .dockerignore lets into the build context."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    tracked = ok(run("git", "ls-files", "--cached", "--others", "--exclude-standard")).splitlines()
    kept = []
    for name in tracked:
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            body = pattern.removeprefix("!").rstrip("/")
            if body == "**":
                hit = True
            elif body.startswith("**/"):  # any depth
                hit = any(fnmatch.fnmatch(part, body[3:]) for part in name.split("/"))
            else:  # from the context root, a folder covers what is inside it
                hit = fnmatch.fnmatch(name, body) or name.startswith(body + "/")
            if hit:
                included = negated
        if included:
            kept.append(Path(name))
    return kept


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built the way the image's wheel stage does, from the ignore-filtered context."""
    context = tmp_path_factory.mktemp("context")
    for name in context_files():
        target = context / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    out = tmp_path_factory.mktemp("wheel")
    ok(
        run(
            sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, context, timeout=600
        )
    )
    [built] = out.glob("treeflow-*.whl")
    return built


def test_the_build_context_is_only_the_package() -> None:
    names = {str(p) for p in context_files()}
    assert "pyproject.toml" in names
    assert "api/db/migrate.py" in names
    assert not [n for n in names if n.startswith(("tests/", ".git", "deploy/", "docs/", "bench/"))]


def test_the_wheel_has_the_console_script_and_the_runtime_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert "treeflow = treeflow.cli:main" in scripts
    assert "treeflow/healthcheck.py" in names  # the HEALTHCHECK's module
    assert any(n.startswith("api/db/migrations/versions/0001_") for n in names)
    assert any(n.startswith("templates/") and n.endswith(".yaml") for n in names)


def commands_run_by_the_deployment() -> set[tuple[str, ...]]:
    """Subcommand paths the image, the compose stack and the chart's templates run."""
    paths: set[tuple[str, ...]] = {("api",)}
    cmd = json.loads(dict(instructions("runtime"))["CMD"])
    paths.add(tuple(arg for arg in cmd if not arg.startswith("-") and not arg[0].isdigit())[:1])
    compose = yaml.safe_load(COMPOSE.read_text())
    for service in compose["services"].values():
        if service.get("image", "").startswith("${TREEFLOW_IMAGE"):
            command = service.get("command", ["api"])
            paths.add(tuple(a for a in command if not a.startswith("-"))[:2])
    for template in (CHART / "templates").glob("*.yaml"):
        text = template.read_text()
        for line in text.splitlines():
            if line.strip().startswith("args: ["):
                args = json.loads(line.strip().removeprefix("args: "))
                paths.add(tuple(a for a in args if not a.startswith("-"))[:2])
    return paths


def test_every_command_the_deployment_runs_exists(wheel: Path) -> None:
    paths = commands_run_by_the_deployment()
    assert {("api",), ("worker",), ("admin", "migrate")} <= paths
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"`treeflow {' '.join(path)}` is not a command"
    assert runner.invoke(app, ["admin", "migrat", "--help"]).exit_code != 0  # can fail


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(503 if self.path == "/down" else 200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def probe_target() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_healthcheck_probe(probe_target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main([f"{probe_target}/healthz"]) == 0
    assert healthcheck.main([f"{probe_target}/down"]) == 1
    assert "answered 503" in capsys.readouterr().err
    assert healthcheck.main([f"http://127.0.0.1:{free_port()}/healthz"]) == 1
    assert healthcheck.main(["file:///etc/passwd"]) == 1
