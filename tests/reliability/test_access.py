"""Who may do what (bot/access.py), on Slack and on Teams, over real HTTP; and the refusal record.

Every refusal path: declaring when declarers are set; pressing a checklist step and recording a decision (typed,
the form's button, the form itself) from outside the war room; approving, closing, reopening and changing the
incident's responder when neither its responder nor its backup nor an admin; changing the workspace's responder
after the first setup; choosing declarers. A refusal is private, and inside a war room it is recorded in the
timeline once per person per minute, across processes. A member added through Slack's or Teams' own interface
counts; admins come from Slack's users.info or from BREACHROOM_ADMINS.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot import access, checklist, decisions
from bot.core import Core
from bot.declare import declare
from bot.domain import Actor
from bot.playbook import load_playbook
from breachroom.server import make_app
from storage.db import Database, parse_url
from storage.models import ChecklistItem, Decision, Incident, NoticeDraft, TimelineEntry, Workspace
from tests.conftest import Bot, bot_settings, declare_room, find_button, serve
from tests.entra_fake import FakeEntra, entra  # noqa: F401  (the fixture)
from tests.graph_fake import FakeGraph
from tests.slack_fake import FakeSlack
from tests.teams_fake import FakeTeams
from tests.test_teams_war_room import (  # noqa: F401  (fixtures)
    ANN,
    BOB,
    CAROL,
    OFFICE,
    Teams,
    _served,
    card_text,
    fake,
    graph,
    open_war_room,
    teams,
    teams_channels,
)

NOT_IN_ROOM = "Only the people in incident"


# ---- helpers ---------------------------------------------------------------------------------------------------


async def refusals(db: Database, user: str | None = None) -> list[TimelineEntry]:
    async with db.reading() as session:
        query = sa.select(TimelineEntry).where(TimelineEntry.action == access.REFUSED)
        if user is not None:
            query = query.where(TimelineEntry.actor == user)
        return list((await session.execute(query.order_by(TimelineEntry.id))).scalars().all())


async def count(db: Database, table: Any, *where: Any) -> int:
    async with db.reading() as session:
        query = sa.select(sa.func.count()).select_from(table)
        for clause in where:
            query = query.where(clause)
        return int((await session.execute(query)).scalar_one())


async def the_incident(db: Database) -> Incident:
    async with db.reading() as session:
        return (await session.execute(sa.select(Incident).order_by(Incident.id))).scalars().first()


async def workspace(db: Database) -> Workspace:
    async with db.reading() as session:
        return (await session.execute(sa.select(Workspace))).scalars().one()


def told(slack: FakeSlack, user: str, words: str) -> list[Any]:
    """Private answers to `user` that contain `words`: ephemeral, by response URL, or by direct message."""
    found = [c.args for c in slack.calls if c.method == "chat.postEphemeral" and c.args.get("user") == user
             and words in json.dumps(c.args)]
    found += [c.args for c in slack.calls if c.method == "chat.postMessage" and c.args.get("channel") == user
              and words in json.dumps(c.args)]
    return found


def said_in_room(slack: FakeSlack, channel: str, words: str) -> list[Any]:
    return [c for c in slack.called("chat.postMessage") if c.args.get("channel") == channel
            and words in json.dumps(c.args)]


def ack_text(ack: dict[str, Any]) -> str:
    return ack["text"] + json.dumps(ack.get("blocks") or [])


async def member_event(bot: Bot, kind: str, user: str, channel: str) -> int:
    """Slack's Events API delivery of `member_joined_channel` / `member_left_channel`, signed."""
    body = json.dumps({
        "token": "legacy", "team_id": bot.slack.team_id, "api_app_id": "A1", "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time()),
        "event": {"type": kind, "user": user, "channel": channel, "channel_type": "G", "team": bot.slack.team_id,
                  "event_ts": f"{time.time():.6f}"},
        "authorizations": [{"enterprise_id": None, "team_id": bot.slack.team_id, "user_id": "UBOT", "is_bot": True,
                            "is_enterprise_install": False}],
    })
    headers = {**bot.sign(body), "Content-Type": "application/json"}
    status, _ = await bot.post(body, headers)
    return status


async def press_step(bot: Bot, room: dict[str, str], label: str, user: str) -> None:
    button = find_button(bot.slack.messages[(room["channel"], room["ts"])]["blocks"], label)
    status, _ = await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user=user)
    assert status == 200


def actions_button(bot: Bot, room: dict[str, str], label: str) -> dict[str, Any]:
    blocks = bot.slack.messages[(room["channel"], room["ts"])]["blocks"]
    return next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["text"]["text"] == label)


async def with_leads(bot: Bot, responder: str = "URESP", backup: str | None = "UBACK") -> None:
    """Ann's first setup names the responder; the responder names the backup."""
    _, ack = await bot.command(f"responder <@{responder}|rita>", user="UANN")
    assert "is now the designated responder" in ack_text(ack)
    if backup:
        _, ack = await bot.command(f"backup <@{backup}|ben>", user=responder)
        assert "is now the backup responder" in ack_text(ack)


@pytest.fixture
async def admin_bot(slack: FakeSlack, db_url: str, db: Database) -> AsyncIterator[Bot]:
    """The Slack bot with BREACHROOM_ADMINS naming UBOSS (not a Slack admin)."""
    settings = bot_settings(slack, db_url, BREACHROOM_ADMINS=" UBOSS , UOTHER")
    runner, url = await serve(make_app(settings, load_playbook(), Database(settings.db_url())))
    client = Bot(url, slack, db)
    yield client
    await slack.settle(0.2)
    await client.close()
    await runner.cleanup()


# ---- Slack: the war room's members ----------------------------------------------------------------------------


