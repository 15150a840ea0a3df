"""`preprocess_collection`: profile a collection once so tools and the agent know its data."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from activities.backends import CollectionSchema, PropertyType, Record
from activities.builtin.collection_profile import (
    CollectionProfile,
    PropertyProfile,
    ValueCount,
    jsonable,
    profile_timestamp,
    save_profile,
)
from activities.builtin.retrieval_errors import backend_errors
from activities.builtin.retrieval_pool import ModelRetrievalTool
from activities.llm import Message, total_usage
from activities.sdk import ToolContext, tool

LABEL_MAX_WORDS = 4
TOP_VALUES = 10

_ROLES: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "subject", "headline"),
    "content": ("body", "content", "text", "description", "message", "summary", "abstract"),
    "author": ("author", "customer", "user", "owner", "reporter", "customer_tier"),
    "status": ("status", "state"),
    "priority": ("priority", "severity"),
    "category": ("category", "type", "topic", "product"),
    "price": ("price", "cost", "amount"),
}


class PreprocessInput(BaseModel):
    collection: str = Field(description="The collection to profile.")
    sample_size: int = Field(default=200, ge=1, le=5000, description="Objects to sample.")
    tenant: str | None = Field(default=None, description="Tenant of a multi-tenant collection.")
    use_llm: bool = Field(
        default=True, description="Write the summary with the LLM when one is configured."
    )


class PreprocessOutput(BaseModel):
    profile: CollectionProfile
    profile_ref: str = Field(description="Reference id of the stored profile.")
    usage: dict[str, Any] | None = None


def _numbers(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _counts(values: Sequence[Any]) -> list[ValueCount]:
    counted = Counter(v for v in values if isinstance(v, str | int | float | bool))
    ordered = sorted(counted.items(), key=lambda item: (-item[1], str(item[0])))
    return [ValueCount(value=v, count=c) for v, c in ordered[:TOP_VALUES]]


def _text_profile(base: dict[str, Any], present: list[Any]) -> PropertyProfile:
    texts = [str(v) for v in present]
    words = [len(t.split()) for t in texts]
    distinct = len(set(texts))
    mean_words = round(statistics.fmean(words), 2) if words else 0.0
    is_label = bool(texts) and mean_words < LABEL_MAX_WORDS and distinct <= max(20, len(texts) // 5)
    return PropertyProfile(
        **base,
        display="label" if is_label else "text",
        distinct=distinct,
        mean_words=mean_words,
        top_values=_counts(texts) if is_label else [],
        example=texts[0][:160] if texts else None,
    )


def _tags_profile(base: dict[str, Any], present: list[Any]) -> PropertyProfile:
    items = [str(i) for v in present if isinstance(v, list) for i in v]
    return PropertyProfile(
        **base, display="tags", distinct=len(set(items)), top_values=_counts(items)
    )


def _number_profile(base: dict[str, Any], present: list[Any], *, integers: bool) -> PropertyProfile:
    numbers = _numbers(present)
    few = len(set(numbers)) <= 10 and integers
    return PropertyProfile(
        **base,
        display="number",
        distinct=len(set(numbers)),
        min=min(numbers) if numbers else None,
        max=max(numbers) if numbers else None,
        mean=round(statistics.fmean(numbers), 4) if numbers else None,
        top_values=_counts([int(n) for n in numbers]) if few else [],
    )


def _date_profile(base: dict[str, Any], present: list[Any]) -> PropertyProfile:
    dates = sorted(v for v in present if isinstance(v, datetime))
    return PropertyProfile(
        **base,
        display="date",
        distinct=len(set(dates)),
        min=jsonable(dates[0]) if dates else None,
        max=jsonable(dates[-1]) if dates else None,
    )


def profile_property(name: str, ptype: PropertyType, values: Sequence[Any]) -> PropertyProfile:
    """Statistics and a display type for one property from its sampled values."""
    present = [v for v in values if v is not None]
    base: dict[str, Any] = {"name": name, "type": str(ptype), "present": len(present)}
    if ptype is PropertyType.TEXT:
        return _text_profile(base, present)
    if ptype is PropertyType.TEXT_ARRAY:
        return _tags_profile(base, present)
    if ptype in (PropertyType.INT, PropertyType.NUMBER):
        return _number_profile(base, present, integers=ptype is PropertyType.INT)
    if ptype is PropertyType.DATE:
        return _date_profile(base, present)
    if ptype is PropertyType.BOOLEAN:
        return PropertyProfile(**base, display="flag", distinct=2, top_values=_counts(present))
    return PropertyProfile(**base, display="text")


def _find(role: str, profiles: Sequence[PropertyProfile], display: set[str]) -> str | None:
    for candidate in _ROLES[role]:
        for prop in profiles:
            if prop.name.lower() == candidate and prop.display in display:
                return prop.name
    return None


_TICKET_FIELDS = ("title", "content", "status", "priority", "category", "author", "date", "tags")
_PRODUCT_FIELDS = ("title", "price", "content")
_DOCUMENT_FIELDS = ("title", "content", "author", "date")


def _roles(profiles: Sequence[PropertyProfile]) -> dict[str, str]:
    """Which property plays which display role (roles nobody plays are left out)."""
    texts = {"text", "label"}
    roles = {
        "title": _find("title", profiles, texts),
        "content": _find("content", profiles, {"text"}),
        "status": _find("status", profiles, {"label"}),
        "priority": _find("priority", profiles, {"label"}),
        "category": _find("category", profiles, {"label"}),
        "author": _find("author", profiles, {"label", "text"}),
        "price": _find("price", profiles, {"number"}),
        "date": next((p.name for p in profiles if p.display == "date"), None),
        "tags": next((p.name for p in profiles if p.display == "tags"), None),
    }
    return {role: name for role, name in roles.items() if name}


def _pick(present: dict[str, str], fields: Sequence[str]) -> dict[str, str]:
    return {k: present[k] for k in fields if k in present}


def display_mappings(
    collection: str, profiles: Sequence[PropertyProfile]
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Display types (best first) and, for each, which property fills which field."""
    present = _roles(profiles)
    ticket_like = "priority" in present or "ticket" in collection.lower()
    mappings: dict[str, dict[str, str]] = {}
    if "title" in present and "status" in present and ticket_like:
        mappings["ticket"] = _pick(present, _TICKET_FIELDS)
    if "title" in present and "price" in present:
        mappings["product"] = _pick(present, _PRODUCT_FIELDS)
    if "content" in present:
        mappings["document"] = _pick(present, _DOCUMENT_FIELDS)
    mappings["table"] = {p.name: p.name for p in profiles}
    return list(mappings), mappings


