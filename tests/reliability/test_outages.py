"""A platform that fails or rate-limits for a while loses nothing: a press is recorded when it is acknowledged,
and the checklist message catches up once the platform answers again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from bot.playbook import load_playbook
from breachroom.server import make_app
from storage.db import Database
from storage.models import ChecklistItem, PostedMessage
from tests.conftest import Bot, bot_settings, declare_room, find_button, serve
from tests.slack_fake import FakeSlack, Fault


@pytest.fixture
async def ticking_bot(slack: FakeSlack, db_url: str, db: Database) -> AsyncIterator[Bot]:
    settings = bot_settings(slack, db_url, BREACHROOM_TICK_SECONDS="0.2")
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    client = Bot(url, slack, db)
    yield client
    await slack.settle(0.3)
    await client.close()
    await runner.cleanup()


@pytest.mark.parametrize("outage", ["500", "429"])
async def test_a_press_during_an_outage_is_kept_and_the_message_catches_up(ticking_bot: Bot, outage: str) -> None:
    bot, slack = ticking_bot, ticking_bot.slack
    room = await declare_room(bot)
    button = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "Isolate")
    # Longer than the Slack client's own retries: the first update fails for good.
    fault = Fault(status=500) if outage == "500" else Fault(status=429, headers={"Retry-After": "0"})
    slack.fail("chat.update", *[fault] * 6)
    slack.channels[room["channel"]]["members"].add("UBOB")  # added to the war room in Slack itself
    status, _ = await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="UBOB")
    assert status == 200

    async def recorded() -> list[str]:
        async with bot.db.reading() as session:
            return [i.changed_by for i in (await session.execute(
                sa.select(ChecklistItem).where(ChecklistItem.state == "done"))).scalars().all()]

    deadline = asyncio.get_running_loop().time() + 2
    while not await recorded() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    assert await recorded() == ["UBOB"]  # recorded as it is acknowledged, whatever Slack does meanwhile
    await slack.wait_for(lambda: "<@UBOB>" in json.dumps(slack.messages[(room["channel"], room["ts"])]["blocks"]),
                         timeout=20)
    await slack.settle(0.5)
    async with bot.db.reading() as session:
        stale = (await session.execute(sa.select(PostedMessage).where(PostedMessage.stale.is_(True)))).all()
    assert stale == []
