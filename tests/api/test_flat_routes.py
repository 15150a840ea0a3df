"""Flat routing (api.app.mount) and FastAPI's dependency_overrides: a write fails loudly."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from api.app import FlatRoutesOverrides, mount
from api.deps import get_services


def greeting() -> str:
    return "real"


def app_with_one_route() -> FastAPI:
    router = APIRouter(prefix="/v1")

    @router.get("/greeting")
    async def read(text: Annotated[str, Depends(greeting)]) -> dict[str, str]:
        return {"text": text}

    app = FastAPI()
    mount(app, router)
    return app


async def test_flat_routes_answer_and_an_override_is_refused_not_ignored() -> None:
    app = app_with_one_route()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/v1/greeting")).json() == {"text": "real"}
    with pytest.raises(RuntimeError, match=r"no effect on routes added by api\.app\.mount"):
        app.dependency_overrides[greeting] = lambda: "fake"
    with pytest.raises(RuntimeError, match=r"app\.state\.services"):
        app.dependency_overrides.update({greeting: lambda: "fake"})
    assert app.dependency_overrides == {}


def test_the_real_app_refuses_overrides_too(app: FastAPI) -> None:
    assert isinstance(app.dependency_overrides, FlatRoutesOverrides)
    with pytest.raises(RuntimeError):
        app.dependency_overrides[get_services] = lambda: None
