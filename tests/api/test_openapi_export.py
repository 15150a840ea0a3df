"""`python -m api.openapi_export` parses its arguments: help and bad calls never write a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.openapi_export import main

ROOT = Path(__file__).resolve().parents[2]


def test_help_prints_usage_and_writes_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.openapi_export", "--help"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m api.openapi_export")
    assert "OUT.json" in done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nope", "out.json"], "unrecognized arguments: --nope"),
        ([], "the following arguments are required: OUT.json"),
        (["a.json", "b.json"], "unrecognized arguments: b.json"),
    ],
)
def test_a_bad_call_exits_2_with_the_reason_and_writes_nothing(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_document_goes_to_the_named_file(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    assert main([str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.")
    assert "/v1/tenants/{tenant_id}/runs" in document["paths"]
