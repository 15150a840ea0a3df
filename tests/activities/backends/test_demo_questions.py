"""The shipped support-ticket data answers the questions the demo promises, on every backend."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from typing import Any

import pytest

from activities.backends import (
    AggregateRequest,
    Backend,
    PropertyMetrics,
    SearchRequest,
    all_of,
    where,
)
from activities.backends.loader import load_demo
from activities.data import SUPPORT_TICKETS
from activities.data.tickets import generate_tickets
from tests.activities.backends.backend_data import unique_name


def _rows() -> list[dict[str, Any]]:
    with SUPPORT_TICKETS.path().open() as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture
async def tickets(backend: Backend) -> str:
    report = await load_demo(backend, collection=unique_name("Tickets"))
    assert report.created
    assert report.records == 300
    return report.collection


def test_shipped_file_is_the_generator_output() -> None:
    assert _rows() == list(generate_tickets(300, seed=7))


async def test_open_high_priority_tickets_per_product(backend: Backend, tickets: str) -> None:
    truth = Counter(
        r["product"] for r in _rows() if r["status"] == "open" and r["priority"] == "high"
    )
    result = await backend.aggregate(
        tickets,
        AggregateRequest(
            group_by="product",
            filters=all_of(where("status", "eq", "open"), where("priority", "eq", "high")),
        ),
    )
    assert {g.value: g.count for g in result.groups} == dict(truth)
    assert result.total == sum(truth.values()) > 10
    counts = [g.count for g in result.groups]
    assert counts == sorted(counts, reverse=True)


async def test_average_resolution_time_by_category(backend: Backend, tickets: str) -> None:
    hours: dict[str, list[float]] = defaultdict(list)
    for r in _rows():
        if r["resolution_hours"] is not None:
            hours[r["category"]].append(r["resolution_hours"])
    result = await backend.aggregate(
        tickets,
        AggregateRequest(
            group_by="category",
            metrics=[PropertyMetrics(property="resolution_hours", ops=["mean", "count"])],
        ),
    )
    means = {g.value: g.metrics["resolution_hours"].mean for g in result.groups}
    assert set(means) == set(hours)
    for category, values in hours.items():
        assert means[category] == pytest.approx(statistics.mean(values))
    assert min(means, key=lambda c: means[c] or 0) == "authentication"
    assert max(means, key=lambda c: means[c] or 0) == "feature_request"


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_tickets_about_login_failures(backend: Backend, tickets: str, mode: str) -> None:
    result = await backend.search(
        tickets,
        SearchRequest(
            mode=mode,
            query="login failures",
            limit=10,
            properties=["title", "category"],
        ),
    )
    assert len(result.hits) == 10
    about_auth = [h for h in result.hits if h.properties["category"] == "authentication"]
    assert len(about_auth) >= 9, [h.properties["title"] for h in result.hits]


async def test_recent_urgent_enterprise_tickets_sorted_by_date(
    backend: Backend, tickets: str
) -> None:
    result = await backend.search(
        tickets,
        SearchRequest(
            mode="filter",
            filters=all_of(
                where("customer_tier", "eq", "enterprise"),
                where("priority", "eq", "urgent"),
                where("created_at", "gte", "2024-07-01T00:00:00Z"),
            ),
            sort={"property": "created_at", "direction": "desc"},
            limit=100,
        ),
    )
    truth = [
        r["ticket_id"]
        for r in sorted(_rows(), key=lambda r: r["created_at"], reverse=True)
        if r["customer_tier"] == "enterprise"
        and r["priority"] == "urgent"
        and r["created_at"] >= "2024-07-01"
    ]
    assert [h.properties["ticket_id"] for h in result.hits] == truth
    assert truth
