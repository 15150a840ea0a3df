"""Building backends from configuration, without connecting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from activities.backends import (
    Backend,
    BackendConfig,
    EmbeddedConfig,
    WeaviateConfig,
    WeaviateSettings,
    open_backend,
)
from activities.backends.embedded import EmbeddedBackend
from activities.backends.weaviate import WeaviateBackend


def test_config_union_picks_the_backend_by_kind(tmp_path: Path) -> None:
    adapter: TypeAdapter[EmbeddedConfig | WeaviateConfig] = TypeAdapter(BackendConfig)
    embedded = adapter.validate_python({"kind": "embedded", "path": str(tmp_path)})
    weaviate = adapter.validate_python(
        {"kind": "weaviate", "settings": {"mode": "custom", "http_host": "db", "api_key_ref": "r"}}
    )
    assert isinstance(embedded, EmbeddedConfig)
    assert embedded.path == tmp_path
    assert isinstance(weaviate, WeaviateConfig)
    assert weaviate.settings.http_host == "db"
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "pinecone"})


async def test_open_backend_builds_without_connecting(tmp_path: Path) -> None:
    embedded = open_backend(EmbeddedConfig(path=tmp_path / "store"))
    assert isinstance(embedded, EmbeddedBackend)
    assert isinstance(embedded, Backend)
    assert not (tmp_path / "store").exists()  # nothing touched until the first call
    remote = open_backend(WeaviateConfig(settings=WeaviateSettings(http_port=1)))
    assert isinstance(remote, WeaviateBackend)
    assert isinstance(remote, Backend)
    await remote.close()


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREEFLOW_WEAVIATE_MODE", "cloud")
    monkeypatch.setenv("TREEFLOW_WEAVIATE_CLUSTER_URL", "https://c.weaviate.cloud")
    monkeypatch.setenv("TREEFLOW_WEAVIATE_API_KEY_REF", "env:WCD_KEY")
    settings = WeaviateSettings()
    assert (settings.mode, settings.cluster_url, settings.api_key_ref) == (
        "cloud",
        "https://c.weaviate.cloud",
        "env:WCD_KEY",
    )
