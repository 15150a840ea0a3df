"""Shared test data for the retrieval backend tests (ten hand-written items in items.json)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.backends import NewRecord, PropertySchema, PropertyType

WEAVIATE_SKIP = "WEAVIATE_URL not set: live Weaviate contract tests need a server"

ITEM_PROPERTIES = [
    PropertySchema(name="title", type=PropertyType.TEXT),
    PropertySchema(name="body", type=PropertyType.TEXT),
    PropertySchema(name="product", type=PropertyType.TEXT),
    PropertySchema(name="priority", type=PropertyType.TEXT),
    PropertySchema(name="hours", type=PropertyType.NUMBER),
    PropertySchema(name="seats", type=PropertyType.INT),
    PropertySchema(name="urgent", type=PropertyType.BOOLEAN),
    PropertySchema(name="created", type=PropertyType.DATE),
    PropertySchema(name="tags", type=PropertyType.TEXT_ARRAY),
]


def _record(row: dict[str, Any]) -> NewRecord:
    """One item of items.json; its `month` gives the creation date (the month's n-th day)."""
    month = row["month"]
    values = {**row, "created": datetime(2024, month, month, 12, tzinfo=UTC)}
    return NewRecord(key=row["key"], properties={p.name: values[p.name] for p in ITEM_PROPERTIES})


ITEMS = [_record(row) for row in json.loads((Path(__file__).parent / "items.json").read_text())]


def unique_name(prefix: str) -> str:
    """A collection name no other test (or earlier run on a live server) uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"
