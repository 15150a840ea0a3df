"""The Studio's API types (studio/src/api/schema.d.ts) match the app's OpenAPI document."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.studio.conftest import REPO

GENERATOR = REPO / "studio" / "node_modules" / ".bin" / "openapi-typescript"


def test_the_checked_in_api_types_match_the_current_openapi_document() -> None:
    if not GENERATOR.exists():
        pytest.skip("studio/node_modules is missing: run `npm ci` in studio/ (CI does)")
    result = subprocess.run(
        [str(REPO / "scripts" / "studio-api-types.sh"), "--check"],
        capture_output=True,
        text=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/local/bin:/usr/bin:/bin"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
