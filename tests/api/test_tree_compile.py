"""``POST /trees/compile``: the Studio's live checklist compiles without storing."""

from __future__ import annotations

from tests.api.conftest import World
from tests.api.test_trees import tree_source, trees_url, unique


async def test_a_good_tree_compiles_with_pins_and_is_not_stored(world: World) -> None:
    name = unique()
    url = trees_url(world.tenant_a)
    response = await world.read_only.client.post(
        f"{url}/compile", json={"source": tree_source(name)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pins"] == {"greet": "text_response@1.0.0"}
    assert len(body["hash"]) == 64
    assert (await world.user.client.get(f"{url}/{name}")).status_code == 404


async def test_problems_answer_422_each_pinned_to_its_node_field(world: World) -> None:
    bad = tree_source(unique(), tool="nosuch@^1").replace("next: done", "next: nowhere")
    url = f"{trees_url(world.tenant_a)}/compile"
    response = await world.read_only.client.post(url, json={"source": bad})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors["body.source.nodes.greet.tool"] == "unknown tool 'nosuch'"
    assert errors["body.source.nodes.greet.next"] == "unknown node 'nowhere'"
    broken = await world.read_only.client.post(url, json={"source": "name: [unclosed"})
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"].startswith("body.source")


async def test_compile_needs_a_member_of_the_tenant(world: World) -> None:
    url = f"{trees_url(world.tenant_a)}/compile"
    source = {"source": tree_source(unique())}
    # Another tenant is not even confirmed to exist.
    assert (await world.outsider.client.post(url, json=source)).status_code == 404
    assert (await world.anonymous.post(url, json=source)).status_code == 401
