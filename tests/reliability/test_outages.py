"""A platform that fails or rate-limits for a while loses nothing: a press, a decision or a close is recorded when
it is acknowledged, and the checklist message, the decision's post and the summary catch up once the platform
answers again, each posted once, even with two replicas catching up at the same moment."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web

from bot import clocks, outbox
from bot.core import Core
from bot.playbook import load_playbook
from bot.ports import ChatPort
from breachroom.server import CORE, SLACK, make_app
from storage.db import Database, parse_url, sync_url
from storage.models import ChecklistItem, Decision, Incident, OutboxPost, PostedMessage, utcnow
from tests.conftest import Bot, bot_settings, declare_room, find_button, serve
from tests.entra_fake import FakeEntra, entra  # noqa: F401  (the fixture)
from tests.reliability.test_audit_chain import empty_db_url, migrate  # noqa: F401  (the fixture)
from tests.slack_fake import FakeSlack, Fault
from tests.teams_fake import FakeTeams
from tests.test_teams_war_room import BOB, _served, card_text, fake, graph, open_war_room  # noqa: F401  (fixtures)


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

    async def caught_up() -> bool:
        async with bot.db.reading() as session:
            return not (await session.execute(sa.select(PostedMessage).where(PostedMessage.stale.is_(True)))).all()

    await until(caught_up)  # every message the outage left behind (the deadline card's too) is rendered again


# ---- posts owed to a room: decisions, the summary (bot/outbox.py) ----------------------------------------------

async def start(slack: FakeSlack, db_url: str, db: Database, tick: str) -> tuple[Bot, web.Application, web.AppRunner]:
    settings = bot_settings(slack, db_url, BREACHROOM_TICK_SECONDS=tick)
    app = make_app(settings, load_playbook(), Database(settings.db_url()))
    runner, url = await serve(app)
    return Bot(url, slack, db), app, runner


@pytest.fixture
async def served(slack: FakeSlack, db_url: str, db: Database) -> AsyncIterator[tuple[Bot, web.Application]]:
    """The bot with its ticker asleep after its first tick: the test runs the catch-up, at the time it says."""
    bot, app, runner = await start(slack, db_url, db, "3600")
    yield bot, app
    await slack.settle(0.3)
    await bot.close()
    await runner.cleanup()


@pytest.fixture
async def ticking(slack: FakeSlack, db_url: str, db: Database) -> AsyncIterator[tuple[Bot, web.Application]]:
    bot, app, runner = await start(slack, db_url, db, "0.2")
    yield bot, app
    await slack.settle(0.3)
    await bot.close()
    await runner.cleanup()


@pytest.fixture
async def ticking_teams(fake: FakeTeams, graph: Any, entra: FakeEntra, db_url: str,  # noqa: F811
                        db: Database) -> AsyncIterator[Any]:
    async for client in _served(fake, graph, entra, db_url, db, breachroom_tick_seconds="0.2"):
        yield client


def ticker(app: web.Application, db: Database, after: timedelta) -> Callable[[], Awaitable[int]]:
    """The ticker's catch-up as a replica would run it `after` from now, on its own connections to the store."""
    core = Core(db=db, playbook=load_playbook(), clock=lambda: utcnow() + after)
    ports: dict[str, ChatPort] = {"slack": app[SLACK].chat}
    return lambda: outbox.catch_up(core, ports)


async def owed(db: Database) -> list[OutboxPost]:
    async with db.reading() as session:
        return list((await session.execute(sa.select(OutboxPost).order_by(OutboxPost.id))).scalars().all())


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def tried(db: Database, attempts: int) -> bool:
    """The oldest owed post was tried `attempts` times, and nobody is posting anything now."""
    rows = await owed(db)
    return bool(rows) and rows[0].attempts >= attempts and all(r.lease_until is None for r in rows)


def posted_in(slack: FakeSlack, channel: str, words: str) -> list[dict[str, Any]]:
    """The messages in a channel whose notification text has `words`, oldest first."""
    return [m for (c, _), m in sorted(slack.messages.items(), key=lambda kv: kv[0][1])
            if c == channel and words in (m.get("text") or "")]