async def test_a_non_member_press_is_refused_privately_and_recorded_once_a_minute(bot: Bot) -> None:
    await with_leads(bot)
    room = await declare_room(bot, "Client files on a public share", user="UANN")
    slack = bot.slack
    for _ in range(3):
        await press_step(bot, room, "network offline", "UEVE")
    refused = await slack.wait_for(lambda: len(told(slack, "UEVE", NOT_IN_ROOM)) >= 3 and told(
        slack, "UEVE", NOT_IN_ROOM))
    assert "mark checklist steps" in json.dumps(refused[0]) and "<@URESP> or <@UBACK>" in json.dumps(refused[0])
    await slack.settle()
    # Nothing changed, nothing about it was said in the room, and the record holds one entry for the flood.
    assert await count(bot.db, ChecklistItem, ChecklistItem.state == "done") == 0
    assert not said_in_room(slack, room["channel"], "UEVE")
    (entry,) = await refusals(bot.db, "UEVE")
    incident = await the_incident(bot.db)
    assert entry.incident_id == incident.id and "not in the war room" in entry.detail
    assert "Take the affected network offline" in entry.detail
    # The members were asked of Slack once (kept for up to a minute), not once per press.
    assert len(slack.called("conversations.members")) == 1


async def test_a_member_added_through_slack_counts_once_slack_says_so(bot: Bot) -> None:
    room = await declare_room(bot, "Stolen laptop", user="UANN")
    slack = bot.slack
    await press_step(bot, room, "network offline", "UEVE")
    await slack.wait_for(lambda: told(slack, "UEVE", NOT_IN_ROOM))
    # Someone adds Eve to the channel in Slack itself; Slack tells Breachroom.
    slack.channels[room["channel"]]["members"].add("UEVE")
    assert await member_event(bot, "member_joined_channel", "UEVE", room["channel"]) == 200
    await press_step(bot, room, "network offline", "UEVE")
    await slack.wait_for(lambda: "UEVE" in json.dumps(slack.messages[(room["channel"], room["ts"])]["blocks"]))
    async with bot.db.reading() as session:
        (item,) = (await session.execute(sa.select(ChecklistItem).where(ChecklistItem.state == "done"))).scalars()
    assert item.changed_by == "UEVE"
    # And when she is removed, Slack says so and she is refused again.
    slack.channels[room["channel"]]["members"].discard("UEVE")
    assert await member_event(bot, "member_left_channel", "UEVE", room["channel"]) == 200
    before = len(told(slack, "UEVE", NOT_IN_ROOM))
    await press_step(bot, room, "Isolate the affected", "UEVE")
    await slack.wait_for(lambda: len(told(slack, "UEVE", NOT_IN_ROOM)) > before)
    assert await count(bot.db, ChecklistItem, ChecklistItem.state == "done") == 1
    assert len(slack.called("conversations.members")) == 3


async def test_membership_events_are_checked_like_every_slack_request(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    body = json.dumps({"type": "event_callback", "team_id": bot.slack.team_id, "api_app_id": "A1",
                       "event": {"type": "member_joined_channel", "user": "UEVE", "channel": room["channel"]}})
    status, _ = await bot.post(body, {**bot.sign(body, timestamp=int(time.time()) - 3600),
                                      "Content-Type": "application/json"})
    assert status == 401
    for event in ({"type": "app_mention", "user": "UEVE", "channel": "C1"},
                  {"type": "member_joined_channel", "user": {"id": "UEVE"}, "channel": "C1"}):
        body = json.dumps({"type": "event_callback", "team_id": bot.slack.team_id, "event": event})
        status, _ = await bot.post(body, {**bot.sign(body), "Content-Type": "application/json"})
        assert status == 400


async def test_the_members_of_a_big_channel_are_read_page_by_page(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    slack = bot.slack
    slack.channels[room["channel"]]["members"].update(f"UM{i:03d}" for i in range(5))
    slack.page_size = 2
    await press_step(bot, room, "network offline", "UM004")
    await slack.wait_for(lambda: "UM004" in json.dumps(slack.messages[(room["channel"], room["ts"])]["blocks"]))
    assert len(slack.called("conversations.members")) >= 4


async def test_when_slack_cannot_say_who_is_in_the_room_nobody_is_refused(
        bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "_told", set())  # logged once per room and process: this test's room is new
    room = await declare_room(bot, user="UANN")
    slack = bot.slack
    from tests.slack_fake import Fault
    slack.fail("conversations.members", Fault(error="missing_scope"), Fault(error="missing_scope"))
    with caplog.at_level(logging.WARNING, logger="bot.access"):
        await press_step(bot, room, "network offline", "UEVE")
        await slack.wait_for(lambda: "UEVE" in json.dumps(slack.messages[(room["channel"], room["ts"])]["blocks"]))
        await press_step(bot, room, "Isolate the affected", "UEVE")
        await slack.wait_for(lambda: json.dumps(slack.messages[(room["channel"], room["ts"])]["blocks"]).count(
            "UEVE") >= 2)
    said = [r.getMessage() for r in caplog.records if "cannot say who is in" in r.getMessage()]
    assert len(said) == 1 and room["channel"] in said[0]
    assert await refusals(bot.db) == []


async def test_a_non_member_cannot_record_a_decision_in_any_way(bot: Bot) -> None:
    room = await declare_room(bot, "Mailbox forwarded outside", user="UANN")
    slack = bot.slack
    # Typed.
    _, ack = await bot.command("decision Tell nobody", channel=room["channel"], user="UEVE")
    assert NOT_IN_ROOM in ack_text(ack) and "record decisions" in ack_text(ack)
    # The Record decision button: no form is opened.
    button = actions_button(bot, room, "Record decision")
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="UEVE")
    await slack.wait_for(lambda: len(told(slack, "UEVE", NOT_IN_ROOM)) >= 1)
    assert not slack.called("views.open")
    # The form itself, submitted anyway (an old one, or forged): refused, in a direct message.
    view = {"type": "modal", "callback_id": "decision.submit", "private_metadata": str((await the_incident(
        bot.db)).id), "title": {"type": "plain_text", "text": "Record a decision"}}
    status, body = await bot.submit(view, {"decision": {"decision": {"type": "plain_text_input",
                                                                     "value": "Delete the logs"}}},
                                    user="UEVE", view_id="VEVE1")
    assert status == 200 and not body
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if c.args["channel"] == "UEVE"
                                  and NOT_IN_ROOM in json.dumps(c.args)])
    await slack.settle()
    assert await count(bot.db, Decision) == 0
    assert not said_in_room(slack, room["channel"], "Delete the logs")
    (entry,) = await refusals(bot.db, "UEVE")  # three refusals within a minute: one entry
    assert "decision" in entry.detail and "Delete the logs" not in entry.detail and "Tell nobody" not in entry.detail
    # A member records one as before.
    _, ack = await bot.command("decision Reset the forwarding rule", channel=room["channel"], user="UANN")
    assert "Decision 1 recorded" in ack_text(ack)


