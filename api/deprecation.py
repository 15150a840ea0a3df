"""Deprecation and Sunset headers for deprecated routes (RFC 9745, RFC 8594).

Mark a route deprecated in two places at once: ``deprecated=True`` for OpenAPI and the
``deprecated_since(...)`` dependency for the headers::

    @router.get("/whoami", deprecated=True,
                dependencies=[requires(P.SELF), deprecated_since(date(2026, 11, 1),
                              sunset=date(2027, 6, 30), successor="/v1/me")])
"""

from __future__ import annotations

from calendar import timegm
from datetime import UTC, date, datetime
from email.utils import formatdate
from typing import Any

from fastapi import Depends, Response

from api.problems import PROBLEM_BASE, ProblemError


def deprecation_headers(since: date, sunset: date, successor: str | None) -> dict[str, str]:
    """The header values for a route deprecated on ``since`` that stops on ``sunset``."""
    headers = {
        "Deprecation": f"@{timegm(since.timetuple())}",
        "Sunset": formatdate(timegm(sunset.timetuple()), usegmt=True),
    }
    if successor:
        headers["Link"] = f'<{successor}>; rel="successor-version"'
    return headers


def deprecated_since(since: date, *, sunset: date, successor: str | None = None) -> Any:
    """A dependency adding Deprecation/Sunset (and successor Link) headers to responses;
    after the sunset date the route answers 410 Gone."""
    headers = deprecation_headers(since, sunset, successor)

    async def _mark(response: Response) -> None:
        if datetime.now(UTC).date() > sunset:
            detail = f"this route was retired on {sunset.isoformat()}"
            raise ProblemError(
                410,
                detail + (f"; use {successor}" if successor else ""),
                type_=PROBLEM_BASE + "gone",
                headers=headers,
            )
        response.headers.update(headers)

    return Depends(_mark)
