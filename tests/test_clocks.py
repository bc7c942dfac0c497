"""Notification clocks in the war room: the pinned deadline card, clock facts, marks and reminders."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.playbook import load_playbook
from breachroom.server import CORE, make_app
from storage.db import Database
from storage.models import Decision, Incident, PostedMessage, Reminder
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, Bot, bot_settings, declare_room, serve
from tests.slack_fake import FakeSlack

FACTS = {
    "data_categories": {"type": "multi_static_select", "selected_options": [{"value": "credentials"}]},
    "affected_total": {"type": "number_input", "value": "52"},
    "regions": {"type": "plain_text_input", "value": "DE 40, US-CA 12"},
}


def wrap(values: dict) -> dict:
    return {name: {name: state} for name, state in values.items()}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def ticking(slack: FakeSlack, db_url: str, db: Database) -> AsyncIterator[tuple[Bot, Clock]]:
    """The bot with a clock the test moves, and a reminder tick every 0.1 s."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    app = make_app(bot_settings(slack, db_url, BREACHROOM_TICK_SECONDS="0.1"), load_playbook(), Database(
        bot_settings(slack, db_url).db_url()))
    app[CORE].clock = clock
    runner, url = await serve(app)
    client = Bot(url, slack, db)
    yield client, clock
    await slack.settle(0.2)
    await client.close()
    await runner.cleanup()


def clock_card(slack: FakeSlack, channel: str) -> dict:
    ts = slack.pinned_in(channel)[1]
    return slack.messages[(channel, ts)]


async def record_facts(bot: Bot, room: dict, clock_values: dict) -> None:
    slack = bot.slack
    blocks = slack.messages[(room["channel"], room["ts"])]["blocks"]
    facts = next(e for b in blocks if b["type"] == "actions" for e in b["elements"]
                 if e["text"]["text"] == "Notice facts")
    await bot.press(room["channel"], room["ts"], facts["action_id"], facts["value"])
    view = (await slack.wait_for(lambda: slack.called("views.open")))[-1].args["view"]
    _, body = await bot.submit(view, wrap(FACTS), view_id="VN1")
    assert not body
    before = len(slack.called("views.open"))
    await bot.command("clock", channel=room["channel"])
    await slack.wait_for(lambda: len(slack.called("views.open")) > before)
    view = slack.called("views.open")[-1].args["view"]
    assert view["callback_id"] == "clock.submit"
    _, body = await bot.submit(view, wrap(clock_values), view_id="VC1")
    assert not body, body


async def test_the_war_room_pins_a_deadline_card_that_asks_what_it_needs(bot: Bot) -> None:
    room = await declare_room(bot, "Mailbox of the bookkeeper taken over")
    card = clock_card(bot.slack, room["channel"])
    text = json.dumps(card["blocks"], ensure_ascii=False)
    assert "Notification deadlines" in text
    assert "does not give legal advice" in text
    assert "Still to answer" in text and "Where do the affected people live" in text


async def test_a_summary_with_a_control_character_still_gets_its_deadlines_and_notice(bot: Bot) -> None:
    # Pasted from a terminal: a bell and a colour escape. Kept as typed; the clocks and the draft need no fixing.
    typed = "Bookkeeping\x07 export \x1b[31mcopied to a USB stick"
    room = await declare_room(bot, typed)  # waits for the deadline card, pinned beside the checklist
    card = json.dumps(clock_card(bot.slack, room["channel"])["blocks"], ensure_ascii=False)
    assert "Notification deadlines" in card and "Still to answer" in card
    async with bot.db.reading() as session:
        assert (await session.execute(sa.select(Incident.summary))).scalar_one() == typed
    _, ack = await bot.command("notice", channel=room["channel"])
    assert "Client notice v1 drafted" in ack["text"], ack
    await bot.slack.wait_for(lambda: [c for c in bot.slack.called("chat.postMessage")
                                      if "Client notice v1" in c.args["text"]])