def card_button(card: dict[str, Any], label: str) -> dict[str, Any]:
    """The button labelled `label` anywhere in a posted message's blocks."""
    found = [e for b in card["blocks"] for e in (b.get("accessory"), *b.get("elements", []))
             if isinstance(e, dict) and e.get("type") == "button" and e["text"]["text"] == label]
    assert found, f"no {label!r} button"
    return found[0]


async def test_a_non_member_cannot_draft_edit_the_facts_record_clocks_or_mark_deadlines(bot: Bot) -> None:
    room = await declare_room(bot, "Accounting share readable by everyone", user="UANN")
    slack, channel = bot.slack, room["channel"]
    incident = await the_incident(bot.db)
    await bot.command("notice", channel=channel, user="UANN")  # a draft Eve could ask changes of
    draft = (await slack.wait_for(lambda: said_in_room(slack, channel, "Client notice v1")))[-1].args
    deadlines = slack.messages[(channel, slack.pinned_in(channel)[1])]
    forms = len(slack.called("views.open"))
    # Typed in the war room: answered privately, no form opened.
    for command, doing in (("notice", "draft the client notice"), ("notice facts", "edit the notice facts"),
                           ("clock", "record clock facts")):
        _, ack = await bot.command(command, channel=channel, user="UEVE")
        assert NOT_IN_ROOM in ack_text(ack) and doing in ack_text(ack), command
    # The buttons: on the checklist, on the deadline card, on the draft (Mark done as an old card would carry it).
    presses = [(room["ts"], actions_button(bot, room, "Draft client notice")),
               (room["ts"], actions_button(bot, room, "Notice facts")),
               (slack.pinned_in(channel)[1], card_button(deadlines, "Record clock facts")),
               (room["ts"], card_button(draft, "Request changes")),
               (slack.pinned_in(channel)[1], {"action_id": "clock.done#0", "value": f"{incident.id}|gdpr-art33"})]
    for ts, pressed in presses:
        status, _ = await bot.press(channel, ts, pressed["action_id"], pressed["value"], user="UEVE")
        assert status == 200
    await slack.wait_for(lambda: len(told(slack, "UEVE", NOT_IN_ROOM)) >= len(presses))
    for doing in ("draft the client notice", "edit the notice facts", "record clock facts",
                  "request changes to the client notice", "mark notification deadlines done"):
        assert told(slack, "UEVE", doing), doing
    # The forms themselves, sent anyway (old ones, or forged): refused, nothing of them kept.
    for callback, meta, typed in (
            ("notice.facts.submit", str(incident.id), {"company_name": "Evil Corp"}),
            ("clock.submit", str(incident.id), {"why": "Because", "le_requested_by": "Nobody"}),
            ("notice.changes.submit", card_button(draft, "Request changes")["value"], {"changes": "Say less"})):
        view = {"type": "modal", "callback_id": callback, "private_metadata": meta,
                "title": {"type": "plain_text", "text": "Form"}}
        values = {name: {name: {"type": "plain_text_input", "value": value}} for name, value in typed.items()}
        status, body = await bot.submit(view, values, user="UEVE", view_id=f"V{callback}")
        assert status == 200 and not body, body
    await slack.wait_for(lambda: len(told(slack, "UEVE", NOT_IN_ROOM)) >= len(presses) + 3)
    await slack.settle()
    assert len(slack.called("views.open")) == forms
    assert await count(bot.db, NoticeDraft) == 1 and await count(bot.db, Decision) == 0
    assert await count(bot.db, Workspace) == 0, "no company details were kept"
    async with bot.db.reading() as session:
        assert (await session.execute(sa.select(NoticeDraft.status))).scalar_one() == "draft"
        assert (await session.execute(sa.text("SELECT count(*) FROM obligation_mark"))).scalar_one() == 0
    assert (await the_incident(bot.db)).notice_facts == incident.notice_facts
    assert not said_in_room(slack, channel, "Say less")
    (entry,) = await refusals(bot.db, "UEVE")  # a flood within a minute: one entry, the first thing refused
    assert entry.detail == "draft the client notice: not in the war room"
    # Ann, in the room, opens the same forms as before.
    for ts, pressed in presses[1:4]:
        await bot.press(channel, ts, pressed["action_id"], pressed["value"], user="UANN")
    await slack.wait_for(lambda: len(slack.called("views.open")) == forms + 3)


async def test_people_in_a_war_room_invite_others_and_only_they_may(bot: Bot) -> None:
    room = await declare_room(bot, "Shared mailbox password posted in a forum", user="UANN")
    slack, channel = bot.slack, room["channel"]
    invites = len(slack.called("conversations.invite"))
    # Outside a war room: a clear sentence. From outside the room: refused. Typed names: not people.
    _, ack = await bot.command("invite <@UEVE|eve>", user="UANN")
    assert "works inside a war room channel" in ack_text(ack)
    _, ack = await bot.command("invite <@UMAL|mal>", channel=channel, user="UEVE")
    assert NOT_IN_ROOM in ack_text(ack) and "can invite people to it" in ack_text(ack)
    _, ack = await bot.command("invite @eve", channel=channel, user="UANN")
    assert "couldn't find a person in “@eve”" in ack_text(ack)
    _, ack = await bot.command("invite", channel=channel, user="UANN")
    assert "/breach invite @name @name" in ack_text(ack)
    await slack.settle()
    assert len(slack.called("conversations.invite")) == invites
    # Ann, in the room, adds Eve and Fay (each once).
    _, ack = await bot.command("invite <@UEVE|eve>, <@UFAY|fay> <@UEVE|eve>", channel=channel, user="UANN")
    assert "Adding <@UEVE> and <@UFAY> to this war room" in ack_text(ack)
    await slack.wait_for(lambda: said_in_room(slack, channel, "<@UANN> added <@UEVE> and <@UFAY> to this war room"))
    assert slack.called("conversations.invite")[-1].args["users"] == "UEVE,UFAY"
    assert {"UEVE", "UFAY"} <= slack.channels[channel]["members"]
    async with bot.db.reading() as session:
        (entry,) = (await session.execute(sa.select(TimelineEntry).where(
            TimelineEntry.action == "member.invited"))).scalars()
    assert (entry.actor, entry.detail, entry.incident_id) == ("UANN", "UEVE, UFAY", (await the_incident(bot.db)).id)
    # Slack says they joined: Eve may press steps now, and invite others herself.
    for user in ("UEVE", "UFAY"):
        assert await member_event(bot, "member_joined_channel", user, channel) == 200
    await press_step(bot, room, "network offline", "UEVE")
    await slack.wait_for(lambda: "UEVE" in json.dumps(slack.messages[(channel, room["ts"])]["blocks"]))
    _, ack = await bot.command("invite <@UFAY|fay>", channel=channel, user="UEVE")
    assert "<@UFAY> is already in this war room" in ack_text(ack)
    assert [e.actor for e in await refusals(bot.db)] == ["UEVE"]


