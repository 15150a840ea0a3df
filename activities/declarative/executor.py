"""Run a declarative HTTP tool: fill its request template and send it.

The worker's generic activity (`ToolHost`'s dynamic activity) calls
`DeclarativeHttpRunner.run` with the definition carried in the compiled tree. The
request goes through the built-in `http_request` machinery: the worker's own host
allow-list (config `declarative_http.allowed_hosts`) is checked on every hop,
responses are size-capped, secrets are fetched by reference and errors map onto
retryable or non-retryable tool errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from activities.builtin.http_request import HttpRequest, HttpRequestInput
from activities.declarative.model import PLACEHOLDER, DeclarativeHttpOutput, DeclarativeHttpTool
from activities.errors import NonRetryableToolError
from activities.sdk import ToolContext


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def fill(template: str, args: Mapping[str, Any], *, quote_values: bool = False) -> str:
    """Replace `{param}` placeholders with argument values (URL-quoted for paths)."""

    def one(match: Any) -> str:
        text = _text(args.get(match.group(1)))
        return quote(text, safe="") if quote_values else text

    return PLACEHOLDER.sub(one, template)


def fill_body(value: Any, args: Mapping[str, Any]) -> Any:
    """A JSON body template: a string that is exactly `{p}` keeps p's value and type."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole is not None:
            return args.get(whole.group(1))
        return fill(value, args)
    if isinstance(value, Mapping):
        return {key: fill_body(item, args) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_body(item, args) for item in value]
    return value


def render_request(tool: DeclarativeHttpTool, args: Mapping[str, Any]) -> HttpRequestInput:
    """The concrete `http_request` input for one call."""
    request = tool.request
    params: dict[str, str | int | float | bool] = {}
    for key, template in request.query.items():
        whole = PLACEHOLDER.fullmatch(template)
        if whole is not None and args.get(whole.group(1)) is None:
            continue  # an optional parameter left out: leave the query parameter out
        params[key] = fill(template, args)
    headers = {}
    for key, template in request.headers.items():
        value = fill(template, args)
        if "\r" in value or "\n" in value:
            raise NonRetryableToolError(f"header {key!r}: values may not contain line breaks")
        headers[key] = value
    return HttpRequestInput(
        method=request.method,
        url=fill(request.url, args, quote_values=True),
        headers=headers,
        secret_headers=request.secret_headers,
        params=params,
        json_body=fill_body(request.body, args) if request.body is not None else None,
        timeout_seconds=request.timeout_seconds,
        expect_status=request.expect_status,
    )


def extract(data: Any, path: str | None) -> Any:
    """The part of a JSON answer at a dotted path (list indexes allowed)."""
    if path is None:
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise NonRetryableToolError(
                f"result_path '{path}': the answer has nothing at '{part}'",
                details={"result_path": path},
            )
    return current


class DeclarativeHttpRunner:
    """Shared HTTP client and allow-list for every declarative tool on one worker."""

    def __init__(self) -> None:
        self._http = HttpRequest()

    async def startup(self, config: Mapping[str, Any]) -> None:
        """`config`: `allowed_hosts` (empty denies all) and `max_response_bytes`."""
        await self._http.startup(config)

    async def shutdown(self) -> None:
        await self._http.shutdown()

    async def run(
        self, tool: DeclarativeHttpTool, args: BaseModel, ctx: ToolContext
    ) -> DeclarativeHttpOutput:
        values = args.model_dump(mode="json")
        reply = await self._http.run(render_request(tool, values), ctx)
        data = reply.json_body
        if tool.result_path is not None and data is not None:
            data = extract(data, tool.result_path)
        return DeclarativeHttpOutput(
            status=reply.status,
            data=data,
            text=reply.text,
            truncated=reply.truncated,
            elapsed_ms=reply.elapsed_ms,
        )
