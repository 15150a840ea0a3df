"""Declarative HTTP tools: validation, the store, the tenant catalog and rendering."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from activities.declarative import (
    InMemoryToolStore,
    InvalidDeclarativeTool,
    TenantToolCatalog,
    VersionExists,
    register,
    render_request,
    tool_spec,
    validate_definition,
)
from activities.registry import ToolRegistry
from activities.versions import Version

ALLOWED = ["127.0.0.1", "*.example.com"]
HOSTS: dict[str, Any] = {"allowed_hosts": ALLOWED}
URL = "https://api.example.com/search"


def definition(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "ticket_status",
        "version": "1.0.0",
        "description": "Look up a ticket's status in the helpdesk by its key.",
        "input_schema": {
            "type": "object",
            "properties": {
                "ticket_id": {"type": "string", "pattern": "^TCK-[0-9]+$"},
                "verbose": {"type": "boolean", "default": False},
                "fields": {"type": "array", "items": {"type": "string"}},
                "priority": {"type": "string", "enum": ["low", "high"]},
            },
            "required": ["ticket_id"],
        },
        "request": {
            "method": "POST",
            "url": "https://api.example.com/tickets/{ticket_id}/status",
            "query": {"verbose": "{verbose}", "p": "{priority}"},
            "headers": {"X-Ticket": "{ticket_id}"},
            "secret_headers": {
                "Authorization": {"secret": "helpdesk", "template": "Bearer {secret}"}
            },
            "body": {"fields": "{fields}", "note": "ticket {ticket_id}"},
        },
        "result_path": "data.status",
    }
    base.update(changes)
    return base


def test_a_valid_definition_becomes_a_tool_spec_with_an_input_model() -> None:
    tool = validate_definition(definition(), allowed_hosts=ALLOWED)
    spec = tool_spec(tool)
    assert spec.activity_name == "ticket_status@1.0.0"
    assert spec.tags == ("declarative", "http")
    model = spec.input_model
    args = model.model_validate({"ticket_id": "TCK-42", "fields": ["a"]})
    assert args.model_dump() == {
        "ticket_id": "TCK-42",
        "verbose": False,
        "fields": ["a"],
        "priority": None,
    }
    with pytest.raises(ValidationError, match="ticket_id"):
        model.model_validate({"ticket_id": "nope"})
    with pytest.raises(ValidationError, match="priority"):
        model.model_validate({"ticket_id": "TCK-1", "priority": "urgent"})
    with pytest.raises(ValidationError, match="unknown input"):
        model.model_validate({"ticket_id": "TCK-1", "other": 1})
    assert model.model_json_schema()["required"] == ["ticket_id"]


def test_arguments_are_checked_as_json_schema_without_coercion() -> None:
    """The input schema is a JSON Schema contract: a string is not an integer, lengths
    of arrays count items, and each problem names the argument's path."""
    schema = {
        "properties": {
            "limit": {"type": "integer", "minimum": 1},
            "ratio": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxLength": 2},
        },
        "required": ["limit"],
    }
    tool = validate_definition(definition(input_schema=schema, request={"url": URL}), **HOSTS)
    model = tool_spec(tool).input_model
    with pytest.raises(ValidationError) as info:
        model.model_validate({"limit": "5", "ratio": True, "tags": ["a", 3, "c"]})
    assert {(".".join(map(str, e["loc"])), e["msg"]) for e in info.value.errors()} == {
        ("limit", "expected integer, got str"),
        ("ratio", "expected number, got bool"),
        ("tags", "['a', 3, 'c'] is too long"),
        ("tags.1", "expected string, got int"),
    }
    assert model.model_validate({"limit": 5, "ratio": 2}).model_dump(mode="json") == {
        "limit": 5,
        "ratio": 2,
        "tags": None,
    }
    assert tool_spec(tool).input_schema()["properties"]["tags"]["maxItems"] == 2


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"name": "Bad Name"}, "name", "not a tool name"),
        ({"version": "1.0"}, "version", "MAJOR.MINOR.PATCH"),
        ({"description": "short"}, "description", "at least 10"),
        (
            {"request": {"url": "https://evil.org/x"}},
            "request.url",
            "host 'evil.org' is not in the tenant's allow-list",
        ),
        ({"request": {"url": "https://{host}/x"}}, "request.url", "must be literal"),
        ({"request": {"url": "ftp://api.example.com"}}, "request.url", "absolute http"),
        (
            {"request": {"url": "https://api.example.com/{nope}"}},
            "request.url",
            "placeholder '{nope}' is not a parameter",
        ),
        (
            {"input_schema": {"properties": {"x": {"type": "array"}}}},
            "input_schema.properties.x.items",
            "arrays need",
        ),
        (
            {"input_schema": {"properties": {"x": {"type": "integer", "default": "a"}}}},
            "input_schema.properties.x.default",
            "does not fit",
        ),
        (
            {"input_schema": {"properties": {"x": {"type": "integer", "default": "5"}}}},
            "input_schema.properties.x.default",
            "does not fit",
        ),
        (
            {
                "input_schema": {
                    "properties": {"x": {"type": "integer", "minimum": 1, "default": 0}}
                }
            },
            "input_schema.properties.x.default",
            "does not fit",
        ),
        (
            {"input_schema": {"properties": {}, "required": ["y"]}},
            "input_schema.required",
            "'y' is not a declared property",
        ),
        ({"input_schema": {"properties": {"x": {"type": "date"}}}}, "input_schema", "Input should"),
    ],
)
def test_invalid_definitions_name_the_field(
    changes: dict[str, Any], path: str, fragment: str
) -> None:
    data = definition(**changes)
    if "request" in changes:
        data["request"] = {"url": changes["request"]["url"]}
    with pytest.raises(InvalidDeclarativeTool) as info:
        validate_definition(data, allowed_hosts=ALLOWED)
    assert any(p.startswith(path) and fragment in m for p, m in info.value.problems), (
        info.value.problems
    )