# ---- Slack: what only the incident's leads (or an admin) may do ------------------------------------------------


async def test_only_the_incidents_leads_approve_close_reopen_and_change_its_responder(bot: Bot) -> None:
    await with_leads(bot)
    room = await declare_room(bot, "Payroll file emailed to the wrong client", user="UANN")
    slack, channel = bot.slack, room["channel"]
    # Ann declared and is in the room, but Rita (responder) and Ben (backup) lead.
    await bot.command("notice", channel=channel, user="UANN")
    draft = await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                          if "Client notice v1" in c.args["text"]])
    approve = next(e for b in draft[-1].args["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["text"]["text"] == "Approve")
    await bot.press(channel, room["ts"], approve["action_id"], approve["value"], user="UANN")
    refusal = await slack.wait_for(lambda: told(slack, "UANN", "can approve the client notice"))
    assert "<@URESP> or <@UBACK> (the responder and the backup of incident 1) or a workspace admin" in \
        json.dumps(refusal[0])
    for command, doing in (("close", "can close it"), ("reopen", "can reopen it"),
                           ("responder <@UANN|ann>", "can change who is the responder"),
                           ("backup <@UANN|ann>", "can change who is the backup responder")):
        _, ack = await bot.command(command, channel=channel, user="UANN")
        assert doing in ack_text(ack), command
    # A close confirmation pressed by someone else than the lead it was shown to is refused too.
    _, ack = await bot.command("close", channel=channel, user="URESP")
    close = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    await bot.press(channel, room["ts"], close["action_id"], close["value"], user="UANN")
    await slack.wait_for(lambda: told(slack, "UANN", "can close it"))
    await slack.settle()
    incident = await the_incident(bot.db)
    assert incident.status == "open" and incident.responder_id == "URESP" and incident.backup_id == "UBACK"
    async with bot.db.reading() as session:
        assert (await session.execute(sa.select(NoticeDraft.status))).scalar_one() == "draft"
    # Six refusals within the minute, one entry; its detail is the first thing refused.
    (entry,) = await refusals(bot.db, "UANN")
    assert entry.detail.startswith("approve client notice v1")
    assert not said_in_room(slack, channel, "can close it")


async def test_inside_a_war_room_responder_changes_that_incidents_responder_only(bot: Bot) -> None:
    await with_leads(bot)
    room = await declare_room(bot, "Ransom note on the reception PC", user="UANN")
    slack, channel = bot.slack, room["channel"]
    _, ack = await bot.command("responder", channel=channel, user="UANN")
    assert "The responder of incident 1 is <@URESP>" in ack_text(ack)
    _, ack = await bot.command("responder <@UNEW|nina>", channel=channel, user="UBACK")
    assert "<@UNEW> is now the responder of incident 1" in ack_text(ack)
    await slack.wait_for(lambda: "UNEW" in slack.channels[channel]["topic"])
    assert "UNEW" in slack.channels[channel]["members"]
    await slack.wait_for(lambda: said_in_room(slack, channel, "made <@UNEW> the responder"))
    await slack.wait_for(lambda: "<@UNEW>" in json.dumps(slack.messages[(channel, room["ts"])]["blocks"]))
    incident = await the_incident(bot.db)
    assert incident.responder_id == "UNEW" and incident.responder_is_designated
    assert (await workspace(bot.db)).responder_id == "URESP"  # the next breach is Rita's again
    async with bot.db.reading() as session:
        row = (await session.execute(sa.select(TimelineEntry).where(
            TimelineEntry.action == "incident.responder"))).scalars().one()
    assert (row.actor, row.detail, row.incident_id) == ("UBACK", "URESP -> UNEW", incident.id)
    # Rita is no longer a lead of this incident: she cannot close it.
    _, ack = await bot.command("close", channel=channel, user="URESP")
    assert "can close it" in ack_text(ack)
    _, ack = await bot.command("close", channel=channel, user="UNEW")
    assert "Close incident 1?" in ack_text(ack)


async def test_a_slack_admin_or_owner_may_do_what_the_leads_may(bot: Bot) -> None:
    await with_leads(bot)
    room = await declare_room(bot, "Tapes of the backup lost", user="UANN")
    slack, channel = bot.slack, room["channel"]
    slack.admins.add("UADMIN")
    slack.owners.add("UOWNER")
    _, ack = await bot.command("close", channel=channel, user="UADMIN")
    close = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    assert close["text"]["text"] == "Close anyway"
    await bot.press(channel, room["ts"], close["action_id"], close["value"], user="UADMIN")
    await slack.wait_for(lambda: "Status: closed" in slack.channels[channel]["topic"])
    _, ack = await bot.command("reopen", channel=channel, user="UOWNER")
    assert "open again" in ack_text(ack)
    # The workspace's responder, after the first setup, too.
    _, ack = await bot.command("responder <@UADMIN|ada>", user="UADMIN")
    assert "<@UADMIN> is now the designated responder" in ack_text(ack)
    infos = {c.args["user"] for c in slack.called("users.info")}
    assert {"UADMIN", "UOWNER"} <= infos
    assert await refusals(bot.db) == []


async def test_breachroom_admins_may_do_what_the_leads_may(admin_bot: Bot) -> None:
    bot = admin_bot
    await with_leads(bot)
    room = await declare_room(bot, "Website database dumped", user="UANN")
    channel = room["channel"]
    _, ack = await bot.command("responder <@UBOSS|boss>", channel=channel, user="UBOSS")
    assert "<@UBOSS> is now the responder of incident 1" in ack_text(ack)
    _, ack = await bot.command("backup <@UBOSS|boss>", user="UBOSS")
    assert "<@UBOSS> is now the backup responder" in ack_text(ack)
    _, ack = await bot.command("declarers <@UANN|ann>", user="UOTHER")
    assert "Only <@UANN> can declare a breach now" in ack_text(ack)
    # Not a Slack admin: users.info says no, the list says yes.
    assert not bot.slack.admins
    assert await refusals(bot.db) == []


# ---- Slack: the workspace's responder and backup ---------------------------------------------------------------


async def test_the_workspace_responder_is_anyones_to_set_first_then_the_leads_or_an_admins(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    _, ack = await bot.command("backup <@UBACK|ben>", user="UEVE")  # the first setup: anyone
    assert "<@UBACK> is now the backup responder" in ack_text(ack)
    with caplog.at_level(logging.WARNING, logger="bot.access"):
        _, ack = await bot.command("responder <@UEVE|eve>", user="UEVE")
    assert "Only <@UBACK> (the workspace's responder and backup) or a workspace admin can change" in ack_text(ack)
    assert any("refused slack UEVE" in r.getMessage() for r in caplog.records)
    _, ack = await bot.command("responder <@URESP|rita>", user="UBACK")
    assert "<@URESP> is now the designated responder" in ack_text(ack)
    _, ack = await bot.command("backup <@UEVE|eve>", user="UANN")
    assert "can change the backup responder" in ack_text(ack)
    ws = await workspace(bot.db)
    assert (ws.responder_id, ws.backup_id) == ("URESP", "UBACK")
    # Outside a war room a refusal goes to the log, not to any incident's timeline.
    assert await refusals(bot.db) == []
    # Showing is for everyone.
    _, ack = await bot.command("responder", user="UEVE")
    assert "The designated responder is <@URESP>" in ack_text(ack)


# ---- Slack: who may declare ------------------------------------------------------------------------------------


async def test_declarers_restrict_declaring_to_people_and_groups_until_reset(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    slack = bot.slack
    slack.usergroups["S0SEC"] = {"UGRP"}
    _, ack = await bot.command("declarers")
    assert "Anyone in the workspace can declare" in ack_text(ack)
    # Nobody leads yet: only an admin may restrict declaring.
    _, ack = await bot.command("declarers <@UANN|ann>", user="UEVE")
    assert "Only a workspace admin can choose who may declare" in ack_text(ack)
    await with_leads(bot)
    _, ack = await bot.command("declarers <@UANN|ann>", user="UEVE")
    assert "<@URESP> or <@UBACK> (the responder and the backup) or a workspace admin" in ack_text(ack)
    _, ack = await bot.command("declarers <@UANN|ann> bob", user="URESP")
    assert "couldn't find a person or a user group in “bob”" in ack_text(ack)
    _, ack = await bot.command("declarers <@UANN|ann>, <!subteam^S0SEC|@security>", user="URESP")
    assert "Only <@UANN> and the members of @security can declare a breach now" in ack_text(ack)
    assert (await workspace(bot.db)).declarers == [{"user": "UANN"}, {"group": "S0SEC", "name": "@security"}]

    # Eve may not: told privately whom to tell, logged, no incident, no form either.
    with caplog.at_level(logging.WARNING, logger="bot.access"):
        _, ack = await bot.command("Client database stolen", user="UEVE")
        assert "Only <@UANN> and the members of @security can declare a breach here" in ack_text(ack)
        assert "tell <@URESP> or <@UBACK> now" in ack_text(ack)
        _, ack = await bot.command("", user="UEVE")
        assert "can declare a breach here" in ack_text(ack)
        _, ack = await bot.command("drill Practice run", user="UEVE")
        assert "can declare a drill here" in ack_text(ack)
    assert sum("refused slack UEVE" in r.getMessage() and "to declare a" in r.getMessage() for r in caplog.records) == 3
    assert not slack.called("views.open")
    assert await count(bot.db, Incident) == 0
    # A member of the group may, a listed person may, the responder may.
    for user, summary in (("UGRP", "Stolen phone"), ("UANN", "Stolen tablet"), ("URESP", "Stolen badge")):
        await declare_room(bot, summary, user=user)
    assert await count(bot.db, Incident) == 3
    assert [c.args["usergroup"] for c in slack.called("usergroups.users.list")] == ["S0SEC"]  # kept a minute

    _, ack = await bot.command("declarers", user="UEVE")
    assert "Only <@UANN> and the members of @security can declare" in ack_text(ack)
    _, ack = await bot.command("declarers everyone", user="UEVE")
    assert "can choose who may declare" in ack_text(ack)
    _, ack = await bot.command("declarers everyone", user="UBACK")
    assert "Anyone in the workspace can declare a breach again" in ack_text(ack)
    await declare_room(bot, "Stolen server", user="UEVE")
    assert await count(bot.db, Incident) == 4
    async with bot.db.reading() as session:
        details = (await session.execute(sa.select(TimelineEntry.detail).where(
            TimelineEntry.action == "workspace.declarers").order_by(TimelineEntry.id))).scalars().all()
    assert details == ["everyone -> @{UANN} and the members of @security",
                       "@{UANN} and the members of @security -> everyone"]
    assert await refusals(bot.db) == []


async def test_a_declare_form_submitted_by_someone_not_allowed_is_refused(bot: Bot) -> None:
    await with_leads(bot)
    await bot.command("declarers <@UANN|ann>", user="URESP")
    view = {"type": "modal", "callback_id": "declare.submit", "private_metadata": "CPUBLIC1",
            "title": {"type": "plain_text", "text": "Declare a breach"}}
    status, body = await bot.submit(view, {"summary": {"summary": {"type": "plain_text_input",
                                                                   "value": "Laptop stolen"}}}, user="UEVE")
    assert status == 200 and not body
    await bot.slack.wait_for(lambda: told(bot.slack, "UEVE", "can declare a breach here"))
    assert await count(bot.db, Incident) == 0


# ---- Teams -----------------------------------------------------------------------------------------------------


def teams_told(client: Teams, user: str, words: str) -> list[Any]:
    """What the user was told in their 1:1 chat with the bot (Teams' private answers)."""
    chat = f"a:{user.split(':')[-1]}-1on1"
    return [s for s in client.fake.posts(chat) if s.cards() and words in card_text(s.cards()[0])]


@pytest.fixture
async def teams_admin(fake: FakeTeams, graph: FakeGraph, entra: FakeEntra, db_url: str,  # noqa: F811
                      db: Database) -> AsyncIterator[Teams]:
    """Teams with BREACHROOM_ADMINS naming Carol: on Teams the list is the only way to be an admin."""
    async for client in _served(fake, graph, entra, db_url, db, breachroom_admins="29:carol"):
        yield client


async def test_teams_a_non_member_press_is_refused_until_added_in_teams(teams: Teams) -> None:  # noqa: F811
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    checklist_id = teams.fake.posts(chat_id)[0].id
    asked = len(teams.graph.calls_to("GET", f"/chats/{chat_id}/members"))
    # Carol is in the office chat but not in the war room chat.
    for _ in range(2):
        status, answer = await teams.press(checklist_id, "Done", user=CAROL, conversation=chat_id)
        assert status == 200 and answer["type"] == "application/vnd.microsoft.activity.message"
        assert NOT_IN_ROOM in answer["value"] and "Bob" in answer["value"]
    assert await teams.count(ChecklistItem, ChecklistItem.state == "done") == 0
    (entry,) = await refusals(teams.db, CAROL)
    assert "not in the war room" in entry.detail
    # Graph's answer is kept for a minute: two presses, one question.
    assert len(teams.graph.calls_to("GET", f"/chats/{chat_id}/members")) == asked + 1
    # Someone adds Carol to the chat in Teams itself: once Teams says so, Graph is asked again and her press counts.
    teams.graph.add_chat_member(chat_id, "aad-carol")
    assert await teams.members_changed(chat_id, added=(CAROL,)) == 200
    status, answer = await teams.press(checklist_id, "Done", user=CAROL, conversation=chat_id)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive" and "Carol" in card_text(answer["value"])
    async with teams.db.reading() as session:
        (item,) = (await session.execute(sa.select(ChecklistItem).where(ChecklistItem.state == "done"))).scalars()
    assert item.changed_by == CAROL
    # Removed again: refused again, once Teams says so (no minute has passed: still one entry).
    teams.graph.remove_chat_member(chat_id, "aad-carol")
    assert await teams.members_changed(chat_id, removed=(CAROL,)) == 200
    _, answer = await teams.press(checklist_id, "Done", user=CAROL, conversation=chat_id)
    assert NOT_IN_ROOM in answer["value"]
    assert len(await refusals(teams.db, CAROL)) == 1


async def test_teams_a_non_member_cannot_record_a_decision(teams: Teams) -> None:  # noqa: F811
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    assert await teams.say("decision Tell nobody", user=CAROL, conversation=chat_id, kind="groupChat") == 200
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, NOT_IN_ROOM))
    checklist_id = teams.fake.posts(chat_id)[0].id
    _, answer = await teams.press(checklist_id, "Record decision", user=CAROL, conversation=chat_id)
    assert NOT_IN_ROOM in answer["value"]
    await teams.fake.settle(0.3)
    assert not [s for s in teams.fake.posts(chat_id) if s.cards() and "Input.Text" in str(s.cards()[0])]
    assert await teams.count(Decision) == 0
    assert len(await refusals(teams.db, CAROL)) == 1
    # Nothing of it is said in the war room.
    assert not [s for s in teams.fake.posts(chat_id) if s.cards() and "Tell nobody" in card_text(s.cards()[0])]


async def test_teams_a_non_member_cannot_draft_edit_the_facts_or_record_clocks(teams: Teams) -> None:  # noqa: F811
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    checklist_id = teams.fake.posts(chat_id)[0].id
    for title, doing in (("Notice facts", "edit the notice facts"), ("Draft client notice", "draft the client notice")):
        _, answer = await teams.press(checklist_id, title, user=CAROL, conversation=chat_id)
        assert NOT_IN_ROOM in answer["value"] and doing in answer["value"], title
    assert await teams.say("clock", user=CAROL, conversation=chat_id, kind="groupChat") == 200
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, "record clock facts"))
    await teams.fake.settle(0.3)
    assert not [s for s in teams.fake.sent if s.cards() and "Input." in json.dumps(s.cards())], "no form for her"
    assert await teams.count(NoticeDraft) == 0
    assert len(await refusals(teams.db, CAROL)) == 1
    # Bob, in the room, gets the form.
    _, answer = await teams.press(checklist_id, "Notice facts", user=BOB, conversation=chat_id)
    assert "The form is below" in answer["value"]