@pytest.mark.parametrize("outage", ["503", "429"])
async def test_decisions_taken_while_slack_fails_are_kept_and_reach_the_room_once_in_order(
    served: tuple[Bot, web.Application], outage: str,
) -> None:
    bot, app = served
    slack = bot.slack
    room = await declare_room(bot)
    fault = Fault(status=503) if outage == "503" else Fault(status=429, headers={"Retry-After": "0"})
    slack.fail("chat.postMessage", *[fault] * 1000)  # down until the test says otherwise, whatever the client retries
    taken = ["Take the file server offline", "Restore the NAS from Sunday's backup"]
    for number, text in enumerate(taken, 1):
        status, ack = await bot.command(f"decision {text}", channel=room["channel"])
        assert status == 200 and f"Decision {number} recorded" in ack["text"]
        async with bot.db.reading() as session:  # kept as it is acknowledged, whatever Slack does
            kept = (await session.execute(sa.select(Decision.text).order_by(Decision.id))).scalars().all()
        assert list(kept) == taken[:number]
        await until(lambda n=number: tried(bot.db, n))  # the post was tried at once, and failed
    assert posted_in(slack, room["channel"], "Decision") == []
    slack.faults["chat.postMessage"].clear()  # Slack answers again

    assert await ticker(app, bot.db, timedelta(0))() == 0  # the next try waits its back-off (no hammering) …
    assert await ticker(app, bot.db, timedelta(seconds=60))() == 2  # … and lands within the minute
    assert await ticker(app, bot.db, timedelta(minutes=5))() == 0
    await slack.settle(0.3)
    shown = posted_in(slack, room["channel"], "Decision")
    assert [m["text"] for m in shown] == [f"Decision {n}: {text}" for n, text in enumerate(taken, 1)]
    assert "Sunday's backup" in json.dumps(shown[1]["blocks"])
    rows = await owed(bot.db)
    assert all(r.done_at is not None for r in rows)
    assert [r.attempts for r in rows] == [3, 1]  # the second waited behind the first, to keep their order


async def test_a_post_slack_keeps_refusing_stops_holding_the_next_one_back_after_three_tries(
    served: tuple[Bot, web.Application],
) -> None:
    bot, app = served
    slack = bot.slack
    room = await declare_room(bot)
    slack.fail("chat.postMessage", *[Fault(error="invalid_blocks")] * 4)  # the first decision's first four tries
    for number in (1, 2):
        status, _ = await bot.command(f"decision Step {number}", channel=room["channel"])
        assert status == 200
        await until(lambda n=number: tried(bot.db, n))
    assert await ticker(app, bot.db, timedelta(minutes=1))() == 0  # the second still waits behind the first …
    assert await ticker(app, bot.db, timedelta(minutes=2))() == 1  # … until the first has failed three times
    assert [m["text"] for m in posted_in(slack, room["channel"], "Decision")] == ["Decision 2: Step 2"]
    assert [r.done_at is None for r in await owed(bot.db)] == [True, False]


async def test_the_summary_of_an_incident_closed_while_slack_fails_reaches_both_channels_once(
    served: tuple[Bot, web.Application],
) -> None:
    bot, app = served
    slack = bot.slack
    await bot.command("announce <#CPUBLIC9|incidents>")
    room = await declare_room(bot, user="UANN")
    _, ack = await bot.command("close", channel=room["channel"], user="UANN")
    button = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    for method in ("chat.postMessage", "files.getUploadURLExternal"):
        slack.fail(method, *[Fault(status=503)] * 1000)
    status, _ = await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="UANN")
    assert status == 200

    async def closed() -> bool:
        async with bot.db.reading() as session:
            return (await session.execute(sa.select(Incident.status))).scalar_one() == "closed"

    async def both_failed() -> bool:
        rows = await owed(bot.db)
        return len([r for r in rows if r.last_error]) == 2 and all(r.lease_until is None for r in rows)

    await until(closed, timeout=2)  # closed as it is acknowledged
    await until(both_failed)  # the war room's summary and the announcement were tried, and failed
    assert posted_in(slack, room["channel"], "post-incident summary") == []
    assert posted_in(slack, "CPUBLIC9", "post-incident summary") == []
    for method in ("chat.postMessage", "files.getUploadURLExternal"):
        slack.faults[method].clear()  # Slack answers again

    assert await ticker(app, bot.db, timedelta(seconds=60))() == 3  # summary and chart, and the announcement
    assert await ticker(app, bot.db, timedelta(minutes=5))() == 0
    await slack.settle(0.3)
    assert len(posted_in(slack, room["channel"], "post-incident summary")) == 1
    assert len(posted_in(slack, "CPUBLIC9", "post-incident summary")) == 1
    (chart,) = [f for f in slack.files.values() if f["channel"] == room["channel"]]
    assert chart["content"].startswith(b"\x89PNG")
    assert all(r.done_at is not None for r in await owed(bot.db))


