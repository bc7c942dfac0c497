"""Every card and form the bot shows, as Teams draws it: valid Adaptive Cards 1.5, under 28 KB, buttons that work."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from adapters.slack import render as slack
from adapters.teams import render
from bot import clock_facts, clocks, closing, notice_drafts, notice_facts, summary, views, war_room
from bot.cards import (
    Button,
    Buttons,
    Card,
    ChecklistRow,
    Context,
    Divider,
    Fields,
    Form,
    FormErrors,
    FormField,
    Header,
    Text,
)
from bot.core import Core
from bot.deadlines.engine import Result, obligations
from bot.domain import DONE, Actor
from bot.notices.facts import parse_facts
from bot.playbook import Playbook, load_playbook
from storage.db import Database, parse_url, upgrade
from storage.models import ChecklistItem, Decision, Incident, NoticeDraft

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT.parent / "shared" / "schemas" / "adaptive-card.schema.1.5.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
# Teams' root property, which the Adaptive Card schema does not know: full width and the mention entities.
MSTEAMS = {
    "type": "object", "additionalProperties": False, "required": ["width"],
    "properties": {
        "width": {"enum": ["Full"]},
        "entities": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["type", "text", "mentioned"],
            "properties": {
                "type": {"enum": ["mention"]},
                "text": {"type": "string", "pattern": "^<at>[^<>]+</at>$"},
                "mentioned": {"type": "object", "additionalProperties": False, "required": ["id", "name"],
                              "properties": {"id": {"type": "string", "minLength": 1},
                                             "name": {"type": "string", "minLength": 1}}},
            }}},
    },
}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)
ROOM = "19:war-room@thread.v2"
NAMES = {"29:ann": "Ann Archer", "29:bob": "Bob Baker", "29:cy": "Cy Chen", ROOM: "Breach 2026-03-02: laptop"}
ANN, BOB = Actor("teams", "tenant-1", "29:ann"), Actor("teams", "tenant-1", "29:bob")
_AT = re.compile(r"<at>[^<>]*</at>")


def make_incident(**changes: Any) -> Incident:
    fields: dict[str, Any] = dict(
        id=7, platform="teams", team_id="tenant-1", summary="Laptop with the client database stolen from a car",
        severity="high", declared_by="29:ann", declared_at=T0, responder_id="29:bob", backup_id="29:cy",
        discovered_at=T0 - timedelta(hours=3), data_kinds=["contact_details", "health"], affected_clients=1200,
        compromised_account="dave@example.com", dedupe_key="laptop", channel_id=ROOM)
    fields.update(changes)
    return Incident(**fields)


def make_items(playbook: Playbook, incident_id: int = 7, every: int = 2) -> list[ChecklistItem]:
    """The playbook's steps, every `every`-th one done by Ann or Bob."""
    items, position = [], 0
    for section in playbook.sections:
        for step in section.items:
            done = position % every == 0
            items.append(ChecklistItem(
                id=position + 1, incident_id=incident_id, key=step.key, section=section.key, position=position,
                label=step.label, state=DONE if done else "open", changed_by=("29:ann", "29:bob")[position % 2]
                if done else None, changed_at=T0 + timedelta(minutes=10 * position) if done else None))
            position += 1
    return items


def make_decisions(count: int = 3) -> list[Decision]:
    return [Decision(id=n, incident_id=7, text=f"Decision number {n}: take the file server offline", rationale=(
        "It may still be reachable" if n % 2 else None), decided_by="29:bob", decided_at=T0 + timedelta(minutes=n))
        for n in range(1, count + 1)]


def make_draft(missing: int) -> NoticeDraft:
    return NoticeDraft(id=3, incident_id=7, version=2, created_by="29:ann", created_at=T0, markdown="# Notice",
                       docx=b"", missing=[f"Fact number {n} of the letter" for n in range(missing)])