async def test_teams_only_the_leads_approve_close_reopen_and_change_the_responder(teams: Teams) -> None:  # noqa: F811
    chat_id = await open_war_room(teams)  # Bob leads, Ann declared
    await teams.fake.settle(0.3)
    assert await teams.say("notice", user=ANN, conversation=chat_id, kind="groupChat") == 200
    draft = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                               if s.cards() and "Approve" in str(s.cards()[0])])
    _, answer = await teams.press(draft[-1].id, "Approve", user=ANN, conversation=chat_id)
    assert "can approve the client notice" in answer["value"]
    for command, doing in (("close", "can close it"), ("reopen", "can reopen it"),
                           ("responder <at>Ann</at>", "can change who is the responder")):
        assert await teams.say(command, user=ANN, conversation=chat_id, kind="groupChat",
                               mentions={"Ann": ANN} if "<at>" in command else None) == 200
        await teams.fake.wait_for(lambda d=doing: teams_told(teams, ANN, d))
    incident = await teams.incident()
    assert incident.status == "open" and incident.responder_id == BOB
    assert len(await refusals(teams.db, ANN)) == 1
    # Bob hands this incident to Ann; the office's responder stays Bob.
    assert await teams.say("responder <at>Ann</at>", user=BOB, conversation=chat_id, kind="groupChat",
                           mentions={"Ann": ANN}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, BOB, "is now the responder of incident"))
    assert (await teams.incident()).responder_id == ANN
    assert (await workspace(teams.db)).responder_id == BOB