def statistics_summary(schema: CollectionSchema, profiles: Sequence[PropertyProfile]) -> str:
    """A plain-language summary made from the statistics (no LLM)."""
    count = "an unknown number of" if schema.count is None else f"{schema.count}"
    parts = [f"{schema.name} holds {count} objects with {len(profiles)} properties."]
    texts = [p.name for p in profiles if p.display == "text"]
    if texts:
        parts.append(f"Free text: {', '.join(texts)}.")
    for prop in profiles:
        if prop.display in ("label", "tags", "flag") and prop.top_values:
            shown = ", ".join(str(v.value) for v in prop.top_values[:6])
            parts.append(f"{prop.name} takes values such as {shown}.")
        elif prop.display in ("number", "date") and prop.min is not None:
            mean = f", mean {prop.mean:g}" if prop.mean is not None else ""
            parts.append(f"{prop.name} ranges from {prop.min} to {prop.max}{mean}.")
    return " ".join(parts)


def build_profile(
    schema: CollectionSchema, sample: Sequence[Record], tenant: str | None
) -> CollectionProfile:
    """The profile of a collection from its schema and a sample (statistics summary)."""
    profiles = []
    for prop in schema.properties:
        values = [record.properties.get(prop.name) for record in sample]
        profile = profile_property(prop.name, prop.type, values)
        profiles.append(profile.model_copy(update={"description": prop.description}))
    display_types, mappings = display_mappings(schema.name, profiles)
    return CollectionProfile(
        collection=schema.name,
        tenant=tenant,
        count=schema.count,
        sampled=len(sample),
        summary=statistics_summary(schema, profiles),
        properties=profiles,
        display_types=display_types,
        mappings=mappings,
        updated_at=profile_timestamp(),
    )


@tool(
    name="preprocess_collection",
    version="1.0.0",
    timeout=timedelta(minutes=5),
    heartbeat_timeout=timedelta(seconds=30),
    tags=("retrieval",),
)
class PreprocessCollection(ModelRetrievalTool):
    """Profile a collection (per-property statistics, a summary, display types) and store
    it, so query and aggregate can check fields and the agent knows what the data holds.
    Use it once per collection, before querying data you have not seen."""

    async def run(self, args: PreprocessInput, ctx: ToolContext) -> PreprocessOutput:
        backend = await self.backend(ctx)
        with backend_errors():
            schema = await backend.describe(args.collection, tenant=args.tenant)
            sample = await backend.sample(schema.name, args.sample_size, tenant=args.tenant)
            ctx.heartbeat("sampled", len(sample))
            profile = build_profile(schema, sample, args.tenant)
            usage = None
            provider = await self.model(ctx) if args.use_llm else None
            if provider is not None:
                completion = await provider.complete(
                    _summary_prompt(profile, sample), tier="complex", max_tokens=300
                )
                if completion.text.strip():
                    profile = profile.model_copy(
                        update={"summary": completion.text.strip(), "summary_method": "llm"}
                    )
                usage = total_usage([completion.usage])
            ref = await save_profile(backend, profile)
        return PreprocessOutput(profile=profile, profile_ref=ref, usage=usage)


def _summary_prompt(profile: CollectionProfile, sample: Sequence[Record]) -> list[Message]:
    examples = [
        {k: str(jsonable(v))[:200] for k, v in record.properties.items()} for record in sample[:3]
    ]
    return [
        Message(
            role="system",
            content="You describe datasets for an agent that will query them. In two or three "
            "sentences say what the collection holds and what questions it can answer.",
        ),
        Message(
            role="user",
            content=f"Collection {profile.collection}. Statistics: {profile.summary}\n"
            f"Examples: {examples}",
        ),
    ]
