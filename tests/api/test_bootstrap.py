"""The first platform operator: created once, with an API key shown once."""

from __future__ import annotations

import uuid

import pytest

from api.admin import OperatorExistsError, bootstrap_operator
from api.app import create_app
from tests.api.conftest import client_for, running, settings_for


async def test_bootstrap_creates_an_operator_who_can_create_tenants(tmp_path: object) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path}/boot.db")
    result = await bootstrap_operator(settings, email="Root@Example.test")
    assert result.api_key.startswith("tfk_")
    assert result.api_key not in repr(result)
    with pytest.raises(OperatorExistsError):
        await bootstrap_operator(settings, email="second@example.test")
    app = create_app(settings)
    async with running(app), client_for(app, result.api_key) as client:
        me = (await client.get("/v1/me")).json()
        assert me["operator"] is True
        created = await client.post(
            "/v1/tenants", json={"slug": f"t-{uuid.uuid4().hex[:6]}", "name": "T"}
        )
        assert created.status_code == 201, created.text
        assert (await client.get(f"/v1/tenants/{created.json()['id']}/secrets")).status_code == 404
