"""One router module per resource; :data:`ROUTERS` lists them in mounting order."""

from fastapi import APIRouter

from api.routes import api_keys, audit, auth, health, me, members, secrets, tenants, well_known

ROUTERS: list[APIRouter] = [
    well_known.router,
    health.router,
    auth.router,
    me.router,
    tenants.router,
    members.router,
    api_keys.router,
    secrets.router,
    audit.router,
]
