"""Declaring a breach and building its war room."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime

from bot import clocks, drills, views
from bot.cards import Card, FormErrors, Text, mention, room
from bot.core import Core, Reply, Work
from bot.domain import DATA_KINDS, DEFAULT_SEVERITY, DUPLICATE_WINDOW, SEVERITIES, Actor, age
from bot.grammar import room_slug
from bot.ports import Audience, ChatError, ChatPort, RoomRef
from storage import queries
from storage.models import ChecklistItem, Incident, PostedMessage

log = logging.getLogger(__name__)
MAX_NAME_TRIES = 25


def dedupe_key(actor: Actor, summary: str, *, drill: bool = False) -> str:
    """Same person, same words (ignoring case and spacing) in the same workspace, and both drills or both real.

    A drill that rehearses a breach is no duplicate of that breach declared for real, nor the other way round.
    """
    words = " ".join(summary.casefold().split())
    raw = f"{actor.platform}\x1f{actor.team_id}\x1f{actor.user_id}\x1f{words}"
    if drill:
        raw += "\x1fdrill"
    return hashlib.sha256(raw.encode()).hexdigest()


async def declare(
    core: Core,
    actor: Actor,
    summary: str,
    *,
    origin_channel: str | None,
    reply_handle: str | None = None,
    delivery_key: str | None = None,
    severity: str = DEFAULT_SEVERITY,
    discovered_at: datetime | None = None,
    data_kinds: tuple[str, ...] = (),
    affected_clients: int | None = None,
    compromised_account: str | None = None,
    drill: bool = False,
) -> Reply:
    """Store the incident (a drill: a practice one) and its checklist at once; the room is built after the
    acknowledgement."""
    summary = " ".join(summary.split())
    now = core.clock()
    key = dedupe_key(actor, summary, drill=drill)
    async with core.db.transaction() as session:
        await core.db.lock_key(session, key)
        earlier = await queries.recent_duplicate(session, actor.platform, key, delivery_key, now - DUPLICATE_WINDOW)
        if earlier is not None and not (earlier.build_status == "incomplete" and not earlier.channel_id):
            return drills.scoped(earlier, Reply(card=_duplicate_card(earlier, now)))
        if earlier is not None:
            # Its room was never created: build it again rather than record a second incident.
            earlier.build_status, earlier.reply_handle = "building", reply_handle or earlier.reply_handle
            return drills.scoped(earlier, Reply(card=views.opening_card(summary),
                                                work=[_builder(core, earlier.id or 0)]))
        settings = await queries.workspace(session, actor.platform, actor.team_id)
        responder = settings.responder_id if settings and settings.responder_id else None
        incident = Incident(
            platform=actor.platform,
            team_id=actor.team_id,
            summary=summary,
            severity=severity,
            declared_by=actor.user_id,
            declared_at=now,
            responder_id=responder or actor.user_id,
            responder_is_designated=responder is not None,
            backup_id=settings.backup_id if settings else None,
            discovered_at=discovered_at,
            data_kinds=list(data_kinds),
            affected_clients=affected_clients,
            compromised_account=compromised_account,
            origin_channel_id=origin_channel,
            reply_handle=reply_handle,
            dedupe_key=key,
            delivery_key=delivery_key,
            drill=drill,
        )
        session.add(incident)
        await session.flush()
        assert incident.id is not None
        position = 0
        for section in core.playbook.sections:
            for entry in section.items:
                session.add(
                    ChecklistItem(
                        incident_id=incident.id, key=entry.key, section=section.key,
                        position=position, label=entry.label,
                    )
                )
                position += 1
        detail = f"{SEVERITIES[severity]}: {summary}"
        if drill:
            detail = f"Drill (a practice incident, not a real breach). {detail}"
        if not incident.responder_is_designated:
            detail += " (no designated responder: the declarer leads)"
        queries.record(
            session, platform=actor.platform, team_id=actor.team_id, actor=actor.user_id,
            action="incident.declared", detail=detail, at=now, incident_id=incident.id,
        )
    return drills.scoped(incident, Reply(card=views.opening_card(summary), work=[_builder(core, incident.id)]))


def _builder(core: Core, incident_id: int) -> Work:
    async def build(port: ChatPort) -> None:
        await build_war_room(core, incident_id, port)

    return build


def _duplicate_card(earlier: Incident, now: datetime) -> Card:
    if earlier.channel_id:
        return views.note(
            f"You declared this {'drill' if earlier.drill else 'breach'} {age(now - earlier.declared_at)} ago, "
            f"so I did not open a second war room. It is here: {room(earlier.channel_id)}."
        )
    return views.note(
        "That war room is still being opened; the link will follow here in a moment. "
        "No second war room was created."
    )


async def declare_from_form(
    core: Core, actor: Actor, values: Mapping[str, object], *, origin_channel: str | None, drill: bool = False
) -> Reply:
    """Check the form's values (raising FormErrors for the fields to fix), then declare."""
    errors: dict[str, str] = {}
    summary = " ".join(str(values.get("summary") or "").split())
    if not summary:
        errors["summary"] = "Say in a few words what happened."
    severity = str(values.get("severity") or DEFAULT_SEVERITY)
    if severity not in SEVERITIES:
        errors["severity"] = "Choose low, medium, high or critical."
    discovered_at = None
    raw_when = values.get("discovered")
    if raw_when:
        try:
            discovered_at = datetime.fromisoformat(str(raw_when))
        except ValueError:
            errors["discovered"] = "Choose a date and a time."
        else:
            discovered_at = discovered_at if discovered_at.tzinfo else discovered_at.replace(tzinfo=UTC)
            if discovered_at > core.clock():
                errors["discovered"] = "This is in the future: when did you find out?"
    affected = None
    raw_affected = str(values.get("affected") or "").replace(",", "").strip()
    if raw_affected:
        if not re.fullmatch(r"\d{1,9}", raw_affected):
            errors["affected"] = "Enter a whole number, e.g. 120 (a rough guess is fine)."
        else:
            affected = int(raw_affected)
    raw_kinds = values.get("data_kinds") or ()
    kinds = tuple(k for k in (raw_kinds if isinstance(raw_kinds, list | tuple) else ()) if k in DATA_KINDS)
    if errors:
        raise FormErrors(errors)
    compromised = values.get("compromised")
    reply = await declare(
        core, actor, summary, origin_channel=origin_channel, severity=severity,
        discovered_at=discovered_at, data_kinds=kinds, affected_clients=affected,
        compromised_account=str(compromised) if compromised else None, drill=drill,
    )
    reply.room = origin_channel
    return reply


