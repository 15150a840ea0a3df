"""Flag backend settings (`TREEFLOW_FLAGS_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_FLAGS_FILE = Path(__file__).with_name("default_flags.json")


class FlagSettings(BaseSettings):
    """Embedded (no `url`): flags come from `file` only. With `url` and `token`: a server.

    The file bootstraps the server mode too, so a process that starts while the
    server is unreachable serves the file's flags until the first fetch succeeds.
    """

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_FLAGS_", extra="ignore")

    url: str | None = Field(default=None, description="Unleash client API URL, ending in /api.")
    token: SecretStr | None = Field(default=None, description="Unleash backend (client) token.")
    file: Path = Field(default=DEFAULT_FLAGS_FILE, description="Bootstrap flags (JSON).")
    app_name: str = "treeflow"
    refresh_interval: int = Field(default=15, ge=1, description="Seconds between fetches.")
    request_timeout: int = Field(default=5, ge=1)
    cache_dir: Path | None = Field(
        default=None, description="Where the client keeps its cache (default: a temp dir)."
    )

    @property
    def embedded(self) -> bool:
        return not self.url
