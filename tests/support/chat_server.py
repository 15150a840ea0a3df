"""A chat-completions server for tests, run as its own process on loopback.

    python -m tests.support.chat_server      # prints "PORT <n>", serves until killed

It speaks the OpenAI protocol (`POST /v1/chat/completions`). Replies come from a
queue that tests fill through `POST /_script` (`{"replies": [...]}`); each reply may
set `status`, `content`, `headers`, `delay` (seconds) and `usage`. With an empty queue
the server echoes the last user message. `GET /_requests` returns what it received
(bodies and the Authorization header), `POST /_reset` clears both.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.http_server import serve_until_interrupted


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replies: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []


STATE = _State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length", 0))
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self) -> None:
        if self.path == "/_requests":
            with STATE.lock:
                self._send(200, STATE.requests)
        else:
            self._send(404, {"error": {"message": "unknown path"}})

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/_script":
            with STATE.lock:
                STATE.replies.extend(body["replies"])
            self._send(200, {"queued": len(STATE.replies)})
            return
        if self.path == "/_reset":
            with STATE.lock:
                STATE.replies.clear()
                STATE.requests.clear()
            self._send(200, {})
            return
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, {"error": {"message": f"unknown path {self.path}"}})
            return
        with STATE.lock:
            STATE.requests.append(
                {"body": body, "authorization": self.headers.get("Authorization")}
            )
            reply = STATE.replies.pop(0) if STATE.replies else {}
        if reply.get("delay"):
            time.sleep(float(reply["delay"]))
        status = int(reply.get("status", 200))
        if status != 200:
            error = {"error": {"message": reply.get("content", "scripted error"), "type": "test"}}
            self._send(status, error, reply.get("headers"))
            return
        content = reply.get("content")
        if content is None:
            users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
            content = users[-1] if users else ""
        if not isinstance(content, str):
            content = json.dumps(content)
        usage = reply.get("usage", {"prompt_tokens": 11, "completion_tokens": 7})
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        self._send(
            200,
            {
                "id": f"chatcmpl-{len(STATE.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "test-model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
            reply.get("headers"),
        )


def main() -> None:
    serve_until_interrupted(Handler, 0, "PORT {port}")


if __name__ == "__main__":
    main()