def _step_names(incident: Incident) -> dict[str, str]:
    people = ", ".join(mention(u) for u in _invitees(incident))
    return {
        "create": "create the private channel",
        "invite": f"invite {people}",
        "topic": "set the channel topic",
        "checklist": "post the checklist",
        "pin": "pin the checklist",
    }


def _invitees(incident: Incident) -> list[str]:
    """Declarer, responder and backup, each once, in that order."""
    seen: list[str] = []
    for user in (incident.declared_by, incident.responder_id, incident.backup_id):
        if user and user not in seen:
            seen.append(user)
    return seen


def topic(incident: Incident) -> str:
    return (
        f"Severity: {SEVERITIES.get(incident.severity, incident.severity)} · "
        f"Responder: {mention(incident.responder_id)} · Status: {incident.status}"
    )


async def build_war_room(core: Core, incident_id: int, port: ChatPort) -> None:
    """Create the room, then invite, set the topic and post + pin the checklist concurrently.

    Each outcome is stored as it happens; whatever fails is reported to the declarer privately.
    """
    async with core.db.reading() as session:
        incident = await queries.incident(session, incident_id)
        assert incident is not None
    port = drills.port_for(incident, port)
    audience = Audience(incident.declared_by, incident.origin_channel_id, incident.reply_handle)
    steps = _step_names(incident)
    try:
        created = await _open_room(port, incident)
    except ChatError as exc:
        await _finish(core, incident, port, audience, {"create": _reason(exc)}, steps)
        return
    async with core.db.transaction() as session:
        stored = await queries.incident(session, incident_id)
        assert stored is not None
        stored.channel_id, stored.channel_name = created.id, created.name
        queries.record(
            session, platform=stored.platform, team_id=stored.team_id, actor="breachroom",
            action="room.opened", detail=f"#{created.name}", at=core.clock(), incident_id=incident_id,
        )
    incident.channel_id, incident.channel_name = created.id, created.name

    async def post_and_pin() -> None:
        await _post_checklist(core, incident, port)

    outcomes = await asyncio.gather(
        _step("invite", port.invite(created.id, _invitees(incident))),
        _step("topic", port.set_topic(created.id, topic(incident))),
        _step("checklist", post_and_pin()),
    )
    problems = {name: code for name, code in outcomes if code}
    await _finish(core, incident, port, audience, problems, steps)
    if "checklist" not in problems:
        # The deadline card comes after the checklist: the war room is usable before it is computed.
        await clocks.refresh(core, incident_id, port)


