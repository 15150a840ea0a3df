"""The real `treeflow api` command in a subprocess, for tests that need a uvicorn process."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

from tests.support.processes import REPO, TREEFLOW, end_process
from treeflow.devserver import free_port


@dataclass
class ApiProcess:
    """`treeflow api` on a free loopback port with the given TREEFLOW_* environment."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)

    def start(self, ready_timeout: float = 180.0) -> ApiProcess:
        self.process = subprocess.Popen(
            [TREEFLOW, "api", "--port", str(self.port)],
            # Production-mode processes here run on SQLite: allow the dev defaults the
            # start-up guard (treeflow/production.py) would otherwise refuse.
            env={
                **os.environ,
                "PYTHONPATH": str(REPO),
                "TREEFLOW_ALLOW_DEV_DEFAULTS": "true",
                **self.env,
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )

        def pump() -> None:
            assert self.process is not None
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    if sock.recv(100).startswith(b"HTTP/1.1 200"):
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("treeflow api did not start:\n" + "".join(self.lines[-40:]))

    def stop(self) -> None:
        end_process(self.process)