def clock_result(now: datetime = NOW, *, marked: int = 2) -> Result:
    """A breach that engages every regime; the first `marked` obligations were met."""
    regions = {"DE": 40, "GB": 30, "US-CA": 600, "US-CO": 1200, "US-FL": 600, "US-WA": 600, "US-TX": 600,
               "US-NY": 600, "CA": 10, "AU": 10}
    facts: dict[str, Any] = dict(
        timezone="Europe/Berlin", data_categories=["government_id", "health"], data_encrypted=False,
        public_company=True, nydfs_regulated=True, ftc_safeguards_covered=True, hipaa_role="covered_entity",
        gdpr_role="controller", australia_turnover_over_3m=True, affected_by_region=regions,
        affected_total=sum(regions.values()), risk={"gdpr": "high", "pipeda_real_risk_of_significant_harm": True},
        aware_at=T0.isoformat(), discovered_at=T0.isoformat(), determined_at=T0.isoformat(),
        materiality_determined_at=T0.isoformat())
    first = obligations(parse_facts(facts), now=now)
    facts["notified"] = {o.key: (T0 + timedelta(hours=1)).isoformat() for o in first.obligations[:marked]}
    return obligations(parse_facts(facts), now=now)


def summary_result(playbook: Playbook, decisions: int = 3) -> summary.Summary:
    incident = make_incident(status="closed", closed_at=NOW, closed_by="29:bob")
    drafts = [make_draft(0)]
    return summary.build(incident, make_items(playbook, every=1), make_decisions(decisions), playbook,
                         notified_at=T0 + timedelta(hours=4), notices=notice_drafts.version_lines(drafts),
                         obligations=clocks.summary_lines(clock_result()))


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'teams-cards.db'}"
    upgrade(parse_url(url))
    yield url


@pytest.fixture
async def core(db_path: str) -> AsyncIterator[Core]:
    db = Database(parse_url(db_path))
    yield Core(db=db, playbook=load_playbook(), clock=lambda: NOW)
    await db.dispose()


async def stored(core: Core, *, done: bool) -> Incident:
    """The incident and its checklist in the database; `done` marks every step done."""
    incident = make_incident(id=None)
    async with core.db.transaction() as session:
        session.add(incident)
        await session.flush()
        for item in make_items(core.playbook, incident.id or 0, every=1 if done else 2):
            item.id = None
            session.add(item)
    return incident


def bot_cards() -> dict[str, list[Card]]:
    """Every card the bot posts or answers with that needs no database, by a name for the test id."""
    playbook = load_playbook()
    incident, items = make_incident(), make_items(playbook)
    alone = make_incident(responder_id="29:ann", responder_is_designated=False, backup_id=None,
                          discovered_at=None, data_kinds=[], affected_clients=None, compromised_account=None)
    result = clock_result()
    recap = summary_result(playbook)
    return {
        "checklist": views.checklist_cards(incident, items, playbook),
        "checklist-no-responder": views.checklist_cards(alone, make_items(playbook, every=1000), playbook),
        "checklist-all-done": views.checklist_cards(incident, make_items(playbook, every=1), playbook),
        "status": [views.status_card(incident, items, playbook, NOW)],
        "status-all-done": [views.status_card(incident, make_items(playbook, every=1), playbook, NOW)],
        "decision": [views.decision_card(d, n) for n, d in enumerate(make_decisions(2), 1)],
        "help": [views.help_card()],
        "note": [views.note("Decision 3 recorded. It is posted in the war room and kept in the record.")],
        "declared": [views.declared_card(incident)],
        "declared-alone": [views.declared_card(alone)],
        "opening": [views.opening_card(incident.summary)],
        "room-incomplete": [war_room.incomplete_card(incident, {"invite": "403", "pin": "429"},
                                                     {"invite": "invite @{29:bob}", "pin": "pin the checklist"})],
        "room-failed": [war_room.incomplete_card(make_incident(channel_id=None), {"create": "403"}, {})],
        "notice-draft": [notice_drafts.draft_card(incident, make_draft(20))],
        "notice-draft-complete": [notice_drafts.draft_card(incident, make_draft(0))],
        "clocks": [clocks.clock_card(incident, result)],
        "clocks-empty": [clocks.clock_card(incident, obligations(parse_facts({"timezone": "UTC"}), now=NOW))],
        "reminder": [views.note(clocks.reminder_text(incident, result.obligations[3], NOW, result.zone))],
        "summary": summary.cards(recap),
        "summary-public": summary.cards(recap, public=True),
        "summary-many-decisions": summary.cards(summary_result(playbook, decisions=40)),
    }


