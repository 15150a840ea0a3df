"""Connection settings for the Weaviate backend (no weaviate-client import here).

Kept apart from ``weaviate.py`` so configuration can be built and validated (by the
worker, the CLI, the API) without importing weaviate-client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SecretResolver = Callable[[str], Awaitable[str]]
"""Resolves a secret reference (e.g. ``env:WEAVIATE_API_KEY``) to the secret."""


class WeaviateSettings(BaseSettings):
    """How to reach Weaviate; read from ``TREEFLOW_WEAVIATE_*`` or built directly.

    ``mode``: ``local`` (``use_async_with_local``), ``cloud`` (Weaviate Cloud,
    ``cluster_url`` + API key) or ``custom`` (``use_async_with_custom``, separate
    HTTP and gRPC endpoints). Secrets are references resolved at connect time.
    """

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_WEAVIATE_", extra="forbid")

    mode: Literal["local", "cloud", "custom"] = "local"
    cluster_url: str | None = None
    http_host: str = "localhost"
    http_port: int = 8080
    http_secure: bool = False
    grpc_host: str | None = Field(default=None, description="Defaults to http_host.")
    grpc_port: int = 50051
    grpc_secure: bool = False
    api_key_ref: str | None = Field(default=None, description="Secret reference, not a key.")
    header_refs: dict[str, str] = Field(
        default_factory=dict,
        description="Header name -> secret reference (e.g. X-OpenAI-Api-Key for a "
        "server-side vectorizer).",
    )
    init_timeout: float = Field(default=5.0, gt=0)
    query_timeout: float = Field(default=30.0, gt=0)
    insert_timeout: float = Field(default=90.0, gt=0)
    connect_timeout: float = Field(default=15.0, gt=0, description="Bound on connect().")
    skip_init_checks: bool = False
    insert_batch_size: int = Field(default=200, ge=1, le=10_000)

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> WeaviateSettings:
        """Custom-mode settings from ``http(s)://host[:port]`` (gRPC on 50051 by default)."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        secure = parts.scheme == "https"
        host = parts.hostname or "localhost"
        values: dict[str, Any] = {
            "mode": "custom",
            "http_host": host,
            "http_port": parts.port or (443 if secure else 8080),
            "http_secure": secure,
            "grpc_host": host,
            "grpc_secure": secure,
        }
        values.update(overrides)
        return cls(**values)
