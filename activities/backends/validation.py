"""Schema-aware checks shared by every backend.

Backends call these before touching the store, so both raise the same typed errors
for the same mistakes (unknown property, wrong value type, bad name) and the store
only ever sees validated, type-coerced values.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from activities.backends.base import (
    ARRAY_TYPES,
    NUMERIC_TYPES,
    REFERENCE_NAMESPACE,
    AggregateRequest,
    AllOf,
    AnyOf,
    CollectionSchema,
    Condition,
    Filter,
    NewRecord,
    PropertySchema,
    PropertyType,
    PropertyValue,
    Record,
    SearchHit,
    SearchRequest,
    SortSpec,
)
from activities.backends.errors import InvalidFilter, InvalidRequest, UnknownProperty

_COLLECTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
_PROPERTY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
_TENANT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RESERVED_PROPERTIES = frozenset({"id", "vector", "uuid"})

_ORDERABLE = NUMERIC_TYPES | {PropertyType.DATE, PropertyType.TEXT, PropertyType.BOOLEAN}
_TOP_VALUE_TYPES = frozenset({PropertyType.TEXT, PropertyType.TEXT_ARRAY, PropertyType.BOOLEAN})
_GROUPABLE = frozenset(
    {PropertyType.TEXT, PropertyType.TEXT_ARRAY, PropertyType.INT, PropertyType.BOOLEAN}
)


def canonical_collection_name(name: str) -> str:
    """Validate a collection name and capitalise its first letter (Weaviate's rule)."""
    if not _COLLECTION_RE.match(name):
        raise InvalidRequest(
            f"Invalid collection name {name!r}: use a letter then letters, digits or '_'"
        )
    return name[0].upper() + name[1:]


def check_tenant_name(tenant: str) -> str:
    """Validate a tenant name (letters, digits, '-' and '_', at most 64)."""
    if not _TENANT_RE.match(tenant):
        raise InvalidRequest(f"Invalid tenant name {tenant!r}")
    return tenant


def check_new_properties(properties: Sequence[PropertySchema]) -> None:
    """Reject invalid, reserved, duplicate or unsupported property definitions."""
    seen: set[str] = set()
    for prop in properties:
        if not _PROPERTY_RE.match(prop.name) or prop.name.lower() in RESERVED_PROPERTIES:
            raise InvalidRequest(
                f"Invalid property name {prop.name!r}: start with a letter, use letters, "
                f"digits or '_', and avoid the reserved names {sorted(RESERVED_PROPERTIES)}"
            )
        if prop.name in seen:
            raise InvalidRequest(f"Duplicate property {prop.name!r}")
        if prop.type is PropertyType.OTHER:
            raise InvalidRequest(f"Property {prop.name!r}: type 'other' cannot be created")
        seen.add(prop.name)
    if not properties:
        raise InvalidRequest("A collection needs at least one property")


def default_vectorized(properties: Sequence[PropertySchema]) -> list[str]:
    """Text properties, the default set embedded for semantic search."""
    return [p.name for p in properties if p.type in (PropertyType.TEXT, PropertyType.TEXT_ARRAY)]


def check_vectorize(properties: Sequence[PropertySchema], vectorize: Sequence[str]) -> list[str]:
    """Validate the properties chosen for embedding (text properties only)."""
    by_name = {p.name: p for p in properties}
    for name in vectorize:
        prop = by_name.get(name)
        if prop is None:
            raise UnknownProperty("(new collection)", name, list(by_name))
        if prop.type not in (PropertyType.TEXT, PropertyType.TEXT_ARRAY):
            raise InvalidRequest(f"Property {name!r} is {prop.type}; only text is vectorized")
    return list(vectorize)


def check_new_collection(
    properties: Sequence[PropertySchema], vectorize: Sequence[str] | None
) -> list[str]:
    """Validate a new collection's properties; the names to embed (default: every text one)."""
    check_new_properties(properties)
    if vectorize is None:
        return default_vectorized(properties)
    return check_vectorize(properties, vectorize)


# --------------------------------------------------------------------------- ids


def reference_id(key: str | None, properties: dict[str, PropertyValue]) -> str:
    """The stable reference id of a record: a UUID key as is, else uuid5 of the key.

    Without a key the id is derived from the properties' canonical JSON, so importing
    the same file twice updates instead of duplicating.
    """
    if key is None:
        key = "content:" + json.dumps(properties, sort_keys=True, default=str)
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid5(REFERENCE_NAMESPACE, key))


