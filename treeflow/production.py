"""Start-up guard: a production process refuses to run on development defaults.

`treeflow api`, `treeflow worker` and `treeflow admin migrate` call `enforce` before
they serve. Production mode is the default (`TREEFLOW_DEV_MODE` unset or false); in it
these are refused, each named by the variable to fix:

- an SQLite database (`TREEFLOW_DATABASE_URL`): one file, one machine, no replicas;
- the published dev-only AES key, or a placeholder such as `change-me` or a
  `*-dev-only-*` value from the repository's examples, in any secret setting;
- dev mode itself (ephemeral signing key, plain HTTP) when `TREEFLOW_ENVIRONMENT`
  says `prod` explicitly: the two settings contradict each other.

`TREEFLOW_ALLOW_DEV_DEFAULTS=true` starts anyway and logs every finding as a warning
(a throw-away staging box, a demo). docs/environments.md lists the settings per
environment. The checks read the processes' existing settings; nothing here opens
a connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.secrets.keyring import DEV_ONLY_SECRET_KEY

if TYPE_CHECKING:
    from api.settings import Settings
    from foundation.flags.settings import FlagSettings
    from foundation.secrets.settings import SecretsSettings
    from temporal_client.connection import TemporalSettings

log = logging.getLogger("treeflow.production")

# Substrings that mark a value copied from an example or a dev-only constant
# (deploy/compose/.env.example, scripts/services.sh), compared case-insensitively.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "dev-only", "dev_only")
OVERRIDE_VARIABLE = "TREEFLOW_ALLOW_DEV_DEFAULTS"


class GuardSettings(BaseSettings):
    """`TREEFLOW_DEV_MODE`, `TREEFLOW_ENVIRONMENT` and the explicit override."""

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_", extra="ignore")

    dev_mode: bool = False
    environment: str | None = None
    allow_dev_defaults: bool = False


@dataclass(frozen=True)
class Finding:
    """One development default found in a production process."""

    variable: str
    problem: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.problem}"


class DevDefaultsError(RuntimeError):
    """Production mode found development defaults and no override was given."""

    def __init__(self, process: str, findings: list[Finding]) -> None:
        self.findings = findings
        lines = "\n".join(f"  - {finding}" for finding in findings)
        super().__init__(
            f"refusing to start the {process} in production mode with development "
            f"defaults:\n{lines}\nFix them (docs/environments.md), run with "
            f"TREEFLOW_DEV_MODE=true for development, or set {OVERRIDE_VARIABLE}=true "
            "to start anyway."
        )


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in PLACEHOLDER_MARKERS)


def _secret_findings(variable: str, values: Iterable[SecretStr | str | None]) -> list[Finding]:
    for value in values:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None:
            continue
        if raw == DEV_ONLY_SECRET_KEY:
            return [Finding(variable, "is the published dev-only key")]
        if _is_placeholder(raw):
            return [Finding(variable, "holds a placeholder or dev-only value from an example")]
    return []


def _database_findings(variable: str, url: str | None) -> list[Finding]:
    if url is None:
        return []
    if url.startswith("sqlite"):
        return [Finding(variable, "is SQLite; production needs PostgreSQL")]
    return _secret_findings(variable, [url])


def _key_values(keys: Mapping[str, SecretStr]) -> list[SecretStr]:
    return list(keys.values())


def api_findings(settings: Settings) -> list[Finding]:
    """Development defaults in the API's settings."""
    return [
        *_database_findings("TREEFLOW_DATABASE_URL", settings.database_url),
        *_secret_findings("TREEFLOW_SECRET_KEYS", _key_values(settings.secret_keys)),
        *_secret_findings("TREEFLOW_JWT_SIGNING_KEYS", settings.jwt_signing_keys),
        *_secret_findings("TREEFLOW_METRICS_TOKEN", [settings.metrics_token]),
        *_secret_findings("TREEFLOW_VAULT_TOKEN", [settings.vault_token]),
        *_secret_findings("TREEFLOW_FLAGS_TOKEN", [settings.flags.token]),
        *_secret_findings("TREEFLOW_TEMPORAL_API_KEY", [settings.temporal.api_key]),
        *(
            finding
            for provider in settings.oidc_providers
            for finding in _secret_findings(
                f"TREEFLOW_OIDC_PROVIDERS ({provider.name})", [provider.client_secret]
            )
        ),
    ]


def worker_findings(
    secrets: SecretsSettings, temporal: TemporalSettings, flags: FlagSettings
) -> list[Finding]:
    """Development defaults in a worker's settings."""
    return [
        *_database_findings("TREEFLOW_DATABASE_URL", secrets.database_url),
        *_secret_findings("TREEFLOW_SECRET_KEYS", _key_values(secrets.secret_keys)),
        *_secret_findings("TREEFLOW_VAULT_TOKEN", [secrets.vault_token]),
        *_secret_findings("TREEFLOW_FLAGS_TOKEN", [flags.token]),
        *_secret_findings("TREEFLOW_TEMPORAL_API_KEY", [temporal.api_key]),
    ]


def enforce(process: str, findings: list[Finding], guard: GuardSettings | None = None) -> None:
    """Raise `DevDefaultsError` for findings in production mode, unless overridden.

    Dev mode skips the checks, except that dev mode in an environment explicitly
    named `prod` is itself a finding (it means an ephemeral signing key).
    """
    guard = guard or GuardSettings()
    if guard.dev_mode:
        if (guard.environment or "").lower() != "prod":
            return
        findings = [
            Finding(
                "TREEFLOW_DEV_MODE",
                "dev mode (ephemeral signing key, plain HTTP) with TREEFLOW_ENVIRONMENT=prod",
            )
        ]
    if not findings:
        return
    if guard.allow_dev_defaults:
        for finding in findings:
            log.warning(
                "%s starts with a development default (%s): %s", process, OVERRIDE_VARIABLE, finding
            )
        return
    raise DevDefaultsError(process, findings)
