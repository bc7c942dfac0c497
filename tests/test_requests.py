"""What Slack sends that must not be trusted or repeated: forged, stale, retried and double requests."""

from __future__ import annotations

import asyncio
import json
import time

import sqlalchemy as sa

from tests.conftest import Bot, declare_room, find_button


async def count(bot: Bot, table: str) -> int:
    async with bot.db.reading() as session:
        return int((await session.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_forged_signature_is_refused_and_changes_nothing(bot: Bot) -> None:
    body = bot.command_body("Laptop stolen")
    headers = bot.sign(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    status, _ = await bot.post(body, headers)
    assert status == 401
    headers.pop("X-Slack-Signature")
    status, _ = await bot.post(body, headers)
    assert status == 401
    assert await count(bot, "incident") == 0
    assert not bot.slack.called("conversations.create")


async def test_a_request_signed_more_than_five_minutes_ago_is_refused(bot: Bot) -> None:
    body = bot.command_body("Laptop stolen")
    status, _ = await bot.post(body, bot.sign(body, timestamp=int(time.time()) - 6 * 60))
    assert status == 401
    assert await count(bot, "incident") == 0


async def test_a_retried_delivery_opens_no_second_war_room(bot: Bot) -> None:
    body = bot.command_body("Phishing email emptied the payroll account", user="UANN")
    await bot.post(body)
    headers = bot.sign(body) | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    status, second = await bot.post(body, headers)
    assert status == 200
    assert "No second war room" in second["text"] or "did not open a second" in second["text"]
    await bot.slack.wait_for(bot.slack.checklist_pin)
    await bot.slack.settle()
    assert len(bot.slack.called("conversations.create")) == 1
    assert await count(bot, "incident") == 1


async def test_retyping_the_same_breach_points_to_the_existing_room(bot: Bot) -> None:
    room = await declare_room(bot, "Phishing email emptied the payroll account", user="UANN")
    status, again = await bot.command("phishing email  emptied the PAYROLL account", user="UANN")
    assert status == 200
    assert f"<#{room['channel']}>" in again["text"]
    assert "did not open a second war room" in again["text"]
    assert len(bot.slack.called("conversations.create")) == 1


async def test_the_same_words_from_someone_else_open_a_second_room_with_a_new_name(bot: Bot) -> None:
    first = await declare_room(bot, "Stolen laptop", user="UANN")
    second = await declare_room(bot, "Stolen laptop", user="UBOB")
    assert second["channel"] != first["channel"]
    assert second["name"] == first["name"] + "-2"
    creates = bot.slack.called("conversations.create")
    assert [c.error for c in creates] == [None, "name_taken", None]


async def test_double_click_records_one_change_and_undo_clears_it(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    slack = bot.slack
    button = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "network offline")
    await asyncio.gather(*(bot.press(room["channel"], room["ts"], button["action_id"], button["value"])
                           for _ in range(2)))
    def row() -> dict:
        return find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "network offline")

    await slack.wait_for(lambda: row()["text"]["text"] == "Undo")
    await slack.settle()
    assert await count(bot, "timeline_entry WHERE action = 'item.done'") == 1
    undo = row()
    await bot.press(room["channel"], room["ts"], undo["action_id"], undo["value"])
    await bot.press(room["channel"], room["ts"], undo["action_id"], undo["value"])
    await slack.wait_for(lambda: row()["text"]["text"] == "Done")
    await slack.settle()
    assert await count(bot, "timeline_entry WHERE action = 'item.reopened'") == 1
    assert row()["text"]["text"] == "Done"
    text = json.dumps(slack.messages[(room["channel"], room["ts"])]["blocks"])
    assert "Assess 0/6" in text and "Done by" not in text


async def test_two_people_pressing_at_once_make_one_change_and_the_second_hears_who_won(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    slack = bot.slack
    button = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "Isolate")
    slack.channels[room["channel"]]["members"].update({"URESP", "UBOB"})  # added to the war room in Slack itself
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="URESP")
    await slack.settle()
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="UBOB")
    told = await slack.wait_for(lambda: [c for c in slack.called("chat.postEphemeral") if c.args["user"] == "UBOB"])
    assert "<@URESP> already marked done" in told[0].args["text"]
    assert await count(bot, "timeline_entry WHERE action = 'item.done'") == 1


async def test_a_tampered_button_value_is_answered_not_crashed(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    status, _ = await bot.press(room["channel"], room["ts"], "item.toggle#1", "not-a-value")
    assert status == 200
    told = await bot.slack.wait_for(lambda: bot.slack.called("chat.postEphemeral"))
    assert "out of date" in told[0].args["text"]
    status, _ = await bot.press(room["channel"], room["ts"], "item.toggle#1", "999:lead:done")
    assert status == 200
    await bot.slack.wait_for(lambda: len(bot.slack.called("chat.postEphemeral")) == 2)
    assert await count(bot, "timeline_entry WHERE action = 'item.done'") == 0


async def test_an_unknown_slash_command_gets_a_clear_answer(bot: Bot) -> None:
    status, ack = await bot.command("anything", command="/incident")
    assert status == 200
    assert "does not know `/incident`" in ack["text"]
    assert await count(bot, "incident") == 0


async def test_slacks_url_verification_on_the_events_url_is_answered(bot: Bot) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    headers = bot.sign(body) | {"Content-Type": "application/json"}
    status, answer = await bot.post(body, headers)
    assert status == 200
    assert answer == {"challenge": "c-123"}


async def test_when_the_database_is_down_the_declarer_gets_a_sentence_and_their_text_back(slack) -> None:  # type: ignore[no-untyped-def]
    from bot.playbook import load_playbook
    from breachroom.server import make_app
    from storage.db import Database, parse_url
    from tests.conftest import bot_settings, serve

    dead = "postgresql+psycopg://nobody@127.0.0.1:1/breachroom"
    settings = bot_settings(slack, dead)
    runner, url = await serve(make_app(settings, load_playbook(), Database(parse_url(dead))))
    client = Bot(url, slack, Database(parse_url(dead)))
    try:
        status, ack = await client.command("Laptop with client files stolen from the car")
        assert status == 200 and ack["response_type"] == "ephemeral"
        assert "Something went wrong on Breachroom's side" in ack["text"]
        assert "Laptop with client files stolen from the car" in ack["text"]
        assert "Traceback" not in ack["text"]
    finally:
        await client.close()
        await runner.cleanup()
