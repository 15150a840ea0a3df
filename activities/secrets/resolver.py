"""How tools fetch tenant secrets at run time: a `SecretResolver` over a `SecretStore`.

Workers build the store from the same `TREEFLOW_*` settings the API uses
(`foundation.secrets.settings`), so a secret written through the API is readable by
tools, by reference, and never travels in a workflow.
"""

from __future__ import annotations

import uuid

from activities.errors import NonRetryableToolError, ToolUnavailable
from activities.sdk import SecretResolver
from foundation.secrets.store import SecretNotFoundError, SecretRef, SecretStore


def store_resolver(store: SecretStore) -> SecretResolver:
    """A resolver that reads `secret://<tenant>/<name>` from `store` when a tool asks."""

    async def resolve(tenant_id: str, name: str) -> str:
        try:
            tenant = uuid.UUID(tenant_id)
        except ValueError:
            raise NonRetryableToolError(
                f"secret '{name}': runs of tenant '{tenant_id}' have no secret store",
                details={"secret": name},
            ) from None
        try:
            return await store.get(SecretRef(tenant, name))
        except SecretNotFoundError:
            raise NonRetryableToolError(
                f"secret '{name}' is not set for this tenant", details={"secret": name}
            ) from None
        except (OSError, ConnectionError) as exc:
            raise ToolUnavailable(f"secret store unreachable: {type(exc).__name__}") from exc

    return resolve
