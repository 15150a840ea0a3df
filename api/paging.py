"""Tamper-evident page tokens: every token is HMAC-signed and bound to tenant and query.

A list route hands out ``next_page_token``; a client may only echo it back. Anything the
server did not issue for this tenant and this query (garbage, base64 of some JSON, a
token of another tenant or of other filters) is refused up front with 422
``query.page_token``, before it reaches Temporal or the database: a forged Temporal
visibility token used to cost ~9.5 s of server-side retries before failing.

Format: ``<base64url(inner)>.<base64url(hmac_sha256(key, scope | inner)[:16])>``, where
``scope`` names the route, the tenant and the canonical filters, and ``inner`` is the
backend's own cursor (Temporal's ``next_page_token`` bytes). Tokens carry no expiry:
Temporal's own cursors stay valid, and any replica that shares the key verifies them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from api.problems import FieldError, ProblemError, invalid

MAX_PAGE_TOKEN_CHARS = 2000
"""Longest page token a list route accepts (Temporal's cursors are a few hundred bytes)."""
_MAC_BYTES = 16
_KEY_INFO = b"treeflow page tokens v1"
LIST_RPC_TIMEOUT = timedelta(seconds=5)
"""How long one visibility list call may take before the route gives up."""


class PageTokens:
    """Seals backend cursors into page tokens and opens only tokens it sealed."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a page token key needs at least 16 bytes")
        self._key = hashlib.sha256(_KEY_INFO + key).digest()

    @classmethod
    def ephemeral(cls) -> PageTokens:
        """A random key for this process only (dev mode without configured keys)."""
        return cls(os.urandom(32))

    def seal(
        self, route: str, tenant_id: uuid.UUID, query: str, cursor: bytes | None
    ) -> str | None:
        """The token that lets the same caller fetch the page after ``cursor``."""
        if not cursor:
            return None
        body = _b64encode(cursor)
        return f"{body}.{_b64encode(self._mac(route, tenant_id, query, cursor))}"

    def open(self, route: str, tenant_id: uuid.UUID, query: str, token: str | None) -> bytes | None:
        """The cursor inside ``token``; 422 ``query.page_token`` for any token not ours."""
        if not token:
            return None
        body, dot, mac = token.partition(".")
        if not dot or len(token) > MAX_PAGE_TOKEN_CHARS:
            raise invalid_page_token()
        try:
            cursor = _b64decode(body)
            given = _b64decode(mac)
        except (ValueError, binascii.Error):
            raise invalid_page_token() from None
        expected = self._mac(route, tenant_id, query, cursor)
        if not cursor or not hmac.compare_digest(given, expected):
            raise invalid_page_token()
        return cursor

    def _mac(self, route: str, tenant_id: uuid.UUID, query: str, cursor: bytes) -> bytes:
        scope = "\x1f".join((route, str(tenant_id), query)).encode()
        message = len(scope).to_bytes(4, "big") + scope + cursor
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]


async def visibility_page(
    client: Client,
    page_tokens: PageTokens,
    route: str,
    tenant_id: uuid.UUID,
    query: str,
    page_token: str | None,
    limit: int,
) -> tuple[Sequence[WorkflowExecution], str | None]:
    """One page of Temporal visibility for ``query``, and the token of the page after it.

    ``page_token`` must be one this route sealed for this tenant and query; one Temporal
    refuses although we signed it is answered like a forged one (422), a refusal of the
    first page is raised as it came.
    """
    token = page_tokens.open(route, tenant_id, query, page_token)
    iterator = client.list_workflows(
        query, page_size=limit, next_page_token=token, rpc_timeout=LIST_RPC_TIMEOUT
    )
    try:
        await iterator.fetch_next_page(page_size=limit)
    except RPCError:
        if token is None:
            raise
        raise invalid_page_token() from None
    executions = iterator.current_page or []
    return executions, page_tokens.seal(route, tenant_id, query, iterator.next_page_token)


def invalid_page_token() -> ProblemError:
    """The one answer for a page token this API did not issue for this request."""
    return invalid(
        "invalid page token",
        FieldError(
            field="query.page_token",
            message="not a token this API issued for this tenant and these filters",
        ),
    )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    padded = (text + "=" * (-len(text) % 4)).encode("ascii")  # non-ASCII: ValueError
    return base64.b64decode(padded, altchars=b"-_", validate=True)
