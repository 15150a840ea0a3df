"""A real chat-completions server process on loopback for the provider tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]


@dataclass
class ChatServer:
    """Handle on `tests.support.chat_server` running in a child process."""

    url: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *replies: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_script", json={"replies": list(replies)}).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/_requests")
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()
        return data

    def reset(self) -> None:
        httpx.post(f"{self.url}/_reset", json={}).raise_for_status()


@pytest.fixture(scope="session")
def chat_process() -> Iterator[ChatServer]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.chat_server"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"chat server did not start: {line}{process.stdout.read()}")
    try:
        yield ChatServer(url=f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def chat(chat_process: ChatServer) -> ChatServer:
    """The server with an empty reply queue and request log."""
    chat_process.reset()
    return chat_process
