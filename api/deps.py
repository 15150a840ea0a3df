"""``Annotated`` dependency aliases for route handlers.

Permissions are declared with :func:`api.rbac.requires`; everything else a handler needs
comes from here::

    async def handler(access: Annotated[Access, requires(Permission.X)],
                      session: SessionDep, audit: AuditDep) -> ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.audit import AuditNote, audit_note
from api.auth.principal import Principal
from api.problems import unauthorized
from api.services import Services
from api.settings import Settings
from foundation.secrets import SecretStore

# Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in a
# thread pool, which costs a thread hop per request.


async def get_services(request: Request) -> Services:
    """The application's service container."""
    services: Services = request.app.state.services
    return services


async def get_settings(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.services.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for this request; handlers commit what they change.

    It closes when the handler returns, before the response is sent (``scope="function"``),
    so its connection is back in the pool for the audit write. The embedded SQLite
    default has a single connection: do not open a second session (or call a store that
    does) while this one holds a connection; commit or close first.
    """
    services: Services = request.app.state.services
    async with services.sessions() as session:
        yield session


async def current_principal(request: Request) -> Principal:
    """The caller the RBAC guard authenticated (use on non-public routes only)."""
    principal = request.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise unauthorized()
    return principal


async def get_secret_store(request: Request) -> SecretStore:
    """The tenant secret store."""
    store: SecretStore = request.app.state.services.secrets
    return store


async def get_temporal(request: Request) -> Client:
    """The shared Temporal client (503 problem while Temporal is unreachable)."""
    services: Services = request.app.state.services
    return await services.temporal.client()


ServicesDep = Annotated[Services, Depends(get_services)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AuditDep = Annotated[AuditNote, Depends(audit_note)]
SecretStoreDep = Annotated[SecretStore, Depends(get_secret_store)]
