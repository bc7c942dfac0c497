"""Breach drills: practice incidents that run like real ones, and can never be mistaken for one."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import sqlalchemy as sa

from bot import checklist, clocks, closing, decisions, record
from bot.cards import Card, Header, Text
from bot.core import Core
from bot.declare import declare
from bot.domain import Actor
from bot.playbook import load_playbook
from bot.ports import Attachment, Audience, RoomRef
from storage.db import Database
from storage.models import Incident
from tests.conftest import Bot, find_button
from tests.entra_fake import entra  # noqa: F401  (the fixture)
from tests.test_cli import run
from tests.test_notice_room import COMPLETE, button, wrap
from tests.test_teams_war_room import BOB, OFFICE, Teams, card_text, fake, graph, teams, valid  # noqa: F401

TODAY = datetime.now(UTC).strftime("%Y%m%d")


def said(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


async def drill_room(bot: Bot, summary: str, **kw: Any) -> dict[str, Any]:
    """`/breach drill <summary>`; waits until its war room's checklist and deadline card are pinned."""
    slack = bot.slack
    before = len(slack.responses)
    status, ack = await bot.command(f"drill {summary}", **kw)
    assert status == 200
    ready = await slack.wait_for(lambda: [r for r in slack.responses[before:] if "ready" in (r.get("text") or "")])
    channel = re.search(r"<#(C\w+)>", ready[0]["text"]).group(1)  # type: ignore[union-attr]
    await slack.wait_for(lambda: len(slack.pinned_in(channel)) == 2)
    return {"channel": channel, "ts": slack.pinned_in(channel)[0], "name": slack.channels[channel]["name"],
            "ack": ack}


async def press(bot: Bot, room: dict[str, Any], label: str, user: str) -> None:
    """Press the checklist button on the row mentioning `label` and wait for the message to be updated."""
    slack = bot.slack
    found = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], label)
    before = len(slack.called("chat.update"))
    await bot.press(room["channel"], room["ts"], found["action_id"], found["value"], user=user)
    await slack.wait_for(lambda: len(slack.called("chat.update")) > before)


async def incidents(bot: Bot) -> list[tuple[str, bool]]:
    async with bot.db.reading() as session:
        rows = (await session.execute(sa.text("SELECT summary, drill FROM incident ORDER BY id"))).all()
    return [(r.summary, bool(r.drill)) for r in rows]


def titles_of(message: dict[str, Any]) -> list[str]:
    """What a person reads first in a Slack message: its notification text, each header, and the first section
    when it has no header."""
    blocks = message.get("blocks") or []
    found = [message.get("text") or ""]
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and b.get("text")]
    found += headers or sections[:1]
    return found


# ---- naming, record and help ------------------------------------------------------------------------------

async def test_a_drill_opens_a_room_named_drill_with_its_date_and_words_and_the_record_says_drill(bot: Bot) -> None:
    room = await drill_room(bot, "Phishing email opened at reception", user="UANN")
    assert room["name"] == f"drill-{TODAY}-phishing-email-opened-at-reception"
    (created,) = bot.slack.called("conversations.create")
    assert created.args["is_private"] is True
    assert await incidents(bot) == [("Phishing email opened at reception", True)]
    async with bot.db.reading() as session:
        detail = (await session.execute(sa.text(
            "SELECT detail FROM timeline_entry WHERE action = 'incident.declared'"))).scalar_one()
    assert detail.startswith("Drill (a practice incident, not a real breach). High: Phishing email")
    assert bot.slack.channels[room["channel"]]["topic"].startswith("DRILL · Severity: High")


async def test_help_lists_drill_and_nothing_is_coming_later(bot: Bot) -> None:
    _, ack = await bot.command("help")
    text = said(ack)
    assert "/breach drill &lt;what happened&gt;" in text  # Slack escapes < and >
    assert "Coming soon" not in text and "coming in a later version" not in text


# ---- DRILL on everything a drill shows ---------------------------------------------------------------------

