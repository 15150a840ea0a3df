"""Logging and tracing settings (`TREEFLOW_*` and the standard `OTEL_*` variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["dev", "prod"]
LogFormat = Literal["auto", "json", "console"]


class TelemetrySettings(BaseSettings):
    """`TREEFLOW_ENVIRONMENT`, `TREEFLOW_LOG_LEVEL`, `TREEFLOW_LOG_FORMAT`.

    `auto` format means pretty console lines in `dev` and one JSON object per line
    in `prod` (the default, so a deployment that forgets to say logs machine-readably).
    """

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_", extra="ignore")

    environment: Environment = "prod"
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error|critical)$")
    log_format: LogFormat = "auto"

    @property
    def renders_json(self) -> bool:
        if self.log_format == "auto":
            return self.environment != "dev"
        return self.log_format == "json"


_TRUE = {"1", "true", "yes", "on"}


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether OTLP trace export is configured through the standard `OTEL_*` variables.

    Off by default: tracing starts only when an OTLP endpoint is set or
    `OTEL_TRACES_EXPORTER` names `otlp`/`console`, and `OTEL_SDK_DISABLED` is not true.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",")}
    if exporters & {"otlp", "console"}:
        return True
    if "none" in exporters:
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
