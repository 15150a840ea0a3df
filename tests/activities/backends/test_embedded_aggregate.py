"""The embedded store's aggregation paths agree with each other and with plain Python.

A filter matching most of a large table is evaluated during one scan instead of through
the scalar indexes (``EmbeddedBackend._aggregate_rows``); both paths must give the same
groups, counts, statistics, order and limits.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import activities.backends.embedded as embedded
from activities.backends import AggregateRequest, Filter, PropertyMetrics, all_of, any_of, where
from activities.backends.base import AggregateResult
from activities.backends.embedded import EmbeddedBackend
from activities.data.tickets import generate_tickets
from bench.retrieval_ops import load_tickets, ticket_records

ROWS = 2_000
HOURS = PropertyMetrics(property="resolution_hours", ops=["count", "sum", "mean", "min", "max"])

REQUESTS = [
    AggregateRequest(
        group_by="category",
        filters=where("status", "in", ["resolved", "closed"]),
        metrics=[PropertyMetrics(property="resolution_hours", ops=["mean", "max"])],
    ),
    AggregateRequest(group_by="product", filters=where("priority", "ne", "low"), metrics=[HOURS]),
    AggregateRequest(
        group_by="status",
        filters=any_of(where("status", "eq", "open"), where("resolution_hours", "gt", 10.0)),
        metrics=[HOURS],
        group_limit=2,
    ),
    AggregateRequest(filters=where("status", "ne", "open"), metrics=[HOURS]),
    AggregateRequest(
        group_by="customer_tier",
        filters=all_of(where("status", "ne", "open"), where("category", "ne", "bug")),
        metrics=[PropertyMetrics(property="product", ops=["top_values"], top_k=3)],
    ),
]


def _matches(row: dict[str, Any], flt: Filter | None) -> bool:
    """The handful of filter shapes in ``REQUESTS``, evaluated the obvious way."""
    if flt is None:
        return True
    if hasattr(flt, "all_of"):
        return all(_matches(row, f) for f in flt.all_of)
    if hasattr(flt, "any_of"):
        return any(_matches(row, f) for f in flt.any_of)
    value = row.get(flt.property)
    if value is None:
        return False
    if flt.operator == "eq":
        return bool(value == flt.value)
    if flt.operator == "ne":
        return bool(value != flt.value)
    if flt.operator == "gt":
        return bool(value > flt.value)
    assert flt.operator == "in"
    assert isinstance(flt.value, list)
    return value in flt.value


def _by_hand(request: AggregateRequest) -> list[tuple[Any, int, dict[str, Any]]]:
    """(group, count, hour statistics or top products) per group, largest first."""
    rows = [t for t in generate_tickets(ROWS) if _matches(t, request.filters)]
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        key = row.get(request.group_by) if request.group_by else None
        if request.group_by is None or key is not None:
            groups[key].append(row)
    ordered = sorted(groups.items(), key=lambda g: (-len(g[1]), str(g[0])))
    out = []
    for key, members in ordered[: request.group_limit]:
        hours = [r["resolution_hours"] for r in members if r["resolution_hours"] is not None]
        stats: dict[str, Any] = {"count": len(hours)}
        if hours:  # no values: the other statistics are absent (null), not zero
            stats.update(sum=sum(hours), mean=statistics.fmean(hours), min=min(hours))
            stats["max"] = max(hours)
        products = Counter(r["product"] for r in members)
        stats["top"] = sorted(products.items(), key=lambda c: -c[1])[:3]
        out.append((key, len(members), stats))
    return out


def _summary(result: AggregateResult) -> list[tuple[Any, int, dict[str, Any]]]:
    out = []
    for group in result.groups:
        metrics = group.metrics.get("resolution_hours") or group.metrics["product"]
        stats = metrics.model_dump(exclude_none=True, exclude={"top_values"})
        if metrics.top_values is not None:
            stats["top"] = [(t.value, t.count) for t in metrics.top_values]
        out.append((group.value, group.count, stats))
    return out


@pytest.fixture
async def store(tmp_path: Path) -> EmbeddedBackend:
    backend = EmbeddedBackend(tmp_path)
    await load_tickets(backend, ticket_records(ROWS), batch_size=1_000)
    await backend.build_indexes("Tickets")  # bitmaps on the labels: the index path is real
    return backend


async def _both_paths(
    store: EmbeddedBackend, request: AggregateRequest, monkeypatch: pytest.MonkeyPatch
) -> tuple[AggregateResult, AggregateResult, list[tuple[int, tuple[str, ...]]]]:
    reads: list[tuple[int, tuple[str, ...]]] = []
    original = embedded._run_arrow

    async def recorded(query: Any) -> pa.Table:
        table = await original(query)
        reads.append((table.num_rows, tuple(table.column_names)))
        return table

    monkeypatch.setattr(embedded, "_run_arrow", recorded)
    monkeypatch.setattr(embedded, "AGGREGATE_SCAN_MIN_ROWS", 10**12)
    indexed = await store.aggregate("Tickets", request)
    monkeypatch.setattr(embedded, "AGGREGATE_SCAN_MIN_ROWS", 0)
    monkeypatch.setattr(embedded, "AGGREGATE_SCAN_FRACTION", 0.0)
    scanned = await store.aggregate("Tickets", request)
    return indexed, scanned, reads


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: str(r.group_by))
async def test_scan_and_index_paths_agree_with_a_plain_computation(
    store: EmbeddedBackend, request_: AggregateRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed, scanned, reads = await _both_paths(store, request_, monkeypatch)
    assert scanned == indexed  # bit for bit, floating sums included
    # The index path read only the matches, the scan path every row of the table.
    assert reads[0][0] == indexed.total < ROWS
    assert reads[1][0] == ROWS
    assert embedded._MATCH in reads[1][1]
    expected = _by_hand(request_)
    assert indexed.total == len(
        [t for t in generate_tickets(ROWS) if _matches(t, request_.filters)]
    )
    got = _summary(indexed)
    assert [(g, n) for g, n, _ in got] == [(g, n) for g, n, _ in expected]
    for (_, _, stats), (_, _, want) in zip(got, expected, strict=True):
        for op, value in stats.items():
            assert op in want, op
            if op in ("sum", "mean"):
                assert value == pytest.approx(want[op], rel=1e-12)
            elif op == "top":
                assert [c for _, c in value] == [c for _, c in want["top"]]
            else:
                assert value == want[op], op


async def test_only_broad_filters_on_large_tables_scan(
    store: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = await store._table(await store._meta("Tickets"), None)
    broad = "(`status` IN ('resolved', 'closed'))"  # about 60% of the tickets
    narrow = "((`status` = 'open') AND (`category` = 'bug'))"  # about 4%
    assert await store._scan_pays(table, broad) is False  # 2,000 rows: too small to matter
    monkeypatch.setattr(embedded, "AGGREGATE_SCAN_MIN_ROWS", ROWS)
    assert await store._scan_pays(table, broad) is True
    assert await store._scan_pays(table, narrow) is False