async def close_cards(core: Core) -> dict[str, list[Card]]:
    """The close confirmation to a lead (with steps open, and with nothing left open), and the refusal anyone
    else gets."""
    open_steps = await stored(core, done=False)
    finished = await stored(core, done=True)
    out = {}
    for name, actor, incident in (("close-lead", BOB, open_steps), ("close-other", ANN, open_steps),
                                  ("close-ready", BOB, finished)):
        reply = await closing.request_close(core, actor, incident)
        assert reply.card is not None
        out[name] = [reply.card]
    return out


def bot_forms(clock_form: Form) -> dict[str, Form]:
    full = {
        "what_happened": "A laptop was stolen from an employee's car.", "breach_started_at": "2026-02-27",
        "breach_ended_at": "2026-02-28", "discovered": T0.isoformat(), "data_categories": ("health",),
        "affected_total": "1200", "regions": "US-CA 812, DE 40",
        "actions_taken": "We reset passwords.\nWe told police.",
        "company_name": "Example Dental", "email": "privacy@example.com", "ip_months": "24",
        "ip_enroll_by": "2026-06-30", "postal_address": "1 Main St\nSpringfield",
    }
    return {
        "declare": views.declare_form("19:general@thread.tacv2", NOW),
        "decision": views.decision_form(7),
        "notice-changes": notice_drafts.notice_changes_form(3),
        "notice-facts": notice_facts.notice_facts_form(7, full),
        "notice-facts-empty": notice_facts.notice_facts_form(7, {}),
        "clock": clock_form,
    }


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def texts(content: dict[str, Any]) -> list[str]:
    nodes = list(walk(content["body"]))
    return [n["text"] for n in nodes if n.get("type") == "TextBlock"] + [
        fact[k] for n in nodes if n.get("type") == "FactSet" for fact in n["facts"] for k in ("title", "value")]


def executes(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in walk(content) if n.get("type") == "Action.Execute"]


def check_card(content: dict[str, Any]) -> None:
    """Valid against the 1.5 schema without Teams' root property, which is checked on its own."""
    card = dict(content)
    msteams = card.pop("msteams")
    VALIDATOR.validate(card)
    jsonschema.validate(msteams, MSTEAMS)
    assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
    assert render.size(content) < 28 * 1024
    actions = [n for n in walk(card) if str(n.get("type", "")).startswith("Action.")]
    submits = [n for n in actions if n["type"] == "Action.Submit"]
    assert {n["type"] for n in actions} <= {"Action.Execute", "Action.Submit"}
    for execute in executes(card):
        fallback = execute["fallback"]
        assert fallback["type"] == "Action.Submit"
        assert fallback["data"] == execute["data"] and fallback["title"] == execute["title"]
        assert execute["verb"] == execute["data"]["action"]
        assert fallback.get("style") == execute.get("style")
    assert len(submits) == len(executes(card)), "every Submit is the fallback of an Execute"
    shown = {tag for t in texts(content) for tag in _AT.findall(t)}
    assert shown == {e["text"] for e in msteams.get("entities", [])}, "one entity per mention, and only those"


def neutral_buttons(cards: list[Card]) -> list[Button]:
    found: list[Button] = []
    for card in cards:
        for part in card.parts:
            if isinstance(part, Buttons):
                found += part.buttons
            elif isinstance(part, ChecklistRow) and part.button is not None:
                found.append(part.button)
    return found


def mentioned(cards: list[Card]) -> set[str]:
    blob = json.dumps([[getattr(p, "text", "") or getattr(p, "label", "") for p in c.parts] for c in cards])
    blob += json.dumps([[getattr(p, "detail", "") or "" for p in c.parts] for c in cards])
    blob += json.dumps([[list(p.pairs) for p in c.parts if isinstance(p, Fields)] for c in cards])
    return set(re.findall(r"@\{([^{}\s]+)\}", blob))


