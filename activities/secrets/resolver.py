"""How tools fetch tenant secrets at run time: a `SecretResolver` over a `SecretStore`.

Workers build the store from the same `TREEFLOW_*` settings the API uses
(`foundation.secrets.settings`), so a secret written through the API is readable by
tools, by reference, and never travels in a workflow.
"""

from __future__ import annotations

import uuid

from activities.errors import NonRetryableToolError, ToolNotAllowed, ToolUnavailable
from activities.sdk import SecretResolver
from foundation.secrets.store import SecretNotFoundError, SecretRef, SecretStore


class StoreSecretResolver:
    """Reads `secret://<tenant>/<name>` from a store when a tool asks, honouring the
    secret's tool policy (`SecretPolicy`): `for_tool(name)` is what the tool host hands
    a call of tool `name`; calling the resolver itself resolves as "no tool"."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"StoreSecretResolver({self._store!r})"

    async def __call__(self, tenant_id: str, name: str) -> str:
        return await self.resolve(tenant_id, name, tool=None)

    def for_tool(self, tool: str) -> SecretResolver:
        """The resolver a call of tool `tool` (name without version) sees."""

        async def resolve(tenant_id: str, name: str) -> str:
            return await self.resolve(tenant_id, name, tool=tool)

        return resolve

    async def resolve(self, tenant_id: str, name: str, *, tool: str | None) -> str:
        try:
            tenant = uuid.UUID(tenant_id)
        except ValueError:
            raise NonRetryableToolError(
                f"secret '{name}': runs of tenant '{tenant_id}' have no secret store",
                details={"secret": name},
            ) from None
        try:
            value, policy = await self._store.get_with_policy(SecretRef(tenant, name))
        except SecretNotFoundError:
            raise NonRetryableToolError(
                f"secret '{name}' is not set for this tenant", details={"secret": name}
            ) from None
        except (OSError, ConnectionError) as exc:
            raise ToolUnavailable(f"secret store unreachable: {type(exc).__name__}") from exc
        if not policy.allows(tool):
            raise ToolNotAllowed(
                f"secret '{name}' may not be used by tool '{tool}': a tenant admin sets "
                f"which tools may use it (PUT /v1/tenants/{tenant}/secrets/{name}/policy)",
                details={"secret": name, "tool": tool},
            )
        return value


def store_resolver(store: SecretStore) -> StoreSecretResolver:
    """A resolver that reads `secret://<tenant>/<name>` from `store` when a tool asks."""
    return StoreSecretResolver(store)
