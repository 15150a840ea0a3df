"""Tools used only by the test suite."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from activities.errors import NonRetryableToolError, RetryableToolError
from activities.sdk import ToolContext, tool


class EchoInput(BaseModel):
    value: Any = None


class EchoOutput(BaseModel):
    value: Any = None
    version: str


@tool(name="echo", version="1.0.0")
async def echo_v1(args: EchoInput, ctx: ToolContext) -> EchoOutput:
    """Return the value unchanged (version 1)."""
    return EchoOutput(value=args.value, version="1.0.0")


@tool(name="echo", version="2.0.0")
async def echo_v2(args: EchoInput, ctx: ToolContext) -> EchoOutput:
    """Return the value unchanged (version 2)."""
    return EchoOutput(value=args.value, version="2.0.0")


class FlakyInput(BaseModel):
    fail_times: int = 2


class FlakyOutput(BaseModel):
    attempt: int


@tool(name="flaky", version="1.0.0")
async def flaky(args: FlakyInput, ctx: ToolContext) -> FlakyOutput:
    """Fail with a retryable error on the first `fail_times` attempts."""
    if ctx.info.attempt <= args.fail_times:
        raise RetryableToolError(f"transient failure on attempt {ctx.info.attempt}")
    return FlakyOutput(attempt=ctx.info.attempt)


class BrokenInput(BaseModel):
    reason: str = "the input can never work"


@tool(name="broken", version="1.0.0")
async def broken(args: BrokenInput, ctx: ToolContext) -> EchoOutput:
    """Always fail without retry."""
    raise NonRetryableToolError(args.reason, details={"why": "test"})


class SlowInput(BaseModel):
    seconds: float = 30.0
    marker: str | None = Field(default=None, description="File written on start/cancel/finish.")


class SlowOutput(BaseModel):
    slept: float


def _mark(marker: Path, state: str) -> None:
    """Write `state` whole: a reader polling for the file never sees it empty (write_text
    creates the file before it writes, and a test read '' there)."""
    staged = marker.with_name(marker.name + ".tmp")
    staged.write_text(state)
    os.replace(staged, marker)


@tool(name="slow", version="1.0.0", heartbeat_timeout=timedelta(seconds=2))
async def slow(args: SlowInput, ctx: ToolContext) -> SlowOutput:
    """Sleep while heartbeating; record start, cancellation or completion in `marker`."""
    marker = Path(args.marker) if args.marker else None
    if marker:
        _mark(marker, "started")
    try:
        await asyncio.sleep(args.seconds)
    except asyncio.CancelledError:
        if marker:
            _mark(marker, "cancelled")
        raise
    if marker:
        _mark(marker, "finished")
    return SlowOutput(slept=args.seconds)


class AddInput(BaseModel):
    a: float
    b: float


class AddOutput(BaseModel):
    sum: float


@tool(name="add", version="1.0.0")
async def add(args: AddInput, ctx: ToolContext) -> AddOutput:
    """Add two numbers."""
    return AddOutput(sum=args.a + args.b)


class StrictInput(BaseModel):
    query: str
    limit: int = Field(default=10, ge=1, le=100)
    mode: str = Field(default="hybrid", pattern="^(semantic|keyword|hybrid)$")


class StrictOutput(BaseModel):
    ok: bool = True


@tool(name="strict", version="2.1.0")
async def strict(args: StrictInput, ctx: ToolContext) -> StrictOutput:
    """A tool with a strict input schema, for compiler tests."""
    return StrictOutput()


@tool(name="legacy", version="1.0.0", deprecated="use echo@^2")
async def legacy(args: EchoInput, ctx: ToolContext) -> EchoOutput:
    """A deprecated tool."""
    return EchoOutput(value=args.value, version="1.0.0")


class NapInput(BaseModel):
    seconds: float = 1.0


class NapOutput(BaseModel):
    slept: float
    attempt: int


@tool(name="nap", version="1.0.0")
async def nap(args: NapInput, ctx: ToolContext) -> NapOutput:
    """Sleep without ever heartbeating and without declaring a heartbeat timeout."""
    await asyncio.sleep(args.seconds)
    return NapOutput(slept=args.seconds, attempt=ctx.info.attempt)


class TallyInput(BaseModel):
    counter: str = Field(description="File that gets one line per call (the call count).")
    value: Any = None
    fail: bool = Field(default=False, description="Fail without retry (driven by inputs).")
    fail_while: str | None = Field(default=None, description="Fail while this file exists.")


class TallyOutput(BaseModel):
    value: Any = None
    calls: int


@tool(name="tally", version="1.0.0")
async def tally(args: TallyInput, ctx: ToolContext) -> TallyOutput:
    """Count this call in `counter`, then fail if told to, else return `value`."""
    calls = await asyncio.to_thread(_count_call, Path(args.counter), ctx.info.workflow_id)
    if args.fail or (args.fail_while is not None and Path(args.fail_while).exists()):
        raise NonRetryableToolError("tally was told to fail")
    return TallyOutput(value=args.value, calls=calls)


def _count_call(counter: Path, workflow_id: str) -> int:
    with counter.open("a") as lines:
        lines.write(f"{workflow_id}\n")
    return tally_calls(counter)


def tally_calls(counter: Path) -> int:
    """How many times `tally` ran with this counter file."""
    return len(counter.read_text().splitlines()) if counter.exists() else 0


TEST_TOOLS = (echo_v1, flaky, broken, slow, add, strict, legacy, nap, tally)
