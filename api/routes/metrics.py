"""`/metrics`: the API's Prometheus metrics (plain HTTP allowed, like the probes).

Metric labels include tenant ids; keep the endpoint on the cluster network, or set
`TREEFLOW_METRICS_TOKEN` so scrapes must send `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.problems import not_found, unauthorized
from api.rbac import Permission, requires

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    dependencies=[requires(Permission.PUBLIC)],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition of the API's registry."""
    services = request.app.state.services
    settings = services.settings
    if not settings.metrics_enabled:
        raise not_found("metrics")
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise unauthorized()
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
