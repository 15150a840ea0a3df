"""Liveness and readiness (reachable over plain HTTP for probes).

`/v1/health` and `/healthz` answer while the process serves requests. `/readyz` runs
the readiness checks (database, Temporal, flag backend) and lists each with its
status and latency; it answers 503 only when one of them failed (a degraded flag
backend keeps the API ready: it serves the last known flags).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.rbac import Permission, requires
from api.readiness import readiness_checks
from foundation.telemetry.health import run_checks

router = APIRouter(prefix="/v1", tags=["health"])
probes = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class CheckReport(BaseModel):
    status: Literal["ok", "degraded", "failed"]
    latency_ms: float
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ok", "degraded", "failed"]
    checks: dict[str, CheckReport] = Field(
        examples=[{"database": {"status": "ok", "latency_ms": 0.8}}]
    )


@router.get("/health", dependencies=[requires(Permission.PUBLIC)])
async def health() -> Health:
    """The process is up and serving."""
    return Health()


@probes.get("/healthz", dependencies=[requires(Permission.PUBLIC)])
async def healthz() -> Health:
    """Liveness: the process is up and serving (no dependency is checked)."""
    return Health()


@probes.get(
    "/readyz",
    dependencies=[requires(Permission.PUBLIC)],
    responses={503: {"model": Readiness, "description": "a dependency failed"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: database, Temporal and flag backend, each with status and latency."""
    report = await run_checks(readiness_checks(request.app.state.services))
    return JSONResponse(report.as_dict(), status_code=report.http_status)
