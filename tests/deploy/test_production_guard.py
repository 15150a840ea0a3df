"""Production mode refuses development defaults at start-up unless told explicitly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.auth.tokens import generate_signing_key
from api.settings import Settings
from foundation.flags.settings import FlagSettings
from foundation.secrets.keyring import DEV_ONLY_SECRET_KEY, Keyring
from foundation.secrets.settings import SecretsSettings
from temporal_client.connection import TemporalSettings
from treeflow.production import (
    DevDefaultsError,
    GuardSettings,
    api_findings,
    enforce,
    worker_findings,
)

REPO = Path(__file__).resolve().parents[2]
TREEFLOW = str(Path(sys.executable).parent / "treeflow")
JWT_KEY = json.dumps(generate_signing_key("prod-key").as_dict(private=True))
AES_KEY = Keyring.generate_key()
POSTGRES = "postgresql+asyncpg://treeflow:s3cr3t-from-a-vault@db.internal/treeflow"
PRODUCTION = GuardSettings(dev_mode=False, allow_dev_defaults=False)


def production_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "dev_mode": False,
        "database_url": POSTGRES,
        "jwt_signing_keys": [JWT_KEY],
        "secret_keys": {"k1": AES_KEY},
        "secret_active_key_id": "k1",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def variables(settings: Settings) -> set[str]:
    return {finding.variable for finding in api_findings(settings)}


def test_real_production_settings_pass() -> None:
    settings = production_settings()
    assert api_findings(settings) == []
    enforce("API", api_findings(settings), PRODUCTION)


def test_sqlite_is_refused_in_production() -> None:
    settings = production_settings(database_url="sqlite+aiosqlite:///.treeflow/treeflow.db")
    with pytest.raises(DevDefaultsError) as refused:
        enforce("API", api_findings(settings), PRODUCTION)
    message = str(refused.value)
    assert "TREEFLOW_DATABASE_URL: is SQLite" in message
    assert "TREEFLOW_ALLOW_DEV_DEFAULTS=true" in message


def test_dev_only_key_and_example_placeholders_are_refused() -> None:
    settings = production_settings(
        database_url="postgresql+asyncpg://treeflow:treeflow-dev-only-pw@db/treeflow",
        secret_keys={"dev": DEV_ONLY_SECRET_KEY},
        secret_active_key_id="dev",
        metrics_token="CHANGE-ME",
    )
    assert variables(settings) == {
        "TREEFLOW_DATABASE_URL",
        "TREEFLOW_SECRET_KEYS",
        "TREEFLOW_METRICS_TOKEN",
    }
    flagged = production_settings(
        flags=FlagSettings(url="http://unleash/api", token="*:production.change-me")
    )
    assert variables(flagged) == {"TREEFLOW_FLAGS_TOKEN"}


def test_dev_mode_is_not_checked_unless_the_environment_says_prod() -> None:
    dev = Settings(_env_file=None, dev_mode=True)
    assert api_findings(dev) != []  # SQLite and the ephemeral signing key...
    enforce("API", api_findings(dev), GuardSettings(dev_mode=True))  # ...are fine in dev
    with pytest.raises(DevDefaultsError, match="TREEFLOW_DEV_MODE"):
        enforce("API", [], GuardSettings(dev_mode=True, environment="prod"))


def test_the_explicit_override_starts_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    settings = production_settings(database_url="sqlite+aiosqlite:///x.db")
    enforce("API", api_findings(settings), GuardSettings(allow_dev_defaults=True))
    assert "TREEFLOW_DATABASE_URL: is SQLite" in caplog.text


def test_worker_settings_are_checked_too() -> None:
    secrets = SecretsSettings(
        _env_file=None, database_url="sqlite+aiosqlite:///x.db", secret_keys={"d": "x-dev-only"}
    )
    temporal = TemporalSettings(_env_file=None, api_key="change-me")
    findings = worker_findings(secrets, temporal, FlagSettings(_env_file=None))
    assert {f.variable for f in findings} == {
        "TREEFLOW_DATABASE_URL",
        "TREEFLOW_SECRET_KEYS",
        "TREEFLOW_TEMPORAL_API_KEY",
    }
    clean = SecretsSettings(_env_file=None, database_url=POSTGRES, secret_keys={"k": AES_KEY})
    assert (
        worker_findings(clean, TemporalSettings(_env_file=None), FlagSettings(_env_file=None)) == []
    )


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real `treeflow` command with a clean TREEFLOW_* environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TREEFLOW_", "OTEL_"))}
    return subprocess.run(
        [TREEFLOW, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**base, "COLUMNS": "200", **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_migrate_command_refuses_sqlite_in_production_then_obeys_the_override(
    tmp_path: Path,
) -> None:
    database = tmp_path / "platform.db"
    env = {
        "TREEFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "TREEFLOW_JWT_SIGNING_KEYS": json.dumps([JWT_KEY]),
        "TREEFLOW_SECRET_KEYS": json.dumps({"k1": AES_KEY}),
        "TREEFLOW_SECRET_ACTIVE_KEY_ID": "k1",
    }
    refused = cli("admin", "migrate", **env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "TREEFLOW_DATABASE_URL: is SQLite" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not database.exists()

    allowed = cli("admin", "migrate", TREEFLOW_ALLOW_DEV_DEFAULTS="true", **env)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "database schema at head" in allowed.stdout
    assert database.stat().st_size > 0


def test_the_worker_command_refuses_before_it_connects() -> None:
    """No Temporal runs at this address: the refusal comes first, with exit code 1."""
    refused = cli(
        "worker",
        TREEFLOW_DATABASE_URL="sqlite+aiosqlite:///unused.db",
        TREEFLOW_SECRET_KEYS=json.dumps({"k1": AES_KEY}),
        TREEFLOW_TEMPORAL_ADDRESS="127.0.0.1:1",
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refusing to start the worker in production mode" in refused.stderr
    assert "TREEFLOW_DATABASE_URL: is SQLite" in refused.stderr
