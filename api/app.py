"""The application factory: ``create_app(settings)`` builds the whole API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.audit import AuditMiddleware, AuditWriter
from api.codec_cors import CodecCors, origin_of
from api.db.migrate import upgrade
from api.docs_pages import install_docs
from api.json_bodies import JSONBodyGuard
from api.middleware import BodyDeadline, BodySizeLimit, HTTPSOnly, IPRateLimit, RequestContext
from api.openapi_params import declare_path_parameters
from api.problems import install_problem_handlers
from api.rbac import Permission, api_routes, check_route_policies, route_permissions
from api.routes import ROUTERS
from api.services import build_services
from api.settings import Settings
from api.studio import install_studio
from api.telemetry import RequestTelemetry
from foundation.telemetry.tracing import build_tracer_provider

API_VERSION = "1.0.0"
DESCRIPTION = """Treeflow's control-plane API: authentication, tenants, members, API keys,
tenant secrets and the audit log (trees, templates, tools and runs build on it).

Every operation lists the permission it needs as `x-permission`. Errors are
`application/problem+json` (RFC 9457). See docs/api.md and docs/api-versioning.md."""


def _openapi_factory(app: FastAPI) -> Any:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title="Treeflow API", version=API_VERSION, description=DESCRIPTION, routes=app.routes
        )
        declare_path_parameters(schema)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An access token (JWT from /v1/auth) or an API key (tfk_...).",
            }
        }
        for route in api_routes(app):
            permission = route_permissions(route)[0]
            for method in route.methods or ():
                operation = schema["paths"][route.path_format].get(method.lower())
                if operation is None:
                    continue
                operation["x-permission"] = permission.value
                if permission is not Permission.PUBLIC:
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    return openapi


class FlatRoutesOverrides(dict[Any, Any]):
    """``app.dependency_overrides`` of an app whose routes are mounted flat: refuses writes.

    Flat routes were built by their router, not by the app, so FastAPI never consults
    the app's overrides for them; a silently ignored override would let a test pass
    against the real dependency. Swap services on ``app.state.services`` instead.
    """

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(
            "app.dependency_overrides has no effect on routes added by api.app.mount() "
            "(flat routing, see bench/routing.py); replace a service on "
            "app.state.services instead"
        )

    __setitem__ = _refuse
    __ior__ = _refuse  # type: ignore[assignment]
    update = _refuse
    setdefault = _refuse


def mount(app: FastAPI, router: APIRouter) -> None:
    """Add a resource router's routes to the app itself.

    Current FastAPI includes routers lazily and, on every request, walks the included
    routers one by one; `bench/routing.py` measures both ways in one run (docs/benchmarks.md:
    include_router added 25-440 us per request on the routes alone). The router's prefix,
    tags, responses and dependencies are already applied to its routes, so adding them
    directly keeps matching one flat pass. Routes added this way do not see
    ``app.dependency_overrides``, so writing to it raises (:class:`FlatRoutesOverrides`).
    """
    app.router.routes.extend(router.routes)
    app.dependency_overrides = FlatRoutesOverrides()


def create_app(
    settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """Build the API. Nothing connects until the lifespan starts (migrations run there).

    Traces are exported when `OTEL_*` configures export (or `tracer_provider` is given):
    each request is a server span, and workflows started in it continue its trace.
    """
    settings = settings or Settings()
    provider = tracer_provider or build_tracer_provider("treeflow-api")
    services = build_services(settings, tracer_provider=provider)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_startup:
            await upgrade(services.engine)
        await asyncio.to_thread(services.flags.start)  # first fetch is synchronous
        try:
            yield
        finally:
            await asyncio.to_thread(services.flags.stop)
            await services.engine.dispose()
            if provider is not None and tracer_provider is None:
                provider.shutdown()  # flush spans of a provider this app built

    app = FastAPI(
        title="Treeflow API",
        version=API_VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app, title="Treeflow API", swagger_parameters={"persistAuthorization": True})
    app.state.services = services
    install_problem_handlers(app)
    for router in ROUTERS:
        mount(app, router)
    check_route_policies(app)
    install_studio(app)
    app.openapi = _openapi_factory(app)  # type: ignore[method-assign]

    # Added innermost first: the last one added wraps all the others. Audit sits outside
    # the body limit (a 413 is recorded as such) and inside the IP limit (a flood of
    # refused requests costs no database writes).
    app.add_middleware(JSONBodyGuard)  # inside the size limit: it buffers bounded bodies
    app.add_middleware(BodyDeadline, seconds=settings.http_body_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(AuditMiddleware, writer=AuditWriter(services.engine))
    app.add_middleware(
        IPRateLimit, limiter=services.rate_limiter, per_minute=settings.rate_limit_ip_per_minute
    )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "idempotency-key", "x-request-id"],
            expose_headers=["x-request-id", "retry-after", "deprecation", "sunset", "link"],
            max_age=600,
        )
    app.add_middleware(CodecCors, ui_origin=origin_of(settings.temporal.ui_url))
    if not settings.dev_mode:
        app.add_middleware(HTTPSOnly, public_url=settings.public_url)
    app.add_middleware(RequestTelemetry, metrics=services.metrics, access_log=settings.access_log)
    app.add_middleware(RequestContext, hsts_max_age=settings.hsts_max_age_seconds)
    if settings.trusted_proxies:  # X-Forwarded-* believed from these peers only
        trusted = [str(network) for network in settings.trusted_proxies]
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    if provider is not None:
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics,v1/health"
        )
    return app