async def test_clock_facts_are_recorded_as_decisions_and_the_card_shows_the_72_hours(
    ticking: tuple[Bot, Clock],
) -> None:
    bot, clock = ticking
    slack = bot.slack
    room = await declare_room(bot, "Client files copied from the cloud drive", user="UANN")
    aware = clock.now - timedelta(hours=2)
    await record_facts(bot, room, {
        "aware_at": {"type": "datetimepicker", "selected_date_time": int(aware.timestamp())},
        "gdpr_role": {"type": "static_select", "selected_option": {"value": "controller"}},
        "risk.gdpr": {"type": "static_select", "selected_option": {"value": "high"}},
        "why": {"type": "plain_text_input", "value": "The IT firm confirmed the copy this morning"},
    })
    await slack.wait_for(lambda: "Clock facts recorded" in json.dumps(
        [c.args for c in slack.called("chat.postMessage")]))
    due = (aware + timedelta(hours=72)).strftime("%Y-%m-%d %H:%M")
    await slack.wait_for(lambda: due in json.dumps(clock_card(slack, room["channel"])["blocks"]))
    card = json.dumps(clock_card(slack, room["channel"])["blocks"], ensure_ascii=False)
    assert "*OPEN* The competent data protection supervisory authority" in card
    assert "2 days 22 hours left" in card
    async with bot.db.reading() as session:
        rows = (await session.execute(sa.select(Decision.kind, Decision.rationale, Decision.decided_by)
                                      .where(Decision.kind.is_not(None)).order_by(Decision.id))).all()
        reminders = (await session.execute(sa.select(sa.func.count()).select_from(Reminder))).scalar_one()
    assert [r.kind for r in rows] == ["aware_at", "risk.gdpr", "gdpr_role"]
    assert all(r.rationale == "The IT firm confirmed the copy this morning" and r.decided_by == "UANN" for r in rows)
    assert reminders >= 4  # 50 %, 25 %, 10 % and the deadline, for each open obligation with a due time


async def test_marking_an_obligation_done_records_who_and_when_once(ticking: tuple[Bot, Clock]) -> None:
    bot, clock = ticking
    slack = bot.slack
    room = await declare_room(bot, user="UANN")
    slack.channels[room["channel"]]["members"].update({"URESP", "UBOB"})  # both in the war room
    await record_facts(bot, room, {
        "aware_at": {"type": "datetimepicker", "selected_date_time": int((clock.now - timedelta(hours=1)).timestamp())},
        "gdpr_role": {"type": "static_select", "selected_option": {"value": "controller"}},
        "risk.gdpr": {"type": "static_select", "selected_option": {"value": "risk"}},
    })
    await slack.wait_for(lambda: "Mark done" in json.dumps(clock_card(slack, room["channel"])["blocks"]))
    card = clock_card(slack, room["channel"])
    ts = slack.pinned_in(room["channel"])[1]
    button = next(b["accessory"] for b in card["blocks"] if b.get("accessory")
                  and "OPEN" in b["text"]["text"])
    await bot.press(room["channel"], ts, button["action_id"], button["value"], user="URESP")
    # Bob presses the same button a moment later (two presses at once may be recorded in either order).
    await slack.wait_for(lambda: "DONE" in json.dumps(clock_card(slack, room["channel"])["blocks"]))
    await bot.press(room["channel"], ts, button["action_id"], button["value"], user="UBOB")
    await slack.wait_for(lambda: any("already marked this done" in c.args["text"]
                                     for c in slack.called("chat.postEphemeral")))
    await slack.settle()
    async with bot.db.reading() as session:
        marks = (await session.execute(sa.text("SELECT obligation, marked_by FROM obligation_mark"))).all()
        done = (await session.execute(sa.text(
            "SELECT count(*) FROM timeline_entry WHERE action = 'obligation.done'"))).scalar_one()
    assert [m.marked_by for m in marks] == ["URESP"] and done == 1
    assert "DONE" in json.dumps(clock_card(slack, room["channel"])["blocks"])


async def test_reminders_fire_once_at_each_point_and_mention_the_responder(ticking: tuple[Bot, Clock]) -> None:
    bot, clock = ticking
    slack = bot.slack
    room = await declare_room(bot, user="UANN")
    start = clock.now
    await record_facts(bot, room, {
        "aware_at": {"type": "datetimepicker", "selected_date_time": int(start.timestamp())},
        "gdpr_role": {"type": "static_select", "selected_option": {"value": "controller"}},
        "risk.gdpr": {"type": "static_select", "selected_option": {"value": "high"}},
    })
    await slack.wait_for(lambda: "OPEN" in json.dumps(clock_card(slack, room["channel"])["blocks"]))

    def reminders_posted() -> list[str]:
        return [line for c in slack.called("chat.postMessage") if c.args["channel"] == room["channel"]
                for line in (c.args.get("text") or "").split("\n") if line.startswith("⏰")]

    clock.now = start + timedelta(hours=37)  # past half of the 72 hours
    await slack.wait_for(lambda: reminders_posted())
    await asyncio.sleep(0.5)  # several more ticks: nothing is repeated
    first = reminders_posted()
    assert len(first) == 1
    assert first[0].startswith("⏰ <@UANN>: notice to *The competent data protection supervisory authority*")
    assert first[0].endswith(": 1 day 11 hours left.")
    clock.now = start + timedelta(hours=73)  # past the deadline: the three missed points make one reminder
    await slack.wait_for(lambda: len(reminders_posted()) > 1)
    await asyncio.sleep(0.5)
    after = reminders_posted()
    assert len(after) == 2 and after[1].endswith(": 1 hour overdue.")
    async with bot.db.reading() as session:
        pending = (await session.execute(sa.text(
            "SELECT count(*) FROM reminder WHERE fired_at IS NULL AND due_at <= :now"),
            {"now": clock.now.replace(tzinfo=None)})).scalar_one()
    assert pending == 0
    assert "OVERDUE" in json.dumps(clock_card(slack, room["channel"])["blocks"])


