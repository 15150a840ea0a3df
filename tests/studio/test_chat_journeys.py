"""Chat journeys in headless Chromium: three turns with `ticket-agent` on the real stack
(API, Temporal dev server, the session worker with the scripted model)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.api.conftest import client_for
from tests.studio.conftest import (
    Stack,
    accessible_screenshot,
    assert_accessible,
    screenshot,
    sign_in,
)
from tests.studio.test_journeys import create_tree, instantiate, unique

pytestmark = pytest.mark.studio

ANSWER_MS = 45_000  # a turn on a loaded machine (the shared CI box) takes seconds
REFUND_TICKETS = (
    "Tickets: TCK-000279, TCK-000057, TCK-000091, TCK-000235, TCK-000019, TCK-000289, TCK-000143."
)

CONFIRM = """name: {name}
inputs: {{message: {{type: string}}}}
start: ask
nodes:
  ask:
    kind: input
    prompt: "Sure?"
    choices: ["yes", "no"]
    save_as: answer
    timeout: 1h
    next: done
  done: {{kind: end, output: {{text: "{{{{ inputs.message + ': ' + state.answer }}}}"}}}}
"""


async def ask(page: Page, text: str) -> None:
    composer = page.get_by_role("textbox", name="Message")
    await composer.fill(text)
    await page.get_by_role("button", name="Send").click()


async def test_three_chat_turns_with_the_ticket_agent(page: Page, stack: Stack) -> None:
    tree = unique("ticket-agent")
    await instantiate(stack, "ticket-agent", tree)
    await sign_in(page, stack, role="user")
    await page.get_by_role("link", name="Chat").click()
    await expect(page.get_by_role("heading", name="Chat")).to_be_visible()
    await page.get_by_label("Tree").select_option(tree)
    await assert_accessible(page)

    # turn 1: a count, answered live (steps stream in, then the answer and its path)
    await ask(page, "How many billing tickets are open?")
    await expect(page.get_by_role("heading", name=f"Chat with {tree}")).to_be_visible()
    first = page.get_by_test_id("turn-1")
    await expect(first).to_contain_text(
        "12 tickets match. Most tickets: Atlas CRM (4)", timeout=ANSWER_MS
    )
    await expect(first.get_by_test_id("turn-path")).to_have_text(
        "Path: decide → analyze → decide → respond → done"
    )
    await expect(page.get_by_role("button", name="Send")).to_be_disabled()  # empty composer

    # turn 2: the follow-up searches only turn 1's tickets and cites them
    await ask(page, "And which of those mention refunds?")
    second = page.get_by_test_id("turn-2")
    await expect(second).to_contain_text(REFUND_TICKETS, timeout=ANSWER_MS)
    await expect(second.get_by_test_id("turn-path")).to_have_text(
        "Path: decide → search → decide → summarize → decide → respond → done"
    )
    citation = second.get_by_role("button", name=re.compile(r"^Citation 1: "))
    await citation.click()
    panel = page.get_by_role("complementary", name=re.compile(r"^\[1\] "))
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("TCK-000")
    await expect(panel).to_contain_text("refund")
    await expect(panel).to_contain_text("billing")  # the cited object's category property
    await expect(panel.get_by_role("heading")).to_be_focused()
    await assert_accessible(page)
    await panel.get_by_role("button", name="Close").click()
    await expect(second.get_by_role("button", name=re.compile(r"^\[5\] "))).to_be_visible()

    # turn 3: a chart drawn inline, while the composer waits for the answer
    await ask(page, "Chart how many urgent tickets each product has.")
    await expect(page.get_by_role("button", name=re.compile("Answering|Send"))).to_be_disabled()
    third = page.get_by_test_id("turn-3")
    await expect(third).to_contain_text(
        "31 tickets match. Most tickets: Atlas CRM (11)", timeout=ANSWER_MS
    )
    chart = third.get_by_test_id("chart").get_by_role("img")
    await expect(chart).to_have_attribute("alt", re.compile(r"urgent tickets.*\(bar, 5 points\)"))
    await expect(third.get_by_test_id("turn-path")).to_contain_text("analyze → decide → chart")
    await assert_accessible(page)
    await page.get_by_role("textbox", name="Message").scroll_into_view_if_needed()
    await screenshot(page, "chat-three-turns")

    # resume from the list of conversations, then end it: the composer goes away
    url = page.url
    await page.get_by_role("link", name="Chat").click()
    listed = page.get_by_role("navigation", name="Conversations")
    await expect(listed).to_contain_text(f"{tree} · open")
    await listed.get_by_role("link", name="How many billing tickets are open?").click()
    assert page.url == url
    await expect(page.get_by_test_id("turn-3")).to_contain_text("31 tickets match")
    await page.get_by_role("button", name="End conversation").click()
    await expect(page.get_by_text("This conversation has ended.")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_have_count(0)


async def test_a_message_sent_while_another_client_s_turn_runs_shows_the_conflict(
    page: Page, stack: Stack
) -> None:
    """Another client's message is being answered (an input node waits): the chat's own
    message gets 409 turn-in-progress, shown as the API's problem; the running turn
    appears and the composer waits for it, then the answer lands and follow-ups go on."""
    tree = unique("confirm")
    await create_tree(stack, CONFIRM.format(name=tree))
    async with client_for(stack.app, stack.keys["user"]) as client:
        base = f"/v1/tenants/{stack.tenant_id}/conversations"
        created = await client.post(base, json={"tree": tree})
        assert created.status_code == 201, created.text
        conversation = created.json()["id"]
        await sign_in(page, stack, role="user")
        await page.goto(stack.url(f"/t/{stack.tenant_id}/chat/{conversation}"))
        await expect(page.get_by_role("heading", name=f"Chat with {tree}")).to_be_visible()
        elsewhere = await client.post(
            f"{base}/{conversation}/messages",
            json={"text": "delete the backups"},
            params={"wait": "false"},
        )
        assert elsewhere.status_code == 202, elsewhere.text

        await ask(page, "and the logs")
        await expect(page.get_by_role("alert")).to_contain_text("being answered")
        turn = page.get_by_test_id("turn-1")
        await expect(turn).to_contain_text("delete the backups")
        await expect(turn.get_by_role("list", name="Steps of turn 1")).to_contain_text(
            "ask", timeout=ANSWER_MS
        )
        await expect(turn).to_contain_text("waits for input: “Sure?”")
        await expect(turn.get_by_role("link", name="answer it in the run")).to_be_visible()
        await expect(page.get_by_role("button", name="Answering…")).to_be_disabled()
        await accessible_screenshot(page, "chat-turn-in-progress")

        answered = await client.post(
            f"{elsewhere.json()['links']['run']}/input", json={"value": "yes"}
        )
        assert answered.status_code == 200, answered.text
    await expect(turn).to_contain_text("delete the backups: yes", timeout=ANSWER_MS)
    await expect(turn.get_by_test_id("turn-path")).to_have_text("Path: ask → done")
    await ask(page, "and the logs")
    follow_up = page.get_by_test_id("turn-2")
    await expect(follow_up.get_by_role("list", name="Steps of turn 2")).to_contain_text(
        "ask", timeout=ANSWER_MS
    )
    await expect(page.get_by_role("alert")).to_have_count(0)  # the old problem is gone
