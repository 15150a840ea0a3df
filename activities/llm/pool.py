"""Providers per worker process: one client per endpoint and tenant key, reused by every call.

A tool that talks to a model owns a `ProviderPool` (created in `startup`, closed in
`shutdown`). The tenant's API key is fetched by reference on each call; the client
for that key is kept (a bounded LRU), so connections are pooled and a rotated key
simply gets a new client.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from activities.llm.base import LLMProvider
from activities.llm.config import LLMConfig
from activities.llm.scripted import ScriptedModel
from activities.sdk import ToolContext

MAX_CLIENTS = 32


class ProviderPool:
    """Builds and caches providers from `LLMConfig` and the calling tenant's secrets."""

    def __init__(self, max_clients: int = MAX_CLIENTS) -> None:
        self._providers: OrderedDict[str, LLMProvider] = OrderedDict()
        self._max = max_clients
        self._evicted: list[LLMProvider] = []  # may still serve a call: closed at shutdown

    async def get(self, config: LLMConfig, ctx: ToolContext) -> LLMProvider | None:
        """The provider for this config and tenant, or None when no model is configured."""
        if not config.configured:
            return None
        if config.provider == "scripted":
            key = "scripted:" + config.model_dump_json()
            return self._remember(key, lambda: ScriptedModel(config.script))
        api_key = await ctx.secret(config.api_key_ref) if config.api_key_ref else None
        fingerprint = hashlib.sha256((api_key or "").encode()).hexdigest()[:16]
        key = f"openai:{config.model_dump_json(exclude={'tiers', 'script'})}:{fingerprint}"
        from activities.llm.openai_compat import OpenAICompatibleProvider

        return self._remember(key, lambda: OpenAICompatibleProvider(config, api_key))

    def _remember(self, key: str, make: Callable[[], LLMProvider]) -> LLMProvider:
        provider = self._providers.get(key)
        if provider is not None:
            self._providers.move_to_end(key)
            return provider
        created: LLMProvider = make()
        self._providers[key] = created
        while len(self._providers) > self._max:
            _, evicted = self._providers.popitem(last=False)
            self._evicted.append(evicted)
        return created

    async def close(self) -> None:
        """Close every client (at worker shutdown)."""
        providers = [*self._providers.values(), *self._evicted]
        self._providers.clear()
        self._evicted.clear()
        for provider in providers:
            await provider.close()
