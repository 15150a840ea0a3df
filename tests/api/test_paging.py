"""Page tokens are tamper-evident: only a token this API issued, for this tenant and these
filters, opens the next page; everything else is a fast 422 naming ``query.page_token``."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import pytest

from api.paging import PageTokens
from api.problems import ProblemError
from tests.api.conftest import World
from tests.api.test_runs import runs_url, start
from tests.api.test_trees import create, tree_source, unique

TENANT = uuid.UUID(int=1)
OTHER_TENANT = uuid.UUID(int=2)

FORGED = [
    "bm90LWEtdG9rZW4=",  # base64 of "not-a-token"
    base64.urlsafe_b64encode(json.dumps({"page": 2, "tenant": "x"}).encode()).decode(),
    base64.urlsafe_b64encode(b"\x08\x01\x12\x00" * 20).decode(),  # protobuf-looking bytes
    "!!!not base64 at all!!!",
    "abc.def",
    "....",
    "é.é",
    "a" * 1999,
]


def assert_page_token_problem(error: ProblemError) -> None:
    assert error.status == 422
    assert error.errors is not None
    assert [e.field for e in error.errors] == ["query.page_token"]


def test_a_sealed_token_opens_only_for_its_route_tenant_and_query() -> None:
    tokens = PageTokens(b"k" * 32)
    sealed = tokens.seal("runs", TENANT, "q", b"\x00cursor\xff")
    assert sealed is not None
    assert tokens.open("runs", TENANT, "q", sealed) == b"\x00cursor\xff"
    for route, tenant, query in [
        ("trees", TENANT, "q"),
        ("runs", OTHER_TENANT, "q"),
        ("runs", TENANT, "q AND x"),
    ]:
        with pytest.raises(ProblemError) as caught:
            tokens.open(route, tenant, query, sealed)
        assert_page_token_problem(caught.value)


def test_another_key_and_any_edit_are_refused() -> None:
    sealed = PageTokens(b"k" * 32).seal("runs", TENANT, "q", b"cursor")
    assert sealed is not None
    body, _, mac = sealed.partition(".")
    edited = [
        body + "A." + mac,
        body + "." + mac[:-1],
        base64.urlsafe_b64encode(b"cursos").decode().rstrip("=") + "." + mac,
        body,
    ]
    for token in [sealed, *edited]:
        with pytest.raises(ProblemError) as caught:
            (PageTokens(b"j" * 32) if token == sealed else PageTokens(b"k" * 32)).open(
                "runs", TENANT, "q", token
            )
        assert_page_token_problem(caught.value)


@pytest.mark.parametrize("token", FORGED)
def test_forged_tokens_are_refused(token: str) -> None:
    with pytest.raises(ProblemError) as caught:
        PageTokens(b"k" * 32).open("runs", TENANT, "q", token)
    assert_page_token_problem(caught.value)


def test_no_cursor_means_no_token_and_no_token_means_the_first_page() -> None:
    tokens = PageTokens.ephemeral()
    assert tokens.seal("runs", TENANT, "q", None) is None
    assert tokens.seal("runs", TENANT, "q", b"") is None
    assert tokens.open("runs", TENANT, "q", None) is None
    assert tokens.open("runs", TENANT, "q", "") is None


async def _page(world: World, tenant: uuid.UUID, **params: Any) -> Any:
    return await world.read_only.client.get(runs_url(tenant), params=params)


async def test_forged_tokens_answer_422_without_reaching_temporal(world: World) -> None:
    for token in FORGED:
        began = time.monotonic()
        answer = await _page(world, world.tenant_a, page_token=token)
        elapsed = time.monotonic() - began
        assert answer.status_code == 422, (token, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == ["query.page_token"]
        # Not a speed test: a forged token used to spend ~9.5 s in Temporal retries.
        assert elapsed < 3.0, f"{token!r} took {elapsed:.1f} s"


async def test_a_real_token_is_bound_to_its_filters_and_tenant(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    for _ in range(3):
        await start(world.user.client, world.tenant_a, name, unique("page"))
    first: dict[str, Any] = {}
    for _ in range(100):  # visibility is eventually consistent
        first = (await _page(world, world.tenant_a, tree=name, limit=2)).json()
        if first.get("next_page_token"):
            break
        await asyncio.sleep(0.1)
    token = first["next_page_token"]
    assert token
    second = await _page(world, world.tenant_a, tree=name, limit=2, page_token=token)
    assert second.status_code == 200
    # Same token, other filters: refused rather than silently paging another listing.
    for params in ({"page_token": token}, {"tree": unique(), "page_token": token}):
        refused = await _page(world, world.tenant_a, **params)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "query.page_token"
    # Same token in another tenant (by that tenant's own admin).
    elsewhere = await world.outsider.client.get(
        runs_url(world.tenant_b), params={"tree": name, "limit": 2, "page_token": token}
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["field"] == "query.page_token"
