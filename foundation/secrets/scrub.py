"""Scrub secret values, by value, from everything that leaves a tool call.

Pattern redaction (`foundation.telemetry.redaction`) finds credentials that *look*
like credentials; it cannot know that an arbitrary string is a tenant's secret. The
tool host can: it hands every value out itself. A :class:`SecretScrubber` collects
the values resolved during one activity and replaces them, and the forms they take
on the way out (stripped, each line, `repr`/JSON escaped, bytes repr, percent
encoded), in error messages, failure details, results, heartbeats and log lines.

While a call runs, `scrubbing(scrubber)` makes it current for the log processor
(`active_scrubber`), so a line a tool or a library logs during the call is scrubbed
too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from temporalio.exceptions import ApplicationError

MIN_SCRUB_CHARS = 4
"""Fragments shorter than this (a line of a multi-line secret, say) are not scrubbed on
their own: replacing them would mangle ordinary text. Whole values always are."""
MAX_SCRUB_DEPTH = 32
"""Nesting depth of results and details walked; deeper values are replaced whole."""
MAX_CAUSE_CHAIN = 8
"""How many chained causes of an error are kept (scrubbed) in the failure."""


def redaction_marker(name: str) -> str:
    """What replaces a secret's value: names the secret (a name is not secret)."""
    return f"[secret:{name}]"


def _variants(value: str) -> set[str]:
    """The forms a value takes in messages: escaped, encoded, stripped, line by line."""
    bases = {value, value.strip()}
    found: set[str] = set()
    for base in bases:
        if not base:
            continue
        found.add(base)
        found.add(repr(base)[1:-1])
        found.add(json.dumps(base)[1:-1])
        found.add(json.dumps(base, ensure_ascii=False)[1:-1])
        found.add(repr(base.encode())[2:-1])
        found.add(quote(base, safe=""))
        found.add(quote(base))
        found.add(quote_plus(base))
    for line in re.split(r"[\r\n]+", value):
        line = line.strip()
        if len(line) >= MIN_SCRUB_CHARS:
            found.add(line)
            found.add(repr(line)[1:-1])
    # Fragments only count when long enough; the whole value always counts.
    whole = {value, value.strip()} - {""}
    return {item for item in found if len(item) >= MIN_SCRUB_CHARS} | whole


class SecretScrubber:
    """The secret values handed out during one call, and how to remove them."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def __repr__(self) -> str:
        return f"SecretScrubber(secrets={len(set(self._names.values()))})"

    def __bool__(self) -> bool:
        return bool(self._names)

    def add(self, name: str, value: str) -> None:
        """Remember `value` (secret `name`) and its variants."""
        changed = False
        for variant in _variants(value):
            if variant not in self._names:
                self._names[variant] = name
                changed = True
        if changed:
            # Longest first, so a value is replaced whole before any of its fragments.
            ordered = sorted(self._names, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(item) for item in ordered))

    def scrub(self, text: str) -> str:
        """`text` with every known value replaced by its marker."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: redaction_marker(self._names[m.group(0)]), text)

    def scrub_data(self, data: Any, depth: int = 0) -> Any:
        """A copy of JSON-like `data` with every string (keys too) scrubbed."""
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.scrub(data)
        if isinstance(data, bytes | bytearray):
            return self.scrub(bytes(data).decode("utf-8", "replace")).encode()
        if depth >= MAX_SCRUB_DEPTH and isinstance(data, Mapping | list | tuple):
            return "[too deep to scrub]"
        if isinstance(data, Mapping):
            return {
                self.scrub(k) if isinstance(k, str) else k: self.scrub_data(v, depth + 1)
                for k, v in data.items()
            }
        if isinstance(data, list | tuple):
            return type(data)(self.scrub_data(item, depth + 1) for item in data)
        return data

    def leaks(self, text: str) -> bool:
        """Whether `text` contains a known value (or one of its variants)."""
        return self._pattern is not None and self._pattern.search(text) is not None

    def scrub_exception(self, error: BaseException) -> BaseException:
        """`error` itself when nothing in it (or its causes) holds a secret, else an
        `ApplicationError` with the same type name, retryability and retry delay whose
        message, details and causes are scrubbed. Cancellation always passes as is."""
        if isinstance(error, asyncio.CancelledError) or self._pattern is None:
            return error
        if not _carries_secret(self, error):
            return error
        return self._scrubbed(error, 0)

    def _scrubbed(self, error: BaseException, depth: int) -> ApplicationError:
        if isinstance(error, ApplicationError):
            scrubbed = ApplicationError(
                self.scrub(error.message),
                *self.scrub_data(list(error.details)),
                type=self.scrub(error.type) if error.type else None,
                non_retryable=error.non_retryable,
                next_retry_delay=error.next_retry_delay,
                category=error.category,
            )
        else:
            scrubbed = ApplicationError(self.scrub(str(error)), type=type(error).__name__)
        cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        if cause is not None and depth < MAX_CAUSE_CHAIN:
            scrubbed.__cause__ = self._scrubbed(cause, depth + 1)
        return scrubbed


def _carries_secret(scrubber: SecretScrubber, error: BaseException) -> bool:
    seen = 0
    current: BaseException | None = error
    while current is not None and seen <= MAX_CAUSE_CHAIN:
        text = str(current)
        if isinstance(current, ApplicationError):
            text += json.dumps([current.type, *current.details], default=str)
        if scrubber.leaks(text) or scrubber.leaks(repr(current)):
            return True
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
        seen += 1
    return False


_active: contextvars.ContextVar[SecretScrubber | None] = contextvars.ContextVar(
    "treeflow_secret_scrubber", default=None
)


def active_scrubber() -> SecretScrubber | None:
    """The scrubber of the tool call running in this context, if any."""
    return _active.get()


@contextlib.contextmanager
def scrubbing(scrubber: SecretScrubber) -> Iterator[SecretScrubber]:
    """Make `scrubber` current (for log lines) while a tool call runs."""
    token = _active.set(scrubber)
    try:
        yield scrubber
    finally:
        _active.reset(token)
