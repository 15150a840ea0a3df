"""Declarative HTTP tools: tenant-defined, stored and versioned per tenant, run by any worker.

* `model`: the definition, its validation (schema, placeholders, host allow-list) and
  the `ToolSpec` built from it.
* `store`: the storage interface the API implements (`DeclarativeToolStore`), an
  in-memory implementation and `register` (validate + save).
* `catalog`: `TenantToolCatalog`, the compiler's view of registry + tenant tools.
* `executor`: `DeclarativeHttpRunner`, which the worker's generic activity uses.
"""

from activities.declarative.catalog import TenantToolCatalog
from activities.declarative.executor import DeclarativeHttpRunner, render_request
from activities.declarative.model import (
    DeclarativeHttpOutput,
    DeclarativeHttpTool,
    InputSchema,
    InvalidDeclarativeTool,
    ParameterSchema,
    RequestTemplate,
    tool_spec,
    validate_definition,
)
from activities.declarative.store import (
    DeclarativeToolStore,
    InMemoryToolStore,
    StoredTool,
    UnknownDeclarativeTool,
    VersionExists,
    register,
)

__all__ = [
    "DeclarativeHttpOutput",
    "DeclarativeHttpRunner",
    "DeclarativeHttpTool",
    "DeclarativeToolStore",
    "InMemoryToolStore",
    "InputSchema",
    "InvalidDeclarativeTool",
    "ParameterSchema",
    "RequestTemplate",
    "StoredTool",
    "TenantToolCatalog",
    "UnknownDeclarativeTool",
    "VersionExists",
    "register",
    "render_request",
    "tool_spec",
    "validate_definition",
]
