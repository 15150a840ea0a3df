"""The retrieval operations the benchmarks time, on the embedded store's support tickets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from activities.backends import AggregateRequest, PropertyMetrics, SearchRequest, all_of, where
from activities.backends.embedded import EmbeddedBackend
from activities.data.tickets import PRODUCTS

QUERIES = [
    "login failures after password reset",
    "charged twice refund",
    "dashboard very slow to load",
    "webhook events not delivered",
    "csv import creates duplicates",
    "two-factor code rejected",
    "invoice missing VAT number",
    "sync job stuck pending",
]


def search_request(mode: str, i: int, **extra: Any) -> SearchRequest:
    """A search of ``mode`` with the ``i``-th query (round robin), ten hits."""
    return SearchRequest(mode=mode, query=QUERIES[i % len(QUERIES)], limit=10, **extra)  # type: ignore[arg-type]


Operation = Callable[[EmbeddedBackend, int], Awaitable[Any]]


def operations(name: str) -> dict[str, Operation]:
    """The timed operations on collection ``name``; ``i`` varies the query or filter per run."""
    return {
        "semantic": lambda b, i: b.search(name, search_request("semantic", i)),
        "keyword": lambda b, i: b.search(name, search_request("keyword", i)),
        "hybrid": lambda b, i: b.search(name, search_request("hybrid", i)),
        "hybrid+filter": lambda b, i: b.search(
            name, search_request("hybrid", i, filters=where("product", "eq", PRODUCTS[i % 5]))
        ),
        "filter+sort": lambda b, i: b.search(
            name,
            SearchRequest(
                mode="filter",
                filters=all_of(
                    where("status", "eq", "open"), where("product", "eq", PRODUCTS[i % 5])
                ),
                sort={"property": "created_at", "direction": "desc"},  # type: ignore[arg-type]
                limit=10,
            ),
        ),
        "aggregate count": lambda b, i: b.aggregate(
            name, AggregateRequest(filters=where("priority", "eq", "high"))
        ),
        "aggregate grouped": lambda b, i: b.aggregate(
            name,
            AggregateRequest(
                group_by="category",
                filters=where("status", "in", ["resolved", "closed"]),
                metrics=[PropertyMetrics(property="resolution_hours", ops=["mean", "max"])],
            ),
        ),
    }