async def test_every_card_and_message_of_a_drills_whole_lifecycle_starts_with_drill(bot: Bot) -> None:
    """Declare, press (and a double press), status, decisions, notice facts, drafts, changes, refused and granted
    approval, clock facts, an obligation marked done, close with the summary, reopen: everything Slack receives
    says DRILL."""
    slack = bot.slack
    await bot.command("responder <@URESP|rita>")
    await bot.command("announce <#CPUBLIC9|incidents>")
    await slack.settle(0.2)
    calls_before, responses_before = len(slack.calls), len(slack.responses)
    acks: list[dict[str, Any]] = []

    room = await drill_room(bot, "Ransomware note on the front-desk PC", user="UANN")
    acks.append(room["ack"])
    channel, ts = room["channel"], room["ts"]

    # Presses: done, the same stale button again by someone else (told privately), then undo and done again.
    stale = find_button(slack.messages[(channel, ts)]["blocks"], "network offline")
    await press(bot, room, "network offline", "URESP")
    await bot.press(channel, ts, stale["action_id"], stale["value"], user="UANN")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postEphemeral") if "already marked done"
                                  in (c.args.get("text") or "")])
    await press(bot, room, "network offline", "URESP")
    await press(bot, room, "network offline", "URESP")

    for command, user in (("status", "UANN"), ("decision Pay nobody; restore from backup", "URESP")):
        _, ack = await bot.command(command, channel=channel, user=user)
        acks.append(ack)
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "Decision 1" in c.args["text"]])

    # A decision through its form.
    record_button = button(slack.messages[(channel, ts)]["blocks"], "Record decision")
    await bot.press(channel, ts, record_button["action_id"], record_button["value"], user="URESP")
    view = (await slack.wait_for(lambda: slack.called("views.open")))[-1].args["view"]
    await bot.submit(view, wrap({"decision": {"type": "plain_text_input", "value": "Call the insurer"}}),
                     user="URESP", view_id="VD1")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "Decision 2" in c.args["text"]])

    # The notice: a first draft, changes requested, facts filled in, a second draft approved.
    _, ack = await bot.command("notice", channel=channel, user="URESP")
    acks.append(ack)
    first = (await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                           if "Client notice v1" in c.args["text"]]))[-1].args
    changes = button(first["blocks"], "Request changes")
    await bot.press(channel, ts, changes["action_id"], changes["value"], user="UANN")
    view = (await slack.wait_for(lambda: [c for c in slack.called("views.open")
                                          if c.args["view"]["callback_id"] == "notice.changes.submit"]))[-1]
    await bot.submit(view.args["view"], wrap({"changes": {"type": "plain_text_input", "value": "Name the insurer"}}),
                     user="UANN", view_id="VC1")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "asked for changes" in c.args["text"]])
    facts_button = button(slack.messages[(channel, ts)]["blocks"], "Notice facts")
    await bot.press(channel, ts, facts_button["action_id"], facts_button["value"], user="URESP")
    view = (await slack.wait_for(lambda: [c for c in slack.called("views.open")
                                          if c.args["view"]["callback_id"] == "notice.facts.submit"]))[-1]
    await bot.submit(view.args["view"], wrap(COMPLETE), user="URESP", view_id="VF1")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postEphemeral") if "Notice facts saved"
                                  in (c.args.get("text") or "")])
    _, ack = await bot.command("notice", channel=channel, user="URESP")
    acks.append(ack)
    second = (await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                            if "Client notice v2" in c.args["text"]]))[-1].args
    # Refusals are private answers about the drill too: not a lead, not the latest version.
    for draft, user, refusal in ((second, "UANN", "can approve"), (first, "URESP", "not the latest draft")):
        approve = button(draft["blocks"], "Approve")
        await bot.press(channel, ts, approve["action_id"], approve["value"], user=user)
        await slack.wait_for(lambda r=refusal: [c for c in slack.called("chat.postEphemeral")
                                                if r in (c.args.get("text") or "")])
    approve = button(second["blocks"], "Approve")
    await bot.press(channel, ts, approve["action_id"], approve["value"], user="URESP")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "approved client notice v2"
                                  in c.args["text"]])

    # Clock facts through the form, and one obligation of the deadline card marked done.
    _, ack = await bot.command("clock", channel=channel, user="URESP")
    view = (await slack.wait_for(lambda: [c for c in slack.called("views.open")
                                          if c.args["view"]["callback_id"] == "clock.submit"]))[-1]
    aware = int((datetime.now(UTC) - timedelta(hours=2)).timestamp())
    await bot.submit(view.args["view"], wrap({"aware_at": {"type": "datetimepicker", "selected_date_time": aware},
                                              "why": {"type": "plain_text_input", "value": "Drill script"}}),
                     user="URESP", view_id="VK1")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "Clock facts recorded"
                                  in c.args["text"]])
    await slack.settle(0.3)
    clock_ts = slack.pinned_in(channel)[1]
    mark = next(e for b in slack.messages[(channel, clock_ts)]["blocks"] if b.get("accessory")
                for e in [b["accessory"]] if e["text"]["text"] == "Mark done")
    await bot.press(channel, clock_ts, mark["action_id"], mark["value"], user="URESP")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postEphemeral") if "Marked done"
                                  in (c.args.get("text") or "")])

    # Close (the responder, with Assess steps open), the summary, then reopen.
    _, ack = await bot.command("close", channel=channel, user="URESP")
    acks.append(ack)
    close = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    await bot.press(channel, ts, close["action_id"], close["value"], user="URESP")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "post-incident summary"
                                  in c.args["text"]])
    await slack.wait_for(lambda: "closed" in slack.channels[channel]["topic"])
    _, ack = await bot.command("reopen", channel=channel, user="URESP")
    acks.append(ack)
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if "reopened" in c.args["text"]])
    await slack.settle(0.5)

    calls = slack.calls[calls_before:]
    messages = [c.args for c in calls if c.method in ("chat.postMessage", "chat.postEphemeral", "chat.update")]
    messages += slack.responses[responses_before:] + acks
    assert len(messages) > 30
    for message in messages:
        for title in titles_of(message):
            assert title.startswith("DRILL · "), (title, message.get("text"))
    # Every kind of card was seen, each marked: checklist, status, decision, notice, deadlines, close, summary.
    seen = "\n".join(t for m in messages for t in titles_of(m))
    for kind in ("DRILL · Breach war room: incident", "DRILL · Assess", "DRILL · Status of incident",
                 "DRILL · *Decision 1*", "DRILL · Client notice v2", "DRILL · Notification deadlines",
                 "DRILL · Close incident", "DRILL · Post-incident summary", "DRILL · *Clock facts recorded*",
                 "DRILL · Your private war room is ready", "DRILL · Opening a private war room"):
        assert kind in seen, kind
    # Topics, shared files and their comments say it too; nothing went anywhere but the room and its people.
    topics = [c.args["topic"] for c in calls if c.method == "conversations.setTopic"]
    assert len(topics) >= 3 and all(t.startswith("DRILL · ") for t in topics)
    files = [f for f in slack.files.values() if f["channel"] == channel]
    assert len(files) == 5  # two drafts (.docx and .md each) and the timeline chart
    for shared in files:
        assert shared["name"].startswith("drill-") and shared["title"].startswith("DRILL · ")
        assert shared["comment"].startswith("DRILL · ")
    posted_to = {c.args["channel"] for c in calls if c.method == "chat.postMessage"}
    assert posted_to == {channel}
    assert not slack.rejected("invalid_blocks")


