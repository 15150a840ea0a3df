"""Schedule limits, request and response models, and the checks of a definition's fields.

Every limit here is documented in docs/api.md (Schedules). The checks name the field
they refuse (`body.cron`, `body.end_at`) so a bad request answers 422 problem+json.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.problems import FieldError, ProblemError, invalid
from api.runs import RunSummary
from temporal_client.schedules import Overlap
from workflows.spec import TREE_NAME_PATTERN

MAX_SCHEDULES_PER_TENANT = 100
"""Schedules one tenant may have (409 beyond)."""
MAX_BACKFILL_RANGE = timedelta(days=31)
"""Longest time range one backfill call may cover."""
MAX_BACKFILL_RUNS = 100
"""Most runs one backfill call may start (the spec's matching times in the range)."""
MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
MIN_CATCHUP_WINDOW_SECONDS = 10
"""Temporal's own minimum catch-up window."""
MAX_CATCHUP_WINDOW_SECONDS = 7 * 24 * 3600
MAX_CRON_CHARS = 100
RECENT_RUNS = 10
"""Runs a schedule's view lists (newest first)."""
SCHEDULE_RPC_TIMEOUT = timedelta(seconds=5)
SCHEDULE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""A schedule's name in its tenant (no `.` or `:`: it becomes part of Temporal ids)."""

VersionPolicy = Literal["pinned", "published"]
_CRON_CHARS = frozenset("0123456789*,-/?#LW@ abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class ScheduleDefinition(BaseModel):
    """What a schedule does and when (the create body, and the merged state an update checks)."""

    tree: str = Field(pattern=TREE_NAME_PATTERN, examples=["nightly-report"])
    version_policy: VersionPolicy = Field(
        default="published",
        description="`published` follows the tree's published version; `pinned` runs `version`.",
    )
    version: int | None = Field(default=None, ge=1, description="Required with `pinned`.")
    cron: str | None = Field(
        default=None,
        max_length=MAX_CRON_CHARS,
        examples=["0 6 * * 1-5"],
        description="A cron expression (5 fields, or Temporal's `@daily`-style "
        "names). Give this or `interval_seconds`.",
    )
    interval_seconds: int | None = Field(
        default=None, ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS, examples=[3600]
    )
    offset_seconds: int | None = Field(
        default=None, ge=0, description="Shifts an interval (less than the interval)."
    )
    time_zone: str | None = Field(default=None, max_length=64, examples=["Europe/Berlin"])
    start_at: datetime | None = None
    end_at: datetime | None = None
    jitter_seconds: int | None = Field(default=None, ge=0, le=MAX_INTERVAL_SECONDS)
    inputs: dict[str, Any] = Field(default_factory=dict)
    overlap: Overlap = Field(
        default="skip", description="What a run due while the previous one is open does."
    )
    catchup_window_seconds: int = Field(
        default=60,
        ge=MIN_CATCHUP_WINDOW_SECONDS,
        le=MAX_CATCHUP_WINDOW_SECONDS,
        description="How late a missed run (server down) may still start.",
    )
    paused: bool = False
    note: str | None = Field(default=None, max_length=200)

    def spec_fields(self) -> dict[str, Any]:
        """The spec as written (stored with the schedule's row)."""
        return self.model_dump(
            mode="json",
            include={
                "cron",
                "interval_seconds",
                "offset_seconds",
                "time_zone",
                "start_at",
                "end_at",
                "jitter_seconds",
            },
        )


class ScheduleTree(BaseModel):
    name: str = Field(examples=["nightly-report"])
    version: int = Field(description="The version the schedule's runs use now.", examples=[3])
    version_policy: VersionPolicy


class ScheduleLinks(BaseModel):
    self: str = Field(examples=["/v1/tenants/5d1c.../schedules/nightly"])
    runs: str = Field(examples=["/v1/tenants/5d1c.../runs?schedule=nightly"])
    temporal_ui: str


class ScheduleSummary(BaseModel):
    """A schedule as lists show it (from the platform database; no Temporal call)."""

    name: str = Field(examples=["nightly"])
    tree: ScheduleTree
    spec: dict[str, Any] = Field(examples=[{"cron": "0 6 * * 1-5", "interval_seconds": None}])
    sync_error: str | None = Field(
        default=None, description="Why the last publish could not be applied (retry: publish)."
    )
    created_by: str
    created_at: datetime
    updated_at: datetime
    links: ScheduleLinks


class ScheduleView(ScheduleSummary):
    """A schedule with its Temporal state and its recent runs."""

    inputs: dict[str, Any]
    overlap: Overlap
    catchup_window_seconds: int
    paused: bool
    note: str | None = None
    next_run_times: list[datetime] = Field(default_factory=list)
    actions_taken: int = Field(default=0, description="Runs the schedule has started so far.")
    recent_runs: list[RunSummary] = Field(default_factory=list)


class ScheduleList(BaseModel):
    schedules: list[ScheduleSummary]


def validation_problem(errors: Sequence[FieldError]) -> ProblemError:
    """The 422 of an invalid schedule request."""
    count = len(errors)
    return invalid(f"{count} field{'s are' if count != 1 else ' is'} invalid", *errors)


def definition_problems(body: ScheduleDefinition) -> list[FieldError]:
    """What is wrong with a definition beyond its field types, each naming its field."""
    found = [*_version_problems(body), *_spec_problems(body), *_time_problems(body)]
    return [FieldError(field=f"body.{field}", message=message) for field, message in found]


def _version_problems(body: ScheduleDefinition) -> list[tuple[str, str]]:
    if body.version_policy == "pinned" and body.version is None:
        return [("version", "a pinned schedule needs a version")]
    if body.version_policy == "published" and body.version is not None:
        return [("version", "a published schedule follows publishes; leave version out or pin it")]
    return []


def _spec_problems(body: ScheduleDefinition) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if (body.cron is None) == (body.interval_seconds is None):
        problems.append(("cron", "give exactly one of cron or interval_seconds"))
    if body.cron is not None and not _cron_shaped(body.cron):
        problems.append(
            ("cron", "not a cron expression (5 fields such as '0 6 * * 1-5', or '@daily')")
        )
    if body.offset_seconds is not None:
        if body.interval_seconds is None:
            problems.append(("offset_seconds", "an offset applies to interval_seconds only"))
        elif body.offset_seconds >= body.interval_seconds:
            problems.append(("offset_seconds", "must be less than interval_seconds"))
    return problems


def _time_problems(body: ScheduleDefinition) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if body.time_zone is not None:
        try:
            zoneinfo.ZoneInfo(body.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(("time_zone", "not an IANA time zone name"))
    for field in ("start_at", "end_at"):
        moment = getattr(body, field)
        if moment is not None and moment.tzinfo is None:
            problems.append((field, "needs a time zone offset (e.g. 2026-12-02T06:00:00Z)"))
    start, end = body.start_at, body.end_at
    if start and end and start.tzinfo and end.tzinfo and end <= start:
        problems.append(("end_at", "must be after start_at"))
    return problems


def _cron_shaped(text: str) -> bool:
    """A cheap shape check; Temporal's parser has the last word (its refusal is a 422 too)."""
    text = text.strip()
    if not text or not set(text) <= _CRON_CHARS:
        return False
    if text.startswith("@"):
        return len(text.split()) <= 2  # @daily, @every 5m
    return 5 <= len(text.split()) <= 7


def backfill_problems(start_at: datetime, end_at: datetime) -> list[FieldError]:
    """A backfill range must be ordered, zone-aware and at most `MAX_BACKFILL_RANGE` long."""
    problems: list[FieldError] = []
    for field, moment in (("start_at", start_at), ("end_at", end_at)):
        if moment.tzinfo is None:
            problems.append(FieldError(field=f"body.{field}", message="needs a time zone offset"))
    if problems:
        return problems
    if end_at <= start_at:
        problems.append(FieldError(field="body.end_at", message="must be after start_at"))
    elif end_at - start_at > MAX_BACKFILL_RANGE:
        problems.append(
            FieldError(
                field="body.end_at",
                message=f"a backfill covers at most {MAX_BACKFILL_RANGE.days} days",
            )
        )
    return problems
