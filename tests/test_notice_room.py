"""The client notice in the war room: facts, versioned drafts as files, approval rights."""

from __future__ import annotations

import io
import json

import docx
import sqlalchemy as sa

from tests.conftest import Bot, declare_room, find_button

FIVE = ["What Happened", "What Information Was Involved", "What We Are Doing", "What You Can Do",
        "For More Information"]
COMPLETE = {
    "what_happened": {"type": "plain_text_input", "value": "Someone used a stolen employee password to copy "
                                                           "our client database on 2 March."},
    "breach_started_at": {"type": "datepicker", "selected_date": "2026-03-01"},
    "breach_ended_at": {"type": "datepicker", "selected_date": "2026-03-02"},
    "discovered": {"type": "datetimepicker", "selected_date_time": 1772442000},
    "data_categories": {"type": "multi_static_select", "selected_options": [{"value": "credentials"}]},
    "affected_total": {"type": "number_input", "value": "120"},
    "regions": {"type": "plain_text_input", "value": "US-NY 120"},
    "actions_taken": {"type": "plain_text_input", "value": "We reset every password.\nWe called the police."},
    "company_name": {"type": "plain_text_input", "value": "Acme Dental"},
    "contact_name": {"type": "plain_text_input", "value": "Rita Lead"},
    "phone": {"type": "plain_text_input", "value": "+1 212 555 0100"},
    "email": {"type": "plain_text_input", "value": "privacy@acme.example"},
    "website": {"type": "plain_text_input", "value": "https://acme.example"},
    "postal_address": {"type": "plain_text_input", "value": "1 Main St, New York, NY 10001"},
}


def wrap(values: dict) -> dict:
    return {name: {name: state} for name, state in values.items()}


def cards_with(slack, text: str) -> list:  # type: ignore[no-untyped-def]
    return [c for c in slack.called("chat.postMessage") if text in (c.args.get("text") or "")]


async def notice_card(bot: Bot, version: int) -> dict:
    posted = await bot.slack.wait_for(lambda: cards_with(bot.slack, f"Client notice v{version}"))
    return posted[-1].args


def button(blocks: list[dict], label: str) -> dict:
    return next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["text"]["text"] == label)


async def test_a_draft_is_shared_as_word_and_markdown_with_what_is_still_missing(bot: Bot) -> None:
    room = await declare_room(bot, "Client database copied by an intruder", user="UANN")
    slack = bot.slack
    press = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "network offline")
    await bot.press(room["channel"], room["ts"], press["action_id"], press["value"])
    # The checklist's own update (not the deadline card's, which the ticker may refresh meanwhile) shows the press.
    await slack.wait_for(lambda: [c for c in slack.called("chat.update") if c.args["ts"] == room["ts"]])
    _, ack = await bot.command("notice", channel=room["channel"])
    assert "v1 drafted" in ack["text"]
    card = await notice_card(bot, 1)
    assert card["channel"] == room["channel"]
    said = json.dumps(card["blocks"])
    assert "Still to confirm" in said and "phone number" in said
    for label in ("Approve", "Request changes", "Notice facts"):
        button(card["blocks"], label)
    files = {f["name"]: f for f in slack.files.values()}
    assert set(files) == {"client-notice-incident-1-v1.docx", "client-notice-incident-1-v1.md"}
    assert all(f["channel"] == room["channel"] for f in files.values())
    markdown = files["client-notice-incident-1-v1.md"]["content"].decode()
    assert markdown.startswith("# Notice of Data Breach")
    assert "Client database copied by an intruder" in markdown  # what happened, from the declaration
    assert "We took the affected network offline" in markdown  # what we are doing, from the checklist
    assert "[TO CONFIRM: the company's phone number]" in markdown
    document = docx.Document(io.BytesIO(files["client-notice-incident-1-v1.docx"]["content"]))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert "Notice of Data Breach" in headings and all(h in headings for h in FIVE)