class Recorder:
    """A ChatPort that keeps every card it is given, for use cases driven without any platform."""

    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.topics: list[str] = []

    async def open_private_room(self, name: str, *, title: str = "", members: Sequence[str] = (),
                                near: str | None = None) -> RoomRef:
        self.room = (name, title)
        return RoomRef("R1", name)

    async def invite(self, room_id: str, user_ids: list[str]) -> None:
        pass

    async def set_topic(self, room_id: str, text: str) -> None:
        self.topics.append(text)

    async def post_cards(self, room_id: str, cards: list[Card]) -> list[str]:
        self.cards += cards
        return [f"m{len(self.cards)}-{n}" for n in range(len(cards))]

    async def update_cards(self, room_id: str, message_id: str, cards: list[Card]) -> None:
        self.cards += cards

    async def pin(self, room_id: str, message_id: str) -> None:
        pass

    async def tell(self, audience: Audience, card: Card) -> None:
        self.cards.append(card)

    async def share_files(self, room_id: str, files: list[Attachment], comment: str) -> list[str]:
        return []


def first_title(card: Card) -> str:
    """The header, else the first text, of a card; `DRILL · ` for a card of buttons alone (its fallback counts)."""
    return next((p.text for p in card.parts if isinstance(p, Header | Text)), "DRILL · ")


