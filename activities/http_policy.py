"""Policy shared by every outbound HTTP tool: the host allow-list and secret headers."""

from __future__ import annotations

import fnmatch
import re

from pydantic import BaseModel, Field, field_validator

SECRET_PLACEHOLDER = "{secret}"  # noqa: S105 - the placeholder, not a secret
MAX_HEADER_TEMPLATE_CHARS = 256
"""Longest secret-header template (the text around `{secret}`)."""
MAX_HEADER_VALUE_CHARS = 16_384
"""Longest header value sent (a template filled with its secret)."""
# RFC 9110 field-value, restricted to ASCII: visible characters with inner spaces/tabs;
# no CR, LF, NUL or other controls, no leading or trailing whitespace (the HTTP client
# refuses those with an error that quotes the value).
_VISIBLE = r"[\x21-\x7e]"
_FIELD_VALUE = re.compile(rf"(?:{_VISIBLE}(?:[\x20\x09\x21-\x7e]*{_VISIBLE})?)?")


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be sent as an HTTP header value (None if it can).

    The reason never quotes the value: it may be, or contain, a secret.
    """
    if len(value) > MAX_HEADER_VALUE_CHARS:
        return f"longer than {MAX_HEADER_VALUE_CHARS} characters"
    if _FIELD_VALUE.fullmatch(value) is not None:
        return None
    if value != value.strip(" \t"):
        return "leading or trailing whitespace"
    if "\r" in value or "\n" in value:
        return "a line break (CR or LF)"
    return "a control or non-ASCII character"


def fill_secret_template(template: str, secret: str) -> str:
    """Plain placeholder substitution: no format specs, fields or attribute access."""
    return template.replace(SECRET_PLACEHOLDER, secret)


class SecretHeader(BaseModel):
    """A header whose value is a tenant secret, fetched by reference at call time."""

    secret: str = Field(description="Name of the tenant secret.")
    template: str = Field(
        default=SECRET_PLACEHOLDER,
        max_length=MAX_HEADER_TEMPLATE_CHARS,
        description="Text around the value with exactly one `{secret}`, e.g. 'Bearer {secret}'. "
        "Plain substitution: no other braces, no format specs.",
    )

    @field_validator("template")
    @classmethod
    def _plain_template(cls, value: str) -> str:
        if value.count(SECRET_PLACEHOLDER) != 1:
            raise ValueError("must contain `{secret}` exactly once")
        rest = value.replace(SECRET_PLACEHOLDER, "x")
        if "{" in rest or "}" in rest:
            raise ValueError("only `{secret}` may appear in braces (no format specs)")
        problem = header_value_problem(rest)
        if problem is not None:
            raise ValueError(f"not a valid header value: {problem}")
        return value


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact host or shell-style pattern (`*.example.com`) match; empty list allows none."""
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)
