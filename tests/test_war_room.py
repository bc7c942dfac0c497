"""The core story: a breach is declared, the war room runs its checklist, decisions are kept."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from bot import record
from bot.playbook import load_playbook
from tests.conftest import Bot, declare_room, find_button


def all_text(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


async def test_declaring_opens_a_private_war_room_with_the_pinned_checklist(bot: Bot) -> None:
    status, ack = await bot.command("Client database copied from the file server", user="UANN")
    assert status == 200
    assert ack["response_type"] == "ephemeral"
    assert "Opening a private war room" in ack["text"]

    slack = bot.slack
    await slack.wait_for(slack.checklist_pin)
    created = slack.called("conversations.create")
    assert len(created) == 1
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert created[0].args["name"] == f"breach-{today}-client-database-copied-from-the-file"
    assert created[0].args["is_private"] is True

    channel_id, ts = slack.checklist_pin()  # type: ignore[misc]
    invites = slack.called("conversations.invite")
    assert [c.args["users"] for c in invites] == ["UANN"]  # no responder set: only the declarer
    topic = slack.called("conversations.setTopic")[0].args["topic"]
    assert "Severity: High" in topic and "<@UANN>" in topic and "Status: open" in topic

    checklist = slack.messages[(channel_id, ts)]["blocks"]
    text = all_text(checklist)
    for heading in ("Assess 0/6", "Inform 0/5", "Prepare 0/5"):
        assert heading in text
    assert "Take the affected network offline" in text
    assert "No designated responder was set" in text  # said in the war room's first message
    buttons = [b["accessory"] for b in checklist if b.get("accessory")]
    assert len(buttons) == 16 and all(b["text"]["text"] == "Done" for b in buttons)

    # The declarer hears privately, with a link; nothing was posted where /breach was typed.
    await slack.wait_for(lambda: slack.responses)
    confirmation = slack.responses[-1]
    assert confirmation["response_type"] == "ephemeral"
    assert f"<#{channel_id}>" in confirmation["text"]
    assert "you lead this one" in all_text(confirmation["blocks"])
    assert not [c for c in slack.called("chat.postMessage") if c.args["channel"] == "CPUBLIC1"]


async def test_the_responder_and_backup_are_invited_once_each(bot: Bot) -> None:
    await bot.command("responder <@URESP|rita>", user="UANN")
    await bot.command("backup <@URESP|rita>", user="UANN")
    room = await declare_room(bot, user="URESP")
    invites = bot.slack.called("conversations.invite")
    assert len(invites) == 1
    assert invites[0].args["users"] == "URESP"
    checklist = bot.slack.messages[(room["channel"], room["ts"])]["blocks"]
    assert "No designated responder" not in all_text(checklist)


async def test_scenario_checklist_decision_status_export(bot: Bot) -> None:
    slack = bot.slack
    status, ack = await bot.command("responder <@URESP|rita>", user="UANN")
    assert "<@URESP> is now the designated responder" in ack["text"]
    room = await declare_room(bot, "Ransomware on the front-desk PC", user="UANN")
    channel, ts = room["channel"], room["ts"]
    members = slack.channels[channel]["members"]
    assert {"UANN", "URESP"} <= members

    # Three presses by two people: each updates the same message in place.
    for label, who in (("network offline", "URESP"), ("Isolate the affected", "UANN"),
                       ("List the clients", "URESP")):
        button = find_button(slack.messages[(channel, ts)]["blocks"], label)
        before = len(slack.called("chat.update"))
        status, _ = await bot.press(channel, ts, button["action_id"], button["value"], user=who)
        assert status == 200
        await slack.wait_for(lambda n=before: len(slack.called("chat.update")) > n)
    blocks = slack.messages[(channel, ts)]["blocks"]
    text = all_text(blocks)
    assert "Assess 2/6" in text and "Inform 1/5" in text and "Prepare 0/5" in text
    row = next(b for b in blocks if "network offline" in b.get("text", {}).get("text", ""))
    assert "Done by <@URESP>" in row["text"]["text"] and row["accessory"]["text"]["text"] == "Undo"
    assert all(c.args["ts"] == ts for c in slack.called("chat.update"))

    status, ack = await bot.command("decision Pay nobody; restore from last night's backup", channel=channel,
                                    user="URESP")
    assert status == 200 and "Decision 1 recorded" in ack["text"]
    posted = await slack.wait_for(
        lambda: [c for c in slack.called("chat.postMessage") if "Decision 1" in (c.args.get("text") or "")])
    assert posted[0].args["channel"] == channel
    assert "restore from last night's backup" in all_text(posted[0].args["blocks"])

    status, ack = await bot.command("status", channel=channel, user="UANN")
    assert ack["response_type"] == "ephemeral"
    status_text = all_text(ack["blocks"])
    assert "Assess 2/6 · Inform 1/5 · Prepare 0/5" in status_text
    assert "<@URESP>" in status_text
    assert "Revoke the privileges" in status_text  # an open item is listed
    assert "Take the affected network offline" not in status_text  # a done one is not

    incident_id = int(re.search(r"incident (\d+)", all_text(blocks)).group(1))
    data = await record.incident_record(bot.db, incident_id, load_playbook())
    assert data["summary"] == "Ransomware on the front-desk PC"
    assert data["responder"] == "URESP" and data["platform"] == "slack" and data["status"] == "open"
    done = [c for c in data["checklist"] if c["state"] == "done"]
    assert [(c["item"][:24], c["by"]) for c in done] == [
        ("Take the affected networ", "URESP"), ("Isolate the affected ser", "UANN"),
        ("List the clients whose d", "URESP")]
    assert data["decisions"][0]["text"] == "Pay nobody; restore from last night's backup"
    assert data["decisions"][0]["by"] == "URESP"
    actions = [e["action"] for e in data["timeline"]]
    assert actions == ["incident.declared", "room.opened", "room.ready", "item.done", "item.done", "item.done",
                       "decision.recorded"]
    assert data["declared_at"].endswith("Z")
    markdown = record.to_markdown(data)
    assert "# Incident" in markdown and "| Assess | Take the affected network offline" in markdown
