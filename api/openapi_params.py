"""Path parameters the OpenAPI document must declare although no handler argument names them.

Tenant routes read ``{tenant_id}`` in the permission dependency (``api.rbac.requires``)
from ``request.path_params``, so FastAPI's generator never sees it: 42 operations were
served without it, a generated client could not fill the path, and fuzzers needed a
patched copy. This adds every ``{name}`` of a path that an operation does not declare.
"""

from __future__ import annotations

import re
from typing import Any

_TEMPLATE = re.compile(r"{([^}:]+)(?::[^}]*)?}")
PATH_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "tenant_id": {
        "schema": {"type": "string", "format": "uuid", "title": "Tenant Id"},
        "description": "The tenant (its id from `GET /v1/me` or `POST /v1/tenants`).",
    },
}
"""How the parameters that only dependencies read look; others default to a string."""


def declare_path_parameters(schema: dict[str, Any]) -> None:
    """Add each undeclared ``{name}`` of every path to its operations, in place."""
    for path, operations in schema.get("paths", {}).items():
        names = _TEMPLATE.findall(path)
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.setdefault("parameters", [])
            declared = {p.get("name") for p in parameters if p.get("in") == "path"}
            missing = [name for name in names if name not in declared]
            for position, name in enumerate(missing):
                known = PATH_PARAMETER_SCHEMAS.get(name, {"schema": {"type": "string"}})
                parameters.insert(position, {"name": name, "in": "path", "required": True, **known})
