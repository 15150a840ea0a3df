"""HTTP protocol edges against a real `treeflow api` (uvicorn) process in production mode,
over raw sockets: control characters in plain-HTTP paths, slow heads, slow bodies."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.auth.tokens import generate_signing_key
from foundation.secrets import Keyring
from tests.support.api_process import ApiProcess

PUBLIC_URL = "https://api.example.test"
HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
KEEP_ALIVE = 1
GRACE = 4.0
"""Slack on top of a timeout before a still-open connection counts as held (CI is slow)."""
TRICKLE_EVERY = 0.25


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    data = tmp_path_factory.mktemp("api")
    key = json.dumps(generate_signing_key("edge-key").as_dict(private=True))
    process = ApiProcess(
        {
            "TREEFLOW_DEV_MODE": "false",
            "TREEFLOW_PUBLIC_URL": PUBLIC_URL,
            "TREEFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{Path(data) / 'api.db'}",
            "TREEFLOW_JWT_SIGNING_KEYS": json.dumps([key]),
            "TREEFLOW_SECRET_KEYS": json.dumps({"k1": Keyring.generate_key()}),
            "TREEFLOW_SECRET_ACTIVE_KEY_ID": "k1",
            "TREEFLOW_TRUSTED_PROXIES": '["127.0.0.1/32"]',
            "TREEFLOW_HTTP_HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
            "TREEFLOW_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
            "TREEFLOW_HTTP_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
            "TREEFLOW_HTTP_MAX_HEADER_BYTES": "8192",
        }
    ).start()
    yield process
    process.stop()
    assert "Traceback" not in "".join(process.lines), "".join(process.lines[-40:])


def connect(api: ApiProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", api.port), timeout=10)


def exchange(api: ApiProcess, request: bytes) -> bytes:
    """Send one request, read until the server closes (or 10 s)."""
    with connect(api) as sock:
        sock.sendall(request)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode().lower()] = value.decode("latin-1").strip()
    return status, headers, body


# ---------------------------------------------------------------- HTTPS redirect

CONTROL_PATHS = [
    "/v1/a%0d%0aSet-Cookie:%20owned=1",
    "/v1/a%0db",
    "/v1/a%0ab",
    "/v1/a%00b",
    "/v1/%01%02%1b%1f%7f",
    "/v1/a%09b",
    "/%0d%0a%0d%0a<html>",
    "/v1/caf%c3%a9",
    "/v1/bad-utf8-%ff%fe",
    "/v1/ok?x=%0d%0aSet-Cookie:%20owned=1&y=%00",
]


@pytest.mark.parametrize("path", CONTROL_PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_plain_http_paths_with_control_characters_get_a_safe_redirect(
    api: ApiProcess, path: str, method: str
) -> None:
    raw = exchange(
        api, f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    )
    assert raw, f"no response at all for {path}"
    status, headers, _ = parse(raw)
    assert status == 308
    location = headers["location"]
    assert location.startswith(PUBLIC_URL + "/")
    assert all(0x21 <= ord(c) < 0x7F for c in location), location
    assert "set-cookie" not in headers
    assert headers["content-type"] == "application/problem+json"


def test_the_redirect_keeps_the_path_meaning(api: ApiProcess) -> None:
    raw = exchange(api, b"GET /v1/a%0d%0ab/c%20d?q=%0d&r=1 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert parse(raw)[1]["location"] == PUBLIC_URL + "/v1/a%0D%0Ab/c%20d?q=%0d&r=1"


@pytest.mark.parametrize("path", CONTROL_PATHS[:4])
def test_plain_http_writes_with_control_characters_are_refused(api: ApiProcess, path: str) -> None:
    raw = exchange(
        api,
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}".encode(),
    )
    status, headers, _ = parse(raw)
    assert status == 403
    assert headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------- slow clients


def trickle_until_closed(sock: socket.socket, data: bytes, within: float) -> tuple[float, bytes]:
    """Send ``data`` one byte at a time; return when the server closed, and what it said."""
    sock.setblocking(False)
    began = time.monotonic()
    received = b""
    for byte in data:
        readable, _, _ = select.select([sock], [], [], TRICKLE_EVERY)
        if readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return time.monotonic() - began, received
            if not chunk:
                return time.monotonic() - began, received
            received += chunk
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - began, received
        if time.monotonic() - began > within:
            break
    raise AssertionError(f"the server still held the connection after {within} s")


SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"a" * 400


def test_a_slowloris_head_is_answered_408_and_closed(api: ApiProcess) -> None:
    with connect(api) as sock:
        elapsed, answer = trickle_until_closed(sock, SLOW_HEAD, HEAD_TIMEOUT + GRACE)
    assert elapsed >= HEAD_TIMEOUT * 0.9
    status, headers, body = parse(answer)
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 408


def test_a_slow_body_is_answered_408_and_closed(api: ApiProcess) -> None:
    body = b'{"slug": "' + b"a" * 200 + b'"}'
    head = (
        b"POST /v1/tenants HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with connect(api) as sock:
        sock.sendall(head)
        _elapsed, answer = trickle_until_closed(sock, body, BODY_TIMEOUT + GRACE)
    status, headers, _ = parse(answer)
    assert status == 408, answer
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/problem+json"


def test_a_body_trickled_after_the_answer_cannot_hold_the_connection(api: ApiProcess) -> None:
    # Plain HTTP POST: refused with 403 before the body is read; the rest trickles in.
    head = b"POST /v1/tenants HTTP/1.1\r\nHost: t\r\nContent-Length: 400\r\n\r\n"
    with connect(api) as sock:
        sock.sendall(head)
        _elapsed, answer = trickle_until_closed(sock, b"x" * 400, HEAD_TIMEOUT + GRACE)
    assert parse(answer)[0] == 403


def test_forty_slow_connections_do_not_stay_open(api: ApiProcess) -> None:
    sockets = [connect(api) for _ in range(40)]
    for sock in sockets:
        sock.setblocking(False)
    began = time.monotonic()
    open_ = set(range(len(sockets)))
    position = 0
    while open_ and time.monotonic() - began < HEAD_TIMEOUT + GRACE + 2:
        for index in list(open_):
            sock = sockets[index]
            try:
                if select.select([sock], [], [], 0)[0] and not sock.recv(65536):
                    open_.discard(index)
                    continue
                sock.send(SLOW_HEAD[position : position + 1])
            except (BrokenPipeError, ConnectionResetError):
                open_.discard(index)
        position = min(position + 1, len(SLOW_HEAD) - 1)
        time.sleep(TRICKLE_EVERY)
    for sock in sockets:
        sock.close()
    assert not open_, f"{len(open_)} of 40 slow connections still open"


def test_an_idle_kept_alive_connection_is_closed(api: ApiProcess) -> None:
    with connect(api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        began = time.monotonic()
        raw = read_all(sock)  # one answer, then the keep-alive timeout closes the socket
    assert raw.startswith(b"HTTP/1.1 200")
    assert time.monotonic() - began < KEEP_ALIVE + GRACE


def test_prompt_clients_keep_their_connection_for_several_requests(api: ApiProcess) -> None:
    with connect(api) as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(HEAD_TIMEOUT * 0.6)  # twice in a row would exceed one head timeout


def test_an_oversized_head_is_answered_431(api: ApiProcess) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    with connect(api) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        answer = read_all(sock)
    assert parse(answer)[0] == 431