async def test_teams_the_workspace_responder_and_declarers_after_the_first_setup(teams: Teams) -> None:  # noqa: F811
    await open_war_room(teams)  # Ann's first setup made Bob the responder
    assert await teams.say("responder <at>Carol</at>", user=CAROL, conversation=OFFICE, kind="groupChat",
                           mentions={"Carol": CAROL}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, "can change the designated responder"))
    assert (await workspace(teams.db)).responder_id == BOB
    assert await teams.say("declarers <at>Ann</at>", user=CAROL, conversation=OFFICE, kind="groupChat",
                           mentions={"Ann": ANN}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, "can choose who may declare"))
    assert await teams.say("declarers <at>Ann</at>", user=BOB, conversation=OFFICE, kind="groupChat",
                           mentions={"Ann": ANN}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, BOB, "can declare a breach now"))
    assert await teams.say("breach Customer list on a USB stick lost", user=CAROL, conversation=OFFICE,
                           kind="groupChat") == 200
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, "can declare a breach here"))
    assert await teams.count(Incident) == 1
    assert await teams.say("declarers everyone", user=BOB, conversation=OFFICE, kind="groupChat") == 200
    await teams.fake.wait_for(lambda: teams_told(teams, BOB, "can declare a breach again"))
    assert await teams.say("breach Customer list on a USB stick lost", user=CAROL, conversation=OFFICE,
                           kind="groupChat") == 200
    await teams.fake.wait_for(lambda: teams.graph.calls_to("POST", re.compile(r"^/chats$"))[1:])
    assert await teams.count(Incident) == 2
    assert await refusals(teams.db) == []  # outside a war room: logged, not in a timeline