async def test_reminders_of_a_drill_say_drill(db: Database) -> None:
    """The deadline reminders fire from the server's loop, not from a person: they are marked all the same."""
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    now = [t0]
    core = Core(db=db, playbook=load_playbook(), clock=lambda: now[0])
    port = Recorder()
    reply = await declare(core, Actor("slack", "T1", "UANN"), "Card data on a stolen laptop", origin_channel="C1",
                          discovered_at=t0, data_kinds=("credentials",), affected_clients=812, drill=True)
    assert reply.card is not None and reply.card.fallback.startswith("DRILL · ")
    for work in reply.work:
        await work(port)
    assert port.room == ("drill-20260302-card-data-on-a-stolen-laptop",
                         "Drill 2026-03-02: Card data on a stolen laptop")
    async with db.transaction() as session:
        incident = await session.get(Incident, 1)
        assert incident is not None
        incident.notice_facts = {"affected_by_region": {"US-CA": 812}}
    await clocks.refresh(core, 1, port)  # schedules the reminders of California's 30 days
    now[0] = t0 + timedelta(days=16)
    assert await clocks.fire_reminders(core, {"slack": port}) == 1
    reminder = next(c for c in port.cards if "⏰" in c.fallback)
    assert reminder.fallback.startswith("DRILL · ⏰") and first_title(reminder).startswith("DRILL · ⏰")
    assert port.cards and all(c.fallback.startswith("DRILL · ") and first_title(c).startswith("DRILL · ")
                              for c in port.cards)
    assert port.topics and all(t.startswith("DRILL · ") for t in port.topics)


# ---- no announcement -----------------------------------------------------------------------------------------

async def test_a_drill_is_never_announced_but_a_real_incident_still_is(bot: Bot) -> None:
    slack = bot.slack
    await bot.command("announce <#CPUBLIC9|incidents>")
    room = await drill_room(bot, "Tapes of the backup lost in transit", user="UANN")
    _, ack = await bot.command("close", channel=room["channel"], user="UANN")
    text = said(ack)
    assert "never announced" in text and "CPUBLIC9" not in text
    close = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    await bot.press(room["channel"], room["ts"], close["action_id"], close["value"], user="UANN")
    await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage") if c.args["channel"] == room["channel"]
                                  and "post-incident summary" in c.args["text"]])
    await slack.settle(0.5)
    assert not [c for c in slack.called("chat.postMessage") if c.args["channel"] == "CPUBLIC9"]

    real = await drill_room_real(bot, "Tapes of the backup lost in transit")
    _, ack = await bot.command("close", channel=real["channel"], user="UANN")
    assert "without details, in <#CPUBLIC9>" in said(ack)
    close = next(b for b in ack["blocks"] if b["type"] == "actions")["elements"][0]
    await bot.press(real["channel"], real["ts"], close["action_id"], close["value"], user="UANN")
    public = await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                           if c.args["channel"] == "CPUBLIC9"])
    assert public[0].args["text"].startswith("Incident 2 closed") and "DRILL" not in said(public[0].args)


async def drill_room_real(bot: Bot, summary: str) -> dict[str, Any]:
    """A real breach declared by UANN (who leads it: no responder is set)."""
    slack = bot.slack
    before = len(slack.responses)
    await bot.command(summary, user="UANN")
    ready = await slack.wait_for(lambda: [r for r in slack.responses[before:] if "ready" in (r.get("text") or "")])
    channel = re.search(r"<#(C\w+)>", ready[0]["text"]).group(1)  # type: ignore[union-attr]
    await slack.wait_for(lambda: len(slack.pinned_in(channel)) == 2)
    return {"channel": channel, "ts": slack.pinned_in(channel)[0]}


