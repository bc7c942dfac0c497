"""The declare and decision modals: opened at once, checked on submit, and kept in the record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.conftest import Bot, declare_room, find_button


def values_for(**fields: dict) -> dict:
    return {name: {name: state} for name, state in fields.items()}


async def test_breach_alone_opens_the_declare_form_within_the_acknowledgement(bot: Bot) -> None:
    status, ack = await bot.command("", trigger="trig-modal-1")
    assert status == 200 and not ack
    opened = await bot.slack.wait_for(lambda: bot.slack.called("views.open"))
    assert opened[0].args["trigger_id"] == "trig-modal-1"
    view = opened[0].args["view"]
    assert view["callback_id"] == "declare.submit"
    assert view["private_metadata"] == "CPUBLIC1"
    fields = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(fields) == ["summary", "severity", "discovered", "data_kinds", "affected", "compromised"]
    assert fields["summary"]["optional"] is False
    assert [o["value"] for o in fields["severity"]["element"]["options"]] == ["low", "medium", "high", "critical"]
    kinds = [o["text"]["text"] for o in fields["data_kinds"]["element"]["options"]]
    assert kinds == ["Names and contact details", "Account passwords", "Government ID numbers",
                     "Payment card numbers", "Bank account numbers", "Health data", "Other"]
    assert fields["compromised"]["element"]["type"] == "users_select"
    assert fields["discovered"]["element"]["type"] == "datetimepicker"


async def test_submitting_the_declare_form_opens_the_room_with_those_facts(bot: Bot) -> None:
    await bot.command("", trigger="trig-modal-2")
    view = (await bot.slack.wait_for(lambda: bot.slack.called("views.open")))[0].args["view"]
    discovered = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    status, body = await bot.submit(view, values_for(
        summary={"type": "plain_text_input", "value": "Card numbers skimmed from the web shop"},
        severity={"type": "static_select", "selected_option": {"value": "critical"}},
        discovered={"type": "datetimepicker", "selected_date_time": int(discovered.timestamp())},
        data_kinds={"type": "multi_static_select",
                    "selected_options": [{"value": "payment_card"}, {"value": "contact_details"}]},
        affected={"type": "number_input", "value": "1200"},
        compromised={"type": "users_select", "selected_user": "UINTERN"},
    ), user="UANN")
    assert status == 200 and not body
    slack = bot.slack
    channel, ts = await slack.wait_for(slack.checklist_pin)
    text = json.dumps(slack.messages[(channel, ts)]["blocks"], ensure_ascii=False)
    assert "Critical" in text and "Payment card numbers, Names and contact details" in text
    assert "1,200" in text and "<@UINTERN>" in text
    assert "Severity: Critical" in slack.called("conversations.setTopic")[0].args["topic"]
    told = await slack.wait_for(lambda: [c for c in slack.called("chat.postEphemeral")
                                         if f"<#{channel}>" in c.args["text"]])
    assert told[0].args["channel"] == "CPUBLIC1" and told[0].args["user"] == "UANN"
    async with bot.db.reading() as session:
        row = (await session.execute(sa.text(
            "SELECT severity, affected_clients, compromised_account, discovered_at FROM incident"))).one()
    assert (row.severity, row.affected_clients, row.compromised_account) == ("critical", 1200, "UINTERN")
    stored = row.discovered_at if isinstance(row.discovered_at, datetime) else datetime.fromisoformat(
        row.discovered_at)
    assert stored.replace(tzinfo=None) == discovered.replace(tzinfo=None)


async def test_declare_form_values_that_need_fixing_are_shown_next_to_the_fields(bot: Bot) -> None:
    await bot.command("", trigger="trig-modal-3")
    view = (await bot.slack.wait_for(lambda: bot.slack.called("views.open")))[0].args["view"]
    future = datetime.now(UTC) + timedelta(days=2)
    status, body = await bot.submit(view, values_for(
        summary={"type": "plain_text_input", "value": "Stolen backup drive"},
        affected={"type": "number_input", "value": "lots"},
        discovered={"type": "datetimepicker", "selected_date_time": int(future.timestamp())},
    ))
    assert status == 200
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"affected", "discovered"}
    assert not bot.slack.called("conversations.create")


async def test_record_decision_button_opens_a_form_and_keeps_the_rationale(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    slack = bot.slack
    blocks = slack.messages[(room["channel"], room["ts"])]["blocks"]
    actions = next(b for b in blocks if b["type"] == "actions")
    button = next(e for e in actions["elements"] if e["text"]["text"] == "Record decision")
    slack.channels[room["channel"]]["members"].add("URESP")  # added to the war room in Slack itself
    await bot.press(room["channel"], room["ts"], button["action_id"], button["value"], user="URESP")
    view = (await slack.wait_for(lambda: slack.called("views.open")))[0].args["view"]
    assert view["callback_id"] == "decision.submit"

    status, body = await bot.submit(view, values_for(decision={"type": "plain_text_input", "value": " "}),
                                    user="URESP", view_id="VDEC1")
    assert body["response_action"] == "errors" and "decision" in body["errors"]

    status, body = await bot.submit(view, values_for(
        decision={"type": "plain_text_input", "value": "Call the cyber insurer's breach hotline"},
        rationale={"type": "plain_text_input", "value": "The policy requires notice within 48 hours"},
    ), user="URESP", view_id="VDEC1")
    assert status == 200 and not body
    posted = await slack.wait_for(lambda: [c for c in slack.called("chat.postMessage")
                                           if "Decision 1" in (c.args.get("text") or "")])
    text = json.dumps(posted[0].args["blocks"])
    assert "Call the cyber insurer" in text and "within 48 hours" in text and "<@URESP>" in text
    # The same submission delivered again is kept once.
    await bot.submit(view, values_for(
        decision={"type": "plain_text_input", "value": "Call the cyber insurer's breach hotline"},
    ), user="URESP", view_id="VDEC1")
    await slack.settle()
    async with bot.db.reading() as session:
        rows = (await session.execute(sa.text("SELECT text, rationale, decided_by FROM decision"))).all()
    assert [tuple(r) for r in rows] == [("Call the cyber insurer's breach hotline",
                                         "The policy requires notice within 48 hours", "URESP")]
    assert find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "network offline")
