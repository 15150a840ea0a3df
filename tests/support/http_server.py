"""A real HTTP server on loopback for tool tests (stdlib, threaded)."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # the client may have given up first (timeout tests)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def do_GET(self) -> None:
        self.server.requests.append(
            {"method": "GET", "path": self.path, "headers": dict(self.headers)}
        )
        path = self.path.split("?")[0]
        if path == "/json":
            self._json(200, {"ok": True, "query": self.path.partition("?")[2]})
        elif path == "/text":
            self._send(200, b"plain text", {"Content-Type": "text/plain"})
        elif path == "/missing":
            self._json(404, {"error": "nope"})
        elif path == "/busy":
            self._json(503, {"error": "busy"}, {"Retry-After": "7"})
        elif path == "/big":
            self._send(200, b"x" * 50_000, {"Content-Type": "text/plain"})
        elif path == "/redirect-inside":
            self._send(302, b"", {"Location": "/json"})
        elif path == "/redirect-outside":
            self._send(302, b"", {"Location": "http://example.com/steal"})
        elif path == "/slow":
            time.sleep(2)
            self._json(200, {"late": True})
        elif path == "/auth":
            token = self.headers.get("Authorization", "")
            expected = f"Bearer {self.server.expected_token}"
            self._json(200 if token == expected else 401, {"auth": bool(token)})
        else:
            self._json(404, {"error": "unknown"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"null")
        self.server.requests.append({"method": "POST", "path": self.path, "body": body})
        self._json(201, {"received": body})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.expected_token = "s3cret-token"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def http_server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def serve_until_interrupted(
    handler: type[BaseHTTPRequestHandler], port: int, banner: str
) -> NoReturn:
    """Serve `handler` on loopback `port` (0: any free one) in this process until Ctrl-C,
    printing `banner` with `{port}` filled in first (how the parent learns the port)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    print(banner.format(port=server.server_address[1]), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)
