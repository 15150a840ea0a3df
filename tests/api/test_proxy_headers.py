"""X-Forwarded-For / X-Forwarded-Proto: believed from trusted proxies only (uvicorn's
ProxyHeadersMiddleware with `TREEFLOW_TRUSTED_PROXIES`).

The client address is observed through the per-address rate limit (one request per
minute here): two requests that land in one bucket were seen as one client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from api.settings import Settings

StartApp = Callable[[Settings], Awaitable[FastAPI]]
MakeSettings = Callable[..., Settings]
PROXY_NET = "10.0.0.0/8"


@pytest.fixture
async def proxied_app(start_app: StartApp, make_settings: MakeSettings) -> FastAPI:
    """The API behind the trusted proxy network, one request per minute per client."""
    return await start_app(make_settings(rate_limit_ip_per_minute=1, trusted_proxies=[PROXY_NET]))


def from_peer(app: FastAPI, peer: str, base_url: str = "https://testserver") -> httpx.AsyncClient:
    """A client whose TCP peer address (as the server sees it) is `peer`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(peer, 40000)), base_url=base_url
    )


async def health(client: httpx.AsyncClient, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return (await client.get("/v1/health", headers=headers)).status_code


async def jwks_claiming_https(app: FastAPI, peer: str) -> httpx.Response:
    """A plain-HTTP request from `peer` whose X-Forwarded-Proto says the client used HTTPS."""
    async with from_peer(app, peer, base_url="http://testserver") as client:
        return await client.get("/.well-known/jwks.json", headers={"X-Forwarded-Proto": "https"})


async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    proxied_app: FastAPI,
) -> None:
    async with from_peer(proxied_app, "203.0.113.9") as attacker:
        assert await health(attacker, "198.51.100.1") == 200
        # A new forged address each time does not buy a new rate-limit bucket.
        assert await health(attacker, "198.51.100.2") == 429
    forged = await jwks_claiming_https(proxied_app, "203.0.113.9")
    assert forged.status_code == 308, "plain HTTP stays plain HTTP without a trusted proxy"


async def test_a_trusted_proxy_names_the_client_and_its_scheme(
    proxied_app: FastAPI,
) -> None:
    async with from_peer(proxied_app, "10.0.0.5") as proxy:
        assert await health(proxy, "198.51.100.1") == 200
        assert await health(proxy, "198.51.100.2") == 200  # another client, another bucket
        assert await health(proxy, "198.51.100.1") == 429  # the first client again
    tls = await jwks_claiming_https(proxied_app, "10.0.0.5")
    assert tls.status_code == 200
    assert tls.headers["strict-transport-security"].startswith("max-age=")


async def test_the_client_is_the_nearest_untrusted_hop_not_what_it_prepends(
    proxied_app: FastAPI,
) -> None:
    async with from_peer(proxied_app, "10.0.0.5") as proxy:
        # A chain of two trusted proxies in front of 198.51.100.7: the inner hop is skipped.
        assert await health(proxy, "198.51.100.7, 10.0.0.9") == 200
        assert await health(proxy, "198.51.100.7") == 429
        # The client prepends a forged address; the proxy appends the real one.
        assert await health(proxy, "192.0.2.1, 198.51.100.8") == 200
        assert await health(proxy, "192.0.2.2, 198.51.100.8") == 429


async def test_without_trusted_proxies_forwarded_headers_are_ignored_even_from_loopback(
    start_app: StartApp, make_settings: MakeSettings
) -> None:
    app = await start_app(make_settings(rate_limit_ip_per_minute=1))
    async with from_peer(app, "127.0.0.1") as local:
        assert await health(local, "198.51.100.1") == 200
        assert await health(local, "198.51.100.2") == 429