# ---- the notice of a drill -------------------------------------------------------------------------------------

async def test_the_notice_of_a_drill_says_first_that_it_is_an_exercise(bot: Bot, tmp_path: Path) -> None:
    slack = bot.slack
    room = await drill_room(bot, "Client list emailed to a stranger", user="UANN")
    await bot.command("notice", channel=room["channel"])
    await slack.wait_for(lambda: len([f for f in slack.files.values() if f["content"] is not None]) == 2)
    files = {f["name"]: f["content"] for f in slack.files.values()}
    assert set(files) == {"drill-client-notice-incident-1-v1.docx", "drill-client-notice-incident-1-v1.md"}
    markdown = files["drill-client-notice-incident-1-v1.md"].decode()
    first, blank, heading = markdown.splitlines()[:3]
    assert first.startswith("**EXERCISE, NOT A REAL NOTICE.**") and "breach drill" in first
    assert (blank, heading) == ("", "# Notice of Data Breach")
    document = docx.Document(io.BytesIO(files["drill-client-notice-incident-1-v1.docx"]))
    assert document.paragraphs[0].text.startswith("EXERCISE, NOT A REAL NOTICE. This letter was drafted during")
    assert document.paragraphs[1].text == "Notice of Data Breach"

    # A real incident's notice, in the war room and from the command line, is the letter alone.
    real = await drill_room_real(bot, "Client list emailed to a stranger")
    await bot.command("notice", channel=real["channel"])
    await slack.wait_for(lambda: "client-notice-incident-2-v1.md" in {f["name"] for f in slack.files.values()
                                                                       if f["content"] is not None})
    real_md = next(f["content"] for f in slack.files.values() if f["name"] == "client-notice-incident-2-v1.md")
    assert real_md.decode().startswith("# Notice of Data Breach") and b"EXERCISE" not in real_md
    (tmp_path / "facts.json").write_text(json.dumps({"what_happened": "Client list emailed to a stranger."}))
    drafted = run(tmp_path, "notices", "draft", "--facts", "facts.json", "--out", "out")
    assert drafted.returncode == 0, drafted.stderr
    assert (tmp_path / "out" / "notice.md").read_text().startswith("# Notice of Data Breach")


# ---- duplicates -------------------------------------------------------------------------------------------------

async def test_a_drill_and_a_real_breach_with_the_same_words_are_two_incidents(bot: Bot) -> None:
    slack = bot.slack
    drill = await drill_room(bot, "Laptop stolen from the car", user="UANN")
    real = await drill_room_real(bot, "Laptop stolen from the car")
    assert drill["name"] == f"drill-{TODAY}-laptop-stolen-from-the-car"
    assert slack.channels[real["channel"]]["name"] == f"breach-{TODAY}-laptop-stolen-from-the-car"
    assert await incidents(bot) == [("Laptop stolen from the car", True), ("Laptop stolen from the car", False)]

    # Each, declared again, is a duplicate of itself only.
    _, ack = await bot.command("drill laptop stolen  from the car", user="UANN")
    assert ack["text"].startswith("DRILL · You declared this drill") and f"<#{drill['channel']}>" in ack["text"]
    _, ack = await bot.command("Laptop stolen from the car", user="UANN")
    assert ack["text"].startswith("You declared this breach") and f"<#{real['channel']}>" in ack["text"]
    assert len(await incidents(bot)) == 2


# ---- the declare form for a drill ------------------------------------------------------------------------------

