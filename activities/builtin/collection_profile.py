"""Collection profiles: what `preprocess_collection` learns, stored in the backend itself.

Profiles live in the `TreeflowMetadata` collection of the same store (as Elysia keeps
its preprocessing in a metadata collection), one object per collection and tenant,
so every worker sees them and they survive restarts. `query` and `aggregate` read
them to check the properties a request names before it reaches the store, and the
decision agent reads their summaries when it writes tool arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from activities.backends import (
    AllOf,
    AnyOf,
    Backend,
    Condition,
    Filter,
    NewRecord,
    PropertySchema,
    PropertyType,
    UnknownCollection,
)
from activities.backends.validation import canonical_collection_name, reference_id
from activities.errors import NonRetryableToolError

METADATA_COLLECTION = "TreeflowMetadata"
METADATA_PROPERTIES = [
    PropertySchema(name="collection", type=PropertyType.TEXT, description="Profiled collection"),
    PropertySchema(name="tenant", type=PropertyType.TEXT, description="Tenant, '' when none"),
    PropertySchema(name="summary", type=PropertyType.TEXT, description="What the data is"),
    PropertySchema(name="profile_json", type=PropertyType.TEXT, description="The full profile"),
    PropertySchema(name="updated_at", type=PropertyType.DATE, description="When it was made"),
]


class ValueCount(BaseModel):
    """A value and how often it appears in the sample."""

    value: str | int | float | bool
    count: int


class PropertyProfile(BaseModel):
    """Statistics of one property over the sample."""

    name: str
    type: str
    description: str | None = None
    display: str = Field(description="How to show it: text, label, number, date, tags, flag.")
    present: int = Field(description="Sampled objects with a value.")
    distinct: int | None = None
    top_values: list[ValueCount] = Field(default_factory=list)
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    mean_words: float | None = None
    example: str | None = None


class CollectionProfile(BaseModel):
    """The stored result of `preprocess_collection`."""

    collection: str
    tenant: str | None = None
    count: int | None
    sampled: int
    summary: str
    properties: list[PropertyProfile]
    display_types: list[str] = Field(
        description="Ways to show an object of this collection, best first (e.g. ticket, table)."
    )
    mappings: dict[str, dict[str, str]] = Field(
        description="Per display type: its fields -> this collection's properties."
    )
    summary_method: str = "statistics"
    updated_at: str

    @property
    def property_names(self) -> list[str]:
        return [p.name for p in self.properties]

    def for_agent(self) -> str:
        """A compact description for a decision agent writing query/aggregate arguments."""
        fields = []
        for prop in self.properties:
            extra = ""
            if prop.top_values and prop.display in ("label", "tags", "flag"):
                extra = " e.g. " + ", ".join(str(v.value) for v in prop.top_values[:6])
            elif prop.min is not None:
                extra = f" from {prop.min} to {prop.max}"
            fields.append(f"{prop.name} ({prop.type}{extra})")
        return f"Collection {self.collection}: {self.summary} Properties: " + "; ".join(fields)


def _key(collection: str, tenant: str | None) -> str:
    return reference_id(f"profile:{canonical_collection_name(collection)}:{tenant or ''}", {})


async def save_profile(backend: Backend, profile: CollectionProfile) -> str:
    """Store (or replace) a profile; returns its reference id."""
    await backend.create_collection(
        METADATA_COLLECTION, METADATA_PROPERTIES, vectorize=["summary"], exist_ok=True
    )
    record = NewRecord(
        key=_key(profile.collection, profile.tenant),
        properties={
            "collection": profile.collection,
            "tenant": profile.tenant or "",
            "summary": profile.summary,
            "profile_json": profile.model_dump_json(),
            "updated_at": datetime.now(UTC),
        },
    )
    [ref] = await backend.upsert(METADATA_COLLECTION, [record])
    return ref


async def load_profile(
    backend: Backend, collection: str, tenant: str | None = None
) -> CollectionProfile | None:
    """The stored profile of a collection, or None when it was never preprocessed."""
    try:
        records = await backend.get(METADATA_COLLECTION, [_key(collection, tenant)])
    except UnknownCollection:
        return None
    if not records:
        return None
    raw = records[0].properties.get("profile_json")
    return CollectionProfile.model_validate(json.loads(str(raw))) if raw else None


def filter_properties(flt: Filter | None) -> list[str]:
    """Every property a filter names."""
    if flt is None:
        return []
    if isinstance(flt, Condition):
        return [flt.property]
    children: Iterable[Filter] = flt.all_of if isinstance(flt, AllOf) else flt.any_of
    assert isinstance(flt, AllOf | AnyOf)
    return [name for child in children for name in filter_properties(child)]


async def check_fields(
    backend: Backend,
    collection: str,
    names: Iterable[str],
    tenant: str | None = None,
) -> CollectionProfile | None:
    """Fail (non-retryable, naming the property and the valid ones) on unknown properties.

    Uses the stored profile when there is one; a name the profile does not know is
    confirmed against the live schema before failing (the profile may predate it).
    Returns the profile (None without one).
    """
    profile = await load_profile(backend, collection, tenant)
    wanted = list(dict.fromkeys(names))
    if profile is None or not wanted:
        return profile
    unknown = [n for n in wanted if n not in profile.property_names]
    if unknown:
        schema = await backend.describe(collection, tenant=tenant)
        missing = [n for n in unknown if schema.get_property(n) is None]
        if missing:
            valid = sorted(schema.property_names)
            raise NonRetryableToolError(
                f"Unknown property {missing[0]!r} in collection {profile.collection!r}; "
                f"valid properties: {', '.join(valid)}",
                details={"property": missing[0], "valid": valid, "collection": collection},
            )
    return profile


def profile_timestamp() -> str:
    """ISO time for `updated_at` (UTC, seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def jsonable(value: Any) -> Any:
    """Dates as ISO text, everything else unchanged (for statistics)."""
    return value.isoformat() if isinstance(value, datetime) else value
