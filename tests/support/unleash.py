"""The real Unleash 8 server for flag tests: admin API helpers and a private instance."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
HOW_TO_START = (
    'start the services first: scripts/services.sh up && eval "$(scripts/services.sh env)"'
)


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(f"environment variable {name} is not set; {HOW_TO_START}", pytrace=False)
    return value


@dataclass
class UnleashAdmin:
    """The admin API of a running Unleash (`base` is the `/api` URL)."""

    base: str
    token: str

    def _call(self, method: str, path: str, json: object | None = None) -> httpx.Response:
        response = httpx.request(
            method,
            f"{self.base}/admin{path}",
            headers={"Authorization": self.token},
            json=json,
            timeout=10,
        )
        assert response.status_code < 300, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response

    def create_flag(
        self, prefix: str = "", *, name: str | None = None, kind: str = "release"
    ) -> str:
        name = name or f"{prefix}{uuid.uuid4().hex[:10]}"
        self._call("POST", "/projects/default/features", {"name": name, "type": kind})
        return name

    def add_strategy(self, flag: str, name: str, parameters: dict[str, str]) -> None:
        self._call(
            "POST",
            f"/projects/default/features/{flag}/environments/development/strategies",
            {"name": name, "parameters": parameters},
        )

    def switch(self, flag: str, on: bool) -> None:
        state = "on" if on else "off"
        self._call("POST", f"/projects/default/features/{flag}/environments/development/{state}")

    def delete(self, flag: str) -> None:
        self._call("DELETE", f"/projects/default/features/{flag}")
        self._call("DELETE", f"/archive/{flag}")


def shared_unleash() -> tuple[str, UnleashAdmin, str]:
    """(client URL, admin API, client token) of the server `scripts/services.sh` runs."""
    url = require_env("TREEFLOW_TEST_UNLEASH_URL")
    admin = UnleashAdmin(url, require_env("TREEFLOW_TEST_UNLEASH_ADMIN_TOKEN"))
    return url, admin, require_env("TREEFLOW_TEST_UNLEASH_CLIENT_TOKEN")


@dataclass
class PrivateUnleash:
    """An Unleash process of our own on the same database, so it can be stopped freely."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 60.0) -> PrivateUnleash:
        database = urlsplit(require_env("TREEFLOW_TEST_DATABASE_URL"))
        admin = require_env("TREEFLOW_TEST_UNLEASH_ADMIN_TOKEN")
        client = require_env("TREEFLOW_TEST_UNLEASH_CLIENT_TOKEN")
        env = {
            **os.environ,
            # The Unleash role and database are services.sh's dev-only constants.
            "DATABASE_URL": (
                f"postgres://unleash:unleash-dev-only-pw@{database.hostname}:{database.port}/unleash"
            ),
            "DATABASE_SSL": "false",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.port),
            "INIT_ADMIN_API_TOKENS": admin,
            "INIT_BACKEND_API_TOKENS": client,
            "CHECK_VERSION": "false",
            "SEND_TELEMETRY": "false",
            "LOG_LEVEL": "warn",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", "unleash.mjs"],
                cwd=REPO / "deploy" / "dev",
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"private Unleash exited early; see {self.log}", pytrace=False)
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"private Unleash did not become healthy; see {self.log}", pytrace=False)

    def stop(self) -> None:
        """Kill it outright: the server vanishes as in a crash or a network cut."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@contextmanager
def private_unleash(port: int, log: Path) -> Iterator[PrivateUnleash]:
    server = PrivateUnleash(port, log).start()
    try:
        yield server
    finally:
        server.stop()


async def wait_until(predicate: Callable[[], bool], limit: float = 15.0) -> float:
    """Poll until `predicate()` is true without blocking the loop; answers the seconds taken."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {limit}s")