@pytest.mark.parametrize("name", sorted(bot_cards()))
def test_every_bot_card_is_a_valid_adaptive_card_with_working_buttons_and_mentions(name: str) -> None:
    cards = bot_cards()[name]
    content = render.card(cards, names=NAMES)
    check_card(content)
    assert render.MORE not in texts(content), "a real card fits whole"
    assert [e["data"] for e in executes(content)] == [
        {"action": b.action, "value": b.value} for b in neutral_buttons(cards)]
    blob = json.dumps(content, ensure_ascii=False)
    assert "@{" not in blob and "#{" not in blob, "no neutral token reaches Teams"
    entities = {e["mentioned"]["id"]: e for e in content["msteams"].get("entities", [])}
    users = {m for m in mentioned(cards) if not m.startswith("19:")}
    assert set(entities) == users
    for user_id in users:
        expected = NAMES.get(user_id, user_id)
        assert entities[user_id]["text"] == f"<at>{expected}</at>"
        assert entities[user_id]["mentioned"]["name"] == expected


async def test_the_close_confirmation_renders_for_leads_and_others(core: Core) -> None:
    for name, cards in (await close_cards(core)).items():
        content = render.card(cards, names=NAMES)
        check_card(content)
        styles = [e.get("style") for e in executes(content)]
        assert styles == {"close-lead": ["destructive"], "close-other": [], "close-ready": ["positive"]}[name]


def test_checklist_rows_show_who_and_when_beside_their_button_and_done_rows_stand_apart() -> None:
    playbook = load_playbook()
    incident, items = make_incident(), make_items(playbook)
    content = render.card(views.checklist_cards(incident, items, playbook), names=NAMES)
    rows = [n for n in content["body"] if n["type"] == "ColumnSet"]
    assert len(rows) == len(items)
    for row, item in zip(rows, sorted(items, key=lambda i: (
            [s.key for s in playbook.sections].index(i.section), i.position)), strict=True):
        label, *detail = row["columns"][0]["items"]
        (action,) = row["columns"][1]["items"][0]["actions"]
        if item.state == DONE:
            assert label["text"].startswith("✅") and label["isSubtle"] is True
            assert detail and detail[0]["text"].startswith("Done by <at>") and detail[0]["size"] == "small"
            assert action["title"] == "Undo" and action["data"]["value"].endswith(":open")
        else:
            assert label["text"].startswith("⬜") and label["isSubtle"] is False and not detail
            assert action["title"] == "Done" and action["style"] == "positive"
    header = content["body"][0]
    assert header["size"] == "large" and header["weight"] == "bolder" and "incident 7" in header["text"]
    facts = next(n for n in content["body"] if n["type"] == "FactSet")["facts"]
    assert {"title": "Responder", "value": "<at>Bob Baker</at>"} in facts
    context = [n for n in content["body"] if n["type"] == "TextBlock" and n.get("size") == "small"]
    assert context, "context lines are small and subtle"
    actions = content["body"][-1]
    assert actions["type"] == "ActionSet" and actions.get("separator") is True, "the divider separates the buttons"


def test_markup_becomes_teams_markdown() -> None:
    names = {"29:ann": "Ann Archer"}
    assert render.text("**Bold** and _italic_ and [the record](https://example.com/r/1)", names=names) == (
        "**Bold** and _italic_ and [the record](https://example.com/r/1)")
    assert render.text("Done by @{29:ann} for @{29:zed}", names=names) == (
        "Done by <at>Ann Archer</at> for <at>29:zed</at>")
    assert render.text(f"Ready: #{{{ROOM}}}.", names=NAMES) == "Ready: **Breach 2026-03-02: laptop**."
    assert render.text("Type `/breach status` or `/breach`") == "Type **breach status** or **breach**"
    assert render.text("one\ntwo") == "one\n\ntwo", "a lone newline would be a space in Teams"
    assert "<at>" not in render.text("typed <at>Boss</at> by hand"), "typed text cannot forge a mention"
    assert render.plain("**Done** by @{29:ann}: [record](https://x.example/1)", names=names) == (
        "Done by Ann Archer: record (https://x.example/1)")


