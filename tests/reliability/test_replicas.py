"""Several `serve` processes on one PostgreSQL behave as one: each request goes to a random replica, repeats go
to the other, and nothing is lost or doubled. One SQLite file serves one process."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import Database
from storage.models import Decision, Incident, TimelineEntry
from tests.conftest import Bot, find_button
from tests.slack_fake import FakeSlack
from tests.test_cli import BOT_TOKEN, SIGNING_SECRET, environment, free_port, one_line_error, run, wait_until_ok

DECLARES = 50
PRESSES = 20
DECISIONS = 30


async def start(tmp_path: Path, slack: FakeSlack, db_url: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = environment(tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=slack.api_url, DATABASE_URL=db_url, BREACHROOM_TICK_SECONDS="0.5",
                      BREACHROOM_BUILD_LEASE_SECONDS="5")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "breachroom.cli", "serve", "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture
async def replicas(tmp_path: Path, slack: FakeSlack, db_url: str, db: Database) -> AsyncIterator[list[Bot]]:
    if not db_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite serves one process)")
    started = [await start(tmp_path, slack, db_url) for _ in range(2)]
    bots = [Bot(url, slack, db) for _, url in started]
    try:
        for (proc, url), bot in zip(started, bots, strict=True):
            await wait_until_ok(bot.http, f"{url}/readyz", proc)
        yield bots
        await slack.settle(0.5)
    finally:
        for bot in bots:
            await bot.close()
        for proc, _ in started:
            if proc.returncode is None:
                proc.terminate()
        for proc, _ in started:
            await asyncio.wait_for(proc.wait(), timeout=20)


async def count(db: Database, table: object, *where: object) -> int:
    async with db.reading() as session:
        query = sa.select(sa.func.count()).select_from(table)  # type: ignore[arg-type]
        for clause in where:
            query = query.where(clause)  # type: ignore[arg-type]
        return int((await session.execute(query)).scalar_one())


async def all_ready(db: Database, expected: int, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await count(db, Incident, Incident.build_status == "ready") >= expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("not every war room was completed")


async def test_fifty_declares_each_delivered_twice_to_different_replicas_make_fifty_war_rooms(
    replicas: list[Bot], slack: FakeSlack, db: Database,
) -> None:
    deliveries = []
    for n in range(DECLARES):
        first = random.randrange(2)
        body = replicas[first].command_body(f"Laptop {n} stolen from a car", user=f"U{n:03d}")
        # The repeat: Slack retrying (the same body, with X-Slack-Retry-Num) or the person typing it again.
        retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"} if n % 2 else {}
        deliveries.append((replicas[first], body, {}))
        deliveries.append((replicas[1 - first], body if n % 2 else replicas[1 - first].command_body(
            f"Laptop {n} stolen from a car", user=f"U{n:03d}"), retry))
    random.shuffle(deliveries)
    answers = await asyncio.gather(*(bot.post(body, {**bot.sign(body), **extra}) for bot, body, extra in deliveries))
    assert all(status == 200 for status, _ in answers)
    await all_ready(db, DECLARES)
    await slack.settle(0.5)
    assert await count(db, Incident) == DECLARES
    created = [c for c in slack.called("conversations.create") if not c.error]
    assert len(created) == DECLARES
    said = [json.dumps(answer) for _, answer in answers]
    # Every repeat was answered: pointed to the war room, or told it is being opened; none opened a second.
    repeats = [s for s in said if "did not open a second" in s or "still being opened" in s]
    assert len(repeats) == DECLARES


async def test_twenty_people_pressing_done_at_once_on_two_replicas_make_one_change(
    replicas: list[Bot], slack: FakeSlack, db: Database,
) -> None:
    await replicas[0].command("Client list emailed to a stranger", user="UANN")
    await all_ready(db, 1)
    await slack.settle(0.5)
    channel, ts = next((c, t) for c, t in slack.pins if "Breach war room" in json.dumps(slack.messages[(c, t)]))
    button = find_button(slack.messages[(channel, ts)]["blocks"], "Isolate")
    before = await count(db, TimelineEntry)
    slack.channels[channel]["members"].update(f"UP{n:02d}" for n in range(PRESSES))  # added in Slack itself
    presses = [replicas[n % 2].press(channel, ts, button["action_id"], button["value"], user=f"UP{n:02d}")
               for n in range(PRESSES)]
    assert all(status == 200 for status, _ in await asyncio.gather(*presses))
    await slack.settle(0.5)
    async with db.reading() as session:
        added = (await session.execute(sa.select(TimelineEntry).order_by(TimelineEntry.id).offset(before)
                                       )).scalars().all()
    done = [e for e in added if e.action == "item.done"]
    assert len(done) == 1
    winner = done[0].actor
    assert f"<@{winner}>" in json.dumps(slack.messages[(channel, ts)]["blocks"])


async def test_thirty_decisions_at_once_on_two_replicas_are_all_kept_in_commit_order(
    replicas: list[Bot], slack: FakeSlack, db: Database,
) -> None:
    await replicas[0].command("Ransomware note on the file server", user="UANN")
    await all_ready(db, 1)
    channel = next(iter(c for c in slack.channels.values() if c["name"].startswith("breach-")))["id"]
    slack.channels[channel]["members"].update(f"UD{n:02d}" for n in range(DECISIONS))  # added in Slack itself
    sent = await asyncio.gather(*(
        replicas[n % 2].command(f"decision Decision number {n}", user=f"UD{n:02d}", channel=channel)
        for n in range(DECISIONS)))
    assert all(status == 200 for status, _ in sent)
    await slack.settle(0.5)
    assert await count(db, Decision) == DECISIONS
    async with db.reading() as session:
        incident = (await session.execute(sa.select(Incident))).scalars().one()
        timeline = (await session.execute(sa.select(TimelineEntry).where(
            TimelineEntry.incident_id == incident.id).order_by(TimelineEntry.sequence))).scalars().all()
    decided = [e for e in timeline if e.action == "decision.recorded"]
    assert sorted(e.detail for e in decided) == sorted(f"Decision number {n}" for n in range(DECISIONS))
    # One chain, numbered in the order the transactions took their turn (and committed): no gap, no twin.
    assert [e.sequence for e in timeline] == list(range(1, len(timeline) + 1))
    assert incident.timeline_count == len(timeline) and incident.timeline_head_hash == timeline[-1].entry_hash


def test_a_second_serve_on_the_same_sqlite_file_refuses_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path)

    async def scenario() -> None:
        first = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "breachroom.cli", "serve", "--port", str(port), env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            import aiohttp

            async with aiohttp.ClientSession() as http:
                await wait_until_ok(http, f"http://127.0.0.1:{port}/readyz", first)
            second = run(tmp_path, "serve", "--port", str(free_port()))
            one_line_error(second, "another breachroom serve", "SQLite", "PostgreSQL")
            listed = run(tmp_path, "incidents", "list")  # reading still works beside the server
            assert listed.returncode == 0, listed.stderr
        finally:
            first.terminate()
            await asyncio.wait_for(first.wait(), timeout=20)

    asyncio.run(scenario())
