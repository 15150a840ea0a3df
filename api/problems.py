"""RFC 9457 problem+json errors: one exception type, one set of handlers, no leaked internals."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://treeflow.dev/problems/"
log = logging.getLogger("treeflow.api")


class FieldError(BaseModel):
    """One invalid input, named by where it is (``body.name``, ``query.limit``)."""

    field: str = Field(examples=["body.role"])
    message: str = Field(examples=["Input should be 'admin', 'user' or 'read-only'"])


class Problem(BaseModel):
    """The body of every error response (``application/problem+json``)."""

    type: str = Field(examples=[PROBLEM_BASE + "validation"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str | None = Field(default=None, examples=["1 field is invalid"])
    instance: str | None = Field(default=None, examples=["/v1/tenants"])
    request_id: str | None = Field(default=None, examples=["5f0c6d1e2b7a4c1d9e8f7a6b5c4d3e2f"])
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        type_: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldError] | None = None,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.type = type_ or "about:blank"
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors else None


def not_found(what: str = "resource") -> ProblemError:
    """The one answer for missing objects and for other tenants' objects alike."""
    return ProblemError(404, f"{what} not found", type_=PROBLEM_BASE + "not-found")


def invalid(detail: str, *errors: FieldError) -> ProblemError:
    """422 naming each field that is wrong and why."""
    return ProblemError(422, detail, type_=PROBLEM_BASE + "validation", errors=errors)


def conflict(detail: str, kind: str = "conflict") -> ProblemError:
    """409: the request clashes with the state it would change (``kind`` names the clash)."""
    return ProblemError(409, detail, type_=PROBLEM_BASE + kind)


def unauthorized(detail: str = "authentication required") -> ProblemError:
    """401 with the bearer challenge; the detail never says which check failed."""
    return ProblemError(
        401,
        detail,
        type_=PROBLEM_BASE + "unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="treeflow"'},
    )


def forbidden(detail: str = "your role does not allow this") -> ProblemError:
    """403 inside a tenant the caller belongs to."""
    return ProblemError(403, detail, type_=PROBLEM_BASE + "forbidden")


def too_many_requests(retry_after: float) -> ProblemError:
    """429 with a whole-second ``Retry-After``."""
    seconds = max(1, int(retry_after + 0.999))
    return ProblemError(
        429,
        f"rate limit exceeded; retry in {seconds} s",
        type_=PROBLEM_BASE + "rate-limited",
        headers={"Retry-After": str(seconds)},
    )


def problem_response(
    request_id: str | None,
    status: int,
    *,
    detail: str | None = None,
    type_: str = "about:blank",
    title: str | None = None,
    instance: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build the problem+json response (used by handlers and by the ASGI middleware)."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = [e.model_dump() for e in errors]
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _request_id(request: Request) -> str | None:
    state = request.scope.get("state") or {}
    rid = state.get("request_id")
    return rid if isinstance(rid, str) else None


def _field_name(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "body"


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        _request_id(request),
        exc.status,
        detail=exc.detail,
        type_=exc.type,
        title=exc.title,
        instance=request.url.path,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else None
    return problem_response(
        _request_id(request),
        exc.status_code,
        detail=detail,
        instance=request.url.path,
        headers=exc.headers,
    )


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Never echo the offending input back: it may be a secret value.
    errors = [
        FieldError(field=_field_name(err.get("loc", ())), message=str(err.get("msg", "invalid")))
        for err in exc.errors()
    ]
    count = len(errors)
    return problem_response(
        _request_id(request),
        422,
        detail=f"{count} field{'s are' if count != 1 else ' is'} invalid",
        type_=PROBLEM_BASE + "validation",
        instance=request.url.path,
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error the framework knows about through problem+json."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": HTTPStatus(status).phrase,
    }
    for status in (401, 403, 404, 422, 429)
}