def test_two_people_with_one_display_name_get_two_distinct_mentions() -> None:
    names = {"29:a": "Sam Lee", "29:b": "Sam Lee"}
    content = render.card(Card("x", (Text("@{29:a} and @{29:b}"),)), names=names)
    entities = content["msteams"]["entities"]
    assert [e["mentioned"]["id"] for e in entities] == ["29:a", "29:b"]
    assert len({e["text"] for e in entities}) == 2
    assert content["body"][0]["text"] == "<at>Sam Lee</at> and <at>Sam Lee (2)</at>"


def test_long_texts_are_clipped_without_cutting_a_mention_or_a_link() -> None:
    long = "x" * (render.MAX_TEXT - 5) + " @{29:ann} and more"
    clipped = render.clip(long, render.MAX_TEXT)
    assert clipped.endswith("…") and "@{" not in clipped and len(clipped) <= render.MAX_TEXT
    linked = "y" * (render.MAX_TEXT - 10) + "[the record](https://example.com/a/long/path)"
    assert "](" not in render.clip(linked, render.MAX_TEXT)
    bold = "**" + "z" * 5000 + "**"
    assert render.clip(bold, 100).endswith("**…") and render.clip(bold, 100).count("**") == 2
    content = render.card(Card("x", (Text("w" * 50_000),)))
    assert len(content["body"][0]["text"]) <= render.MAX_TEXT


def test_a_huge_card_drops_trailing_rows_keeps_its_buttons_and_says_more_is_in_the_export() -> None:
    rows = tuple(ChecklistRow(label=f"Step {n}: " + "call the insurer and the lawyer " * 8, done=n % 2 == 0,
                              detail=f"Done by @{{29:u{n}}} · 2 Mar 2026, 09:{n % 60:02d} UTC",
                              button=Button("Done", views.ITEM_TOGGLE, f"7:step-{n}:done", "primary"))
                 for n in range(400))
    huge = Card("Everything", (Header("A very long checklist"), *rows, Divider(),
                               Buttons((Button("Record decision", views.DECISION_OPEN, "7"),))))
    content = render.card(huge)
    check_card(content)
    body = content["body"]
    assert render.size(content) < render.MAX_BYTES
    assert body[0]["text"] == "A very long checklist"
    kept = [n for n in body if n["type"] == "ColumnSet"]
    assert 10 < len(kept) < 400
    assert [r["columns"][1]["items"][0]["actions"][0]["data"]["value"] for r in kept] == [
        f"7:step-{n}:done" for n in range(len(kept))], "the first rows are kept, in order"
    assert body[-2]["text"] == render.MORE
    assert body[-1]["type"] == "ActionSet" and body[-1]["actions"][0]["data"]["action"] == views.DECISION_OPEN
    assert len(content["msteams"]["entities"]) == len(kept), "no entity for a mention that was cut"


def test_pack_puts_the_checklist_into_as_few_cards_as_fit_whole() -> None:
    playbook = load_playbook()
    cards = views.checklist_cards(make_incident(), make_items(playbook), playbook)
    groups = render.pack(cards, names=NAMES)
    assert [i for g in groups for i in g] == list(range(len(cards)))
    for group in groups:
        content = render.card([cards[i] for i in group], names=NAMES)
        assert render.size(content) <= render.BUDGET and render.MORE not in texts(content)
    many = [views.decision_card(d, n) for n, d in enumerate(make_decisions(1), 1)] * 200
    assert len(render.pack(many)) > 1


