"""Notification clocks in the war room: recorded clock facts, the pinned clock card, marks and reminders."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from bot import access, drills, incident_facts, reminders, views
from bot.cards import (
    Button,
    Buttons,
    Card,
    ChecklistRow,
    Context,
    Header,
    Text,
    mention,
)
from bot.core import Core, Reply
from bot.deadlines.engine import Obligation, Result, obligations
from bot.deadlines.wording import moment, remaining
from bot.domain import Actor, parse_id
from bot.notices.facts import FactsError, parse_facts
from bot.ports import ChatError, ChatPort
from storage import queries
from storage.models import Incident, ObligationMark, PostedMessage, Reminder

log = logging.getLogger(__name__)
CLOCK_OPEN = "clock.open"
MARK_DONE = "clock.done"
CLOCKS = "clocks"
DISCLAIMER = ("Breachroom informs; it does not give legal advice. Have a lawyer confirm which laws apply. "
              "Days are calendar days to the same local time, hours are elapsed hours, no weekend roll-forward; "
              "SEC business days skip weekends and US federal holidays.")
MAX_SHOWN = 20
# Reminders at 50 %, 25 % and 10 % of the time left, and at the deadline.
REMINDER_POINTS = (("half", 0.5), ("quarter", 0.75), ("tenth", 0.9), ("due", 1.0))

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
    port = drills.port_for(incident, port)
    now = core.clock()
    try:
        result = await compute(core, incident, now)
    except FactsError as exc:
        # Only the fact's key: the message may quote the value typed (`(got '…')`).
        log.warning("incident %s: clocks cannot be computed (the notice fact %s is not valid)", incident_id,
                    str(exc).partition(":")[0])
        return
    for o in result.obligations:
        times = _reminder_times(o) if o.status in ("open", "overdue") else []
        await reminders.schedule(core, incident_id, o.key, times, now)
    card = clock_card(incident, result)
    async with core.message_locks[f"clocks:{incident_id}"]:
        if posted:
            await _update(core, incident_id, posted[0], port, card)
            return
        (message_id,) = await port.post_cards(incident.channel_id, [card])
        async with core.db.transaction() as session:
            session.add(PostedMessage(incident_id=incident_id, channel_id=incident.channel_id,
                                      message_id=message_id, card_keys=[CLOCKS]))
        try:
            await port.pin(incident.channel_id, message_id)
        except ChatError as exc:
            log.warning("incident %s: clock card not pinned (%s)", incident_id, exc.code)


async def _update(core: Core, incident_id: int, message: PostedMessage, port: ChatPort, card: Card) -> None:
    """Put the card in place; when the platform fails, the message is marked stale and the ticker renders it again
    (bot/checklist.py `catch_up`) until one update gets through."""
    try:
        await port.update_cards(message.channel_id, message.message_id, [card])
    except ChatError as exc:
        log.warning("incident %s: deadline card update failed (%s); it will be retried", incident_id, exc.code)
        stale = True
    else:
        if not message.stale:
            return
        stale = False
    async with core.db.transaction() as session:
        await session.execute(sa.update(PostedMessage).where(col(PostedMessage.id) == message.id).values(stale=stale))


def refresher(core: Core, incident_id: int):  # type: ignore[no-untyped-def]
    async def run(port: ChatPort) -> None:
        await refresh(core, incident_id, port)

    return run


async def mark_done(core: Core, actor: Actor, value: str) -> Reply:
    """`Mark done` on an obligation: who and when are recorded once; a second press changes nothing. Only the
    people in the war room may (bot/access.py)."""
    typed_id, _, key = value.partition("|")
    incident_id = parse_id(typed_id)
    if incident_id is None or not key:
        return Reply(card=views.note("That button is out of date."))
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
    if incident is not None and incident.team_id == actor.team_id and not await access.in_room(core, actor, incident):
        return await access.refuse(core, actor, f"mark the deadline {key[:200]} done: not in the war room",
                                   access.not_in_room(incident, "mark notification deadlines done"),
                                   incident=incident)
    now = core.clock()
    async with core.db.transaction() as session:
        await core.db.lock_key(session, f"obligation:{incident_id}:{key}")  # two presses at once: one mark
        incident = await queries.incident(session, incident_id)
        if incident is None or incident.team_id != actor.team_id:
            return Reply(card=views.note("I can't find that incident any more."))
        done = (await session.execute(select(ObligationMark).where(
            ObligationMark.incident_id == incident.id, ObligationMark.obligation == key))).scalar_one_or_none()
        if done is not None:
            already = views.note(f"{mention(done.marked_by)} already marked this done.")
            return drills.scoped(incident, Reply(card=already, work=[refresher(core, incident.id or 0)]))
        session.add(ObligationMark(incident_id=incident.id or 0, obligation=key, marked_by=actor.user_id,
                                   marked_at=now))
        queries.record(session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
                       action="obligation.done", detail=key, at=now, incident_id=incident.id)
    return drills.scoped(incident, Reply(card=views.note("Marked done. The deadline card is updated."),
                                         work=[refresher(core, incident_id)]))


def reminder_text(incident: Incident, o: Obligation, now: datetime, zone: Any) -> str:
    left = (o.due_at or now) - now
    if abs(left) < timedelta(minutes=1):
        when = "is due now"
    elif left < timedelta(0):
        when = f"was due {moment(o.due_at, zone)}: {remaining(left)}"  # type: ignore[arg-type]
    else:
        when = f"is due {moment(o.due_at, zone)}: {remaining(left)}"  # type: ignore[arg-type]
    return f"⏰ {mention(incident.responder_id)}: notice to **{o.audience}** ({o.regime_name}) {when}."


async def fire_reminders(core: Core, ports: Mapping[str, ChatPort]) -> int:
    """Post every reminder that is due (once), for obligations still open; returns how many were posted.

    `ports` holds this process's chat port per platform; a reminder for a platform it does not serve is
    released for a process that does.
    """
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
        platform_port = ports.get(incident.platform)
        if platform_port is None:
            failed += [r.id for r in rows if r.id]
            continue
        port = drills.port_for(incident, platform_port)
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


async def open_incidents(core: Core) -> list[tuple[int, str]]:
    """Each open incident with a war room, and its platform. A war room still being built is left to its
    build, which posts the deadline card after the checklist."""
    async with core.db.reading() as session:
        rows = await session.execute(sa.select(Incident.id, Incident.platform).where(
            Incident.status == "open", col(Incident.channel_id).is_not(None), Incident.build_status != "building"))
        return [(r[0], r[1]) for r in rows]


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