async def test_the_deadline_card_refreshed_while_slack_fails_catches_up(ticking: tuple[Bot, web.Application]) -> None:
    bot, app = ticking
    slack = bot.slack
    await declare_room(bot)
    async with bot.db.reading() as session:
        (card,) = [m for m in (await session.execute(sa.select(PostedMessage))).scalars()
                   if clocks.CLOCKS in m.card_keys]
    await slack.settle(0.3)
    slack.fail("chat.update", *[Fault(status=503)] * 1000)
    since = len(slack.calls)
    await clocks.refresh(app[CORE], card.incident_id, app[SLACK].chat)  # the hourly refresh, during the outage

    async def stale() -> bool:
        async with bot.db.reading() as session:
            return bool((await session.get(PostedMessage, card.id)).stale)  # type: ignore[union-attr]

    assert await stale()
    slack.faults["chat.update"].clear()
    await until(lambda: _not(stale))  # the ticker renders it again once Slack answers
    updated = [c for c in slack.calls[since:] if c.method == "chat.update" and c.args["ts"] == card.message_id
               and c.result.get("ok")]
    assert len(updated) == 1 and "Notification deadlines" in json.dumps(updated[0].args["blocks"])


async def _not(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()


async def test_a_decision_posted_while_the_teams_connector_fails_reaches_the_war_room_once(ticking_teams: Any) -> None:
    teams = ticking_teams
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    teams.fake.outage = 503
    assert await teams.say("decision Take the file server offline until it is checked", user=BOB,
                           conversation=chat_id, kind="groupChat") == 200

    async def kept() -> bool:
        async with teams.db.reading() as session:
            return bool((await session.execute(sa.select(Decision))).scalars().all())

    await until(kept, timeout=2)
    await until(lambda: tried(teams.db, 1))
    posts = lambda: [s for s in teams.fake.posts(chat_id)  # noqa: E731
                     if s.cards() and "file server offline" in card_text(s.cards()[0])]
    assert posts() == []
    teams.fake.outage = None  # the connector answers again
    await teams.fake.wait_for(posts, timeout=30)
    await teams.fake.settle(0.5)
    assert len(posts()) == 1
    assert all(r.done_at is not None for r in await owed(teams.db))


@pytest.mark.postgres_only
async def test_two_replicas_catching_up_at_once_post_each_owed_decision_once(
    served: tuple[Bot, web.Application], db_url: str,
) -> None:
    bot, app = served
    slack = bot.slack
    room = await declare_room(bot)
    slack.fail("chat.postMessage", *[Fault(status=503)] * 1000)
    for number in (1, 2, 3):
        status, _ = await bot.command(f"decision Recovery step {number}", channel=room["channel"])
        assert status == 200
        await until(lambda n=number: tried(bot.db, n))
    slack.faults["chat.postMessage"].clear()
    other = Database(parse_url(db_url))
    try:
        replicas = [ticker(app, bot.db, timedelta(minutes=1)), ticker(app, other, timedelta(minutes=1))]
        posted = [sum(await asyncio.gather(*(tick() for tick in replicas))) for _ in range(3)]
    finally:
        await other.dispose()
    assert posted == [3, 0, 0]
    await slack.settle(0.3)
    shown = posted_in(slack, room["channel"], "Decision")
    assert [m["text"] for m in shown] == [f"Decision {n}: Recovery step {n}" for n in (1, 2, 3)]


def test_an_existing_database_is_upgraded_to_keep_owed_posts_and_downgraded_without_them(
    empty_db_url: str,  # noqa: F811
) -> None:
    migrate(empty_db_url, "0011")
    engine = sa.create_engine(sync_url(parse_url(empty_db_url)))
    try:
        assert "outbox_post" not in sa.inspect(engine).get_table_names()
        migrate(empty_db_url, "head")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("outbox_post")}
        assert {"incident_id", "room_id", "kind", "ref", "attempts", "next_attempt_at", "done_at"} <= columns
        migrate(empty_db_url, "0011", down=True)
        assert "outbox_post" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
