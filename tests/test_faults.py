"""Slack failing while the war room is built: retried where it helps, reported where it doesn't."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from tests.conftest import Bot, declare_room
from tests.slack_fake import Fault


async def build_state(bot: Bot) -> tuple[str, list[str]]:
    async with bot.db.reading() as session:
        row = (await session.execute(sa.text("SELECT build_status, build_problems FROM incident"))).one()
    problems = row.build_problems if isinstance(row.build_problems, list) else json.loads(row.build_problems)
    return row.build_status, problems


async def test_rate_limits_and_server_errors_are_retried_and_the_room_completes(bot: Bot) -> None:
    slack = bot.slack
    slack.fail("conversations.invite", Fault(status=429, headers={"Retry-After": "1"}))
    slack.fail("conversations.setTopic", Fault(status=500), Fault(status=503))
    slack.fail("chat.postMessage", Fault(status=500))
    started = time.monotonic()
    room = await declare_room(bot, "Shared drive wiped", user="UANN")
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert len(slack.called("conversations.invite")) == 2
    assert len(slack.called("conversations.setTopic")) == 3
    assert slack.channels[room["channel"]]["topic"].startswith("Severity: High")
    assert "UANN" in slack.channels[room["channel"]]["members"]
    assert await build_state(bot) == ("ready", [])


async def test_a_step_that_keeps_failing_is_reported_to_the_declarer_privately(bot: Bot) -> None:
    slack = bot.slack
    slack.fail("pins.add", Fault(error="internal_error"))
    slack.fail("conversations.invite", *[Fault(status=500)] * 3)
    status, _ = await bot.command("Server room break-in", user="UANN")
    assert status == 200
    report = await slack.wait_for(lambda: [r for r in slack.responses if "did not finish" in r.get("text", "")])
    text = json.dumps(report[0]["blocks"])
    assert "I could not pin the checklist" in text and "`internal_error`" in text
    assert "I could not invite <@UANN>" in text and "http_500" in text
    assert report[0]["response_type"] == "ephemeral"
    state, problems = await build_state(bot)
    assert state == "incomplete" and set(problems) == {"pin: internal_error", "invite: http_500"}
    # The checklist itself was posted, so the room is usable.
    assert any(channel == next(iter(slack.channels)) for channel, _ in slack.messages)


async def test_when_the_room_cannot_be_created_the_declarer_is_told_and_can_try_again(bot: Bot) -> None:
    slack = bot.slack
    slack.fail("conversations.create", Fault(error="restricted_action"))
    await bot.command("Payroll export emailed to a stranger", user="UANN")
    report = await slack.wait_for(lambda: [r for r in slack.responses if "could not open" in r.get("text", "")])
    assert "restricted_action" in json.dumps(report[0]["blocks"])
    assert await build_state(bot) == ("incomplete", ["create: restricted_action"])

    slack.responses.clear()
    room = await declare_room(bot, "Payroll export emailed to a stranger", user="UANN")
    assert room["name"].endswith("payroll-export-emailed-to-a-stranger")
    async with bot.db.reading() as session:
        count = (await session.execute(sa.text("SELECT count(*) FROM incident"))).scalar_one()
    assert count == 1  # built again, not recorded twice
    assert (await build_state(bot))[0] == "ready"


async def test_a_failing_checklist_update_leaves_the_press_recorded(bot: Bot) -> None:
    from tests.conftest import find_button

    room = await declare_room(bot, user="UANN")
    slack = bot.slack
    slack.fail("chat.update", *[Fault(status=500)] * 3)
    button = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "network offline")
    status, _ = await bot.press(room["channel"], room["ts"], button["action_id"], button["value"])
    assert status == 200
    await slack.wait_for(lambda: len(slack.called("chat.update")) == 3)
    async with bot.db.reading() as session:
        state = (await session.execute(sa.text(
            "SELECT state FROM checklist_item WHERE key = 'network-offline'"))).scalar_one()
    assert state == "done"
    # The next press re-renders the whole section from the store, so the message catches up.
    other = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "Isolate")
    await bot.press(room["channel"], room["ts"], other["action_id"], other["value"])
    await slack.wait_for(lambda: "Assess 2/6" in json.dumps(slack.messages[(room["channel"], room["ts"])]))
