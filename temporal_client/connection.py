"""How to reach Temporal: settings and the data converter shared by API, worker and CLI.

Pure configuration; connecting (I/O) happens in the processes that use it.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)


class TemporalSettings(BaseSettings):
    """`TREEFLOW_TEMPORAL_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_TEMPORAL_", extra="ignore")

    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "treeflow"
    tls: bool = False
    api_key: SecretStr | None = None
    ui_url: str = "http://localhost:8233"

    def connect_kwargs(self, codec: PayloadCodec | None = None) -> dict[str, Any]:
        """Keyword arguments for `temporalio.client.Client.connect`."""
        kwargs: dict[str, Any] = {
            "target_host": self.address,
            "namespace": self.namespace,
            "data_converter": data_converter(codec),
            "tls": self.tls or self.api_key is not None,
        }
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key.get_secret_value()
        return kwargs

    def run_url(self, workflow_id: str, run_id: str | None = None) -> str:
        """Link to a run in the Temporal Web UI."""
        from urllib.parse import quote

        base = f"{self.ui_url.rstrip('/')}/namespaces/{quote(self.namespace)}/workflows/"
        url = base + quote(workflow_id, safe="")
        return f"{url}/{run_id}/history" if run_id else url


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """Pydantic-aware JSON payloads, optionally encrypted by a payload codec.

    With a codec, failure messages and stack traces move into an (encrypted) payload
    too: a tool's error text can carry run data.
    """
    if codec is None:
        return pydantic_data_converter
    return DataConverter(
        payload_converter_class=pydantic_data_converter.payload_converter_class,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
