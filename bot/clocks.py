"""Notification clocks in the war room: recorded clock facts, the pinned clock card, marks and reminders."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from bot import incident_facts, notice_facts, reminders, views
from bot.cards import (
    Button,
    Buttons,
    Card,
    ChecklistRow,
    Context,
    Form,
    FormErrors,
    FormField,
    Header,
    Option,
    Text,
    mention,
)
from bot.core import Core, Reply
from bot.deadlines.engine import Obligation, Result, obligations
from bot.deadlines.wording import moment, remaining
from bot.domain import Actor
from bot.notices.facts import FactsError, parse_facts
from bot.ports import ChatError, ChatPort
from storage import queries
from storage.models import Decision, Incident, ObligationMark, PostedMessage, Reminder

log = logging.getLogger(__name__)
CLOCK_OPEN = "clock.open"
CLOCK_SUBMIT = "clock.submit"
MARK_DONE = "clock.done"
CLOCKS = "clocks"
DISCLAIMER = ("Breachroom informs; it does not give legal advice. Have a lawyer confirm which laws apply. "
              "Days are calendar days to the same local time, hours are elapsed hours, no weekend roll-forward; "
              "SEC business days skip weekends and US federal holidays.")
MAX_SHOWN = 20
# Reminders at 50 %, 25 % and 10 % of the time left, and at the deadline.
REMINDER_POINTS = (("half", 0.5), ("quarter", 0.75), ("tenth", 0.9), ("due", 1.0))

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


async def compute(core: Core, incident: Incident, now: datetime) -> Result:
    return obligations(parse_facts(await incident_facts.raw_facts(core, incident)), now=now)


def _status_word(o: Obligation) -> str:
    return {"open": "OPEN", "overdue": "OVERDUE", "done": "DONE", "not_required": "NOT REQUIRED",
            "waiting": "WAITING"}[o.status]


def clock_card(incident: Incident, result: Result) -> Card:
    """Every applicable obligation with its due time and time left; open ones have a Mark done button."""
    zone = result.zone
    parts: list = [Header("Notification deadlines"), Context(f"Times in {result.timezone}. {DISCLAIMER}")]
    for o in result.obligations[:MAX_SHOWN]:
        if o.due_at is not None:
            due = f"due {moment(o.due_at, zone)}"
            left = o.time_left(result.now)
            if o.status in ("open", "overdue") and left is not None:
                due += f" · {remaining(left)}"
        else:
            due = o.due_text
        detail = f"{due}\n{o.reason} ({o.citation})"
        if o.status == "done" and o.done_at:
            detail = f"done {moment(o.done_at, zone)}" + (f", {o.late_by} late" if o.late_by else "") + \
                f"\n{o.reason} ({o.citation})"
        if o.note and o.status == "not_required":
            detail += f"\n{o.note}"
        label = f"**{_status_word(o)}** {o.audience} ({o.regime_name})"
        button = Button("Mark done", MARK_DONE, f"{incident.id}|{o.key}", "primary")
        parts.append(ChecklistRow(label=label, done=o.status in ("done", "not_required"),
                                  detail=detail, button=button if o.status in ("open", "overdue") else None))
    if len(result.obligations) > MAX_SHOWN:
        parts.append(Context(f"… and {len(result.obligations) - MAX_SHOWN} more: "
                             f"`breachroom obligations` or the export lists them all."))
    if not result.obligations:
        parts.append(Text("No notification obligation is known yet."))
    if result.questions:
        asked = "\n".join(f"• {q.question}" for q in result.questions[:10])
        parts.append(Text(f"**Still to answer ({len(result.questions)})**, each may add or remove a deadline:\n"
                          f"{asked}"))
    parts.append(Text("Record when things happened and what you decided with `/breach clock` or the button."))
    parts.append(Buttons((Button("Record clock facts", CLOCK_OPEN, str(incident.id)),)))
    return Card(fallback="Notification deadlines", parts=tuple(parts), key=CLOCKS)


def _reminder_times(o: Obligation) -> list[tuple[str, datetime]]:
    if o.starts_at is None or o.due_at is None or o.due_at <= o.starts_at:
        return []
    span = o.due_at - o.starts_at
    return [(kind, o.starts_at + span * share) for kind, share in REMINDER_POINTS]


async def refresh(core: Core, incident_id: int, port: ChatPort) -> None:
    """Recompute, re-render the pinned clock card (posting and pinning it the first time), reschedule reminders."""
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
        posted = [m for m in await queries.messages(session, incident_id) if CLOCKS in m.card_keys]
    if incident is None or incident.channel_id is None:
        return
    now = core.clock()
    try:
        result = await compute(core, incident, now)
    except FactsError as exc:
        log.warning("incident %s: clocks cannot be computed (%s)", incident_id, exc)
        return
    for o in result.obligations:
        times = _reminder_times(o) if o.status in ("open", "overdue") else []
        await reminders.schedule(core, incident_id, o.key, times, now)
    card = clock_card(incident, result)
    async with core.message_locks[f"clocks:{incident_id}"]:
        if posted:
            await port.update_cards(posted[0].channel_id, posted[0].message_id, [card])
            return
        (message_id,) = await port.post_cards(incident.channel_id, [card])
        async with core.db.transaction() as session:
            session.add(PostedMessage(incident_id=incident_id, channel_id=incident.channel_id,
                                      message_id=message_id, card_keys=[CLOCKS]))
        try:
            await port.pin(incident.channel_id, message_id)
        except ChatError as exc:
            log.warning("incident %s: clock card not pinned (%s)", incident_id, exc.code)


def refresher(core: Core, incident_id: int):  # type: ignore[no-untyped-def]
    async def run(port: ChatPort) -> None:
        await refresh(core, incident_id, port)

    return run


async def mark_done(core: Core, actor: Actor, value: str) -> Reply:
    """`Mark done` on an obligation: who and when are recorded once; a second press changes nothing."""
    incident_id, _, key = value.partition("|")
    if not incident_id.isdigit() or not key:
        return Reply(card=views.note("That button is out of date."))
    now = core.clock()
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"obligation:{incident_id}:{key}")  # two presses at once: one mark
        incident = await queries.incident(session, int(incident_id))
        if incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that incident any more."))
        done = (await session.execute(select(ObligationMark).where(
            ObligationMark.incident_id == incident.id, ObligationMark.obligation == key))).scalar_one_or_none()
        if done is not None:
            return Reply(card=views.note(f"{mention(done.marked_by)} already marked this done."),
                         work=[refresher(core, incident.id or 0)])
        session.add(ObligationMark(incident_id=incident.id or 0, obligation=key, marked_by=actor.user_id,
                                   marked_at=now))
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="obligation.done", detail=key, at=now, incident_id=incident.id)
    return Reply(card=views.note("Marked done. The deadline card is updated."),
                 work=[refresher(core, int(incident_id))])


async def clock_form(core: Core, actor: Actor, incident: Incident) -> Reply:
    """`/breach clock`: record when things happened and the assessments that start or stop the clocks."""
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
        result = await compute(core, incident, core.clock())
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
    """Record each changed clock fact as a decision (who, when, why); the card and reminders follow."""
    if not value.isdigit():
        return Reply(card=views.note("That form is out of date. Type `/breach clock` again."))
    async with core.db.reading() as session:
        incident = await queries.incident(session, int(value))
    if incident is None or incident.team_id != actor.team_id:
        return Reply(card=views.note("I can't find that incident any more."))
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
        return Reply(card=views.note("Nothing changed, so nothing was recorded."), room=incident.channel_id)
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
    lines = []
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"decision:{incident.id}")
        stored = await queries.incident(session, incident.id or 0)
        for kind, new in changes.items():
            label = EVENTS.get(kind) or CHOICES.get(kind, (None,))[0] or (
                "Law enforcement delay" if kind == "law_enforcement_delay" else
                f"Decided not to notify: {kind.split('.', 1)[-1]}")
            text = f"{label}: {_shown(new)}"
            lines.append(text)
            session.add(Decision(incident_id=incident.id or 0, text=text, rationale=why, decided_by=actor.user_id,
                                 decided_at=now, kind=kind, value=json.dumps(new)))
            queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                           action="clock.recorded", detail=text + (f" (why: {why})" if why else ""), at=now,
                           incident_id=incident.id)
        if "discovered_at" in changes and stored is not None:
            stored.discovered_at = datetime.fromisoformat(str(changes["discovered_at"]))
    room_id = incident.channel_id

    async def post(port: ChatPort) -> None:
        if room_id:
            body = "\n".join(f"• {line}" for line in lines) + (f"\n_Why:_ {why}" if why else "")
            await port.post_cards(room_id, [Card(
                fallback="Clock facts recorded",
                parts=(Text(f"**Clock facts recorded** by {mention(actor.user_id)}\n{body}"),))])
        await refresh(core, incident.id or 0, port)

    return Reply(card=views.note(f"Recorded {len(lines)} clock fact(s); the deadline card is updated."),
                 work=[post], room=room_id)


def reminder_text(incident: Incident, o: Obligation, now: datetime, zone: Any) -> str:
    left = (o.due_at or now) - now
    if abs(left) < timedelta(minutes=1):
        when = "is due now"
    elif left < timedelta(0):
        when = f"was due {moment(o.due_at, zone)}: {remaining(left)}"  # type: ignore[arg-type]
    else:
        when = f"is due {moment(o.due_at, zone)}: {remaining(left)}"  # type: ignore[arg-type]
    return f"⏰ {mention(incident.responder_id)}: notice to **{o.audience}** ({o.regime_name}) {when}."


async def fire_reminders(core: Core, port: ChatPort) -> int:
    """Post every reminder that is due (once), for obligations still open; returns how many were posted."""
    now = core.clock()
    claimed = await reminders.claim_due(core, now)
    posted, failed = 0, []
    by_incident: dict[int, list] = {}
    for row in claimed:
        by_incident.setdefault(row.incident_id, []).append(row)
    for incident_id, rows in by_incident.items():
        async with core.db.reading() as session:
            incident = await queries.incident(session, incident_id)
        if incident is None or incident.channel_id is None or incident.status == "closed":
            continue
        try:
            result = await compute(core, incident, now)
        except FactsError:
            continue
        current = {o.key: o for o in result.obligations}
        # Points missed together (the server was down) make one reminder: the most urgent one.
        latest: dict[str, Reminder] = {}
        for row in rows:
            if row.obligation not in latest or row.due_at > latest[row.obligation].due_at:
                latest[row.obligation] = row
        texts = []
        for key in latest:
            o = current.get(key)
            if o is None or o.status not in ("open", "overdue") or o.due_at is None:
                continue
            texts.append(reminder_text(incident, o, now, result.zone))
        if not texts:
            continue
        try:
            await port.post_cards(incident.channel_id, [views.note("\n".join(texts))])
            posted += len(texts)
        except ChatError as exc:
            log.warning("incident %s: reminder not posted (%s); it will be retried", incident_id, exc.code)
            failed += [r.id for r in rows if r.id]
            continue
        await refresh(core, incident_id, port)
    await reminders.release(core, failed)
    return posted


async def open_incidents(core: Core) -> list[int]:
    async with core.db.reading() as session:
        rows = await session.execute(sa.select(Incident.id).where(
            Incident.status == "open", col(Incident.channel_id).is_not(None)))
        return [r[0] for r in rows]


def summary_lines(result: Result) -> list[str]:
    """Each obligation with its due time and when it was met, or how late, for the post-incident summary."""
    zone = result.zone
    lines = []
    for o in result.obligations:
        due = moment(o.due_at, zone) if o.due_at else o.due_text
        if o.status == "done" and o.done_at:
            late = f", {o.late_by} late" if o.late_by else ", on time"
            state = f"met {moment(o.done_at, zone)}{late}"
        elif o.status == "not_required":
            state = "not required" + (f" ({o.note})" if o.note else "")
        else:
            state = o.status
        lines.append(f"{o.audience} ({o.regime_name}): due {due}; {state}")
    return lines

