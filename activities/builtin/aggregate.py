"""`aggregate`: counts and statistics over a collection, optionally grouped, with filters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from activities.backends import AggregateRequest, AggregateResult, Filter, PropertyMetrics
from activities.builtin.collection_profile import check_fields, filter_properties
from activities.builtin.query import collection_availability
from activities.builtin.retrieval_errors import backend_errors
from activities.builtin.retrieval_pool import RetrievalTool
from activities.sdk import Availability, ToolContext, tool


class AggregateInput(BaseModel):
    collection: str = Field(description="Collection to aggregate, e.g. SupportTickets.")
    group_by: str | None = Field(
        default=None, description="Group by this text, text_array, int or boolean property."
    )
    metrics: list[PropertyMetrics] = Field(
        default_factory=list,
        description="{property, ops: [count, sum, mean, min, max, top_values], top_k}; "
        "without metrics only counts are returned.",
    )
    filters: Filter | None = Field(default=None, description="Same filters as query.")
    group_limit: int = Field(default=20, ge=1, le=1000, description="Largest groups to return.")
    tenant: str | None = None


class AggregateOutput(BaseModel):
    collection: str
    group_by: str | None
    total: int = Field(description="Objects matching the filters.")
    groups: list[dict[str, Any]] = Field(description="value, count and metrics per group.")
    rows: list[dict[str, Any]] = Field(
        description="One flat row per group (`group`, `count`, `<property>_<op>`): chart-ready."
    )


def flat_rows(result: AggregateResult) -> list[dict[str, Any]]:
    """A table with one row per group, metric columns named `<property>_<op>`."""
    rows = []
    for group in result.groups:
        row: dict[str, Any] = {"group": group.value, "count": group.count}
        for prop, metrics in group.metrics.items():
            for op, value in metrics.model_dump(mode="json", exclude_none=True).items():
                if op == "top_values":
                    row[f"{prop}_top"] = ", ".join(f"{v['value']} ({v['count']})" for v in value)
                else:
                    row[f"{prop}_{op}"] = round(value, 4) if isinstance(value, float) else value
        rows.append(row)
    return rows


@tool(name="aggregate", version="1.0.0", timeout=timedelta(seconds=60), tags=("retrieval",))
class Aggregate(RetrievalTool):
    """Count objects and compute sum, mean, min, max or top values of properties, optionally
    grouped by a property and filtered. Use it for questions about totals, averages,
    distributions and rankings ("how many open tickets per product?")."""

    async def availability(self, args: Mapping[str, Any], ctx: ToolContext) -> Availability:
        """Unavailable without collections (or when the fixed collection is missing)."""
        return await collection_availability(await self.backend(ctx), args)

    async def run(self, args: AggregateInput, ctx: ToolContext) -> AggregateOutput:
        backend = await self.backend(ctx)
        with backend_errors():
            names = [*filter_properties(args.filters), *(m.property for m in args.metrics)]
            if args.group_by is not None:
                names.append(args.group_by)
            await check_fields(backend, args.collection, names, args.tenant)
            result = await backend.aggregate(
                args.collection,
                AggregateRequest(
                    metrics=args.metrics,
                    group_by=args.group_by,
                    filters=args.filters,
                    group_limit=args.group_limit,
                    tenant=args.tenant,
                ),
            )
        return AggregateOutput(
            collection=result.collection,
            group_by=result.group_by,
            total=result.total,
            groups=[g.model_dump(mode="json", exclude_none=True) for g in result.groups],
            rows=flat_rows(result),
        )
