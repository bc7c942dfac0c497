"""Half-built war rooms: a 500, a 429 or a timeout at each step of building, and a process killed between steps.
Whatever happens, the war room ends complete, nothing is created or posted twice, and the database knows every
channel and message the bot made."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import war_room
from bot.playbook import load_playbook
from breachroom.server import make_app
from storage.db import Database
from storage.models import Incident, PostedMessage
from tests.conftest import Bot, bot_settings, serve
from tests.slack_fake import FakeSlack, Fault
from tests.test_cli import BOT_TOKEN, SIGNING_SECRET, environment, free_port, wait_until_ok

SUMMARY = "Client database copied from the file server"
STEP_METHODS = {
    "create": "conversations.create",
    "invite": "conversations.invite",
    "topic": "conversations.setTopic",
    "checklist": "chat.postMessage",
    "pin": "pins.add",
}
# Each fault outlasts the Slack client's own retries (2 for 5xx, 3 for 429), so the attempt fails.
FAULTS = {
    "500": [Fault(status=500)] * 3,
    "429": [Fault(status=429, headers={"Retry-After": "0"})] * 4,
    "timeout": [Fault(delay=0.7)],  # longer than the per-call limit: the call times out, then takes effect
}
# The per-call limit: short for the timeouts, long enough for the Slack client's own retries otherwise.
CALL_LIMITS = {"500": 3.0, "429": 3.0, "timeout": 0.5}


@pytest.fixture
async def sweeping(slack: FakeSlack, db_url: str, db: Database, monkeypatch: pytest.MonkeyPatch,
                   request: pytest.FixtureRequest) -> AsyncIterator[Bot]:
    """The bot with a short build lease (retries half a second after a failure) and a short call limit."""
    fault = getattr(getattr(request, "node", None), "callspec", None)
    monkeypatch.setattr(war_room, "CALL_TIMEOUT", CALL_LIMITS[fault.params.get("fault", "500")] if fault else 3.0)
    settings = bot_settings(slack, db_url, BREACHROOM_TICK_SECONDS="0.1", BREACHROOM_BUILD_LEASE_SECONDS="1")
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    client = Bot(url, slack, db)
    yield client
    await slack.settle(0.5)
    await client.close()
    await runner.cleanup()


async def incident(db: Database) -> Incident:
    async with db.reading() as session:
        return (await session.execute(sa.select(Incident))).scalars().one()


async def until_ready(db: Database, timeout: float = 20.0) -> Incident:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await incident(db)
        if found.build_status == "ready":
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the war room was not finished: {(await incident(db)).build_problems}")


async def assert_one_of_everything(slack: FakeSlack, db: Database) -> None:
    """One channel, one checklist message (known to the database), pinned, with everyone invited."""
    found = await incident(db)
    created = [c for c in slack.channels.values() if c["name"].startswith("breach-")]
    assert len(created) == 1 and created[0]["id"] == found.channel_id
    channel = created[0]
    checklists = [ts for (c, ts), m in slack.messages.items()
                  if c == channel["id"] and "Breach war room" in (m.get("text") or "")]
    assert len(checklists) == 1
    async with db.reading() as session:
        posted = (await session.execute(sa.select(PostedMessage).where(
            PostedMessage.channel_id == channel["id"]))).scalars().all()
    assert checklists[0] in {p.message_id for p in posted}
    assert (channel["id"], checklists[0]) in slack.pins
    assert "UANN" in channel["members"]
    assert channel["topic"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("step", list(STEP_METHODS))
async def test_a_failing_step_is_finished_by_the_sweep_exactly_once(sweeping: Bot, step: str, fault: str) -> None:
    slack = sweeping.slack
    slack.fail(STEP_METHODS[step], *FAULTS[fault])
    status, _ = await sweeping.command(SUMMARY)
    assert status == 200
    await until_ready(sweeping.db)
    await slack.settle(0.5)
    await assert_one_of_everything(slack, sweeping.db)
    # The declarer heard that the war room was ready (after being told of the trouble, if there was some).
    said = " ".join(r.get("text") or "" for r in slack.responses)
    assert "ready" in said


async def test_after_three_failed_attempts_the_declarer_is_told_what_to_do_by_hand(sweeping: Bot) -> None:
    slack = sweeping.slack
    slack.fail("pins.add", *[Fault(error="internal_error")] * 10)
    await sweeping.command(SUMMARY)
    told = await slack.wait_for(lambda: [r for r in slack.responses if "by hand" in json.dumps(r)], timeout=20)
    assert "I could not pin the checklist" in json.dumps(told[0])
    found = await incident(sweeping.db)
    assert found.build_status == "incomplete"
    async with sweeping.db.reading() as session:
        attempts = (await session.execute(sa.text(
            "SELECT attempts FROM room_build WHERE incident_id = :i"), {"i": found.id})).scalar_one()
    assert attempts == war_room.MAX_ATTEMPTS
    calls = len(slack.called("pins.add"))
    await asyncio.sleep(1.5)  # no fourth attempt
    assert len(slack.called("pins.add")) == calls
    # In between, the declarer was told once that it would be tried again.
    assert len([r for r in slack.responses if "try again in a minute" in json.dumps(r)]) == 1


# ---- a process killed between steps ----------------------------------------------------------------------


async def serve_process(tmp_path: Path, slack: FakeSlack, db_url: str, port: int) -> asyncio.subprocess.Process:
    env = environment(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=slack.api_url, DATABASE_URL=db_url, BREACHROOM_TICK_SECONDS="0.2",
                      BREACHROOM_BUILD_LEASE_SECONDS="2")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "breachroom.cli", "serve", "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


@pytest.mark.parametrize("held", ["conversations.create", "conversations.invite", "chat.postMessage", "pins.add"])
async def test_a_process_killed_mid_build_is_finished_by_the_next_one_without_twins(
    tmp_path: Path, slack: FakeSlack, db_url: str, db: Database, held: str,
) -> None:
    """The call takes effect, but its answer is held until the process is killed (SIGKILL): the next process
    adopts the channel by its name, or finds the posted checklist by its text, and finishes the rest."""
    if db_url.startswith("sqlite") and sys.platform != "linux":
        pytest.skip("signals")
    slack.fail(held, Fault(hold=8))
    port = free_port()
    first = await serve_process(tmp_path, slack, db_url, port)
    bot = Bot(f"http://127.0.0.1:{port}", slack, db)
    try:
        await wait_until_ok(bot.http, f"{bot.url}/readyz", first)
        status, _ = await bot.command(SUMMARY)
        assert status == 200
        await slack.wait_for(lambda: slack.called(held))
        await asyncio.sleep(0.2)
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
        second = await serve_process(tmp_path, slack, db_url, port)
        try:
            await wait_until_ok(bot.http, f"{bot.url}/readyz", second)
            await until_ready(db, timeout=30)
            await slack.settle(0.5)
            await assert_one_of_everything(slack, db)
            assert len([c for c in slack.called("conversations.create") if not c.error]) == 1
        finally:
            second.terminate()
            await asyncio.wait_for(second.wait(), timeout=20)
    finally:
        if first.returncode is None:
            first.kill()
        await bot.close()
