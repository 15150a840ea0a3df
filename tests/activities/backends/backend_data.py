"""Shared test data for the retrieval backend tests (ten hand-written items)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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


def _item(
    n: int,
    title: str,
    body: str,
    product: str,
    priority: str,
    hours: float | None,
    seats: int,
    urgent: bool,
    month: int,
    tags: list[str],
) -> NewRecord:
    props: dict[str, Any] = {
        "title": title,
        "body": body,
        "product": product,
        "priority": priority,
        "hours": hours,
        "seats": seats,
        "urgent": urgent,
        "created": datetime(2024, month, month, 12, tzinfo=UTC),
        "tags": tags,
    }
    return NewRecord(key=f"k{n}", properties=props)


ITEMS = [
    _item(1, "Password reset email never arrives",
          "After requesting a password reset no email arrives in the inbox.",
          "Atlas", "high", 2.5, 10, True, 1, ["auth", "email"]),
    _item(2, "Login fails with SSO",
          "Single sign-on login fails with an error for every user.",
          "Atlas", "urgent", 1.0, 250, True, 2, ["auth", "sso"]),
    _item(3, "Invoice total is wrong",
          "The invoice total does not match the number of seats.",
          "Cobalt", "medium", 12.0, 40, False, 3, ["billing"]),
    _item(4, "Refund for double charge",
          "We were charged twice this month and need a refund.",
          "Cobalt", "high", 20.0, 5, False, 4, ["billing", "refund"]),
    _item(5, "Dashboard loads slowly",
          "The analytics dashboard takes a minute to load charts.",
          "Beacon", "medium", 30.0, 120, False, 5, ["performance"]),
    _item(6, "Export to CSV garbles accents",
          "Exported CSV files lose accented characters in names.",
          "Beacon", "low", 48.0, 15, False, 6, ["bug", "export"]),
    _item(7, "Webhook deliveries failing",
          "Our webhook endpoint stopped receiving events from the API.",
          "Echo", "high", 8.0, 60, True, 7, ["integrations"]),
    _item(8, "Request dark mode",
          "Please add a dark mode theme to the web application.",
          "Drift", "low", None, 3, False, 8, ["feature"]),
    _item(9, "Account locked for O'Brien",
          "The account of Mr O'Brien is locked after failed login attempts.",
          "O'Neil", "urgent", 0.5, 1, True, 9, ["auth"]),
    _item(10, "Sync job stuck pending",
          "The nightly sync job with the CRM stays pending for hours.",
          "Echo", "medium", 16.0, 80, False, 10, ["integrations", "sync"]),
]  # fmt: skip


def unique_name(prefix: str) -> str:
    """A collection name no other test (or earlier run on a live server) uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"