async def test_teams_the_other_refusal_paths(teams: Teams) -> None:  # noqa: F811
    """A decision form sent by someone outside the room, a close confirmation pressed by someone else, the
    incident's backup, the workspace's backup, the declare form and a drill when declarers are set."""
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    checklist_id = teams.fake.posts(chat_id)[0].id
    await teams.press(checklist_id, "Record decision", user=ANN, conversation=chat_id)
    form = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts(chat_id)
                                              if s.cards() and "Input.Text" in str(s.cards()[0])])
    _, answer = await teams.press(form[-1].id, "Record", user=CAROL, conversation=chat_id,
                                  inputs={"decision": "Delete the logs"})
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, NOT_IN_ROOM))
    assert await teams.count(Decision) == 0

    assert await teams.say("close", user=BOB, conversation=chat_id, kind="groupChat") == 200
    confirm = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts("a:bob-1on1")
                                                 if s.cards() and "Close anyway" in str(s.cards()[0])])
    # Ann sends the confirmation's action from her own chat (a forged or replayed press).
    _, answer = await teams.press(confirm[-1].id, "Close anyway", user=ANN, conversation="a:ann-1on1",
                                  kind="personal")
    assert "can close it" in answer["value"] and "Bob" in answer["value"]
    assert (await teams.incident()).status == "open"

    assert await teams.say("backup <at>Ann</at>", user=ANN, conversation=chat_id, kind="groupChat",
                           mentions={"Ann": ANN}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, ANN, "can change who is the backup responder"))
    assert (await teams.incident()).backup_id is None
    assert {e.actor for e in await refusals(teams.db)} == {ANN, CAROL}

    assert await teams.say("backup <at>Carol</at>", user=CAROL, conversation=OFFICE, kind="groupChat",
                           mentions={"Carol": CAROL}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, "can change the backup responder"))
    assert (await workspace(teams.db)).backup_id is None

    assert await teams.say("declarers <at>Ann</at>", user=BOB, conversation=OFFICE, kind="groupChat",
                           mentions={"Ann": ANN}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, BOB, "can declare a breach now"))
    for typed, words in (("breach", "can declare a breach here"), ("drill Practice", "can declare a drill here")):
        assert await teams.say(typed, user=CAROL, conversation=OFFICE, kind="groupChat") == 200
        await teams.fake.wait_for(lambda w=words: teams_told(teams, CAROL, w))
    await teams.fake.settle(0.3)
    assert not [s for s in teams.fake.sent if s.cards() and "Input.Text" in str(s.cards()[0])
                and s.conversation in (OFFICE, "a:carol-1on1")]
    assert await teams.count(Incident) == 1


async def test_teams_admins_come_from_breachroom_admins(teams_admin: Teams) -> None:
    teams = teams_admin  # noqa: F811
    chat_id = await open_war_room(teams)
    await teams.fake.settle(0.3)
    # Carol is neither in the war room nor a lead, but listed: she may close it.
    assert await teams.say("close", user=CAROL, conversation=chat_id, kind="groupChat") == 200
    confirm = await teams.fake.wait_for(lambda: [s for s in teams.fake.posts("a:carol-1on1")
                                                 if s.cards() and "Close anyway" in str(s.cards()[0])])
    status, _ = await teams.press(confirm[-1].id, "Close anyway", user=CAROL, conversation="a:carol-1on1",
                                  kind="personal")
    assert status == 200
    for _ in range(100):
        if (await teams.incident()).status == "closed":
            break
        await asyncio.sleep(0.05)
    assert (await teams.incident()).status == "closed"
    assert await teams.say("responder <at>Carol</at>", user=CAROL, conversation=OFFICE, kind="groupChat",
                           mentions={"Carol": CAROL}) == 200
    await teams.fake.wait_for(lambda: teams_told(teams, CAROL, "is now the designated responder"))
    # But listing her does not put her in the war room.
    checklist_id = teams.fake.posts(chat_id)[0].id
    _, answer = await teams.press(checklist_id, "Done", user=CAROL, conversation=chat_id)
    assert NOT_IN_ROOM in answer["value"]


