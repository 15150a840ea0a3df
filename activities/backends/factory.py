"""Build a backend from configuration (for the worker, the CLI and the loader)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from activities.backends.base import Backend
from activities.backends.embeddings import Embedder, make_embedder
from activities.backends.weaviate_settings import SecretResolver, WeaviateSettings

DEFAULT_EMBEDDED_PATH = Path(".treeflow") / "retrieval"


class EmbeddedConfig(BaseModel):
    """The embedded LanceDB store in a local directory."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["embedded"] = "embedded"
    path: Path = DEFAULT_EMBEDDED_PATH
    embedder: str = "hashing"


class WeaviateConfig(BaseModel):
    """A Weaviate cluster."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["weaviate"] = "weaviate"
    settings: WeaviateSettings = Field(default_factory=WeaviateSettings)
    embedder: str = "hashing"


BackendConfig = Annotated[EmbeddedConfig | WeaviateConfig, Field(discriminator="kind")]


def open_backend(
    config: EmbeddedConfig | WeaviateConfig,
    *,
    resolve_secret: SecretResolver | None = None,
    embedder: Embedder | None = None,
) -> Backend:
    """A backend for the configuration; nothing connects until the first call.

    Imports the chosen implementation lazily so the embedded path never loads
    weaviate-client and vice versa.
    """
    chosen = embedder or make_embedder(config.embedder)
    if isinstance(config, EmbeddedConfig):
        from activities.backends.embedded import EmbeddedBackend

        return EmbeddedBackend(config.path, embedder=chosen)
    from activities.backends.weaviate import WeaviateBackend

    return WeaviateBackend(config.settings, resolve_secret=resolve_secret, embedder=chosen)
