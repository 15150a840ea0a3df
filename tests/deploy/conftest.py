"""tests/deploy: the offline deploy-validation tools (found in .venv, installed when missing),
and the session's Temporal dev server and worker for the tests that run trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VENV = BIN.parent
SETUP = REPO / "scripts" / "deploy-tools.sh"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.support.temporal_fixtures")


def run(
    *args: str | Path, cwd: Path = REPO, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a tool; the caller asserts on the result (output is kept for the message)."""
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The output of a tool that must have succeeded."""
    assert result.returncode == 0, f"{result.args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def deploy_tools() -> dict[str, Path]:
    """helm, kubectl and checkov (scripts/deploy-tools.sh), and the pip-installed linters."""
    tools = {
        "helm": BIN / "helm",
        "kubectl": BIN / "kubectl",
        "checkov": VENV / "tools" / "checkov" / "bin" / "checkov",
        "hadolint": BIN / "hadolint",
        "yamllint": BIN / "yamllint",
        "actionlint": BIN / "actionlint",
        "shellcheck": BIN / "shellcheck",
        "kubernetes-validate": BIN / "kubernetes-validate",
    }
    if not all(path.exists() for path in tools.values()):
        ok(run("bash", SETUP, timeout=900))
    missing = [name for name, path in tools.items() if not path.exists()]
    assert missing == [], f"{missing} missing after {SETUP}; pip install -e '.[dev]' first"
    return tools
