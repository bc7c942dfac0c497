"""Declaring a breach (or a drill): the incident and its checklist are stored at once; bot/war_room.py builds
its room after the acknowledgement."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from bot import access, drills, views, war_room
from bot.cards import Card, FormErrors, room
from bot.core import Core, Reply, Work
from bot.domain import DATA_KINDS, DEFAULT_SEVERITY, DUPLICATE_WINDOW, SEVERITIES, Actor, age
from bot.ports import ChatPort
from storage import queries
from storage.models import ChecklistItem, Incident, RoomBuild

log = logging.getLogger(__name__)


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
    refused = await refusal(core, actor, drill=drill)
    if refused is not None:
        return refused
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
        # The build record exists from the start: should this process stop before building, a sweep finds it.
        session.add(RoomBuild(incident_id=incident.id))
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


async def refusal(core: Core, actor: Actor, *, drill: bool = False) -> Reply | None:
    """The answer to someone who may not declare (`/breach declarers`), or None when they may."""
    async with core.db.reading() as session:
        settings = await queries.workspace(session, actor.platform, actor.team_id)
    if await access.may_declare(core, actor, settings):
        return None
    kind = "drill" if drill else "breach"
    return await access.refuse(core, actor, f"declare a {kind}: not among the declarers",
                               access.not_a_declarer(settings, drill=drill))


def _builder(core: Core, incident_id: int) -> Work:
    async def build(port: ChatPort) -> None:
        await war_room.build(core, incident_id, port)

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
