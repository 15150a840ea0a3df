"""Set-up of the Studio: `scripts/build-studio.sh` (what `./dev up` runs) builds only when
the sources changed and says so when Node is missing; the wheel ships the build; `/docs`
and `/redoc` render in the browser from local assets only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.studio.conftest import BUILD_INDEX, REPO, Stack, _ensure_build

pytestmark = pytest.mark.studio

SCRIPT = REPO / "scripts" / "build-studio.sh"


def _run_build(cwd_script: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        [str(cwd_script)], capture_output=True, text=True, env=env, timeout=900, check=False
    )


def _path_without_node(tmp_path: Path) -> str:
    """A PATH holding only what the script needs before its Node check: bash, dirname."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


@pytest.mark.parametrize("built", [False, True])
def test_without_node_the_build_says_so_and_exits_3(tmp_path: Path, built: bool) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, checkout / "scripts" / SCRIPT.name)
    if built:
        (checkout / "api" / "static" / "studio").mkdir(parents=True)
        (checkout / "api" / "static" / "studio" / "index.html").write_text("<!doctype html>")
    done = _run_build(checkout / "scripts" / SCRIPT.name, _path_without_node(tmp_path))
    assert done.returncode == 3, done.stderr
    assert "Node.js 20+ and npm are not installed" in done.stderr
    expected = "serving the existing build" if built else "/studio answers 503"
    assert expected in done.stderr


def test_an_unchanged_studio_is_not_rebuilt() -> None:
    """After a build (which may run first here), a second run finds nothing changed: the
    build itself must not touch a file the change check reads (tsc's build info did)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is missing: the Studio cannot be built here")
    first = _run_build(SCRIPT)
    assert first.returncode == 0, first.stderr
    stamp = (BUILD_INDEX.parent / ".build-stamp").read_text()
    index_mtime = BUILD_INDEX.stat().st_mtime_ns
    again = _run_build(SCRIPT)
    assert again.returncode == 0, again.stderr
    assert "building" not in again.stderr
    assert (BUILD_INDEX.parent / ".build-stamp").read_text() == stamp
    assert BUILD_INDEX.stat().st_mtime_ns == index_mtime
    tracked = subprocess.run(
        ["git", "status", "--porcelain", "--", "studio"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".tsbuildinfo" not in tracked


def test_the_wheel_ships_the_studio_build(tmp_path: Path) -> None:
    _ensure_build()
    done = subprocess.run(
        # The isolated build env gets setuptools>=69 from the index (or pip's cache).
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--quiet", "-w", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("treeflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "api/static/studio/index.html" in names
    built_assets = {
        f"api/static/studio/assets/{p.name}" for p in (BUILD_INDEX.parent / "assets").iterdir()
    }
    assert built_assets, "the build has no assets"
    assert built_assets <= names, sorted(built_assets - names)


async def test_docs_and_redoc_render_from_local_assets(page: Page, stack: Stack) -> None:
    """Swagger UI and ReDoc draw the API in Chromium; the `page` fixture fails the test
    on any request off the stack, and the pages' CSP would block a CDN script."""
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    await page.goto(f"{stack.base_url}/docs")
    await page.locator(".swagger-ui .info .title").wait_for()
    await page.locator(".opblock").first.wait_for()
    await page.goto(f"{stack.base_url}/redoc")
    await page.locator("redoc .api-info h1, [role=navigation] li").first.wait_for()
    assert await page.locator("h1").first.inner_text()
    assert not blocked, blocked
