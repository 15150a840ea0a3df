"""structlog configuration for every Treeflow process, and the run/request log context.

`configure_logging(settings)` routes structlog *and* standard-library loggers
(Temporal, httpx, uvicorn, our `logging.getLogger` users) through one handler, so
every line has the same fields, passes the same redaction, and is rendered as JSON
(prod) or as pretty console lines (dev). Context such as `request_id`, `tenant_id`,
`user_id`, `run_id`, `node` and `tool` lives in context variables
(`bind_log_context`) and is merged into every line logged while it is bound,
including lines from libraries.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.typing import Processor

from foundation.telemetry.redaction import redact_event
from foundation.telemetry.settings import TelemetrySettings

_HANDLER_NAME = "treeflow"

LOG_FIELDS = ("request_id", "tenant_id", "user_id", "run_id", "node", "tool")
"""Context fields every line carries when they are known (see docs/observability.md)."""


def _temporal_fields(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift the workflow/activity details Temporal's loggers attach into our field names."""
    event_dict.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate of the message
    for key in ("temporal_workflow", "temporal_activity"):
        details = event_dict.pop(key, None)
        if not isinstance(details, dict):
            continue
        workflow_id = details.get("workflow_id")
        if workflow_id:
            event_dict.setdefault("run_id", workflow_id)
        run_id = details.get("run_id") or details.get("workflow_run_id")
        if run_id:
            event_dict.setdefault("temporal_run_id", run_id)
        if key == "temporal_activity" and details.get("activity_type"):
            event_dict.setdefault("tool", details["activity_type"])
        if details.get("attempt") is not None:
            event_dict.setdefault("attempt", details["attempt"])
    return event_dict


_REQUEST_FIELDS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "treeflow_request_log_fields", default=None
)


def open_request_fields(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Start a request's log fields (one context variable: cheap on the hot path).

    Close with `close_request_fields(token)`; `add_request_fields` adds to them.
    """
    return _REQUEST_FIELDS.set(dict(fields))


def add_request_fields(**fields: Any) -> None:
    """Add fields (tenant, user) to the current request's log lines, if any."""
    current = _REQUEST_FIELDS.get()
    if current is not None:
        current.update(fields)


def close_request_fields(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _REQUEST_FIELDS.reset(token)


def _request_fields(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    current = _REQUEST_FIELDS.get()
    if current:
        for key, value in current.items():
            event_dict.setdefault(key, value)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        _request_fields,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.stdlib.ExtraAdder(),
        _temporal_fields,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def configure_logging(settings: TelemetrySettings, *, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging through one redacting, rendering handler.

    Replaces a handler this function installed before (so calling it twice is
    safe) and leaves other handlers, such as pytest's capture, alone.
    """
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if settings.renders_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    final: list[Processor] = [ProcessorFormatter.remove_processors_meta]
    if settings.renders_json:
        final.append(structlog.processors.format_exc_info)
    final += [redact_event, renderer]
    formatter = ProcessorFormatter(foreign_pre_chain=_shared_processors(), processors=final)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            redact_event,  # before any handler sees the event dict
            ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    _quiet_temporal_message_suffixes()


def _quiet_temporal_message_suffixes() -> None:
    """Temporal appends its details dict to messages; our lines carry them as fields."""
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False


def get_logger(name: str, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger named like a stdlib logger (`treeflow.worker`)."""
    return structlog.stdlib.get_logger(name, **initial)


@contextlib.contextmanager
def bind_log_context(**fields: Any) -> Iterator[None]:
    """Add fields to every line logged in this context (task-local, restored on exit)."""
    present = {k: v for k, v in fields.items() if v not in (None, "")}
    with structlog.contextvars.bound_contextvars(**present):
        yield
