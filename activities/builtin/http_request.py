"""`http_request`: a declarative webhook/HTTP tool with a host allow-list and timeouts."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, Field, field_validator

from activities.errors import (
    NonRetryableToolError,
    RetryableToolError,
    ToolNotAllowed,
    ToolUnavailable,
)
from activities.http_policy import (
    SecretHeader,
    fill_secret_template,
    header_value_problem,
    host_allowed,
)
from activities.sdk import ToolContext, tool

__all__ = ["HttpRequest", "HttpRequestInput", "HttpRequestOutput", "SecretHeader", "host_allowed"]

MAX_REDIRECTS = 3
DEFAULT_MAX_RESPONSE_BYTES = 512_000
DEFAULT_MAX_TIMEOUT_SECONDS = 30.0


class HttpRequestInput(BaseModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, SecretHeader] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: Any = Field(default=None, description="Sent as JSON when not null.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=DEFAULT_MAX_TIMEOUT_SECONDS)
    expect_status: list[int] | None = Field(
        default=None, description="Statuses that count as success (default: any 2xx)."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        return value


class HttpRequestOutput(BaseModel):
    status: int
    content_type: str | None
    json_body: Any = None
    text: str | None = None
    truncated: bool = False
    elapsed_ms: float
    url: str


@dataclass(frozen=True, slots=True)
class _Reply:
    response: httpx.Response
    body: bytes


@tool(
    name="http_request",
    version="1.0.0",
    timeout=timedelta(seconds=60),
    tags=("integration",),
)
class HttpRequest:
    """Call an HTTP endpoint or webhook on an allow-listed host and return its response.

    Config (per worker): `allowed_hosts` (patterns; empty denies all),
    `max_response_bytes`. Redirects are followed only to allowed hosts.
    """

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._allowed: list[str] = []
        self._max_bytes = DEFAULT_MAX_RESPONSE_BYTES

    async def startup(self, config: Mapping[str, Any]) -> None:
        self._allowed = list(config.get("allowed_hosts", []))
        self._max_bytes = int(config.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES))
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            trust_env=False,
        )

    async def shutdown(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, args: HttpRequestInput, ctx: ToolContext) -> HttpRequestOutput:
        if self._client is None:
            raise RuntimeError("http_request used before startup()")
        headers = dict(args.headers)
        for name, value in headers.items():
            problem = header_value_problem(value)
            if problem is not None:
                raise NonRetryableToolError(
                    f"header '{name}': not a valid header value ({problem})",
                    details={"header": name},
                )
        for name, ref in args.secret_headers.items():
            value = fill_secret_template(ref.template, await ctx.secret(ref.secret))
            problem = header_value_problem(value)
            if problem is not None:
                # Never quote the value: checked here so the HTTP client cannot either.
                raise NonRetryableToolError(
                    f"secret header '{name}': the value of secret '{ref.secret}' makes an "
                    f"invalid header value ({problem}); store the secret without it",
                    details={"header": name, "secret": ref.secret},
                )
            headers[name] = value
        url = args.url
        started = time.perf_counter()
        for _ in range(MAX_REDIRECTS + 1):
            self._check_host(url)
            reply = await self._send(args, url, headers)
            if reply.response.is_redirect and "location" in reply.response.headers:
                url = urljoin(url, reply.response.headers["location"])
                continue
            return self._result(args, reply, url, started)
        raise NonRetryableToolError(
            f"more than {MAX_REDIRECTS} redirects", details={"url": _redact(url)}
        )

    def _check_host(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        if not host_allowed(host, self._allowed):
            raise ToolNotAllowed(
                f"host '{host}' is not in the http_request allow-list",
                details={"host": host},
            )

    async def _send(self, args: HttpRequestInput, url: str, headers: dict[str, str]) -> _Reply:
        assert self._client is not None
        request = self._client.build_request(
            args.method,
            url,
            headers=headers,
            params=args.params or None,
            json=args.json_body if args.json_body is not None else None,
            timeout=args.timeout_seconds,
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise ToolUnavailable(
                f"{args.method} {_redact(url)} timed out after {args.timeout_seconds}s"
            ) from exc
        except httpx.TransportError as exc:
            raise ToolUnavailable(f"{args.method} {_redact(url)} failed: {exc}") from exc
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self._max_bytes:
                    break  # stop reading: the rest is never buffered
        finally:
            await response.aclose()
        return _Reply(response, bytes(body))

    def _result(
        self, args: HttpRequestInput, reply: _Reply, url: str, started: float
    ) -> HttpRequestOutput:
        response = reply.response
        status = response.status_code
        ok = status in args.expect_status if args.expect_status else 200 <= status < 300
        if not ok:
            message = f"{args.method} {_redact(url)} answered {status}"
            details = {"status": status}
            if status == 429 or status >= 500:
                raise RetryableToolError(
                    message, details=details, retry_after_seconds=_retry_after(response)
                )
            raise NonRetryableToolError(message, details=details)
        content = reply.body
        truncated = len(content) > self._max_bytes
        content = content[: self._max_bytes]
        content_type = response.headers.get("content-type")
        json_body: Any = None
        text: str | None = None
        if content_type and "json" in content_type and not truncated:
            try:
                json_body = json.loads(content)
            except ValueError:
                text = content.decode(response.encoding or "utf-8", errors="replace")
        else:
            text = content.decode(response.encoding or "utf-8", errors="replace")
        return HttpRequestOutput(
            status=status,
            content_type=content_type,
            json_body=json_body,
            text=text,
            truncated=truncated,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
            url=_redact(url),
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), 300.0)
    except ValueError:
        return None


def _redact(url: str) -> str:
    """Drop credentials and the query string (it may carry tokens) from a URL for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
