"""Serve the Studio (the web console) at ``/studio`` from its build, with ``/`` redirecting there.

The build (``scripts/build-studio.sh``) writes ``api/static/studio/``, which ships in the
wheel as package data and is never committed. Hashed files under ``assets/`` never
change, so they are cached for a year (``immutable``); ``index.html`` is revalidated on
every load (``no-cache``) so a new build is picked up at once. Any other path under
``/studio/`` is a client-side route and answers ``index.html`` (SPA fallback). Pages
carry a content security policy allowing this origin only: the browser cannot reach
another host even if a script tried.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import anyio
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STUDIO_PATH = "/studio"
ASSETS_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "no-cache"
STUDIO_CSP = (
    "default-src 'none'; script-src 'self'; "
    # CodeMirror and React Flow insert style elements from script.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Treeflow Studio is not built</title></head><body><main>
<h1>Treeflow Studio is not built</h1>
<p>Build it with <code>scripts/build-studio.sh</code> (needs Node 20), then reload.
The API works without it: see <a href="/docs">/docs</a>.</p></main></body></html>"""


def default_build_dir() -> Path:
    """Where the build lives: package data of ``api`` (a source checkout or the wheel)."""
    return Path(str(files("api") / "static" / "studio"))


class _ImmutableAssets(StaticFiles):
    """Hashed build assets: cached for a year, never revalidated; all 404 while unbuilt."""

    async def check_config(self) -> None:
        directory = self.directory
        if directory is not None and not await anyio.to_thread.run_sync(_is_dir, directory):
            return  # not built (yet): every asset answers 404 instead of raising
        await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = ASSETS_CACHE
        return response


def _is_dir(directory: str | os.PathLike[str]) -> bool:
    return Path(directory).is_dir()


def _file_for(root: Path, relative: str) -> Path | None:
    """The build's index, or the unhashed top-level file asked for; None while unbuilt."""
    index = root / "index.html"
    if not index.is_file():
        return None
    candidate = (root / relative).resolve()
    if relative and candidate.is_file() and candidate.is_relative_to(root):
        return candidate  # favicon and other unhashed top-level files
    return index  # a client-side route


def _page(path: Path, cache: str) -> Response:
    return FileResponse(
        path, headers={"cache-control": cache, "content-security-policy": STUDIO_CSP}
    )


def install_studio(app: FastAPI, build_dir: Path | None = None) -> None:
    """Add ``/``, ``/studio``, ``/studio/assets`` and the client-route fallback."""
    root = (build_dir or default_build_dir()).resolve()
    assets = root / "assets"
    # check_dir=False: the build may appear after the app starts (./dev up builds on change).
    app.mount(
        f"{STUDIO_PATH}/assets",
        _ImmutableAssets(directory=assets, check_dir=False),
        "studio-assets",
    )

    async def home(_request: Request) -> Response:
        return RedirectResponse(f"{STUDIO_PATH}/", status_code=307)

    async def studio(request: Request) -> Response:
        relative = str(request.path_params.get("path", ""))
        found = await anyio.to_thread.run_sync(_file_for, root, relative)
        if found is None:
            return HTMLResponse(
                NOT_BUILT,
                status_code=503,
                headers={"cache-control": INDEX_CACHE, "content-security-policy": STUDIO_CSP},
            )
        return _page(found, INDEX_CACHE)

    app.add_route("/", home, include_in_schema=False)
    app.add_route(STUDIO_PATH, studio, include_in_schema=False)
    app.add_route(STUDIO_PATH + "/{path:path}", studio, include_in_schema=False)
