"""The API and the workers read the secret backend from one settings class and build it
one way, so a secret the API writes is one a worker can read."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from api.settings import Settings
from foundation.secrets import Keyring, SecretRef, tenant_secrets
from foundation.secrets.settings import SecretsSettings, build_keyring, build_secret_store
from foundation.settings import PlatformSettings


def _shared(settings: PlatformSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in PlatformSettings.model_fields}


def test_api_and_worker_read_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Keyring.generate_key()
    monkeypatch.setenv("TREEFLOW_DEV_MODE", "true")
    monkeypatch.setenv("TREEFLOW_SECRET_KEYS", f'{{"k9": "{key}"}}')
    monkeypatch.setenv("TREEFLOW_SECRET_ACTIVE_KEY_ID", "k9")
    monkeypatch.setenv("TREEFLOW_VAULT_MOUNT", "kv")

    api, worker = Settings(_env_file=None), SecretsSettings()

    assert _shared(api) == _shared(worker)
    assert worker.vault_mount == "kv"
    assert worker.secret_active_key_id == "k9"
    assert build_keyring(api).active == build_keyring(worker).active == "k9"


def test_keyring_outside_dev_mode_needs_keys() -> None:
    with pytest.raises(ValueError, match="TREEFLOW_SECRET_KEYS"):
        build_keyring(PlatformSettings(dev_mode=False))
    assert build_keyring(PlatformSettings(dev_mode=True)).active == "dev"


def test_workers_without_a_database_get_no_store() -> None:
    assert SecretsSettings(dev_mode=True, database_url=None).build_store() is None
    with pytest.raises(ValueError, match="TREEFLOW_DATABASE_URL"):
        build_secret_store(PlatformSettings(dev_mode=True), None)


async def test_a_secret_the_api_writes_is_one_a_worker_reads(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/platform.db"
    key = Keyring.generate_key()
    api = Settings(
        _env_file=None,
        database_url=url,
        jwt_signing_keys=[],
        dev_mode=True,
        secret_keys={"k1": key},
        secret_active_key_id="k1",
    )
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(tenant_secrets.metadata.create_all)
    ref = SecretRef(uuid.uuid4(), "openai-api-key")
    await build_secret_store(api, engine).put(ref.tenant_id, ref.name, "sk-shared")
    await engine.dispose()

    built = SecretsSettings(database_url=url, secret_keys={"k1": key}).build_store()
    assert built is not None
    store, worker_engine = built
    assert worker_engine is not None
    try:
        assert await store.get(ref) == "sk-shared"
    finally:
        await worker_engine.dispose()
