"""Refuse JSON request bodies no route could handle safely, before any route parses them.

Python's `json` (and so FastAPI) accepts `NaN`, `Infinity` and `1e999` and recurses
once per nesting level. Every JSON body is therefore loaded here once and checked
with `workflows.documents.check_data`: nesting at most `MAX_NESTING_DEPTH`, at most
`MAX_DOCUMENT_VALUES` values, only finite numbers. A failing body answers 422
problem+json naming the field (`body.inputs.x`); others reach the app unchanged.
Bodies are already bounded by `BodySizeLimit`, which sits outside this middleware.
"""

from __future__ import annotations

import json
from email.message import Message as HeaderParser

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_BASE, FieldError, problem_response
from workflows.documents import DocumentError, check_data
from workflows.limits import MAX_NESTING_DEPTH

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(scope: Scope) -> bool:
    raw = next((v for k, v in scope["headers"] if k == b"content-type"), None)
    if raw is None:
        return True  # FastAPI may parse a body without a content type as JSON
    header = HeaderParser()
    header["content-type"] = raw.decode("latin-1")
    subtype = header.get_content_subtype()
    return header.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def body_problem(body: bytes) -> FieldError | None:
    """Why a JSON body is refused, or None (bodies that are not JSON are the app's to judge)."""
    if not body:
        return None
    try:
        data = json.loads(body)
    except RecursionError:
        return FieldError(
            field="body", message=f"body is nested deeper than {MAX_NESTING_DEPTH} levels"
        )
    except ValueError:
        return None  # invalid JSON: FastAPI answers its own 422
    try:
        check_data(data, max_depth=MAX_NESTING_DEPTH, what="body")
    except DocumentError as exc:
        return FieldError(field=".".join(["body", *map(str, exc.parts)]), message=exc.message)
    return None


class JSONBodyGuard:
    """Pure ASGI: buffer a JSON body, check it, then replay it to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left (or the size limit answered already)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = body_problem(body)
        if problem is not None:
            state = scope.get("state") or {}
            response = problem_response(
                state.get("request_id"),
                422,
                detail="1 field is invalid",
                type_=PROBLEM_BASE + "validation",
                instance=scope.get("path"),
                errors=[problem],
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