def check_reference_id(ref: str) -> str:
    """A canonical UUID string, or InvalidRequest."""
    try:
        return str(uuid.UUID(ref))
    except (ValueError, AttributeError, TypeError):
        raise InvalidRequest(f"Invalid reference id {ref!r}: expected a UUID") from None


def record_id(record: NewRecord | Record) -> str:
    """Reference id of a record about to be written."""
    if isinstance(record, Record):
        return check_reference_id(record.id)
    return reference_id(record.key, record.properties)


# --------------------------------------------------------------------------- values


def _schema_property(schema: CollectionSchema, name: str) -> PropertySchema:
    prop = schema.get_property(name)
    if prop is None:
        raise UnknownProperty(schema.name, name, schema.property_names)
    return prop


def check_properties(schema: CollectionSchema, names: Iterable[str]) -> list[str]:
    """Validate property names against the schema; returns them as a list."""
    names = list(names)
    for name in names:
        _schema_property(schema, name)
    return names


def to_datetime(value: Any) -> datetime:
    """Parse a date value (datetime, date or ISO-8601 text) to an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 date") from None
    else:
        raise ValueError(f"{value!r} is not a date")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _to_number(value: Any, kind: type[int] | type[float], what: str) -> int | float:
    """`value` as `kind`: a number (an integer needs an integral float), or a string that
    parses as one; never a boolean."""
    if not isinstance(value, bool):
        if isinstance(value, int) or (
            isinstance(value, float) and (kind is float or value.is_integer())
        ):
            return kind(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return kind(value.strip())
    raise ValueError(f"{value!r} is not {what}")


def coerce_scalar(ptype: PropertyType, value: Any) -> str | int | float | bool | datetime:
    """Coerce one value to the scalar type of a property (element type for arrays).

    Raises ValueError with a readable message when the value does not fit.
    """
    base = {
        PropertyType.TEXT_ARRAY: PropertyType.TEXT,
        PropertyType.INT_ARRAY: PropertyType.INT,
        PropertyType.NUMBER_ARRAY: PropertyType.NUMBER,
    }.get(ptype, ptype)
    if base is PropertyType.TEXT:
        if isinstance(value, str):
            return value
        raise ValueError(f"{value!r} is not text")
    if base is PropertyType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"{value!r} is not a boolean")
    if base is PropertyType.INT:
        return _to_number(value, int, "an integer")
    if base is PropertyType.NUMBER:
        return _to_number(value, float, "a number")
    if base is PropertyType.DATE:
        return to_datetime(value)
    raise ValueError(f"type {ptype} cannot hold {value!r}")


def coerce_properties(
    schema: CollectionSchema, properties: dict[str, PropertyValue]
) -> dict[str, PropertyValue]:
    """Validate and coerce a record's properties for writing (missing ones stay null)."""
    out: dict[str, PropertyValue] = {}
    for name, value in properties.items():
        prop = _schema_property(schema, name)
        if value is None:
            out[name] = None
            continue
        try:
            if prop.type in ARRAY_TYPES:
                if not isinstance(value, list):
                    raise ValueError(f"{value!r} is not a list")
                items: Any = [coerce_scalar(prop.type, v) for v in value]
                out[name] = items
            elif prop.type is PropertyType.OTHER:
                out[name] = value
            else:
                out[name] = coerce_scalar(prop.type, value)
        except ValueError as exc:
            raise InvalidRequest(f"Property {name!r} ({prop.type}): {exc}") from None
    return out


# --------------------------------------------------------------------------- filters


def check_filter(schema: CollectionSchema, flt: Filter) -> Filter:
    """Validate a filter tree against the schema and coerce its values."""
    if isinstance(flt, AllOf):
        return AllOf(all_of=[check_filter(schema, f) for f in flt.all_of])
    if isinstance(flt, AnyOf):
        return AnyOf(any_of=[check_filter(schema, f) for f in flt.any_of])
    return _check_condition(schema, flt)


