"""Runs pinned to tool versions the fleet lacks: the start-up report and the wait gauge.

At start-up a worker lists the open runs of its task queue (Temporal visibility) and
reads the pinned `name@x.y.z` activities each run carries in its memo (`tools`,
written by `temporal_client.run_start.start_options`); runs pinned to versions it does not
host are logged as a warning and exported per tool. That is expected while another
worker hosts them (a rolling deploy) and a problem when none does: then those runs
wait (`workflows.tool_routing`) and carry `RunStatus=waiting_tool`, which every
worker counts periodically into `treeflow_runs_waiting_for_tool_version` and shows
as a `degraded` readiness detail (degraded keeps the worker in service: it is the
fleet that lacks the version, not this worker that is broken).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from temporalio.client import Client

from foundation.telemetry.health import CheckOutcome
from foundation.telemetry.logs import get_logger
from foundation.telemetry.metrics import ToolVersionMetrics
from worker.polling import PeriodicPoller
from workflows.search_attributes import RUN_STATUS
from workflows.tool_routing import TOOLS_MEMO_KEY, WAITING_STATUS

log = get_logger("treeflow.worker.tool_versions")

MAX_OPEN_RUNS_SCANNED = 10_000
"""The start-up scan reads at most this many open runs (newest first)."""
MAX_TOOLS_REPORTED = 20
"""At most this many missing versions are named in a log line or health detail."""


def open_runs_query(task_queue: str) -> str:
    return f'ExecutionStatus = "Running" AND TaskQueue = "{_quoted(task_queue)}"'


def waiting_runs_query(task_queue: str) -> str:
    return f'{open_runs_query(task_queue)} AND {RUN_STATUS.name} = "{WAITING_STATUS}"'


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def open_runs_missing(
    client: Client, task_queue: str, hosted: Iterable[str], *, limit: int = MAX_OPEN_RUNS_SCANNED
) -> Counter[str]:
    """Open runs on `task_queue` by pinned activity that is not in `hosted`.

    Runs started before the `tools` memo existed carry no list and are skipped.
    """
    hosted_names = set(hosted)
    missing: Counter[str] = Counter()
    async for execution in client.list_workflows(open_runs_query(task_queue), limit=limit):
        pinned = await execution.memo_value(TOOLS_MEMO_KEY, None)
        if not isinstance(pinned, list):
            continue
        missing.update({str(name) for name in pinned} - hosted_names)
    return missing


def _names(counts: Counter[str]) -> str:
    named = [f"{tool} ({count})" for tool, count in counts.most_common(MAX_TOOLS_REPORTED)]
    more = len(counts) - len(named)
    return ", ".join(named) + (f" and {more} more" if more > 0 else "")


class ToolVersionWatch(PeriodicPoller):
    """This worker's view of runs pinned to versions it or the fleet lacks."""

    task_name = "treeflow-tool-versions"
    failure = "counting runs waiting for tool versions failed"

    def __init__(
        self,
        client: Client,
        task_queue: str,
        hosted: Iterable[str],
        metrics: ToolVersionMetrics | None = None,
        *,
        interval: float = 15.0,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.hosted = frozenset(hosted)
        self.metrics = metrics
        self.interval = interval
        self.missing_here: Counter[str] = Counter()
        self.waiting = 0

    async def report_at_startup(self) -> Counter[str]:
        """Scan open runs once and warn about versions this worker does not host.

        Runs in the background once the worker polls, so a large backlog of open
        runs never delays a worker's start.
        """
        try:
            self.missing_here = await open_runs_missing(self.client, self.task_queue, self.hosted)
        except Exception as exc:  # visibility may be down; the worker still serves
            log.warning("could not scan open runs for missing tool versions: %s", exc)
            return self.missing_here
        if self.missing_here:
            log.warning(
                "open runs on %s are pinned to tool versions this worker does not host: %s; "
                "they wait until a worker hosting them polls (docs/runbooks/"
                "tool-version-missing.md)",
                self.task_queue,
                _names(self.missing_here),
            )
        if self.metrics is not None:
            self.metrics.set_missing_here(self.task_queue, self.missing_here)
        return self.missing_here

    async def poll_once(self) -> int:
        """Count the queue's runs waiting for a tool version (fleet-wide)."""
        counted = await self.client.count_workflows(waiting_runs_query(self.task_queue))
        self.waiting = counted.count
        if self.metrics is not None:
            self.metrics.waiting.labels(self.task_queue).set(self.waiting)
        return self.waiting

    async def check(self) -> CheckOutcome:
        """Readiness detail: `degraded` while runs wait for a version no worker hosts."""
        if self.waiting:
            detail = f"{self.waiting} run(s) wait for a worker hosting a pinned tool version"
            if self.missing_here:
                detail += f"; this worker lacks {_names(self.missing_here)}"
            return ("degraded", detail)
        return "ok"
