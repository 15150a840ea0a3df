"""The API's readiness checks: database, Temporal and the flag backend."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from api.problems import ProblemError
from api.services import Services
from foundation.telemetry.health import Check, CheckOutcome


def readiness_checks(services: Services) -> dict[str, Check]:
    """Each check with its own status; the flag backend can only degrade readiness."""

    async def database() -> CheckOutcome:
        async with services.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
        return "ok"

    async def temporal() -> CheckOutcome:
        try:
            client = await services.temporal.client()
        except ProblemError:
            return "failed", services.temporal.last_error or "Temporal is unreachable"
        healthy = await client.service_client.check_health(timeout=timedelta(seconds=2))
        return "ok" if healthy else ("failed", "Temporal answered not serving")

    async def flags() -> CheckOutcome:
        return await services.flags.check()

    return {"database": database, "temporal": temporal, "flags": flags}
