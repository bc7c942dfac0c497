"""Closing with the post-incident summary, announcing it without details, and reopening."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import docx
import sqlalchemy as sa

from bot import checklist, closing, decisions, record
from bot.core import Core
from bot.declare import declare
from bot.domain import Actor
from bot.playbook import load_playbook
from storage.db import Database
from tests.conftest import Bot, declare_room, find_button

ASSESS = ["network offline", "Isolate the affected", "Revoke the privileges", "change their password",
          "exactly which data"]


def text_of(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


async def press_all(bot: Bot, room: dict, labels: list[str], user: str = "UANN") -> None:
    slack = bot.slack
    for label in labels:
        button = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], label)
        before = len(slack.called("chat.update"))
        await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user=user)
        await slack.wait_for(lambda n=before: len(slack.called("chat.update")) > n)


async def timeline_actions(bot: Bot) -> list[str]:
    async with bot.db.reading() as session:
        rows = (await session.execute(sa.text("SELECT action FROM timeline_entry WHERE incident_id IS NOT NULL "
                                              "ORDER BY id"))).all()
    return [r.action for r in rows]


async def test_close_with_open_assess_steps_is_refused_for_others_and_allowed_anyway_for_the_responder(
    bot: Bot,
) -> None:
    await bot.command("responder <@URESP|rita>")
    room = await declare_room(bot, "Tapes of the backup lost in transit", user="UANN")
    # Ann declared, but Rita leads: only the responder, the backup or an admin may close.
    _, ack = await bot.command("close", channel=room["channel"], user="UANN")
    said = text_of(ack["blocks"])
    assert "Only <@URESP> (the responder of incident 1) or a workspace admin can close it" in said
    assert not [b for b in ack["blocks"] if b["type"] == "actions"]

    _, ack = await bot.command("close", channel=room["channel"], user="URESP")
    said = text_of(ack["blocks"])
    assert "Assess is not finished (6 open)" in said and "Take the affected network offline" in said
    button = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["text"]["text"] == "Close anyway" and button["style"] == "danger"

    # Someone else replaying the responder's button is refused: the check is made again on press.
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="UANN")
    await bot.slack.wait_for(lambda: any("can close it" in c.args.get("text", "")
                                         for c in bot.slack.called("chat.postEphemeral")))
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="URESP")
    slack = bot.slack
    summary = await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                            if "post-incident summary" in (c.args.get("text") or "")])
    assert summary[0].args["channel"] == room["channel"]
    await slack.settle()
    assert "Status: closed" in slack.channels[room["channel"]]["topic"]
    assert "*Status*\\nClosed" in text_of(slack.messages[(room["channel"], room["ts"])]["blocks"])
    (chart,) = [f for f in slack.files.values() if f["channel"] == room["channel"]]
    assert chart["name"].endswith("-timeline.png") and chart["content"].startswith(b"\x89PNG")
    actions = await timeline_actions(bot)
    assert actions[-1] == "incident.closed"


async def test_closing_after_containment_posts_the_summary_and_a_second_press_changes_nothing(bot: Bot) -> None:
    room = await declare_room(bot, "Stolen laptop with the client list", user="UANN")
    await press_all(bot, room, [*ASSESS, "The responder takes the lead"])
    await bot.command("decision Wipe the laptop remotely", channel=room["channel"], user="UANN")
    _, ack = await bot.command("close", channel=room["channel"], user="UANN")
    button = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["text"]["text"] == "Close incident"
    for _ in range(2):
        await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="UANN")
    slack = bot.slack
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                  if "post-incident summary" in (c.args.get("text") or "")])
    await slack.settle()
    posts = [c for c in slack.called("chat.postMessage") if c.args["channel"] == room["channel"]]
    body = text_of([b for c in posts for b in c.args["blocks"]])
    assert "Key times" in body and "Contained" in body and "Declaration to containment" in body
    assert "Wipe the laptop remotely" in body  # decisions in order
    assert "Record the root cause" in body and "owner: <@UANN>" in body  # open Prepare items as follow-ups
    assert "Assess 6/6" in body
    assert (await timeline_actions(bot)).count("incident.closed") == 1
    assert not slack.rejected("invalid_blocks")


async def test_the_announcement_channel_gets_the_summary_without_client_details(bot: Bot) -> None:
    _, ack = await bot.command("announce <#CPUBLIC9|incidents>")
    assert "announced in <#CPUBLIC9>" in ack["text"]
    _, ack = await bot.command("announce")
    assert "<#CPUBLIC9>" in ack["text"]
    _, ack = await bot.command("announce incidents")
    assert "couldn't find one channel" in ack["text"]
    room = await declare_room(bot, "Mrs Jane Example's tax file emailed to the wrong client", user="UANN")
    await bot.command("decision Call Mrs Jane Example today", channel=room["channel"], user="UANN")
    await press_all(bot, room, [*ASSESS, "The responder takes the lead"])
    _, ack = await bot.command("close", channel=room["channel"])
    assert "without details, in <#CPUBLIC9>" in text_of(ack["blocks"])
    button = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"])
    slack = bot.slack
    public = await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                           if c.args["channel"] == "CPUBLIC9"])
    body = text_of(public[0].args["blocks"]) + public[0].args["text"]
    assert "Post-incident summary: incident" in body and "Key times" in body
    assert "Jane" not in body and "tax file" not in body
    _, ack = await bot.command("announce off")
    assert "no longer be announced" in ack["text"]


async def test_reopening_continues_the_same_record(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    _, ack = await bot.command("reopen", channel=room["channel"])
    assert "open already" in ack["text"]
    await bot.command("responder <@UANN>")
    _, ack = await bot.command("close", channel=room["channel"], user="UANN")
    button = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="UANN")
    slack = bot.slack
    await slack.wait_for(lambda: "Status: closed" in slack.channels[room["channel"]]["topic"])
    _, ack = await bot.command("close", channel=room["channel"])
    assert "already closed" in ack["text"]
    # Bob neither leads nor is in the war room: he may not reopen it.
    _, ack = await bot.command("reopen", channel=room["channel"], user="UBOB")
    assert "can reopen it" in ack["text"] and "open again" not in ack["text"]
    _, ack = await bot.command("reopen", channel=room["channel"], user="UANN")
    assert "open again" in ack["text"]
    await slack.wait_for(lambda: "Status: open" in slack.channels[room["channel"]]["topic"])
    await bot.command("decision Keep monitoring the mailbox", channel=room["channel"], user="UANN")
    await slack.settle()
    actions = await timeline_actions(bot)
    assert actions[-4:] == ["incident.closed", "access.refused", "incident.reopened", "decision.recorded"]
    async with bot.db.reading() as session:
        status = (await session.execute(sa.text("SELECT status FROM incident"))).scalar_one()
    assert status == "open"


async def test_summary_times_and_durations_of_a_scripted_incident(db: Database) -> None:
    """Known timestamps in, exact key times and durations out (use cases driven with a scripted clock)."""
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    now = [t0]
    core = Core(db=db, playbook=load_playbook(), clock=lambda: now[0])
    ann, rita = Actor("slack", "T1", "UANN"), Actor("slack", "T1", "URITA")
    reply = await declare(core, ann, "Scripted breach", origin_channel="C1",
                          discovered_at=t0 - timedelta(hours=5))
    assert reply.work
    incident_id = 1
    for minutes, key in ((20, "lead"), (45, "network-offline"), (50, "isolate-servers"), (70, "revoke-account"),
                         (95, "reset-passwords"), (150, "scope-data"), (200, "identify-clients")):
        now[0] = t0 + timedelta(minutes=minutes)
        await checklist.press(core, rita, f"{incident_id}:{key}:done")
    now[0] = t0 + timedelta(minutes=160)
    await decisions.record_decision(core, rita, incident_id, "Restore from backup")
    now[0] = t0 + timedelta(days=2, hours=3)
    await closing.confirm_close(core, ann, f"{incident_id}:normal")  # Ann declared, so she leads

    recap = await record.incident_summary(db, incident_id, core.playbook)
    assert recap is not None
    times = dict(recap.times)
    assert times["Discovered"] == t0 - timedelta(hours=5)
    assert times["Declared"] == t0
    assert times["Contained"] == t0 + timedelta(minutes=150)
    assert times["Clients notified"] is None
    assert times["Closed"] == t0 + timedelta(days=2, hours=3)
    spans = dict(recap.durations)
    assert spans["Discovery to declaration"] == timedelta(hours=5)
    assert spans["Declaration to containment"] == timedelta(hours=2, minutes=30)
    assert spans["Declaration to client notice"] is None
    assert spans["Declaration to closing"] == timedelta(days=2, hours=3)
    assert [d.by for d in recap.done][:2] == ["URITA", "URITA"]
    assert len(recap.follow_ups) == 5

    data = await record.incident_record(db, incident_id, core.playbook)
    assert data is not None
    post = data["post_incident"]
    assert post["key_times"]["Contained"] == "2026-03-02T10:30:00Z"
    assert post["durations_seconds"]["Declaration to containment"] == 9000
    markdown = record.to_markdown(data)
    assert "| Declaration to containment | 2 h 30 min |" in markdown
    document = docx.Document(io.BytesIO(record.to_docx(data, b"")))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert "Post-incident summary" in headings and "Decisions" in headings