async def test_teams_a_channel_war_rooms_members_are_its_teams(teams_channels: Teams) -> None:  # noqa: F811
    teams = teams_channels  # noqa: F811
    teams.graph.teams["team-incidents"]["members"] = [teams.graph._membership(u) for u in ("aad-ann", "aad-bob")]
    assert await teams.say("help") == 200
    assert await teams.say(f"breach {'Shared drive opened to the internet'}", conversation=OFFICE,
                           kind="groupChat") == 200
    await teams.fake.wait_for(lambda: teams.graph.calls_to("POST", "/teams/team-incidents/channels"))
    await teams.fake.settle(0.3)
    channel_id = (await teams.incident()).channel_id
    checklist_id = teams.fake.posts(channel_id)[0].id
    _, answer = await teams.press(checklist_id, "Done", user=CAROL, conversation=channel_id, kind="channel")
    assert NOT_IN_ROOM in answer["value"]
    _, answer = await teams.press(checklist_id, "Done", user=BOB, conversation=channel_id, kind="channel")
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert teams.graph.calls_to("GET", "/teams/team-incidents/members")


# ---- the refusal record, across processes ----------------------------------------------------------------------


class Facts:
    """A port that only answers bot/access.py's questions."""

    def __init__(self, members: set[str] | None = None, admins: set[str] = frozenset(), delay: float = 0.0) -> None:
        self.members, self.admins, self.delay = members, set(admins), delay

    async def room_members(self, room_id: str) -> set[str] | None:
        await asyncio.sleep(self.delay)
        return None if self.members is None else set(self.members)

    async def is_admin(self, user_id: str) -> bool:
        await asyncio.sleep(self.delay)
        return user_id in self.admins

    async def group_members(self, group_id: str) -> set[str] | None:
        return None


@pytest.fixture
async def second_process(db_kind: str, db_url: str, db: Database) -> AsyncIterator[Database]:
    """Another serve process on the same PostgreSQL; SQLite serves one process, so the same Database there."""
    if db_kind == "sqlite":
        yield db
        return
    other = Database(parse_url(db_url))
    yield other
    await other.dispose()


async def in_room_incident(core: Core) -> int:
    await declare(core, Actor("slack", "T1", "UANN"), "Stolen laptop", origin_channel="C1")
    async with core.db.transaction() as session:
        incident = await session.get(Incident, 1)
        assert incident is not None
        incident.channel_id = "CROOM"
    return 1


async def test_a_flood_of_refusals_from_two_processes_is_one_entry_a_minute(db: Database,
                                                                           second_process: Database) -> None:
    now = [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]
    cores = [Core(db=d, playbook=load_playbook(), clock=lambda: now[0]) for d in (db, second_process)]
    for core in cores:
        core.ports["slack"] = Facts({"UANN", "UBOT"})  # type: ignore[assignment]
    incident_id = await in_room_incident(cores[0])
    eve = Actor("slack", "T1", "UEVE")
    replies = await asyncio.gather(*(
        checklist.press(cores[i % 2], eve, f"{incident_id}:network-offline:done") for i in range(20)))
    assert all(NOT_IN_ROOM in r.card.fallback for r in replies if r.card)
    assert len(await refusals(db, "UEVE")) == 1
    now[0] += timedelta(seconds=59)
    await decisions.record_decision(cores[1], eve, incident_id, "Pay the ransom")
    assert len(await refusals(db, "UEVE")) == 1
    now[0] += timedelta(seconds=2)
    await decisions.record_decision(cores[1], eve, incident_id, "Pay the ransom")
    entries = await refusals(db, "UEVE")
    assert [e.detail for e in entries] == ["mark “Take the affected network offline to cut off outside access” done: "
                                           "not in the war room",
                                           "record a decision: not in the war room"]
    # Another person's refusals are their own.
    await checklist.press(cores[0], Actor("slack", "T1", "UMAL"), f"{incident_id}:network-offline:done")
    assert len(await refusals(db)) == 3
    assert await count(db, ChecklistItem, ChecklistItem.state == "done") == 0
    assert await count(db, Decision) == 0


async def test_a_platform_too_slow_to_say_lets_members_act_and_admins_count_as_not(db: Database) -> None:
    core = Core(db=db, playbook=load_playbook())
    core.ports["slack"] = Facts({"UANN"}, admins={"UEVE"}, delay=access.FACT_WAIT + 1)  # type: ignore[assignment]
    incident_id = await in_room_incident(core)
    eve = Actor("slack", "T1", "UEVE")
    reply = await checklist.press(core, eve, f"{incident_id}:network-offline:done")
    assert reply.card is None  # let in: the platform could not say in time
    async with db.reading() as session:
        incident = await session.get(Incident, incident_id)
    assert incident is not None and not await access.is_lead(core, eve, incident)


async def test_a_refusal_in_a_drill_is_in_its_timeline_but_no_part_taken(db: Database) -> None:
    from bot import record

    core = Core(db=db, playbook=load_playbook())
    core.ports["slack"] = Facts({"UANN"})  # type: ignore[assignment]
    await declare(core, Actor("slack", "T1", "UANN"), "Phishing drill", origin_channel="C1", drill=True)
    async with db.transaction() as session:
        incident = await session.get(Incident, 1)
        assert incident is not None
        incident.channel_id = "CROOM"
    reply = await checklist.press(core, Actor("slack", "T1", "UEVE"), "1:network-offline:done")
    assert reply.card is not None and reply.card.fallback.startswith("DRILL · Only the people")
    await checklist.press(core, Actor("slack", "T1", "UANN"), "1:network-offline:done")
    data = await record.incident_record(db, 1, core.playbook)
    assert data is not None
    assert [e["action"] for e in data["timeline"]].count(access.REFUSED) == 1
    assert [p["who"] for p in data["training"]["participants"]] == ["UANN"]