async def test_drill_alone_opens_the_declare_form_for_a_drill_and_submitting_it_declares_one(bot: Bot) -> None:
    slack = bot.slack
    status, ack = await bot.command("drill", trigger="trig-drill-1", user="UANN")
    assert status == 200 and not ack
    view = (await slack.wait_for(lambda: slack.called("views.open")))[0].args["view"]
    assert view["callback_id"] == "declare.submit" and view["title"]["text"] == "Declare a drill"
    assert "practice war room" in view["blocks"][0]["text"]["text"]
    assert json.loads(view["private_metadata"]) == {"origin": "CPUBLIC1", "drill": True}
    _, body = await bot.submit(view, wrap({
        "summary": {"type": "plain_text_input", "value": "Ransomware on the accounts PC"},
        "severity": {"type": "static_select", "selected_option": {"value": "critical"}},
    }), user="UANN", view_id="VDR1")
    assert not body
    (created,) = await slack.wait_for(lambda: slack.called("conversations.create"))
    assert created.args["name"] == f"drill-{TODAY}-ransomware-on-the-accounts-pc"
    told = await slack.wait_for(lambda: [c for c in slack.called("chat.postEphemeral")
                                         if "war room is ready" in c.args["text"]])
    assert told[0].args["channel"] == "CPUBLIC1" and told[0].args["text"].startswith("DRILL · ")
    assert await incidents(bot) == [("Ransomware on the accounts PC", True)]


# ---- the command line: list and training record -----------------------------------------------------------------

async def scripted_drill(db: Database) -> Core:
    """A drill and a real incident with known times: declared at 08:00 by Ann, steps by Rita and Bob, closed."""
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    now = [t0]
    core = Core(db=db, playbook=load_playbook(), clock=lambda: now[0])
    ann, rita, bob = (Actor("slack", "T1", u) for u in ("UANN", "URITA", "UBOB"))
    await declare(core, ann, "Phishing drill at reception", origin_channel="C1", drill=True)
    for minutes, use_case in (
        (4, lambda: checklist.press(core, rita, "1:network-offline:done")),
        (9, lambda: decisions.record_decision(core, bob, 1, "Reset the receptionist's password")),
        (15, lambda: checklist.press(core, rita, "1:isolate-servers:done")),
        (30, lambda: closing.confirm_close(core, ann, "1:force")),
    ):
        now[0] = t0 + timedelta(minutes=minutes)
        await use_case()
    now[0] = t0 + timedelta(hours=1)
    await declare(core, ann, "Mailbox forwarded to an outside address", origin_channel="C1")
    return core


async def test_incidents_list_leaves_drills_out_unless_asked(db_url: str, db: Database, tmp_path: Path) -> None:
    await scripted_drill(db)
    listed = run(tmp_path, "incidents", "list", DATABASE_URL=db_url)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    assert line.split("\t") == ["2", "open", "2026-03-02T09:00:00Z", "high", "slack", "-",
                                "Mailbox forwarded to an outside address"]

    listed = run(tmp_path, "incidents", "list", "--drills", DATABASE_URL=db_url)
    assert listed.returncode == 0, listed.stderr
    drill, real = (line.split("\t") for line in listed.stdout.splitlines())
    assert drill == ["1", "closed", "2026-03-02T08:00:00Z", "high", "slack", "-", "Phishing drill at reception",
                     "drill"]
    assert real == line.split("\t")


