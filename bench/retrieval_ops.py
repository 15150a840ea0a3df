"""The retrieval operations the benchmarks time, on the embedded store's support tickets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from activities.backends import (
    AggregateRequest,
    NewRecord,
    PropertyMetrics,
    SearchRequest,
    all_of,
    where,
)
from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import load_records, to_records
from activities.data import SUPPORT_TICKETS
from activities.data.tickets import PRODUCTS, generate_tickets

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


def ticket_records(count: int) -> list[NewRecord]:
    """``count`` generated support tickets (seed 7) as records keyed by ticket id."""
    return to_records(generate_tickets(count), SUPPORT_TICKETS.properties, id_field="ticket_id")


async def load_tickets(store: EmbeddedBackend, records: list[NewRecord], batch_size: int) -> None:
    """Load ``records`` into collection ``Tickets`` with the support tickets' schema."""
    await load_records(
        store,
        "Tickets",
        records,
        properties=SUPPORT_TICKETS.properties,
        vectorize=SUPPORT_TICKETS.vectorize,
        batch_size=batch_size,
    )


def search_request(mode: str, i: int, **extra: Any) -> SearchRequest:
    """A search of ``mode`` with the ``i``-th query (round robin), ten hits."""
    return SearchRequest(mode=mode, query=QUERIES[i % len(QUERIES)], limit=10, **extra)


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
                sort={"property": "created_at", "direction": "desc"},
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