def _check_condition(schema: CollectionSchema, cond: Condition) -> Condition:
    prop = _schema_property(schema, cond.property)
    op = cond.operator
    where = f"filter on {prop.name!r} ({prop.type}) with {op!r}"
    if prop.type is PropertyType.OTHER:
        raise InvalidFilter(f"Cannot filter on {prop.name!r}: its type is not supported")
    is_array = prop.type in ARRAY_TYPES
    if op in ("in", "contains_any"):
        if not isinstance(cond.value, list) or not cond.value:
            raise InvalidFilter(f"{where}: the value must be a non-empty list")
        if op == "in" and is_array:
            raise InvalidFilter(f"{where}: use 'contains_any' on array properties")
        if op == "contains_any" and not (is_array or prop.type is PropertyType.TEXT):
            raise InvalidFilter(f"{where}: 'contains_any' needs an array or text property")
        values: Any = [_coerce_filter_value(prop, v, where) for v in cond.value]
        return Condition(property=prop.name, operator=op, value=values)
    if isinstance(cond.value, list):
        raise InvalidFilter(f"{where}: the value must be a single value, not a list")
    if op == "like":
        if prop.type is not PropertyType.TEXT:
            raise InvalidFilter(f"{where}: 'like' needs a text property")
        if not isinstance(cond.value, str):
            raise InvalidFilter(f"{where}: the pattern must be text")
        return cond
    if is_array:
        raise InvalidFilter(f"{where}: use 'contains_any' on array properties")
    if op in ("gt", "gte", "lt", "lte") and prop.type not in _ORDERABLE - {PropertyType.BOOLEAN}:
        raise InvalidFilter(f"{where}: range operators need a number, date or text property")
    value = _coerce_filter_value(prop, cond.value, where)
    return Condition(property=prop.name, operator=op, value=value)


def _coerce_filter_value(prop: PropertySchema, value: Any, where: str) -> Any:
    try:
        return coerce_scalar(prop.type, value)
    except ValueError as exc:
        raise InvalidFilter(f"{where}: {exc}") from None


# --------------------------------------------------------------------------- requests


def check_search(schema: CollectionSchema, request: SearchRequest) -> SearchRequest:
    """Validate property names, sort and filters of a search; returns it coerced."""
    if request.properties is not None:
        check_properties(schema, request.properties)
    if request.sort is not None:
        prop = _schema_property(schema, request.sort.property)
        if prop.type not in _ORDERABLE:
            raise InvalidRequest(f"Cannot sort by {prop.name!r}: {prop.type} is not orderable")
    if request.filters is not None:
        request = request.model_copy(update={"filters": check_filter(schema, request.filters)})
    return request


def check_aggregate(schema: CollectionSchema, request: AggregateRequest) -> AggregateRequest:
    """Validate metrics and group-by against property types; returns it coerced."""
    if request.group_by is not None:
        prop = _schema_property(schema, request.group_by)
        if prop.type not in _GROUPABLE:
            raise InvalidRequest(
                f"Cannot group by {prop.name!r} ({prop.type}); group by text, text_array, "
                "int or boolean properties"
            )
    for metric in request.metrics:
        prop = _schema_property(schema, metric.property)
        for op in metric.ops:
            ok = (
                (op == "count" and prop.type not in ARRAY_TYPES | {PropertyType.OTHER})
                or (op in ("sum", "mean") and prop.type in NUMERIC_TYPES)
                or (op in ("min", "max") and prop.type in NUMERIC_TYPES | {PropertyType.DATE})
                or (op == "top_values" and prop.type in _TOP_VALUE_TYPES)
            )
            if not ok:
                raise InvalidRequest(f"Metric {op!r} does not apply to {prop.name!r} ({prop.type})")
    if request.filters is not None:
        request = request.model_copy(update={"filters": check_filter(schema, request.filters)})
    return request


def check_tenant(schema: CollectionSchema, tenant: str | None) -> str | None:
    """A tenant is required on multi-tenant collections and refused elsewhere."""
    if schema.multi_tenant and tenant is None:
        raise InvalidRequest(f"Collection {schema.name!r} is multi-tenant: pass a tenant")
    if not schema.multi_tenant and tenant is not None:
        raise InvalidRequest(f"Collection {schema.name!r} is not multi-tenant: drop the tenant")
    return None if tenant is None else check_tenant_name(tenant)


# --------------------------------------------------------------------------- sorting


def _sort_key(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def sort_hits(hits: list[SearchHit], sort: SortSpec) -> list[SearchHit]:
    """Stable sort of a page of hits by one property, missing values last."""
    present = [h for h in hits if h.properties.get(sort.property) is not None]
    missing = [h for h in hits if h.properties.get(sort.property) is None]
    present.sort(
        key=lambda h: _sort_key(h.properties[sort.property]), reverse=sort.direction == "desc"
    )
    return present + missing
