"""The one log processor that removes secrets and tokens before anything is written.

It blanks the values of keys that name credentials (`password`, `client_secret`,
`access_token`, `api_key`, `authorization`, `cookie`...) at any depth, and scrubs
strings everywhere for credentials that hide inside text: `Bearer`/`Basic` auth
values, Treeflow API keys (`tfk_...`), JWTs, `key=value` pairs with secret-like
keys, and passwords in URLs. Counters such as `prompt_tokens` are not secrets and
stay. While a tool call runs, the values of the secrets it resolved are scrubbed
too, by value (`foundation.secrets.scrub`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from foundation.secrets.scrub import active_scrubber

REDACTED = "[REDACTED]"
API_KEY_PREFIX = "tfk_"
_MAX_DEPTH = 6

_SECRET_KEY = re.compile(
    r"(?:^|_)(?:password|passwd|pwd|secret|token|api_?key|apikey|authorization|cookie|"
    r"set_cookie|credentials?|private_key|signing_keys?|session_?id|jwt|dsn)$"
    r"|password|secret"
)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1\2" + REDACTED),
    (
        re.compile(r"\b(Basic)(\s+)(?=[A-Za-z0-9+/=]*[0-9+/=])[A-Za-z0-9+/]{6,}={0,2}"),
        r"\1\2" + REDACTED,
    ),
    (re.compile(re.escape(API_KEY_PREFIX) + r"[A-Za-z0-9_-]{6,}"), API_KEY_PREFIX + REDACTED),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
        "[REDACTED_JWT]",
    ),
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|token|api[_-]?key|authorization)\"?'?\s*[=:]\s*"
            r"\"?'?)(?!(?i:bearer|basic)\s|\[REDACTED)([^\s&,;\"'}]{2,})"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a credential (case and `-`/`_` insensitive)."""
    return _SECRET_KEY.search(key.strip().lower().replace("-", "_")) is not None


def redact_text(text: str) -> str:
    """`text` with every embedded credential replaced."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of `value` with secret-named keys blanked and strings scrubbed."""
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if isinstance(k, str) and is_secret_key(k) and v not in (None, "")
            else redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        if (
            len(value) == 2
            and isinstance(value[0], str | bytes)
            and is_secret_key(value[0] if isinstance(value[0], str) else value[0].decode("latin-1"))
        ):
            return (value[0], REDACTED)  # a (header, value) pair
        return type(value)(redact_value(item, depth + 1) for item in value)
    return value


def redact_event(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact every field of the event (including the message)."""
    scrubber = active_scrubber()
    for key in list(event_dict):
        value = event_dict[key]
        if key != "event" and is_secret_key(key) and value not in (None, ""):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(value)
            if scrubber:
                event_dict[key] = scrubber.scrub_data(event_dict[key])
    return event_dict