def test_a_name_of_a_registered_tool_is_refused() -> None:
    with pytest.raises(InvalidDeclarativeTool, match="is a built-in or published tool"):
        validate_definition(
            definition(name="query"),
            allowed_hosts=ALLOWED,
            reserved_names=ToolRegistry.discover().names(),
        )


def test_rendering_fills_the_path_query_headers_and_typed_body() -> None:
    tool = validate_definition(definition(), allowed_hosts=ALLOWED)
    values = {"ticket_id": "TCK-1/2", "verbose": False, "fields": ["status", "owner"]}
    request = render_request(tool, values)  # the path value is quoted, not trusted
    assert request.url == "https://api.example.com/tickets/TCK-1%2F2/status"
    assert request.params == {"verbose": "false"}  # the unset optional `priority` is left out
    assert request.headers == {"X-Ticket": "TCK-1/2"}
    assert request.json_body == {"fields": ["status", "owner"], "note": "ticket TCK-1/2"}
    assert request.secret_headers["Authorization"].secret == "helpdesk"


async def test_the_store_keeps_versions_immutable_per_tenant() -> None:
    store = InMemoryToolStore()
    first = await register(store, "acme", definition(), allowed_hosts=ALLOWED)
    again = await register(store, "acme", definition(), allowed_hosts=ALLOWED)
    assert again == first
    with pytest.raises(VersionExists, match="publish the change as a new version"):
        await register(
            store, "acme", definition(description="Something else entirely."), allowed_hosts=ALLOWED
        )
    await register(store, "acme", definition(version="1.1.0"), allowed_hosts=ALLOWED)
    await register(store, "globex", definition(version="3.0.0"), allowed_hosts=ALLOWED)
    assert [s.tool.version for s in await store.list("acme")] == ["1.0.0", "1.1.0"]
    assert await store.get("globex", "ticket_status", "1.0.0") is None
    deprecated = await store.deprecate("acme", "ticket_status", "1.0.0", "use ^1.1")
    assert deprecated.tool.deprecated == "use ^1.1"
    assert deprecated.content_hash == first.content_hash


async def test_the_tenant_catalog_resolves_declarative_and_registry_tools() -> None:
    store = InMemoryToolStore()
    await register(store, "acme", definition(), allowed_hosts=ALLOWED)
    await register(store, "acme", definition(version="1.2.0"), allowed_hosts=ALLOWED)
    registry = ToolRegistry.discover()
    catalog = await TenantToolCatalog.for_tenant(registry, store, "acme")
    assert catalog.versions("ticket_status") == [Version(1, 0, 0), Version(1, 2, 0)]
    assert catalog.spec("ticket_status", Version(1, 2, 0)).activity_name == "ticket_status@1.2.0"
    carried = catalog.definition("ticket_status", Version(1, 2, 0))
    assert carried is not None
    assert carried["request"]["url"].startswith("https://api.example.com/")
    assert catalog.versions("query") == registry.versions("query")
    assert catalog.definition("query", registry.versions("query")[0]) is None
    other = await TenantToolCatalog.for_tenant(registry, store, "globex")
    assert other.versions("ticket_status") == []
