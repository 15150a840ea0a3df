"""Demo data shipped with Treeflow so the product answers real questions offline.

``support_tickets.jsonl`` holds 300 tickets made by ``activities.data.tickets``
(seed 7); regenerate with ``python -m activities.data.tickets 300 7``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from activities.backends.base import PropertySchema, PropertyType


@dataclass(frozen=True)
class DemoDataset:
    """A shipped dataset: where it is and how to load it into a collection."""

    collection: str
    filename: str
    id_field: str
    properties: list[PropertySchema]
    vectorize: list[str] = field(default_factory=list)
    description: str = ""

    def path(self) -> Path:
        """Filesystem path of the shipped file (inside the installed package)."""
        return Path(str(resources.files(__name__).joinpath(self.filename)))


def _p(name: str, ptype: PropertyType, description: str) -> PropertySchema:
    return PropertySchema(name=name, type=ptype, description=description)


SUPPORT_TICKETS = DemoDataset(
    collection="SupportTickets",
    filename="support_tickets.jsonl",
    id_field="ticket_id",
    description="Customer support tickets for five software products during 2024.",
    vectorize=["title", "body"],
    properties=[
        _p("ticket_id", PropertyType.TEXT, "Ticket key, e.g. TCK-000042"),
        _p("title", PropertyType.TEXT, "One-line summary written by the customer"),
        _p("body", PropertyType.TEXT, "The customer's description of the problem"),
        _p("product", PropertyType.TEXT, "Product the ticket is about"),
        _p("category", PropertyType.TEXT, "authentication, billing, performance, ..."),
        _p("priority", PropertyType.TEXT, "low, medium, high or urgent"),
        _p("status", PropertyType.TEXT, "open, in_progress, resolved or closed"),
        _p("customer_tier", PropertyType.TEXT, "free, pro or enterprise"),
        _p("created_at", PropertyType.DATE, "When the ticket was opened (UTC)"),
        _p("resolution_hours", PropertyType.NUMBER, "Hours to resolve; absent while open"),
        _p("tags", PropertyType.TEXT_ARRAY, "Category, product and SLA tags"),
    ],
)

DATASETS = {SUPPORT_TICKETS.collection: SUPPORT_TICKETS}
