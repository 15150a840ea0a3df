"""Audit log: every state-changing call (who, what, when, tenant, request id, outcome).

:class:`AuditMiddleware` writes one row per non-safe request, including refused ones,
before the response leaves, in its own transaction (a handler's rollback cannot erase
the record of its attempt). The RBAC guard fills in who and which tenant; handlers add
what they touched through :class:`AuditNote`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.principal import Principal
from api.db.batching import Batcher
from api.db.models import AuditEvent, utcnow

log = logging.getLogger("treeflow.api.audit")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
AUDITED_SAFE_PATHS = ("/v1/auth/callback/",)
"""GET routes that change state all the same (the login callback provisions users)."""


def outcome_of(status: int) -> str:
    """``success``, ``denied`` (auth, permission, limits) or ``failed``."""
    if status < 400:
        return "success"
    if status in (401, 403, 429):
        return "denied"
    return "failed"


class AuditNote:
    """What a handler adds to its audit record: the target and non-secret details."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def target(self, value: str | uuid.UUID) -> None:
        """The object the call acted on."""
        self._state["audit_target"] = str(value)[:200]

    def actor(self, subject: str) -> None:
        """Who acted, on public routes where the guard authenticated nobody (refresh, login)."""
        self._state["audit_actor"] = subject[:80]

    def detail(self, **values: Any) -> None:
        """Extra facts (never secret values)."""
        self._state.setdefault("audit_details", {}).update(values)


async def audit_note(request: Request) -> AuditNote:
    """Dependency: the audit note of this request."""
    return AuditNote(request.scope.setdefault("state", {}))


class AuditWriter:
    """Group commit: concurrent requests share one INSERT transaction.

    Each caller waits until its event is committed (so the record exists before the
    response leaves), but 50 concurrent writes cost one transaction, not 50.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._table = cast(sa.Table, AuditEvent.__table__)
        self._batches: Batcher[dict[str, Any], None] = Batcher(self._insert)

    async def write(self, row: dict[str, Any]) -> None:
        """Record ``row`` (columns of ``audit_events``); returns once it is committed."""
        await self._batches.submit(row)

    async def _insert(self, rows: Sequence[dict[str, Any]]) -> list[None]:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(self._table.insert(), list(rows))
        except Exception:
            log.exception("could not write %d audit events", len(rows))
        return [None] * len(rows)


class AuditMiddleware:
    """Records state-changing requests once the status is known, before it is sent."""

    def __init__(self, app: ASGIApp, *, writer: AuditWriter) -> None:
        self.app = app
        self._writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] in SAFE_METHODS and not scope["path"].startswith(AUDITED_SAFE_PATHS)
        ):
            await self.app(scope, receive, send)
            return

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._writer.write(_row(scope, int(message["status"])))
            await send(message)

        await self.app(scope, receive, audited_send)


def _row(scope: Scope, status: int) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    principal = state.get("principal")
    route = scope.get("route")
    action = getattr(route, "name", None) or "unmatched"
    path_params = scope.get("path_params") or {}
    target = state.get("audit_target") or next(
        (str(v) for k, v in path_params.items() if k != "tenant_id"), None
    )
    actor = (
        principal.subject
        if isinstance(principal, Principal)
        else str(state.get("audit_actor") or "anonymous")
    )
    return {
        "occurred_at": utcnow(),
        "tenant_id": state.get("tenant_id"),
        "actor": actor,
        "action": action[:100],
        "method": scope["method"][:10],
        "path": scope["path"][:500],
        "target": target[:200] if target else None,
        "request_id": str(state.get("request_id") or "")[:128],
        "status_code": status,
        "outcome": outcome_of(status),
        "client_ip": state.get("client_ip"),
        "details": state.get("audit_details") or {},
    }
