"""Every /breach sub-command answers, and bad arguments get a private sentence, never silence."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.conftest import Bot, declare_room


async def incidents(bot: Bot) -> int:
    async with bot.db.reading() as session:
        return int((await session.execute(sa.text("SELECT count(*) FROM incident"))).scalar_one())


def said(ack: dict) -> str:
    return ack["text"] + json.dumps(ack.get("blocks") or [])


async def test_help_lists_the_commands_privately(bot: Bot) -> None:
    status, ack = await bot.command("help")
    assert status == 200 and ack["response_type"] == "ephemeral"
    for word in ("/breach decision", "/breach status", "/breach responder", "/breach backup", "/breach declare",
                 "/breach invite"):
        assert word in said(ack)


async def test_responder_and_backup_are_shown_and_set(bot: Bot) -> None:
    _, ack = await bot.command("responder")
    assert "No designated responder is set yet" in said(ack)
    _, ack = await bot.command("RESPONDER <@URITA|rita>")
    assert "<@URITA> is now the designated responder" in said(ack)
    _, ack = await bot.command("responder")
    assert "The designated responder is <@URITA>" in said(ack)
    # Once a responder is set, only they (or the backup, or an admin) change these: Rita names her backup.
    _, ack = await bot.command("backup <@UBEN>", user="URITA")
    assert "<@UBEN> is now the backup responder" in said(ack)
    _, ack = await bot.command("backup")
    assert "The backup responder is <@UBEN>" in said(ack)
    async with bot.db.reading() as session:
        rows = (await session.execute(sa.text(
            "SELECT actor, action, detail FROM timeline_entry ORDER BY id"))).all()
    assert [(r.action, r.detail) for r in rows] == [("workspace.responder", "none -> URITA"),
                                                    ("workspace.backup", "none -> UBEN")]


async def test_responder_followed_by_something_that_is_not_a_person_is_explained(bot: Bot) -> None:
    for arg in ("bob", "@bob", "<@UA|a> <@UB|b>", "<#C123|general>"):
        _, ack = await bot.command(f"responder {arg}")
        assert "couldn't find one person" in said(ack), arg
    _, ack = await bot.command("responder")
    assert "No designated responder is set yet" in said(ack)


async def test_decision_without_text_is_explained(bot: Bot) -> None:
    room = await declare_room(bot)
    _, ack = await bot.command("decision", channel=room["channel"])
    assert "Write the decision after the command" in said(ack)
    _, ack = await bot.command("decision   ", channel=room["channel"])
    assert "Write the decision after the command" in said(ack)


async def test_war_room_commands_typed_elsewhere_are_explained(bot: Bot) -> None:
    for text in ("status", "decision Pay the ransom"):
        _, ack = await bot.command(text, channel="CPUBLIC1")
        assert ack["response_type"] == "ephemeral"
        assert "works inside a war room channel" in said(ack)
    assert await incidents(bot) == 0


async def test_a_mistyped_command_word_asks_instead_of_declaring(bot: Bot) -> None:
    _, ack = await bot.command("stauts")
    assert "Did you mean `/breach status`?" in said(ack)
    _, ack = await bot.command("decison take the server offline")
    assert "Did you mean `/breach decision`?" in said(ack)
    assert await incidents(bot) == 0


async def test_declare_word_declares_a_summary_that_starts_with_a_command_word(bot: Bot) -> None:
    room = await declare_room(bot, "declare Status page defaced and customer list posted")
    assert room["name"].endswith("-status-page-defaced-and-customer-list")
    assert await incidents(bot) == 1


async def test_escaped_text_and_mentions_arrive_as_typed(bot: Bot) -> None:
    room = await declare_room(bot, "Invoices &amp; payroll &lt;2024&gt; exposed")
    channel = room["channel"]
    _, ack = await bot.command("decision Ask <@UIT|it-guy> to reset &amp; rotate keys", channel=channel)
    assert "Decision 1 recorded" in said(ack)
    post = await bot.slack.wait_for(
        lambda: [c for c in bot.slack.called("chat.postMessage") if "Decision 1" in (c.args.get("text") or "")])
    text = json.dumps(post[0].args["blocks"])
    assert "Ask <@UIT> to reset &amp; rotate keys" in text
    async with bot.db.reading() as session:
        summary = (await session.execute(sa.text("SELECT summary FROM incident"))).scalar_one()
        decision = (await session.execute(sa.text("SELECT text FROM decision"))).scalar_one()
    assert summary == "Invoices & payroll <2024> exposed"
    assert decision == "Ask @{UIT} to reset & rotate keys"


async def test_an_over_long_decision_is_kept_in_full_and_shortened_only_on_screen(bot: Bot) -> None:
    room = await declare_room(bot)
    long_text = "Restore every workstation from the offline backup, then " + "verify each one carefully. " * 145
    assert 3900 < len(long_text) <= 4000
    _, ack = await bot.command(f"decision {long_text}", channel=room["channel"])
    assert "Decision 1 recorded" in said(ack)
    post = await bot.slack.wait_for(
        lambda: [c for c in bot.slack.called("chat.postMessage") if "Decision 1" in (c.args.get("text") or "")])
    await bot.slack.settle()
    section = post[0].args["blocks"][0]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("…")
    async with bot.db.reading() as session:
        stored = (await session.execute(sa.text("SELECT text FROM decision"))).scalar_one()
    assert stored == long_text.strip()
    assert not bot.slack.rejected("invalid_blocks") and not bot.slack.rejected("msg_blocks_too_long")


async def test_an_over_long_summary_is_kept_in_full_and_the_room_still_opens(bot: Bot) -> None:
    summary = "Ransomware note found on the reception PC " * 40
    room = await declare_room(bot, summary)
    assert len(room["name"]) <= 80
    blocks = bot.slack.messages[(room["channel"], room["ts"])]["blocks"]
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    async with bot.db.reading() as session:
        stored = (await session.execute(sa.text("SELECT summary FROM incident"))).scalar_one()
    assert stored == " ".join(summary.split())
    assert not bot.slack.rejected("invalid_blocks") and not bot.slack.rejected("too_long")


async def test_timezone_is_shown_and_set_and_nonsense_is_explained(bot: Bot) -> None:
    _, ack = await bot.command("timezone")
    assert "shown in UTC" in said(ack)
    _, ack = await bot.command("timezone Mars/Olympus")
    assert "don't know the time zone" in said(ack)
    _, ack = await bot.command("timezone Europe/Berlin")
    assert "shown in Europe/Berlin (+0" in said(ack)
    _, ack = await bot.command("timezone")
    assert "shown in Europe/Berlin" in said(ack)
