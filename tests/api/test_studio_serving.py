"""The Studio's static serving: `/` redirects, hashed assets cached for good, index.html
revalidated, client routes fall back to index.html, nothing outside the build is served."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.middleware import RequestContext
from api.studio import ASSETS_CACHE, INDEX_CACHE, STUDIO_CSP, install_studio

INDEX = '<!doctype html><script type="module" src="/studio/assets/index-abc123.js"></script>'


def studio_app(build: Path) -> FastAPI:
    app = FastAPI()
    install_studio(app, build)
    app.add_middleware(RequestContext, hsts_max_age=0)  # the API's header defaults
    return app


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('studio')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("outside the build")
    return tmp_path


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_root_redirects_and_index_is_revalidated_under_a_policy(build: Path) -> None:
    async with client(studio_app(build)) as http:
        root = await http.get("/")
        assert root.status_code == 307
        assert root.headers["location"] == "/studio/"
        for path in ("/studio", "/studio/"):
            page = await http.get(path)
            assert page.status_code == 200
            assert page.text == INDEX
            assert page.headers["cache-control"] == INDEX_CACHE
            assert page.headers["content-security-policy"] == STUDIO_CSP


async def test_hashed_assets_are_immutable_and_missing_ones_are_404(build: Path) -> None:
    async with client(studio_app(build)) as http:
        asset = await http.get("/studio/assets/index-abc123.js")
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == ASSETS_CACHE
        missing = await http.get("/studio/assets/gone-000.js")
        assert missing.status_code == 404
        assert missing.headers["cache-control"] != ASSETS_CACHE


async def test_client_routes_fall_back_to_index_and_paths_cannot_escape(build: Path) -> None:
    async with client(studio_app(build)) as http:
        route = await http.get("/studio/t/some-tenant/trees/triage")
        assert route.status_code == 200
        assert route.text == INDEX
        assert route.headers["cache-control"] == INDEX_CACHE
        assert (await http.get("/studio/favicon.svg")).text == "<svg/>"
        escape = await http.get("/studio/..%2Fsecret.txt")
        assert "outside the build" not in escape.text


async def test_without_a_build_the_studio_says_how_to_build_it(tmp_path: Path) -> None:
    async with client(studio_app(tmp_path / "none")) as http:
        page = await http.get("/studio/")
        assert page.status_code == 503
        assert "scripts/build-studio.sh" in page.text
        assert (await http.get("/studio/assets/index-abc123.js")).status_code == 404


async def test_the_api_mounts_the_studio(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        root = await http.get("/")
        assert root.status_code == 307
        assert root.headers["location"] == "/studio/"
        page = await http.get("/studio/")
        assert page.status_code in (200, 503)  # 503 until scripts/build-studio.sh ran
        assert page.headers["content-security-policy"] == STUDIO_CSP
