""".github/workflows: actionlint-clean, running the README's command, promoting with approval."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.conftest import BIN, REPO, ok, run

WORKFLOWS = REPO / ".github" / "workflows"


def actionlint(tool: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """actionlint with .venv/bin on PATH, so it also runs shellcheck over `run:` scripts."""
    return subprocess.run(
        [str(tool), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=120,
        check=False,
    )


def workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def test_actionlint_passes(deploy_tools: dict[str, Path]) -> None:
    result = actionlint(deploy_tools["actionlint"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_mistakes(deploy_tools: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.evnt.name }}\n"
        "      - run: cd $UNQUOTED_DIR && ls\n"
    )
    result = actionlint(deploy_tools["actionlint"], bad)
    assert result.returncode != 0
    assert "evnt" in result.stdout  # unknown context property
    assert "SC2086" in result.stdout  # shellcheck ran on the script


def test_ci_runs_the_readme_test_command_image_chart_and_browser_jobs() -> None:
    readme = (REPO / "README.md").read_text()
    assert "./dev test" in readme
    jobs = workflow("ci.yml")["jobs"]
    assert set(jobs) == {"test", "image", "chart", "browser"}
    runs = [step.get("run", "") for step in jobs["test"]["steps"]]
    assert "./dev test" in runs
    chart_runs = " ".join(step.get("run", "") for step in jobs["chart"]["steps"])
    assert "scripts/deploy-tools.sh" in chart_runs
    assert "tests/deploy" in chart_runs


def test_release_builds_publishes_and_promotes_with_approval() -> None:
    release = workflow("release.yml")
    # PyYAML reads the `on:` key as True (YAML 1.1 boolean)
    assert release[True] == {"push": {"tags": ["v*.*.*"]}}
    jobs = release["jobs"]
    assert {"wheel", "image", "chart", "github-release"} <= set(jobs)
    assert jobs["deploy-staging"]["environment"] == "staging"
    assert jobs["deploy-production"]["environment"] == "production"
    assert "deploy-staging" in jobs["deploy-production"]["needs"]
    for name in ("deploy-staging", "deploy-production"):
        script = " ".join(step.get("run", "") for step in jobs[name]["steps"])
        assert 'image.digest="$DIGEST"' in script, "both deploy the one image staging tested"
    assert release["permissions"] == {"contents": "read"}


def test_shell_scripts_pass_shellcheck(deploy_tools: dict[str, Path]) -> None:
    scripts = [
        REPO / "scripts" / "deploy-tools.sh",
        REPO / "deploy/compose/postgres/init-databases.sh",
    ]
    ok(run(deploy_tools["shellcheck"], *scripts))
