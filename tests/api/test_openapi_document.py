"""The served OpenAPI document is valid and complete enough for a generated client."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from openapi_spec_validator import validate

TEMPLATE = re.compile(r"{([^}]+)}")


async def served(app: FastAPI) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as c:
        response = await c.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_the_served_document_passes_an_openapi_validator(app: FastAPI) -> None:
    validate(await served(app))  # raises OpenAPIValidationError with the failing pointer


async def test_every_path_template_is_a_declared_required_parameter(app: FastAPI) -> None:
    document = await served(app)
    undeclared = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
            for name in TEMPLATE.findall(path):
                if name not in declared or declared[name].get("required") is not True:
                    undeclared.append(f"{method.upper()} {path}: {name}")
    assert not undeclared, f"{len(undeclared)} undeclared, e.g. {undeclared[:3]}"
    tenant_param = next(
        p
        for p in document["paths"]["/v1/tenants/{tenant_id}/runs"]["post"]["parameters"]
        if p["name"] == "tenant_id"
    )
    assert tenant_param["schema"]["format"] == "uuid"
