"""The secret-store interface shared by the API (writes) and activities (reads)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

SECRET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"  # noqa: S105 - a pattern, not a secret
_NAME_RE = re.compile(SECRET_NAME_PATTERN)


OPT_IN_TOOLS = frozenset({"http_request"})
"""Tools whose caller (the tree author) picks where a secret is sent. They resolve a
secret only when its policy names them, so a member who may write trees cannot route
a secret to an arbitrary allow-listed host unless a tenant admin allowed it."""
MAX_POLICY_TOOLS = 64
"""How many tool names one secret's policy may list."""


class SecretNotFoundError(LookupError):
    """No secret of that name exists for that tenant."""


@dataclass(frozen=True, slots=True)
class SecretPolicy:
    """Which tools may resolve a secret (set by tenant admins; see docs/api.md).

    ``allowed_tools=None``: every tool except the :data:`OPT_IN_TOOLS`; a tuple: only
    the tools named (by tool name, any version).
    """

    allowed_tools: tuple[str, ...] | None = None

    def allows(self, tool: str | None) -> bool:
        """Whether the tool named `tool` (None: a caller outside a tool) may resolve it."""
        if self.allowed_tools is None:
            return tool not in OPT_IN_TOOLS
        return tool is not None and tool in self.allowed_tools


def validate_secret_name(name: str) -> str:
    """Return ``name`` if it is a valid secret name, else raise ``ValueError``."""
    if not _NAME_RE.fullmatch(name):
        raise ValueError("secret names are 1-128 characters of A-Z a-z 0-9 _ . -")
    return name


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A reference to a tenant secret; this, never the value, travels in workflow inputs."""

    tenant_id: uuid.UUID
    name: str

    def __post_init__(self) -> None:
        validate_secret_name(self.name)

    def __str__(self) -> str:
        return f"secret://{self.tenant_id}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse the ``secret://<tenant>/<name>`` form produced by ``str()``."""
        prefix = "secret://"
        if not text.startswith(prefix) or text.count("/") != 3:
            raise ValueError("secret references look like secret://<tenant-id>/<name>")
        tenant, name = text[len(prefix) :].split("/", 1)
        return cls(tenant_id=uuid.UUID(tenant), name=name)


@dataclass(frozen=True, slots=True)
class SecretMeta:
    """What may be shown about a secret: never its value."""

    name: str
    version: int
    key_id: str
    created_at: datetime
    updated_at: datetime
    allowed_tools: tuple[str, ...] | None = None


class SecretStore(Protocol):
    """Tenant-scoped secret storage. Values are write-only through the API."""

    async def put(self, tenant_id: uuid.UUID, name: str, value: str) -> SecretMeta:
        """Create or replace a secret; each replacement bumps its version."""
        ...

    async def get(self, ref: SecretRef) -> str:
        """Return the plaintext value; raises :class:`SecretNotFoundError`."""
        ...

    async def get_with_policy(self, ref: SecretRef) -> tuple[str, SecretPolicy]:
        """The plaintext value and the secret's policy, in one read."""
        ...

    async def set_policy(self, tenant_id: uuid.UUID, name: str, policy: SecretPolicy) -> SecretMeta:
        """Replace a secret's policy (its value and version stay)."""
        ...

    async def list(self, tenant_id: uuid.UUID) -> list[SecretMeta]:
        """Names and versions of a tenant's secrets, sorted by name."""
        ...

    async def delete(self, tenant_id: uuid.UUID, name: str) -> bool:
        """Remove a secret; returns whether it existed."""
        ...