async def test_every_draft_is_a_new_version_and_older_ones_are_kept(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    await bot.command("notice", channel=room["channel"])
    await notice_card(bot, 1)
    await bot.command("notice", channel=room["channel"])
    await notice_card(bot, 2)
    async with bot.db.reading() as session:
        rows = (await session.execute(sa.text("SELECT version, status FROM notice_draft ORDER BY version"))).all()
    assert [tuple(r) for r in rows] == [(1, "draft"), (2, "draft")]
    assert len({f["name"] for f in bot.slack.files.values()}) == 4


async def test_notice_facts_form_is_prefilled_checked_and_fills_the_placeholders(bot: Bot) -> None:
    room = await declare_room(bot, "Payroll files copied", user="UANN")
    slack = bot.slack
    blocks = slack.messages[(room["channel"], room["ts"])]["blocks"]
    facts_button = button(blocks, "Notice facts")
    await bot.press(room["channel"], room["ts"], facts_button["action_id"], facts_button["value"])
    view = (await slack.wait_for(lambda: slack.called("views.open")))[0].args["view"]
    assert view["callback_id"] == "notice.facts.submit"
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert inputs["what_happened"]["element"]["initial_value"] == "Payroll files copied"
    assert {"company_name", "email", "regions", "ip_provider", "actions_taken"} <= set(inputs)

    bad = {**COMPLETE, "email": {"type": "plain_text_input", "value": "privacy at acme"}}
    _, body = await bot.submit(view, wrap(bad), view_id="VF1")
    assert body["response_action"] == "errors" and "not an email address" in body["errors"]["email"]
    _, body = await bot.submit(view, wrap({**COMPLETE, "regions": {"type": "plain_text_input", "value": "lots"}}),
                               view_id="VF1")
    assert "regions" in body["errors"]

    _, body = await bot.submit(view, wrap(COMPLETE), view_id="VF1")
    assert not body
    await slack.wait_for(lambda: any("Notice facts saved" in c.args.get("text", "")
                                     for c in slack.called("chat.postEphemeral")))
    await bot.command("notice", channel=room["channel"])
    card = await notice_card(bot, 1)
    assert "Every fact is filled in" in json.dumps(card["blocks"])
    markdown = next(f for f in slack.files.values() if f["name"].endswith(".md"))["content"].decode()
    assert "TO CONFIRM" not in markdown
    assert "Acme Dental" in markdown and "privacy@acme.example" in markdown
    assert "change the password" in markdown.lower()  # credentials: what the client can do


async def test_only_the_responder_or_backup_approves_the_latest_complete_draft(bot: Bot) -> None:
    await bot.command("responder <@URESP|rita>")
    await bot.command("backup <@UBACK|ben>", user="URESP")
    room = await declare_room(bot, "Client list emailed to a stranger", user="UANN")
    slack = bot.slack
    await bot.command("notice", channel=room["channel"])
    first = await notice_card(bot, 1)
    approve = button(first["blocks"], "Approve")

    await bot.press(room["channel"], room["ts"], approve["action_id"], approve["value"], user="UANN")
    refused = await slack.wait_for(lambda: [c for c in slack.called("chat.postEphemeral")
                                            if c.args["user"] == "UANN" and "can approve" in c.args["text"]])
    assert "<@URESP> or <@UBACK>" in refused[0].args["text"]
    await bot.press(room["channel"], room["ts"], approve["action_id"], approve["value"], user="URESP")
    await slack.wait_for(lambda: any("facts to confirm" in c.args["text"] for c in slack.called("chat.postEphemeral")
                                     if c.args["user"] == "URESP"))

    blocks = slack.messages[(room["channel"], room["ts"])]["blocks"]
    facts_button = button(blocks, "Notice facts")
    await bot.press(room["channel"], room["ts"], facts_button["action_id"], facts_button["value"], user="URESP")
    view = (await slack.wait_for(lambda: slack.called("views.open")))[-1].args["view"]
    await bot.submit(view, wrap(COMPLETE), user="URESP", view_id="VF2")
    await bot.command("notice", channel=room["channel"], user="URESP")
    second = await notice_card(bot, 2)

    await bot.press(room["channel"], room["ts"], approve["action_id"], approve["value"], user="URESP")
    await slack.wait_for(lambda: any("not the latest draft" in c.args["text"]
                                     for c in slack.called("chat.postEphemeral")))
    approve2 = button(second["blocks"], "Approve")
    await bot.press(room["channel"], room["ts"], approve2["action_id"], approve2["value"], user="UBACK")
    await slack.wait_for(lambda: cards_with(slack, "approved client notice v2"))
    await slack.wait_for(lambda: "Inform 1/5" in json.dumps(slack.messages[(room["channel"], room["ts"])]))
    row = find_button(slack.messages[(room["channel"], room["ts"])]["blocks"], "Draft the client notice")
    assert row["text"]["text"] == "Undo"
    await bot.press(room["channel"], room["ts"], approve2["action_id"], approve2["value"], user="UBACK")
    await slack.settle()
    async with bot.db.reading() as session:
        rows = (await session.execute(sa.text(
            "SELECT version, status, decided_by FROM notice_draft ORDER BY version"))).all()
        approvals = (await session.execute(sa.text(
            "SELECT count(*) FROM timeline_entry WHERE action = 'notice.approved'"))).scalar_one()
    assert [tuple(r) for r in rows] == [(1, "draft", None), (2, "approved", "UBACK")]
    assert approvals == 1


async def test_request_changes_records_what_should_change(bot: Bot) -> None:
    room = await declare_room(bot, user="UANN")
    slack = bot.slack
    slack.channels[room["channel"]]["members"].add("UBOB")  # Ann added Bob to the channel: he may ask
    await bot.command("notice", channel=room["channel"])
    card = await notice_card(bot, 1)
    changes = button(card["blocks"], "Request changes")
    await bot.press(room["channel"], room["ts"], changes["action_id"], changes["value"], user="UBOB")
    view = (await slack.wait_for(lambda: slack.called("views.open")))[-1].args["view"]
    _, body = await bot.submit(view, wrap({"changes": {"type": "plain_text_input", "value": "  "}}), user="UBOB")
    assert "changes" in body["errors"]
    await bot.submit(view, wrap({"changes": {"type": "plain_text_input", "value": "Name the insurer"}}),
                     user="UBOB", view_id="VC1")
    await slack.wait_for(lambda: cards_with(slack, "asked for changes to client notice v1"))
    async with bot.db.reading() as session:
        row = (await session.execute(sa.text("SELECT status, decision_note FROM notice_draft"))).one()
    assert tuple(row) == ("changes_requested", "Name the insurer")


async def test_a_broken_template_override_is_named_and_the_facts_are_kept(
    slack, db_url: str, db, tmp_path  # type: ignore[no-untyped-def]
) -> None:
    from breachroom.server import make_app
    from tests.conftest import bot_settings, serve

    (tmp_path / "what_you_can_do.md.j2").write_text("## What You Can Do\n\n{% if %}\n")
    settings = bot_settings(slack, db_url, BREACHROOM_TEMPLATES=str(tmp_path))
    runner, url = await serve(make_app(settings, settings.playbook(), type(db)(settings.db_url())))
    client = Bot(url, slack, db)
    try:
        room = await declare_room(client, user="UANN")
        _, ack = await client.command("notice", channel=room["channel"])
        assert "notice template cannot be used" in ack["text"]
        assert "what_you_can_do.md.j2, line 3" in ack["text"]
        async with db.reading() as session:
            drafts = (await session.execute(sa.text("SELECT count(*) FROM notice_draft"))).scalar_one()
        assert drafts == 0
    finally:
        await client.close()
        await runner.cleanup()
