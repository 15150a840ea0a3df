"""Policy shared by every outbound HTTP tool: the host allow-list and secret headers."""

from __future__ import annotations

import fnmatch

from pydantic import BaseModel, Field


class SecretHeader(BaseModel):
    """A header whose value is a tenant secret, fetched by reference at call time."""

    secret: str = Field(description="Name of the tenant secret.")
    template: str = Field(default="{secret}", description="e.g. 'Bearer {secret}'.")


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact host or shell-style pattern (`*.example.com`) match; empty list allows none."""
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)
