"""Socket Mode: the bot connects out to Slack, needs no signing secret, and serves no /slack/events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.playbook import load_playbook
from breachroom.server import make_app
from storage.db import Database
from tests.conftest import bot_settings, find_button, serve
from tests.slack_fake import FakeSlack


@pytest.fixture
async def socket_bot(slack: FakeSlack, db_url: str) -> AsyncIterator[str]:
    """The bot in Socket Mode (an app token, no signing secret), served on a real port; yields its URL."""
    settings = bot_settings(slack, db_url, SLACK_APP_TOKEN="xapp-test", SLACK_SIGNING_SECRET="")
    assert settings.slack_signing_secret is None
    app = make_app(settings, load_playbook(), Database(settings.db_url()))
    # Startup connects Socket Mode through apps.connections.open (and would retry forever if refused).
    runner, url = await asyncio.wait_for(serve(app), timeout=15)
    try:
        await slack.wait_for(lambda: slack.sockets)
        yield url
        await slack.settle(0.2)
    finally:
        await runner.cleanup()


def slash_command(slack: FakeSlack, text: str, *, user: str = "UANN", channel: str = "CPUBLIC1") -> dict[str, Any]:
    return {
        "token": "legacy", "team_id": slack.team_id, "team_domain": "acme", "channel_id": channel,
        "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": "/breach",
        "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
        "response_url": slack.response_url(), "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
    }


def button_press(slack: FakeSlack, channel: str, ts: str, button: dict[str, Any], *, user: str) -> dict[str, Any]:
    return {
        "type": "block_actions", "team": {"id": slack.team_id, "domain": "acme"},
        "user": {"id": user, "team_id": slack.team_id}, "api_app_id": "A1",
        "trigger_id": f"trig.{uuid.uuid4().hex[:8]}",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel}, "message": {"ts": ts},
        "actions": [{"action_id": button["action_id"], "block_id": "b", "type": "button",
                     "value": button["value"], "action_ts": str(time.time())}],
    }


async def test_socket_mode_declares_a_breach_and_ticks_the_checklist_without_a_signing_secret(
    slack: FakeSlack, socket_bot: str
) -> None:
    assert slack.called("apps.connections.open")

    ack = await slack.deliver("slash_commands", slash_command(slack, "Laptop with client files stolen"), "env-cmd-1")
    assert ack["envelope_id"] == "env-cmd-1"
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "Opening a private war room" in ack["payload"]["text"]

    await slack.wait_for(slack.checklist_pin)
    created = slack.called("conversations.create")
    assert len(created) == 1 and created[0].args["is_private"] is True
    channel, ts = slack.checklist_pin()  # type: ignore[misc]
    assert "laptop-with-client-files-stolen" in slack.channels[channel]["name"]
    await slack.wait_for(lambda: any("ready" in (r.get("text") or "") for r in slack.responses))

    button = find_button(slack.messages[(channel, ts)]["blocks"], "network offline")
    before = len(slack.called("chat.update"))
    ack = await slack.deliver("interactive", button_press(slack, channel, ts, button, user="UANN"), "env-press-1")
    assert ack["envelope_id"] == "env-press-1"

    await slack.wait_for(lambda: len(slack.called("chat.update")) > before)
    update = slack.called("chat.update")[-1]
    assert (update.args["channel"], update.args["ts"]) == (channel, ts)
    row = next(b for b in slack.messages[(channel, ts)]["blocks"]
               if "network offline" in b.get("text", {}).get("text", ""))
    assert "Done by <@UANN>" in row["text"]["text"]
    assert row["accessory"]["text"]["text"] == "Undo"


async def test_socket_mode_serves_no_http_slack_endpoint_but_answers_health_checks(
    slack: FakeSlack, socket_bot: str
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{socket_bot}/slack/events", data=b"payload=%7B%7D",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
            assert response.status == 404
        async with http.get(f"{socket_bot}/healthz") as response:
            assert response.status == 200
            assert (await response.json()) == {"status": "ok"}
        async with http.get(f"{socket_bot}/readyz") as response:
            assert response.status == 200
