"""Liveness and readiness (reachable over plain HTTP for probes).

`/v1/health` and `/healthz` answer while the process serves requests. `/readyz` runs
the readiness checks (database, Temporal, flag backend) and lists each with its
status and latency; it answers 503 only when one of them failed (a degraded flag
backend keeps the API ready: it serves the last known flags).

The probes are public (load balancers and kubelets call them without credentials), so
outside dev mode a failed check's detail (the error text; drivers name hosts and users in
it) goes to the log, not to the caller.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.rbac import Permission, requires
from api.readiness import readiness_checks
from foundation.telemetry.health import run_checks

log = logging.getLogger("treeflow.api.health")
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
    services = request.app.state.services
    report = await run_checks(readiness_checks(services))
    body = report.as_dict()
    if not services.settings.dev_mode:
        for name, check in body["checks"].items():
            if check["status"] == "failed" and "detail" in check:
                log.warning("readiness check %s failed: %s", name, check["detail"])
                check["detail"] = "failed; the API log has the error"
    return JSONResponse(body, status_code=report.http_status)
