"""`FlagClient`: Unleash evaluation with Treeflow's flag context, and backend health.

Evaluation is local (the SDK keeps the flag set in memory and refreshes it in a
background thread), so checking a flag costs no network call. If the server goes
away the SDK keeps the last flag set it fetched; `check()` then reports the
backend as `degraded`, which readiness shows without failing.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from UnleashClient.cache import FileCache
from UnleashClient.clients.unleash_client import UnleashClient
from UnleashClient.utils import InstanceAllowType

from foundation.flags.settings import FlagSettings
from foundation.telemetry.health import CheckOutcome

EMBEDDED_URL = "http://embedded.invalid/api"  # never contacted: embedded mode fetches nothing


@dataclass(frozen=True, slots=True)
class FlagContext:
    """Who and what a flag is evaluated for.

    `tenant_id` and `tree` are Unleash custom context fields (`tenantId`, `tree`)
    usable in strategy constraints; `user_id` is `userId`; `session_id` is the
    stickiness key for percentage rollouts (a run's idempotency key).
    """

    tenant_id: str
    user_id: str | None = None
    tree: str | None = None
    session_id: str | None = None

    def as_unleash(self) -> dict[str, Any]:
        context: dict[str, Any] = {"properties": {"tenantId": self.tenant_id}}
        if self.tree:
            context["properties"]["tree"] = self.tree
        if self.user_id:
            context["userId"] = self.user_id
        if self.session_id:
            context["sessionId"] = self.session_id
        return context


@dataclass(frozen=True, slots=True)
class FlagValue:
    """A flag's effective value for one context."""

    name: str
    enabled: bool
    type: str = "release"
    description: str | None = None
    variant: str | None = None
    payload: str | None = None


@dataclass
class FlagClient:
    """One process's flag client. `start()` before use, `stop()` at the end."""

    settings: FlagSettings = field(default_factory=FlagSettings)
    _client: UnleashClient | None = None
    _cache_dir: Path | None = None
    _owns_cache_dir: bool = False
    _descriptions: dict[str, str | None] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "embedded" if self.settings.embedded else "server"

    def start(self) -> FlagClient:
        """Load the flags file, then (server mode) fetch once synchronously and poll."""
        if self._client is not None:
            return self
        settings = self.settings
        if settings.cache_dir is None:
            self._cache_dir = Path(tempfile.mkdtemp(prefix="treeflow-flags-"))
            self._owns_cache_dir = True
        else:
            self._cache_dir = settings.cache_dir
        cache = FileCache(settings.app_name, directory=str(self._cache_dir))
        cache.bootstrap_from_file(settings.file)
        self._descriptions = _descriptions(settings.file)
        headers = {"Authorization": settings.token.get_secret_value()} if settings.token else None
        client = UnleashClient(
            url=settings.url or EMBEDDED_URL,
            app_name=settings.app_name,
            refresh_interval=settings.refresh_interval,
            request_timeout=settings.request_timeout,
            request_retries=0,
            disable_metrics=True,
            disable_registration=True,
            custom_headers=headers,
            cache=cache,
            multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        )
        client.initialize_client(fetch_toggles=not settings.embedded)
        self._client = client
        return self

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.destroy()
        if self._owns_cache_dir and self._cache_dir is not None:
            shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._owns_cache_dir = False

    def __enter__(self) -> FlagClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def client(self) -> UnleashClient:
        if self._client is None:
            raise RuntimeError("FlagClient used before start()")
        return self._client

    def known(self, name: str) -> bool:
        """Whether the current flag set defines `name`."""
        return name in self.client.feature_definitions()

    def enabled(self, name: str, context: FlagContext, *, default: bool = False) -> bool:
        """The flag's value for `context`; `default` when the flag is not defined."""
        return bool(
            self.client.is_enabled(name, context.as_unleash(), fallback_function=lambda *_: default)
        )

    def variant(self, name: str, context: FlagContext) -> tuple[str | None, str | None]:
        """The variant name and payload value chosen for `context` (None when disabled)."""
        chosen = self.client.get_variant(name, context.as_unleash())
        if not chosen or not chosen.get("enabled") or chosen.get("name") == "disabled":
            return None, None
        payload = chosen.get("payload") or {}
        value = payload.get("value") if isinstance(payload, dict) else None
        return str(chosen.get("name")), (str(value) if value is not None else None)

    def evaluate_all(self, context: FlagContext) -> list[FlagValue]:
        """Every known flag with its effective value for `context`, sorted by name."""
        values = []
        for name, meta in sorted(self.client.feature_definitions().items()):
            variant, payload = self.variant(name, context)
            values.append(
                FlagValue(
                    name=name,
                    enabled=self.enabled(name, context),
                    type=str(meta.get("type") or "release"),
                    description=self._descriptions.get(name),
                    variant=variant,
                    payload=payload,
                )
            )
        return values

    async def check(self) -> CheckOutcome:
        """Readiness of the flag backend: `degraded` while the server is unreachable."""
        if self.settings.embedded:
            return "ok", f"embedded flags from {self.settings.file.name}"
        url = f"{(self.settings.url or '').rstrip('/')}/client/features"
        headers = {}
        if self.settings.token is not None:
            headers["Authorization"] = self.settings.token.get_secret_value()
        try:
            async with httpx.AsyncClient(timeout=1.5) as http:
                response = await http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            return (
                "degraded",
                f"flag server unreachable ({type(exc).__name__}); serving last known flags",
            )
        if response.status_code != 200:
            return (
                "degraded",
                f"flag server answered {response.status_code}; serving last known flags",
            )
        return "ok", "flag server reachable"


def _descriptions(path: Path) -> dict[str, str | None]:
    import json

    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
        return {f["name"]: f.get("description") for f in data.get("features", []) if "name" in f}
    return {}
