"""Liveness and readiness: named checks run concurrently, each with status and latency.

A check is an async callable that returns a `Status` (or `(status, detail)`) or
raises. A check that raises or exceeds its timeout is `failed`. The report is
`failed` when any check failed, `degraded` when any is degraded (for example the
flag backend is away but the last known flags are served), `ok` otherwise;
readiness answers HTTP 503 only for `failed`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "degraded", "failed"]
CheckOutcome = Status | tuple[Status, str]
Check = Callable[[], Awaitable[CheckOutcome]]

_RANK: dict[Status, int] = {"ok": 0, "degraded": 1, "failed": 2}
DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    latency_ms: float
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "latency_ms": round(self.latency_ms, 2)}
        if self.detail:
            data["detail"] = self.detail
        return data


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Status
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def http_status(self) -> int:
        return 503 if self.status == "failed" else 200

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "checks": {c.name: c.as_dict() for c in self.checks}}


async def run_check(name: str, check: Check, limit: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Run one check with a timeout; exceptions become `failed` with their message."""
    started = time.perf_counter()
    try:
        outcome = await asyncio.wait_for(check(), limit)
    except TimeoutError:
        return CheckResult(name, "failed", _ms(started), f"timed out after {limit}s")
    except Exception as exc:  # a broken dependency is a result, not a crash
        return CheckResult(name, "failed", _ms(started), f"{type(exc).__name__}: {exc}"[:300])
    status, detail = outcome if isinstance(outcome, tuple) else (outcome, "")
    return CheckResult(name, status, _ms(started), detail)


async def run_checks(checks: Mapping[str, Check], limit: float = DEFAULT_TIMEOUT) -> HealthReport:
    """Run every check concurrently and combine them into one report."""
    results = await asyncio.gather(*(run_check(n, c, limit) for n, c in checks.items()))
    worst: Status = "ok"
    for result in results:
        if _RANK[result.status] > _RANK[worst]:
            worst = result.status
    return HealthReport(worst, tuple(results))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