async def clock_form_of(core: Core) -> Form:
    """The clock form of an incident whose clocks run: some facts recorded, so the form starts filled in."""
    incident = await stored(core, done=False)
    recorded = {"aware_at": T0.isoformat(), "risk.gdpr": "high", "public_company": False,
                "law_enforcement_delay": {"requested_at": "2026-03-03", "until": "2026-03-20", "requested_by": "FBI"}}
    async with core.db.transaction() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        row.notice_facts = {"affected_by_region": {"US-CA": 600, "DE": 40}}
        for kind, value in recorded.items():
            session.add(Decision(incident_id=row.id or 0, text=kind, decided_by="29:bob", decided_at=T0, kind=kind,
                                 value=json.dumps(value)))
    async with core.db.reading() as session:
        incident = await session.get(Incident, incident.id)
    assert incident is not None
    reply = await clock_facts.clock_form(core, BOB, incident)
    assert reply.form is not None
    initial = {f.name: f.initial for f in reply.form.fields}
    assert initial["aware_at"] and initial["risk.gdpr"] == "high" and initial["le_requested_by"] == "FBI"
    assert "not_notify" in initial, "obligations are known, so deciding not to notify is offered"
    return reply.form


def inputs(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in walk(content["body"]) if str(n.get("type", "")).startswith("Input.")}


def unchanged(content: dict[str, Any]) -> dict[str, Any]:
    """What Teams sends when the submit button is pressed without touching anything."""
    (submit,) = content["actions"]
    data = dict(submit["data"])
    data.update({key: str(element.get("value", "")) for key, element in inputs(content).items()})
    return data


async def test_every_form_is_a_card_of_inputs_named_by_field_with_one_submit(core: Core) -> None:
    for name, neutral in bot_forms(await clock_form_of(core)).items():
        content = render.form(neutral, zone="Europe/Berlin")
        check_card(content)
        found = inputs(content)
        times = {f.name + render.TIME_SUFFIX for f in neutral.fields if f.kind == "datetime"}
        assert set(found) == {f.name for f in neutral.fields} | times, name
        for field in neutral.fields:
            element = found[field.name]
            assert element.get("isRequired", False) == field.required
            if field.required:
                assert element["errorMessage"]
            assert element["type"] == {"text": "Input.Text", "multiline": "Input.Text", "user": "Input.Text",
                                       "select": "Input.ChoiceSet", "multiselect": "Input.ChoiceSet",
                                       "datetime": "Input.Date", "date": "Input.Date",
                                       "number": "Input.Number"}[field.kind]
            assert element.get("isMultiline", False) == (field.kind == "multiline")
            assert element.get("isMultiSelect", False) == (field.kind == "multiselect")
        (submit,) = content["actions"]
        assert submit["verb"] == neutral.action and submit["title"] == neutral.submit
        assert submit["data"]["action"] == neutral.action and submit["data"]["value"] == neutral.value
        assert render.size(content) < 28 * 1024


async def test_pressing_submit_on_an_untouched_form_gives_back_its_initial_values(core: Core) -> None:
    """A clock fact shown in Berlin time and sent back unchanged must not read as a change."""
    for name, neutral in bot_forms(await clock_form_of(core)).items():
        for zone in ("Europe/Berlin", "+05:30", None):
            values = render.form_values(unchanged(render.form(neutral, zone=zone)))
            for field in neutral.fields:
                initial = field.initial
                if field.kind == "multiselect":
                    assert values[field.name] == list(initial or ()), (name, field.name)
                elif field.kind == "datetime" and initial:
                    assert datetime.fromisoformat(str(values[field.name])) == datetime.fromisoformat(initial)
                    assert values[field.name] == datetime.fromisoformat(initial).astimezone(UTC).isoformat()
                else:
                    assert values[field.name] == (initial or None), (name, field.name)