async def test_the_export_of_a_drill_is_a_training_record(db_url: str, db: Database, tmp_path: Path) -> None:
    await scripted_drill(db)
    exported = run(tmp_path, "incidents", "export", "1", "--format", "json", DATABASE_URL=db_url)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["drill"] is True
    training = data["training"]
    assert [(p["who"], p["took_part_as"], p["actions"]) for p in training["participants"]] == [
        ("UANN", ["declared", "closed"], 2), ("URITA", ["pressed"], 2), ("UBOB", ["decided"], 1)]
    steps = [(s["who"], s["action"], s["seconds_since_declaration"], s["seconds_since_previous_step"])
             for s in training["steps"]]
    assert steps == [("UANN", "incident.declared", 0, 0), ("URITA", "item.done", 240, 240),
                     ("UBOB", "decision.recorded", 540, 300), ("URITA", "item.done", 900, 360),
                     ("UANN", "incident.closed", 1800, 900)]
    assert training["steps"][2]["what"] == "Decision: Reset the receptionist's password"
    assert training["steps"][1]["at"] == "2026-03-02T08:04:00Z"
    assert training["seconds_declaration_to_last_step"] == 1800
    assert data["checklist"] and data["timeline"] and data["post_incident"]  # the full record is kept

    markdown = run(tmp_path, "incidents", "export", "1", "--format", "md", DATABASE_URL=db_url).stdout
    assert markdown.startswith("# Drill 1: Phishing drill at reception (training record)\n")
    assert "This was a drill, a practice incident, not a real breach." in markdown
    assert "| URITA | pressed | 2 | 2026-03-02T08:04:00Z | 2026-03-02T08:15:00Z |" in markdown
    assert "| 2 | 2026-03-02T08:09:00Z | UBOB | Decision: Reset the receptionist's password | 9 min | 5 min |" \
        in markdown
    assert "Declaration to the last step: 30 min." in markdown
    assert "## Checklist" in markdown and "## Timeline" in markdown

    document = docx.Document(io.BytesIO(record.to_docx(json.loads(exported.stdout))))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings[:3] == ["Drill 1: Phishing drill at reception (training record)", "Who took part",
                            "Steps and how long they took"]
    cells = {c.text for t in document.tables for row in t.rows for c in row.cells}
    assert {"URITA", "declared, closed", "Decision: Reset the receptionist's password", "15 min"} <= cells

    # A real incident's export is the record it always was.
    real = json.loads(run(tmp_path, "incidents", "export", "2", DATABASE_URL=db_url).stdout)
    assert real["drill"] is False and "training" not in real
    real_md = run(tmp_path, "incidents", "export", "2", "--format", "md", DATABASE_URL=db_url).stdout
    assert real_md.startswith("# Incident 2: Mailbox forwarded to an outside address\n\n- Severity: High")
    assert "Who took part" not in real_md


async def test_a_drills_notice_is_never_merged_into_letters(db_url: str, db: Database, tmp_path: Path) -> None:
    await scripted_drill(db)
    (tmp_path / "clients.csv").write_text("name,email,postal_address,country,state\nZoe,z@example.com,,US,CA\n")
    merged = run(tmp_path, "notices", "merge", "1", "--clients", "clients.csv", "--out", "letters",
                 DATABASE_URL=db_url)
    assert merged.returncode != 0
    assert "is a drill" in merged.stderr and "--facts" in merged.stderr
    assert not (tmp_path / "letters").exists() or not any((tmp_path / "letters").iterdir())


# ---- Teams: the same router, the same marks ------------------------------------------------------------------------

async def test_a_drill_declared_in_teams_is_a_drill_chat_whose_cards_say_drill(teams: Teams) -> None:  # noqa: F811
    assert await teams.say("help") == 200
    assert await teams.say("responder <at>Bob</at>", conversation=OFFICE, kind="groupChat",
                           mentions={"Bob": BOB}) == 200
    await teams.fake.settle(0.3)
    sent_before = len(teams.fake.sent)
    assert await teams.say("drill Laptop left on the train", conversation=OFFICE, kind="groupChat") == 200
    posts = await teams.fake.wait_for(lambda: [s for s in teams.fake.sent if s.conversation in teams.graph.chats
                                               and s.updates is None])
    chat_id = posts[0].conversation
    assert re.fullmatch(r"Drill \d{4}-\d{2}-\d{2} - Laptop left on the train", teams.graph.chats[chat_id]["topic"])
    await teams.fake.wait_for(lambda: [s for s in teams.fake.posts("a:ann-1on1") if s.cards()
                                       and "ready" in card_text(s.cards()[0])])
    await teams.fake.settle(0.5)
    cards = [c for s in teams.fake.sent[sent_before:] for c in s.cards()]
    assert len(cards) >= 3  # the checklist, the deadline card, Ann's confirmation
    for card in cards:
        valid(card)
        assert card_text(card).startswith("DRILL · "), card_text(card)[:120]
    office = " ".join(s.text + str(s.cards()) for s in teams.fake.sent[sent_before:] if s.conversation == OFFICE)
    assert "Laptop" not in office
