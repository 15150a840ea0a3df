"""Secret values are scrubbed by value from everything that leaves a tool call.

A deliberately leaky tool puts its secret (in every shape a message can carry it) in
a retryable error with details and a cause, a heartbeat, log lines and its result.
The run's history (including the retried attempt's failure), the final failure, the
workflow output and the worker's JSON log lines are then searched for the value.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets as random_secrets
import uuid
from urllib.parse import quote

import pytest
from pydantic import BaseModel
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from activities.errors import RetryableToolError
from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.sdk import ToolContext, tool
from foundation.secrets.scrub import SecretScrubber, redaction_marker
from tests.support.temporal_fixtures import compile_for_tests, start_compiled
from worker.runner import build_worker
from worker.settings import WorkerSettings

SHAPES = {
    "plain": "{core}",
    "whitespace": "  {core}\t",
    "newline": "{core}\n",
    "crlf": "{core}\r\nX-Injected: yes",
}


class LeakyInput(BaseModel):
    secret: str
    fail_attempts: int = 1


class LeakyOutput(BaseModel):
    echo: str
    nested: dict[str, list[str]]


@tool(name="leaky", version="1.0.0")
async def leaky(args: LeakyInput, ctx: ToolContext) -> LeakyOutput:
    """Leaks its secret everywhere a tool can, then succeeds on a later attempt."""
    value = await ctx.secret(args.secret)
    ctx.logger.warning("calling upstream with %s", value, header=f"Bearer {value}")
    ctx.heartbeat({"token": value})
    if ctx.info.attempt <= args.fail_attempts:
        try:
            raise ValueError(f"upstream said {value!r} / {value.encode()!r}")
        except ValueError as exc:
            raise RetryableToolError(
                f"rejected {value!r} ({quote(value)})", details={"sent": value, "json": [value]}
            ) from exc
    return LeakyOutput(echo=value, nested={json.dumps(value): [value.strip()]})


def _tree(fail_attempts: int, max_attempts: int) -> dict[str, object]:
    return {
        "name": "leaky-run",
        "start": "call",
        "nodes": {
            "call": {
                "kind": "tool",
                "tool": "leaky@1",
                "args": {"secret": "partner", "fail_attempts": fail_attempts},
                "retry": {"max_attempts": max_attempts, "initial_interval": 0.05},
                "next": "done",
            },
            "done": {"kind": "end", "output": {"echo": "{{ results.call.echo }}"}},
        },
    }


async def _run(
    client: Client, stored: str, fail_attempts: int, max_attempts: int
) -> tuple[str, str, object]:
    """Run the leaky tree on its own worker; return (history json, error text, output)."""

    async def resolve(tenant_id: str, name: str) -> str:
        return stored

    registry = ToolRegistry().add(leaky)
    compiled = compile_for_tests(_tree(fail_attempts, max_attempts), registry)
    queue = f"scrub-{uuid.uuid4().hex[:8]}"
    host = ToolHost(registry, secrets=resolve)
    async with host.running(), build_worker(client, WorkerSettings(), queue, host):
        handle = await start_compiled(client, compiled, tenant="tests", task_queue=queue)
        output: object = None
        error = ""
        try:
            output = await asyncio.wait_for(handle.result(), 60)
        except WorkflowFailureError as exc:
            chain: BaseException | None = exc
            while chain is not None:
                error += f"{chain!s} {chain!r} "
                if isinstance(chain, ApplicationError):
                    error += json.dumps(list(chain.details), default=str)
                chain = chain.__cause__
    history = await handle.fetch_history()
    return history.to_json(), error, output


@pytest.fixture(params=sorted(SHAPES))
def secret(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(a fresh secret core, the stored secret of one SHAPES shape around it), per shape."""
    core = "tfleak" + random_secrets.token_hex(12)
    return core, SHAPES[request.param].format(core=core)


async def test_a_retried_then_successful_call_leaks_nothing(
    client: Client, json_logs: io.StringIO, secret: tuple[str, str]
) -> None:
    core, stored = secret
    history, _, output = await _run(client, stored, 1, 3)
    assert core not in history  # the retried attempt's failure is in history too
    assert core not in json_logs.getvalue()
    assert core not in json.dumps(output, default=str)
    assert redaction_marker("partner") in json.dumps(output, default=str)
    assert "rejected '[secret:partner]" in history  # the message stays useful


async def test_a_final_failure_leaks_nothing(
    client: Client, json_logs: io.StringIO, secret: tuple[str, str]
) -> None:
    core, stored = secret
    history, error, _ = await _run(client, stored, 5, 2)
    assert "rejected" in error
    for place, text in {"history": history, "error": error, "logs": json_logs.getvalue()}.items():
        assert core not in text, f"the secret leaked into the {place}"


# ------------------------------------------------------------------ the scrubber alone


def test_every_form_a_value_takes_in_a_message_is_scrubbed() -> None:
    value = " tok-3f9a/é+x\r\nline two "
    scrubber = SecretScrubber()
    scrubber.add("api", value)
    forms = [
        value,
        value.strip(),
        repr(value),
        repr(value.encode()),
        json.dumps(value),
        json.dumps(value, ensure_ascii=False),
        quote(value, safe=""),
        quote(value),
        "line two",
    ]
    for form in forms:
        scrubbed = scrubber.scrub(f"before {form} after")
        assert "tok-3f9a" not in scrubbed, form
        assert "line two" not in scrubbed, form
        assert scrubbed.startswith("before"), scrubbed
        assert scrubbed.endswith("after"), scrubbed


def test_scrubbed_errors_keep_their_type_retryability_and_causes() -> None:
    scrubber = SecretScrubber()
    scrubber.add("api", "hunter2-secret")
    try:
        try:
            raise OSError("refused hunter2-secret")
        except OSError as inner:
            raise ApplicationError(
                "bad hunter2-secret", {"v": "hunter2-secret"}, type="Boom", non_retryable=True
            ) from inner
    except ApplicationError as outer:
        scrubbed = scrubber.scrub_exception(outer)
    assert isinstance(scrubbed, ApplicationError)
    assert scrubbed.message == "bad [secret:api]"
    assert scrubbed.type == "Boom"
    assert scrubbed.non_retryable
    assert list(scrubbed.details) == [{"v": "[secret:api]"}]
    assert isinstance(scrubbed.__cause__, ApplicationError)
    assert scrubbed.__cause__.message == "refused [secret:api]"
    assert scrubbed.__cause__.type == "OSError"
    clean = ValueError("nothing secret here")
    assert scrubber.scrub_exception(clean) is clean
    cancelled = asyncio.CancelledError("hunter2-secret")
    assert scrubber.scrub_exception(cancelled) is cancelled