async def _open_room(port: ChatPort, incident: Incident) -> RoomRef:
    kind = "drill" if incident.drill else "breach"
    base = f"{kind}-{incident.declared_at:%Y%m%d}-{room_slug(incident.summary)}"
    title = f"{kind.capitalize()} {incident.declared_at:%Y-%m-%d}: {incident.summary}"
    for attempt in range(1, MAX_NAME_TRIES + 1):
        name = base if attempt == 1 else f"{base}-{attempt}"
        try:
            return await port.open_private_room(name, title=title, members=_invitees(incident),
                                                near=incident.origin_channel_id)
        except ChatError as exc:
            if exc.code != "name_taken":
                raise
    raise ChatError("name_taken", "create")


async def _step(name: str, call: Awaitable[None]) -> tuple[str, str | None]:
    try:
        await call
        return name, None
    except ChatError as exc:
        return (exc.step or name), _reason(exc)


def _reason(exc: ChatError) -> str:
    """The platform's code, and what would fix it when the adapter knows (kept in the record as well)."""
    return f"{exc.code}. {exc.advice}" if exc.advice else exc.code


async def _post_checklist(core: Core, incident: Incident, port: ChatPort) -> None:
    assert incident.id is not None and incident.channel_id is not None
    async with core.db.reading() as session:
        items = await queries.items(session, incident.id)
    cards = views.checklist_cards(incident, items, core.playbook)
    message_ids = await port.post_cards(incident.channel_id, cards)
    groups: dict[str, list[str]] = {}
    for card, message_id in zip(cards, message_ids, strict=True):
        groups.setdefault(message_id, []).append(card.key)
    async with core.db.transaction() as session:
        for message_id, keys in groups.items():
            session.add(
                PostedMessage(
                    incident_id=incident.id, channel_id=incident.channel_id,
                    message_id=message_id, card_keys=keys,
                )
            )
    first = message_ids[0]
    try:
        await port.pin(incident.channel_id, first)
    except ChatError as exc:
        raise ChatError(exc.code, "pin") from exc
    async with core.db.transaction() as session:
        for message in await queries.messages(session, incident.id):
            if message.message_id == first:
                message.pinned = True


async def _finish(
    core: Core,
    incident: Incident,
    port: ChatPort,
    audience: Audience,
    problems: dict[str, str],
    steps: dict[str, str],
) -> None:
    async with core.db.transaction() as session:
        stored = await queries.incident(session, incident.id or 0)
        assert stored is not None
        stored.build_status = "incomplete" if problems else "ready"
        stored.build_problems = [f"{name}: {code}" for name, code in problems.items()]
        queries.record(
            session, platform=stored.platform, team_id=stored.team_id, actor="breachroom",
            action="room.incomplete" if problems else "room.ready",
            detail="; ".join(stored.build_problems), at=core.clock(), incident_id=stored.id,
        )
    if problems:
        log.warning("incident %s: war room incomplete (%s)", incident.id, ", ".join(stored.build_problems))
        card = _incomplete_card(incident, problems, steps)
    else:
        card = views.declared_card(incident)
    try:
        await port.tell(audience, card)
    except ChatError as exc:
        log.error("incident %s: could not tell the declarer (%s)", incident.id, exc.code)


def _failure(step: str, reason: str) -> str:
    code, _, advice = reason.partition(". ")
    line = f"• I could not {step} (the platform said `{code}`)."
    return f"{line} {advice}" if advice else line


def _incomplete_card(incident: Incident, problems: dict[str, str], steps: dict[str, str]) -> Card:
    failed = "\n".join(_failure(steps.get(name, name), code) for name, code in problems.items())
    if incident.channel_id:
        head = f"Your war room {room(incident.channel_id)} is open, but some steps did not finish:"
        tail = "Please do these by hand; the incident and its checklist are recorded."
    else:
        head = "I could not open the war room for your breach:"
        tail = (f"The incident is recorded as number {incident.id}. Try `/breach` again in a minute, "
                "or create a private channel by hand and invite your responder.")
    return Card(fallback=head, parts=(Text(f"{head}\n{failed}\n{tail}"),))