def test_form_values_read_every_kind_of_field_as_slack_does() -> None:
    neutral = views.declare_form("C1", NOW)
    content = render.form(neutral, zone="Europe/Berlin")
    data = dict(content["actions"][0]["data"]) | {
        "summary": "Card numbers skimmed from the web shop", "severity": "critical",
        "discovered": "2026-03-02", "discovered.time": "10:30", "data_kinds": "payment_card,contact_details",
        "affected": 1200, "compromised": "dave@example.com"}
    teams = render.form_values(data)
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    view = {"state": {"values": {name: {name: state} for name, state in {
        "summary": {"type": "plain_text_input", "value": "Card numbers skimmed from the web shop"},
        "severity": {"type": "static_select", "selected_option": {"value": "critical"}},
        "discovered": {"type": "datetimepicker", "selected_date_time": int(moment.timestamp())},
        "data_kinds": {"type": "multi_static_select",
                       "selected_options": [{"value": "payment_card"}, {"value": "contact_details"}]},
        "affected": {"type": "number_input", "value": "1200"},
        "compromised": {"type": "users_select", "selected_user": "dave@example.com"},
    }.items()}}}
    assert teams == slack.form_values(view)
    assert teams["discovered"] == "2026-03-02T09:30:00+00:00"
    empty = render.form_values(dict(content["actions"][0]["data"]) | {"summary": "x", "severity": "high"})
    assert empty == {"summary": "x", "severity": "high", "discovered": None, "data_kinds": [], "affected": None,
                     "compromised": None}
    offset = dict(data, zone="-04:00", **{"discovered.time": "05:30"})
    assert render.form_values(offset)["discovered"] == "2026-03-02T09:30:00+00:00"
    unknown = dict(data, zone="Mars/Olympus_Mons", **{"discovered.time": "09:30"})
    assert render.form_values(unknown)["discovered"] == "2026-03-02T09:30:00+00:00", "an unknown zone reads as UTC"
    facts = render.form(notice_facts.notice_facts_form(7, {}))
    values = render.form_values(dict(facts["actions"][0]["data"]) | {
        "breach_started_at": "2026-02-27", "actions_taken": "We reset passwords.\nWe told police.", "ip_months": "24"})
    assert values["breach_started_at"] == "2026-02-27" and values["ip_months"] == "24"
    assert values["actions_taken"] == "We reset passwords.\nWe told police." and values["what_happened"] is None
    assert render.form_values({"action": "item.toggle", "value": "7:x:done"}) == {}, "a button press has no fields"


def test_what_the_card_cannot_check_comes_back_as_form_errors_and_the_form_keeps_what_was_typed() -> None:
    neutral = views.declare_form("C1", NOW)
    content = render.form(neutral)
    data = dict(content["actions"][0]["data"]) | {
        "summary": "Stolen backup drive", "discovered": "2026-03-02", "discovered.time": "",
        "compromised": "not an email", "affected": "12"}
    with pytest.raises(FormErrors) as caught:
        render.form_values(data)
    assert set(caught.value.errors) == {"discovered", "compromised"}
    again = render.form(neutral, submitted=data, errors=caught.value.errors | {"elsewhere": "Try again."})
    check_card(again)
    found = inputs(again)
    assert found["summary"]["value"] == "Stolen backup drive" and found["affected"]["value"] == 12
    assert found["discovered"]["value"] == "2026-03-02" and "value" not in found["discovered.time"]
    body = again["body"]
    where = next(i for i, n in enumerate(body) if n.get("type") == "ColumnSet")
    assert body[where + 1]["color"] == "attention" and "both the date and the time" in body[where + 1]["text"]
    assert body[1]["color"] == "attention" and body[1]["text"] == "Try again."


def test_a_form_field_cannot_take_a_name_the_submit_data_uses() -> None:
    bad = Form("T", "Go", "x.submit", (FormField("value", "Label", "text"),))
    with pytest.raises(ValueError, match="field names"):
        render.form(bad)
    with pytest.raises(ValueError, match="time zone"):
        render.form(views.decision_form(1), zone="Nowhere/Land")


def test_context_and_divider_and_fields_take_their_teams_shapes() -> None:
    card = Card("fallback **bold**", (Text("a"), Divider(), Context("small print @{29:ann}"),
                                      Fields((("Who", "@{29:ann}"),))))
    content = render.card(card, names=NAMES)
    check_card(content)
    text_block, context, facts = content["body"]
    assert "separator" not in text_block and context["separator"] is True
    assert context["size"] == "small" and context["isSubtle"] is True
    assert facts["facts"] == [{"title": "Who", "value": "<at>Ann Archer</at>"}]
    assert content["fallbackText"] == "fallback bold"
    assert render.attachment(content) == {"contentType": "application/vnd.microsoft.card.adaptive", "content": content}
