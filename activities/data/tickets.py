"""Deterministic generator of product support tickets (the demo and benchmark data).

Readable templates with slot fillers give plausible, varied tickets whose fields
correlate the way real ones do: urgent tickets resolve faster, enterprise customers
get faster answers, feature requests take longest, and only resolved or closed
tickets carry ``resolution_hours``. The same ``seed`` always yields the same tickets.

Run ``python -m activities.data.tickets [N] [SEED] > file.jsonl`` to write JSON lines.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

PRODUCTS = ["Atlas CRM", "Beacon Analytics", "Cobalt Billing", "Drift Mobile", "Echo API"]
PRIORITIES = ["low", "medium", "high", "urgent"]
STATUSES = ["open", "in_progress", "resolved", "closed"]
TIERS = ["free", "pro", "enterprise"]

_BASE_HOURS = {
    "authentication": 6.0,
    "billing": 18.0,
    "performance": 30.0,
    "data_sync": 24.0,
    "integrations": 36.0,
    "bug": 40.0,
    "feature_request": 140.0,
    "account": 10.0,
}
_PRIORITY_FACTOR = {"urgent": 0.3, "high": 0.6, "medium": 1.0, "low": 1.6}
_TIER_FACTOR = {"enterprise": 0.7, "pro": 0.9, "free": 1.3}

_FILL: dict[str, list[str]] = {
    "browser": [
        "Chrome 126",
        "Firefox 128",
        "Safari 17",
        "Edge 125",
        "the iOS app",
        "the Android app",
    ],
    "idp": ["Okta", "Azure AD", "Google Workspace", "OneLogin", "Auth0"],
    "count": ["two", "three", "five", "about ten", "a dozen", "forty", "all of our"],
    "team": ["sales", "finance", "support", "marketing", "operations", "engineering"],
    "integration": ["Salesforce", "Slack", "HubSpot", "Zapier", "Jira", "Snowflake", "Stripe"],
    "report": ["weekly revenue", "pipeline", "churn", "cohort retention", "usage", "funnel"],
    "error": ["HTTP 500", "HTTP 502", "HTTP 429", "a timeout", "an empty response", "HTTP 401"],
    "when": [
        "since this morning",
        "since yesterday",
        "after the last update",
        "intermittently",
        "every Monday",
        "since we upgraded",
    ],
    "amount": ["$49", "$120", "$480", "$1,250", "$3,900"],
    "feature": [
        "dark mode",
        "bulk export to CSV",
        "custom fields on contacts",
        "audit log export",
        "webhooks for status changes",
        "SAML group mapping",
        "a Spanish translation",
    ],
    "size": ["2,000", "15,000", "80,000", "250,000", "1.2 million"],
}

_TOPICS: dict[str, dict[str, list[str]]] = {
    "authentication": {
        "title": [
            "Cannot log in after password reset",
            "Login fails with 'invalid credentials' although the password is correct",
            "SSO login loop with {idp}",
            "Two-factor code rejected at login",
            "Account locked after failed login attempts",
            "Session expires right after login",
            "Users unable to sign in via {idp}",
        ],
        "body": [
            "{count} users in our {team} team cannot log in {when}.",
            "After resetting the password the login page keeps saying the credentials are invalid.",
            "Signing in through {idp} redirects back to the login page in a loop.",
            "The two-factor authentication code is rejected even right after it is generated.",
            "We see the login failure on {browser}; clearing cookies did not help.",
            "The account gets locked after a single failed login attempt.",
        ],
    },
    "billing": {
        "title": [
            "Charged twice for the monthly subscription",
            "Invoice shows the wrong number of seats",
            "Refund request for {amount} overcharge",
            "Credit card payment declined at renewal",
            "VAT missing from invoice",
            "Cannot download past invoices",
        ],
        "body": [
            "Our card was charged {amount} twice on the same day.",
            "The latest invoice lists more seats than we have active users.",
            "Finance needs a corrected invoice that includes our VAT number.",
            "The renewal payment was declined although the card is valid.",
            "Please refund the {amount} difference to the original payment method.",
            "The billing page shows an error when we open the invoice history.",
        ],
    },
    "performance": {
        "title": [
            "Dashboard takes over a minute to load",
            "{report} report is extremely slow",
            "Search results time out for large accounts",
            "Mobile app freezes when opening a record",
            "API latency spikes during business hours",
        ],
        "body": [
            "Loading the {report} report takes more than sixty seconds {when}.",
            "The page becomes unresponsive on {browser} once the account has {size} records.",
            "We measured response times above ten seconds for simple list views.",
            "Requests fail with {error} when several people use the dashboard at once.",
            "Performance degraded noticeably {when}; our {team} team is blocked.",
        ],
    },
    "data_sync": {
        "title": [
            "Contacts not syncing from {integration}",
            "Duplicate records after import",
            "CSV import stops at {size} rows",
            "Sync job stuck in pending state",
            "Deleted records reappear after sync",
        ],
        "body": [
            "The nightly sync with {integration} has not updated any records {when}.",
            "Importing a CSV of {size} rows created duplicates of existing contacts.",
            "The sync job shows 'pending' for hours and never finishes.",
            "Records we deleted come back after the next synchronisation.",
            "Field mappings look correct but the values arrive empty.",
        ],
    },
    "integrations": {
        "title": [
            "{integration} integration returns {error}",
            "Webhook deliveries failing",
            "OAuth token for {integration} keeps expiring",
            "API rate limit reached unexpectedly",
            "Zapier trigger not firing",
        ],
        "body": [
            "Calls from the {integration} integration fail with {error} {when}.",
            "Our webhook endpoint stopped receiving events although it answers 200.",
            "The {integration} connection asks us to re-authorise every few hours.",
            "We hit the API rate limit with far fewer requests than documented.",
            "The integration logs show {error} for roughly half of the requests.",
        ],
    },
    "bug": {
        "title": [
            "Export to CSV drops non-ASCII characters",
            "Date filter shows results from the wrong month",
            "Chart legend overlaps the data",
            "Notification emails sent twice",
            "Saved view loses its sort order",
            "Crash when attaching a file larger than 10 MB",
        ],
        "body": [
            "Names with accents are garbled in the exported CSV file.",
            "Filtering by last month returns records from two months ago.",
            "Every notification email arrives twice for {count} users.",
            "The app crashes on {browser} when we attach a large file.",
            "Saved views forget their sort order after a page reload.",
            "Steps to reproduce are attached; it happens {when}.",
        ],
    },
    "feature_request": {
        "title": [
            "Request: {feature}",
            "Please add {feature}",
            "Feature idea: {feature}",
        ],
        "body": [
            "Our {team} team would save hours every week with {feature}.",
            "Competing tools already offer {feature}; it came up in our renewal talks.",
            "Could you share whether {feature} is on the roadmap?",
            "We would be happy to beta test {feature}.",
        ],
    },
    "account": {
        "title": [
            "Transfer account ownership to a new admin",
            "Add seats for new {team} hires",
            "Change the company name on the account",
            "Delete a former employee's user",
            "Merge two workspaces",
        ],
        "body": [
            "Our previous admin left the company and we need to transfer ownership.",
            "We are onboarding {count} new people in {team} next week.",
            "Please merge our two workspaces into one and keep the history.",
            "A former employee still appears as an active user and we cannot remove them.",
            "Our legal name changed and it must be updated on the account.",
        ],
    },
}

_CLOSINGS = [
    "This is blocking our {team} team.",
    "Please advise on a workaround.",
    "We are on the {tier} plan.",
    "Happy to share logs if needed.",
    "Thanks for looking into it.",
    "A quick answer would be appreciated.",
]

_CATEGORY_WEIGHTS = {
    "authentication": 16,
    "billing": 14,
    "performance": 13,
    "data_sync": 12,
    "integrations": 12,
    "bug": 15,
    "feature_request": 9,
    "account": 9,
}
CATEGORIES = list(_CATEGORY_WEIGHTS)


def _fill(rng: random.Random, template: str, tier: str) -> str:
    values = {key: rng.choice(options) for key, options in _FILL.items()}
    values["tier"] = tier
    return template.format(**values)


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ticket(rng: random.Random, index: int, start: datetime) -> dict[str, Any]:
    category = rng.choices(CATEGORIES, weights=list(_CATEGORY_WEIGHTS.values()))[0]
    topic = _TOPICS[category]
    product = rng.choices(PRODUCTS, weights=[30, 20, 20, 18, 12])[0]
    priority = rng.choices(PRIORITIES, weights=[25, 40, 25, 10])[0]
    if category == "authentication" and priority in ("low", "medium") and rng.random() < 0.4:
        priority = "high"  # locked-out users escalate
    tier = rng.choices(TIERS, weights=[35, 45, 20])[0]
    status = rng.choices(STATUSES, weights=[25, 15, 40, 20])[0]
    created = start + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
    sentences = rng.sample(topic["body"], k=min(len(topic["body"]), rng.randint(2, 3)))
    body = " ".join(_fill(rng, s, tier) for s in sentences)
    body += " " + _fill(rng, rng.choice(_CLOSINGS), tier)
    hours: float | None = None
    if status in ("resolved", "closed"):
        noise = rng.lognormvariate(0.0, 0.35)
        hours = _BASE_HOURS[category] * _PRIORITY_FACTOR[priority] * _TIER_FACTOR[tier] * noise
        hours = round(max(hours, 0.2), 1)
    tags = sorted(
        {category.replace("_", "-"), product.split()[0].lower()}
        | ({"sla"} if tier == "enterprise" else set())
    )
    return {
        "ticket_id": f"TCK-{index:06d}",
        "title": _capitalize(_fill(rng, rng.choice(topic["title"]), tier)),
        "body": body,
        "product": product,
        "category": category,
        "priority": priority,
        "status": status,
        "customer_tier": tier,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resolution_hours": hours,
        "tags": tags,
    }


def generate_tickets(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``n`` tickets created during 2024, the same for the same ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        yield _ticket(rng, i, start)


def main(argv: list[str]) -> int:
    """Write tickets as JSON lines to stdout: ``[N] [SEED]`` (defaults 300 and 7)."""
    n = int(argv[0]) if argv else 300
    seed = int(argv[1]) if len(argv) > 1 else 7
    for ticket in generate_tickets(n, seed):
        sys.stdout.write(json.dumps(ticket, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
