"""Fixtures for the retrieval backend tests.

``backend`` runs every contract test on each store: the embedded one always (in
``tmp_path``), Weaviate only when ``WEAVIATE_URL`` points at a live server (with
``WEAVIATE_API_KEY`` when it needs one).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Imported first so weaviate-client loads through our module, which swallows a
# dependency's import-time deprecation warning the test modules would otherwise show.
import activities.backends.weaviate  # noqa: F401
from activities.backends import Backend
from tests.activities.backends.backend_data import (
    ITEM_PROPERTIES,
    ITEMS,
    WEAVIATE_SKIP,
    unique_name,
)


async def _env_secret(ref: str) -> str:
    return os.environ[ref.removeprefix("env:")]


@pytest.fixture(params=["embedded", "weaviate"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each backend in turn; collections made through ``made`` are dropped afterwards."""
    if request.param == "embedded":
        from activities.backends.embedded import EmbeddedBackend

        store: Backend = EmbeddedBackend(tmp_path / "store")
    else:
        url = os.environ.get("WEAVIATE_URL")
        if not url:
            pytest.skip(WEAVIATE_SKIP)
        from activities.backends.weaviate import WeaviateBackend
        from activities.backends.weaviate_settings import WeaviateSettings

        key_ref = "env:WEAVIATE_API_KEY" if os.environ.get("WEAVIATE_API_KEY") else None
        store = WeaviateBackend(
            WeaviateSettings.from_url(url, api_key_ref=key_ref), resolve_secret=_env_secret
        )
    made_before = set(await store.list_collections())
    try:
        yield store
    finally:
        try:
            for name in set(await store.list_collections()) - made_before:
                await store.delete_collection(name)
        except Exception:
            pass
        await store.close()


@pytest.fixture
async def items(backend: Backend) -> str:
    """A ten-item collection on ``backend``; returns its name."""
    name = unique_name("Items")
    await backend.create_collection(name, ITEM_PROPERTIES, vectorize=["title", "body"])
    await backend.upsert(name, ITEMS)
    return name
