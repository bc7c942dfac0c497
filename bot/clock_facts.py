"""Clock facts: when things happened and what was assessed, recorded as decisions that start the clocks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot import access, clocks, drills, incident_facts, notice_facts, outbox, views
from bot.cards import Card, Form, FormErrors, FormField, Option, Text, mention
from bot.core import Core, Reply
from bot.domain import Actor
from bot.notices.facts import FactsError, parse_facts
from bot.ports import ChatPort
from storage import queries
from storage.models import Decision, Incident

CLOCK_SUBMIT = "clock.submit"
YES_NO = (Option("yes", "Yes"), Option("no", "No"))
EVENTS = {
    "aware_at": "Became aware of the breach",
    "discovered_at": "Breach discovered",
    "determined_at": "Determined that a breach occurred",
    "materiality_determined_at": "Determined the incident is material (public companies)",
    "individuals_notified_at": "Clients notified",
    "extortion_paid_at": "Extortion payment made",
}
CHOICES: dict[str, tuple[str, tuple[Option, ...]]] = {
    "risk.gdpr": ("GDPR risk assessment", (Option("unlikely", "Unlikely to result in a risk"),
                                           Option("risk", "A risk"), Option("high", "A high risk"))),
    "risk.pipeda_real_risk_of_significant_harm": ("Real risk of significant harm (Canada)", YES_NO),
    "risk.ndb_likely_serious_harm": ("Serious harm likely (Australia)", YES_NO),
    "public_company": ("Public company (SEC-registered)", YES_NO),
    "hipaa_role": ("HIPAA role", (Option("covered_entity", "Covered entity"),
                                  Option("business_associate", "Business associate"), Option("neither", "Neither"))),
    "gdpr_role": ("GDPR role for EU/UK data", (Option("controller", "Controller"), Option("processor", "Processor"))),
    "nydfs_regulated": ("Regulated by NY DFS", YES_NO),
    "ftc_safeguards_covered": ("Covered by the FTC Safeguards Rule", YES_NO),
    "data_encrypted": ("Breached data was encrypted", YES_NO),
    "encryption_key_exposed": ("Encryption key exposed too", YES_NO),
    "australia_turnover_over_3m": ("Annual turnover over A$3 million", YES_NO),
    "health_service_provider": ("Provides a health service in Australia", YES_NO),
}
DELAY = {"le_requested_at": "Law enforcement asked to delay notice on", "le_until": "Delay until",
         "le_requested_by": "Delay requested by (agency)"}
RECORD = "record clock facts"  # what a refusal says the people in the war room can do
POST = "clock.facts"  # the card listing what was recorded, owed to the war room (bot/outbox.py); ref: decision ids


async def clock_form(core: Core, actor: Actor, incident: Incident) -> Reply:
    """`/breach clock`: record when things happened and the assessments that start or stop the clocks. For the
    people in the war room (others are told so before they fill anything in)."""
    if not await access.in_room(core, actor, incident):
        return await access.refuse(core, actor, "open the clock facts form: not in the war room",
                                   access.not_in_room(incident, RECORD), incident=incident)
    raw = await incident_facts.raw_facts(core, incident)
    fields: list[FormField] = []
    for kind, label in EVENTS.items():
        value = incident_facts.get(raw, kind)
        fields.append(FormField(kind, label, "datetime", required=False,
                                initial=_instant(value, raw.get("timezone", "UTC"))))
    for kind, (label, options) in CHOICES.items():
        value = incident_facts.get(raw, kind)
        initial = {True: "yes", False: "no"}.get(value, value) if value is not None else None  # type: ignore[call-overload]
        fields.append(FormField(kind, label, "select", required=False, options=options, initial=initial))
    delay = raw.get("law_enforcement_delay") or {}
    fields += [
        FormField("le_requested_at", DELAY["le_requested_at"], "date", required=False,
                  initial=(delay.get("requested_at") or "")[:10] or None),
        FormField("le_until", DELAY["le_until"], "date", required=False,
                  initial=(delay.get("until") or "")[:10] or None),
        FormField("le_requested_by", DELAY["le_requested_by"], "text", required=False,
                  initial=delay.get("requested_by")),
    ]
    try:
        result = await clocks.compute(core, incident, core.clock())
        keys = [o.key for o in result.obligations]
    except FactsError:
        keys = []
    if keys:
        fields.append(FormField("not_notify", "Decide not to notify (one obligation)", "select", required=False,
                                options=tuple(Option(k, k[:75]) for k in keys[:100])))
        fields.append(FormField("not_notify_reason", "Why not", "text", required=False, max_length=1000))
    fields.append(FormField("why", "Why (kept with each change, for the record)", "multiline", required=False,
                            max_length=3000))
    return Reply(form=Form(title="Clock facts", submit="Record", action=CLOCK_SUBMIT, value=str(incident.id),
                           intro="Each change is recorded as a decision with who, when and why. "
                                 "Leave unknown things empty: they stay questions, never guesses.",
                           fields=tuple(fields)))


async def open_clock_form(core: Core, actor: Actor, incident_id: int) -> Reply:
    """The "Record clock facts" button."""
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is None or incident.team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
    return await clock_form(core, actor, incident)


def _instant(value: Any, zone: str) -> str | None:
    if not value:
        return None
    try:
        facts = parse_facts({"timezone": zone, "aware_at": value})
    except FactsError:
        return None
    instant = facts.instant(facts.aware_at)
    return instant.astimezone(UTC).isoformat() if instant else None


def _shown(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items() if v is not None)
    return str(value)


async def submit_clock(core: Core, actor: Actor, value: str, values: Mapping[str, object]) -> Reply:
    """Record each changed clock fact as a decision (who, when, why); the card and reminders follow. Only the
    people in the war room may (a form sent anyway, old or forged, is refused and nothing of it kept)."""
    incident = await access.member_form(core, actor, value, stale="That form is out of date. Type `/breach clock` "
                                        "again.", what="record clock facts: not in the war room", doing=RECORD)
    if isinstance(incident, Reply):
        return incident
    current = await incident_facts.raw_facts(core, incident)
    changes: dict[str, Any] = {}
    for kind in EVENTS:
        given = values.get(kind)
        known = _instant(incident_facts.get(current, kind), current.get("timezone", "UTC"))
        # Compare instants, not spellings: `…+00:00` and `…Z` are the same moment.
        if given and (known is None or datetime.fromisoformat(known) != datetime.fromisoformat(str(given))):
            changes[kind] = given
    for kind in CHOICES:
        given = values.get(kind)
        if given:
            typed: Any = {"yes": True, "no": False}.get(str(given), given)
            if typed != incident_facts.get(current, kind):
                changes[kind] = typed
    delay = {"requested_at": values.get("le_requested_at"), "until": values.get("le_until"),
             "requested_by": notice_facts.text_value(values, "le_requested_by")}
    delay = {k: v for k, v in delay.items() if v}
    if delay and delay != {k: v for k, v in (current.get("law_enforcement_delay") or {}).items() if v}:
        changes["law_enforcement_delay"] = delay
    not_notify = values.get("not_notify")
    reason = notice_facts.text_value(values, "not_notify_reason")
    if not_notify and not reason:
        raise FormErrors({"not_notify_reason": "Say why this obligation does not apply."})
    if not_notify and reason:
        changes[f"decision_not_to_notify.{not_notify}"] = reason
    if not changes:
        return drills.scoped(incident, Reply(card=views.note("Nothing changed, so nothing was recorded."),
                                             room=incident.channel_id))
    candidate = json.loads(json.dumps(current))
    for kind, new in changes.items():
        incident_facts.put(candidate, kind, new)
    try:
        parse_facts(candidate)
    except FactsError as exc:
        field = str(exc).split(":", 1)[0].strip()
        field = {"law_enforcement_delay.until": "le_until", "law_enforcement_delay.requested_at": "le_requested_at"
                 }.get(field, field if field in values else "why")
        raise FormErrors({field: str(exc)[:150]}) from None
    why = notice_facts.text_value(values, "why")
    now = core.clock()
    lines, recorded = [], []
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"decision:{incident.id}")
        stored = await queries.incident(session, incident.id or 0)
        for kind, new in changes.items():
            label = EVENTS.get(kind) or CHOICES.get(kind, (None,))[0] or (
                "Law enforcement delay" if kind == "law_enforcement_delay" else
                f"Decided not to notify: {kind.split('.', 1)[-1]}")
            text = f"{label}: {_shown(new)}"
            lines.append(text)
            recorded.append(Decision(incident_id=incident.id or 0, text=text, rationale=why,
                                     decided_by=actor.user_id, decided_at=now, kind=kind, value=json.dumps(new)))
            session.add(recorded[-1])
            queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                           action="clock.recorded", detail=text + (f" (why: {why})" if why else ""), at=now,
                           incident_id=incident.id)
        if "discovered_at" in changes and stored is not None:
            stored.discovered_at = datetime.fromisoformat(str(changes["discovered_at"]))
        await session.flush()
        room_id = outbox.owe(session, incident, POST, json.dumps([d.id for d in recorded]), now=now)

    async def post(port: ChatPort) -> None:
        await outbox.poster(core, incident.platform, room_id)(port)
        await clocks.refresh(core, incident.id or 0, port)

    return drills.scoped(incident, Reply(
        card=views.note(f"Recorded {len(lines)} clock fact(s); the deadline card is updated."),
        work=[post], room=incident.channel_id))


@outbox.renders(POST)
async def _facts_post(core: Core, incident: Incident, ref: str) -> outbox.Post | None:
    """The facts recorded together, who recorded them and why, from their decisions."""
    async with core.db.reading() as session:
        found = [await session.get(Decision, decision_id) for decision_id in json.loads(ref)]
    recorded = [d for d in found if d is not None]
    if not recorded:
        return None
    why = recorded[0].rationale
    body = "\n".join(f"• {d.text}" for d in recorded) + (f"\n_Why:_ {why}" if why else "")
    return outbox.Post(cards=(Card(fallback="Clock facts recorded", parts=(
        Text(f"**Clock facts recorded** by {mention(recorded[0].decided_by)}\n{body}"),)),))