def seed_room(slack: FakeSlack, channel: str) -> None:
    slack.channels[channel] = {"id": channel, "name": f"breach-{channel.lower()}", "is_private": True,
                               "members": {"UBOT"}, "topic": ""}
    slack.messages[(channel, "1.1")] = {"text": "", "blocks": []}


async def seed_due_reminder(db: Database, channel: str, due: datetime, n: int = 0) -> int:
    """An open incident whose California notice is running, with one reminder already due."""
    async with db.transaction() as session:
        incident = Incident(platform="slack", team_id="T0BREACH", summary="Seeded", severity="high",
                            declared_by="UANN", declared_at=due - timedelta(days=1), responder_id="URESP",
                            dedupe_key=f"seed-{channel}", channel_id=channel, channel_name=f"breach-{channel}",
                            build_status="ready", discovered_at=due - timedelta(days=1), data_kinds=["credentials"],
                            affected_clients=12, notice_facts={"affected_by_region": {"US-CA": 12}})
        session.add(incident)
        await session.flush()
        session.add(PostedMessage(incident_id=incident.id, channel_id=channel, message_id="1.1",
                                  card_keys=["clocks"]))
        session.add(Reminder(incident_id=incident.id, obligation="us-ca-1798.82/individuals",
                             kind="half", due_at=due - timedelta(minutes=n + 1)))
        return incident.id or 0


def reminder_lines(slack: FakeSlack, channels: set[str]) -> list[str]:
    return [line for c in slack.called("chat.postMessage") if c.args["channel"] in channels
            for line in (c.args.get("text") or "").split("\n") if line.startswith("⏰")]


async def test_a_reminder_missed_while_the_server_was_down_fires_once_on_start(
    slack: FakeSlack, db_url: str, db: Database
) -> None:
    seed_room(slack, "CSEED")
    await seed_due_reminder(db, "CSEED", datetime.now(UTC))
    for _ in range(2):  # two starts: the reminder fires at the first and never again
        app = make_app(bot_settings(slack, db_url, BREACHROOM_TICK_SECONDS="0.1"), load_playbook(),
                       Database(bot_settings(slack, db_url).db_url()))
        runner, _ = await serve(app)
        await asyncio.sleep(0.8)
        await runner.cleanup()
    lines = reminder_lines(slack, {"CSEED"})
    assert len(lines) == 1 and "<@URESP>" in lines[0] and "California" in lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres_only
async def test_two_server_processes_fire_each_reminder_exactly_once(
    slack: FakeSlack, db_url: str, db: Database, tmp_path: Path
) -> None:
    channels = {f"CSEED{n}" for n in range(6)}
    for n, channel in enumerate(sorted(channels)):
        seed_room(slack, channel)
        await seed_due_reminder(db, channel, datetime.now(UTC), n)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": db_url, "BREACHROOM_TICK_SECONDS": "0.05"}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "breachroom.cli", "serve", "--port", str(free_port()), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL) for _ in range(2)]
    try:
        def lines() -> list[str]:
            return reminder_lines(slack, channels)

        await slack.wait_for(lambda: len(lines()) >= 6, timeout=30)
        await asyncio.sleep(2.0)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await asyncio.wait_for(proc.wait(), timeout=20)
    async with db.reading() as session:
        fired = (await session.execute(sa.text("SELECT count(*) FROM reminder WHERE fired_at IS NOT NULL"))
                 ).scalar_one()
    assert fired == 6
    assert len(lines()) == 6


async def test_the_summary_and_export_list_each_deadline(ticking: tuple[Bot, Clock]) -> None:
    from bot import record

    bot, clock = ticking
    room = await declare_room(bot, user="UANN")
    await record_facts(bot, room, {
        "aware_at": {"type": "datetimepicker", "selected_date_time": int(clock.now.timestamp())},
        "gdpr_role": {"type": "static_select", "selected_option": {"value": "controller"}},
        "risk.gdpr": {"type": "static_select", "selected_option": {"value": "high"}},
    })
    await bot.slack.settle()
    data: dict[str, Any] | None = await record.incident_record(bot.db, 1, load_playbook())
    assert data is not None
    keys = {o["key"] for o in data["obligations"]}
    assert any(k.startswith("eu-gdpr-art33") for k in keys)
    assert any("due" in line for line in data["post_incident"]["notification_deadlines"])
    assert "Notification deadlines:" in record.to_markdown(data)
