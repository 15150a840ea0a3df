"""Worker processes for tests: the real `treeflow worker` command in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
TREEFLOW = str(Path(sys.executable).parent / "treeflow")


def wait_for_http(url: str, process: subprocess.Popen[Any], failure: Callable[[], str]) -> None:
    """Poll `url` until it answers 2xx; fail with `failure()` when the process ends first
    or 30 s pass."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).is_success:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(failure())
        time.sleep(0.1)


def end_process(process: subprocess.Popen[str] | None) -> None:
    """Terminate a child that is still running; kill it when it ignores that for 15 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class WorkerProcess:
    """`treeflow worker` hosting the built-in and test tools on one task queue."""

    address: str
    task_queue: str
    identity: str
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)

    def start(self, ready_timeout: float = 30.0) -> WorkerProcess:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "TREEFLOW_TEMPORAL_ADDRESS": self.address,
            "TREEFLOW_TEMPORAL_TASK_QUEUE": self.task_queue,
            "TREEFLOW_WORKER_IDENTITY": self.identity,
            "TREEFLOW_WORKER_TOOL_MODULES": json.dumps(["tests.support.tools:TEST_TOOLS"]),
            "TREEFLOW_WORKER_STICKY_QUEUE_TIMEOUT_SECONDS": "1",
            "TREEFLOW_PAYLOAD_ENCRYPTION": "false",
            **self.extra_env,
        }
        self.process = subprocess.Popen(
            [TREEFLOW, "worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                if "worker polling" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + ready_timeout
        while not ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"worker {self.identity} did not start:\n" + "".join(self.lines[-40:])
                )
        return self

    def send(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        self.send(signal.SIGKILL)
        self.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        end_process(self.process)

    @property
    def output(self) -> str:
        return "".join(self.lines)
