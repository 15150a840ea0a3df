"""Liveness (reachable over plain HTTP for probes)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.rbac import Permission, requires

router = APIRouter(prefix="/v1", tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/health", dependencies=[requires(Permission.PUBLIC)])
async def health() -> Health:
    """The process is up and serving."""
    return Health()
