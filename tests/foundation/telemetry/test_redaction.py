"""The one redaction processor: no secret reaches a log line, useful fields survive."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from foundation.telemetry.logs import bind_log_context, configure_logging, get_logger
from foundation.telemetry.redaction import REDACTED, is_secret_key, redact_text
from foundation.telemetry.settings import TelemetrySettings

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0."
    "eyJzdWIiOiJhbGljZSIsInRlbmFudCI6ImFjbWUifQ."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)
API_KEY = "tfk_live_9f8e7d6c5b4a3f2e1d0c"
SECRETS = [
    JWT,
    API_KEY,
    "s3cr3t-bearer-value",
    "hunter2-password",
    "client-secret-xyz",
    "dXNlcjpwYXNzd29yZDEyMw==",
    "pg-pass-123",
    "refresh-tok-abcdef",
]


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(TelemetrySettings(environment="prod", log_level="DEBUG"), stream=stream)
    yield stream
    configure_logging(TelemetrySettings(environment="prod", log_level="WARNING"))


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_no_secret_survives_structlog_stdlib_extras_or_tracebacks(log_stream: io.StringIO) -> None:
    log = get_logger("treeflow.test")
    log.info(
        "calling upstream",
        headers={"Authorization": f"Bearer {SECRETS[2]}", "Accept": "application/json"},
        password=SECRETS[3],
        config={"oauth": {"client_secret": SECRETS[4]}, "timeout": 5},
        url=f"postgresql://treeflow:{SECRETS[6]}@db.internal:5432/treeflow",
        usage={"prompt_tokens": 12, "completion_tokens": 3},
    )
    log.warning("login with %s and key %s", JWT, API_KEY)
    logging.getLogger("some.library").warning(
        "sent header Authorization: Basic %s", SECRETS[5], extra={"refresh_token": SECRETS[7]}
    )
    raw_pairs = [("authorization", f"Bearer {SECRETS[2]}"), ("x-trace", "abc")]
    log.debug("raw headers", raw=raw_pairs)
    try:
        raise RuntimeError(f"token={SECRETS[7]} rejected for {API_KEY}")
    except RuntimeError:
        log.exception("upstream refused")

    output = log_stream.getvalue()
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} leaked"
    records = lines(log_stream)
    assert len(records) == 5
    first = records[0]
    assert first["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert first["password"] == REDACTED
    assert first["config"] == {"oauth": {"client_secret": REDACTED}, "timeout": 5}
    assert first["usage"] == {"prompt_tokens": 12, "completion_tokens": 3}  # counts stay
    assert "db.internal:5432" in str(first["url"])
    assert records[2]["refresh_token"] == REDACTED
    assert records[2]["logger"] == "some.library"
    assert "Basic [REDACTED]" in str(records[2]["event"])
    assert records[3]["raw"] == [["authorization", REDACTED], ["x-trace", "abc"]]
    assert "RuntimeError" in str(records[4]["exception"])


def test_log_lines_carry_bound_context_fields(log_stream: io.StringIO) -> None:
    log = get_logger("treeflow.test")
    with bind_log_context(request_id="req-1", tenant_id="acme", user_id="u-7", node=None):
        log.info("inside")
        logging.getLogger("httpx").info("library line inside the same context")
    log.info("outside")
    inside, library, outside = lines(log_stream)
    for record in (inside, library):
        assert record["request_id"] == "req-1"
        assert record["tenant_id"] == "acme"
        assert record["user_id"] == "u-7"
        assert "node" not in record  # unknown fields are left out, not null
        assert record["level"] == "info"
        assert "timestamp" in record
    assert "request_id" not in outside


def test_dev_environment_renders_console_lines_and_still_redacts() -> None:
    stream = io.StringIO()
    configure_logging(TelemetrySettings(environment="dev"), stream=stream)
    try:
        get_logger("treeflow.test").info("hello", api_key=API_KEY, tenant_id="acme")
    finally:
        configure_logging(TelemetrySettings(log_level="WARNING"))
    text = stream.getvalue()
    assert not text.lstrip().startswith("{")
    assert "hello" in text
    assert "tenant_id=acme" in text
    assert API_KEY not in text


def test_level_comes_from_settings() -> None:
    stream = io.StringIO()
    configure_logging(TelemetrySettings(log_level="WARNING"), stream=stream)
    log = get_logger("treeflow.test")
    log.info("dropped")
    log.warning("kept")
    assert [r["event"] for r in lines(stream)] == ["kept"]


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("DB_PASSWORD", True),
        ("client-secret", True),
        ("access_token", True),
        ("X-API-Key", True),
        ("apikey", True),
        ("Authorization", True),
        ("set-cookie", True),
        ("prompt_tokens", False),
        ("total_tokens", False),
        ("max_tokens", False),
        ("tenant_id", False),
        ("tool", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_text_patterns_leave_ordinary_prose_alone() -> None:
    prose = "Basic checks passed; the token count was 42 and bearer of news arrived"
    assert redact_text(prose) == prose
    assert redact_text("Authorization: Bearer abcdef123456") == "Authorization: Bearer [REDACTED]"


def test_structlog_is_configured_only_by_the_explicit_call() -> None:
    """Importing the telemetry package changes nothing (no import-time side effects)."""
    import importlib

    import foundation.telemetry.logs as logs_module

    before = structlog.get_config()["processors"]
    importlib.reload(logs_module)
    assert structlog.get_config()["processors"] == before
