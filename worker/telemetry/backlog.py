"""Task-queue backlog as gauges, from Temporal's `DescribeTaskQueue` statistics.

Every worker polls its own queue (workflow and activity task types) every
`interval` seconds; all workers of a queue report the same figures, so alerts
and dashboards aggregate with `max by (task_queue, type)`. The statistics are
approximate (Temporal's own wording) and about as fresh as the poll interval.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from foundation.telemetry.logs import get_logger
from worker.polling import PeriodicPoller

log = get_logger("treeflow.worker.backlog")

_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


class BacklogMetrics:
    """`treeflow_task_queue_backlog` and `treeflow_task_queue_backlog_age_seconds`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.count = Gauge(
            "treeflow_task_queue_backlog",
            "Approximate number of tasks waiting in the task queue (DescribeTaskQueue).",
            ["task_queue", "type"],
            registry=registry,
        )
        self.age = Gauge(
            "treeflow_task_queue_backlog_age_seconds",
            "Age of the oldest task waiting in the task queue.",
            ["task_queue", "type"],
            registry=registry,
        )


class BacklogMonitor(PeriodicPoller):
    """Polls `DescribeTaskQueue(report_stats=True)` for one queue into `BacklogMetrics`."""

    task_name = "treeflow-backlog"
    failure = "task queue backlog poll failed"

    def __init__(
        self,
        client: Client,
        task_queue: str,
        metrics: BacklogMetrics,
        *,
        interval: float = 15.0,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.metrics = metrics
        self.interval = interval

    async def poll_once(self) -> None:
        for label, kind in _TYPES.items():
            response = await self.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=kind,
                    report_stats=True,
                )
            )
            stats = response.stats
            age = stats.approximate_backlog_age
            self.metrics.count.labels(self.task_queue, label).set(stats.approximate_backlog_count)
            self.metrics.age.labels(self.task_queue, label).set(age.seconds + age.nanos / 1e9)
